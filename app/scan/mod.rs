//! Scanning: the scan station on the wards (keyboard-wedge scanner, events per patient). The
//! batch import of scanned pages after recovery joins it here.

pub mod station;
pub mod wedge;

pub use station::{Active, HardStop, Outcome, Station};
pub use wedge::{WedgeInput, WedgeReader, WedgeScan};
