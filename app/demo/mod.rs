//! The demo: a synthetic hospital and a synthetic downtime, made through the real workflows so
//! that a new user can try everything and the benchmarks have data. Nothing in it is a real
//! person, and nothing here writes SQL.
//!
//! - `hospital` — the census of a deterministic hospital (`kamikarte demo`), `names` its parts;
//! - `prepare_downtime` — a downtime-ID block and a drill episode for it;
//! - `history` — ten days of registrations and scanned paper orders (`demo --downtime`);
//! - `episode` — a whole episode to hand off: kit, scans, keyings, reconciliation, charges.

pub mod charges;
pub mod episode;
pub mod history;
pub mod hospital;
mod names;
mod scans;
pub mod ssmix2_tree;
mod values;

pub use hospital::{DEFAULT_BEDS, DEFAULT_SEED, DEMO_HOSPITAL, DemoOptions, generate, load_demo};

pub use charges::{ChargeCounts, ChargeOptions, PrintedSlips, key_charge_lines, printed_slips};
pub use scans::scanned_image;

use crate::auth::Session;
use crate::domain::{IdBlock, Phase, Role};
use crate::downtime::RegisterError;
use crate::entry::keying::KeyingError;
use crate::entry::reconcile::ReconcileError;
use crate::form::FormError;
use crate::print::KitError;
use crate::scan::ImportError;
use crate::store::{Actor, Result, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keying(#[from] KeyingError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Kit(#[from] KitError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Form(#[from] FormError),
}

/// The demo users who do the work (their names are their roles' codes, as
/// `auth::ensure_demo_users` creates them). Only clerks and billing may back-enter.
/// The demo's people act through the front door: each logs in with the demo password.
pub(crate) fn demo_person(store: &mut Store, role: Role) -> Result<Session, DemoError> {
    crate::auth::demo_session(store, role, chrono::Utc::now()).map_err(|e| DemoError::Refused(e.to_string()))
}

/// The demo station's block: `DT100000`–`DT100999`.
pub const DEMO_BLOCK: (&str, u64, u64) = ("DT", 100_000, 100_999);

/// The demo's station code when it is given none (a real install is always asked for one).
pub const DEMO_STATION: &str = "A";

/// Gives a demo database the demo's station code, unless it has one.
pub fn ensure_station(store: &mut Store, actor: &Actor) -> Result<(), crate::store::StoreError> {
    if store.settings()?.station_code.is_empty() {
        store.set_station_code(actor, DEMO_STATION)?;
    }
    Ok(())
}

/// Makes a demo database ready for downtime work: a station code (`ensure_station`), a block for
/// this station and a running demo episode (phase 2, registration possible), unless it has them
/// already.
pub fn prepare_downtime(store: &mut Store, actor: &Actor) -> Result<()> {
    ensure_station(store, actor)?;
    let station = store.settings()?.station()?.to_string();
    if !store.id_blocks()?.iter().any(|b| b.station == station) {
        let (prefix, first, last) = DEMO_BLOCK;
        let block = IdBlock::new(prefix, first, last).expect("the demo block is valid");
        store.add_id_block(actor, &station, &block)?;
    }
    if store.episodes()?.is_empty() {
        store.start_episode(actor, "デモ訓練 Demo drill (synthetic data)", Phase::PatientInfo)?;
    }
    Ok(())
}
