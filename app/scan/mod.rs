//! Scanning: the scan station on the wards (keyboard-wedge scanner, events per patient), and after
//! recovery the batch import of scanned pages, the manual indexing queue and the completeness
//! report.

pub mod completeness;
pub mod import;
pub mod locate;
pub mod page_store;
mod pages;
mod pdf_images;
pub mod queue;
pub mod station;
pub mod wedge;

pub use completeness::{Completeness, CompletenessError, completeness};
pub use import::{ImportCounts, ImportError, ImportReport, ImportRequest, import_pages};
pub use page_store::PageStore;
pub use queue::{IndexError, IndexInput, index_page};
pub use station::{Active, HardStop, Outcome, Station, StationError};
pub use wedge::{WedgeInput, WedgeReader, WedgeScan};
