//! Hand-off to the restored EHR: what was entered during the downtime, in the formats the EHR
//! and the billing system import — HL7 v2.5 as Japanese systems use it (files, the SS-MIX2
//! standardized storage, or MLLP with acknowledgements), FHIR R4 bundles following JP Core, and
//! CSV for billing. `gather` reads what is ready; `stage` keeps a version of each thing with its
//! messages, so that sending twice sends nothing twice.

pub mod billing_csv;
pub mod billing_report;
pub mod claims;
pub mod content;
pub mod fhir;
pub mod gather;
pub mod hl7;
pub mod mllp;
pub mod orca;
pub mod registrations;
pub mod report;
pub mod run;
pub mod ssmix2;
pub mod stage;

pub use content::{ChargeOut, Content, HandoffItem, Keyed, Page, PatientFacts, control_id};
