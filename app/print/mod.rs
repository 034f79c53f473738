//! Printing: form definitions rendered to print-ready PDFs (embedded, subset Japanese font;
//! vector Code 128 with quiet zones), and the downtime kit with its printed-page registry.

mod barcode;
mod canvas;
mod clinical;
mod kit;
mod layout;
mod table;

pub use barcode::{QUIET_ZONE_MODULES, code128};
pub use canvas::Mark;
pub(crate) use kit::print_kit;
pub use kit::{
    KitError, KitFile, KitReport, KitRequest, MAX_BLANKS, MAX_PACKETS, describe, generate_kit, preview_marks,
};
pub use layout::PrintContext;
pub use table::{Column, table_pdf};
