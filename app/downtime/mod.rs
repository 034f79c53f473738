//! Running the downtime: registration under downtime IDs and the paper-order volume monitor.
//! Episodes and ID blocks are plain store records; what needs a decision lives here.

pub mod demo;
pub mod episode;
pub mod register;
pub mod volume;

pub use register::{InputErrors, OUTPATIENT_WARD, RegisterError, Registered, RegistrationInput, register};
pub use volume::{VolumeReport, volume_report};

use crate::domain::{IdBlock, Phase};
use crate::store::{Actor, Result, Store};

/// The demo station's block: `DT100000`–`DT100999`.
pub const DEMO_BLOCK: (&str, u64, u64) = ("DT", 100_000, 100_999);

/// Makes a demo database ready for downtime work: a block for this station and a running demo
/// episode (phase 2, registration possible), unless it has them already.
pub fn prepare_demo(store: &mut Store, actor: &Actor) -> Result<()> {
    let station = store.settings()?.station_code;
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
