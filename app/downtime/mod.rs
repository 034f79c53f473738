//! Running the downtime: registration under downtime IDs and the paper-order volume monitor.
//! Episodes and ID blocks are plain store records; what needs a decision lives here.

pub mod episode;
pub mod register;
pub mod volume;

pub use register::{InputErrors, OUTPATIENT_WARD, RegisterError, Registered, RegistrationInput, register};
pub use volume::{VolumeReport, volume_report};
