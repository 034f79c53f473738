//! Plain types of the hospital and their validation. No I/O here: every other layer builds on
//! these, and they must stay testable without a database or a screen.

pub mod billing;
mod blood;
pub mod check_digit;
mod dob;
pub mod dose;
pub mod double_entry;
mod downtime_id;
mod episode;
pub mod er7_read;
mod error;
pub mod kana;
mod keyed;
mod master;
pub mod master_details;
mod orders;
pub mod page_code;
pub mod paper_time;
mod patient;
mod patient_id;
pub mod reconcile;
mod scanned;
mod sex;
pub mod snapshot;
pub mod ssmix2_name;
pub mod staff;
mod text;
mod user;

pub use blood::{Abo, BloodType, Rh};
pub use dob::DateOfBirth;
pub use double_entry::{EntryState, Keying};
pub use downtime_id::{IdBlock, check_typed_id};
pub use episode::Phase;
pub use error::{FieldError, FileError};
pub use keyed::{ChargeLine, LineOrigin, PaperRecord, RecordKind};
pub use master::{MasterItem, MasterKind};
pub use master_details::{DosageForm, Specimen};
pub use orders::{OrderKind, VolumeCategory};
pub use page_code::{FormCode, PageCode, Serial};
pub use patient::{Location, Patient, PatientStatus};
pub use patient_id::PatientId;
pub use reconcile::PatientMaster;
pub use scanned::Scanned;
pub use sex::Sex;
pub use text::{KanaName, KanjiName, clean_text, formula_safe, formula_unsafe, natural_cmp, split_list};
pub use user::{LockoutPolicy, MIN_PASSWORD_CHARS, Permission, Role, UserName, check_password, check_pin};
