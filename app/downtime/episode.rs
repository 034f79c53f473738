//! A downtime episode and the ID blocks, changed by the people allowed to: each function checks
//! the session's permission and leaves the rest (one audited transaction) to the store.

use crate::auth::{AuthError, Session};
use crate::domain::{IdBlock, Permission, Phase};
use crate::store::{BlockRecord, EpisodeRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn start(
    store: &mut Store,
    session: &Session,
    reason: &str,
    phase: Phase,
) -> Result<EpisodeRecord, EpisodeError> {
    session.require(Permission::ManageEpisode)?;
    Ok(store.start_episode(&session.actor(), reason, phase)?)
}

pub fn set_phase(store: &mut Store, session: &Session, phase: Phase) -> Result<EpisodeRecord, EpisodeError> {
    session.require(Permission::ManageEpisode)?;
    Ok(store.set_phase(&session.actor(), phase)?)
}

pub fn add_note(store: &mut Store, session: &Session, text: &str) -> Result<(), EpisodeError> {
    session.require(Permission::ManageEpisode)?;
    Ok(store.add_episode_note(&session.actor(), text)?)
}

pub fn end(store: &mut Store, session: &Session) -> Result<EpisodeRecord, EpisodeError> {
    session.require(Permission::ManageEpisode)?;
    Ok(store.end_episode(&session.actor())?)
}

/// Records a block of downtime IDs the EHR reserved for `station`.
pub fn add_block(
    store: &mut Store,
    session: &Session,
    station: &str,
    block: &IdBlock,
) -> Result<BlockRecord, EpisodeError> {
    session.require(Permission::ManageBlocks)?;
    Ok(store.add_id_block(&session.actor(), station, block)?)
}
