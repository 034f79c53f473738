//! Back-entry: typing the paper into structured records and charge lines beside the page image,
//! the code masters it searches, the tick boxes read from the scan, double entry for billing,
//! the worklist, and downtime IDs reconciled with the EHR's record numbers.

pub mod charge_checks;
pub mod derive;
pub mod drug_checks;
pub mod fields;
pub mod form_codes;
pub mod keying;
pub mod masters;
pub mod omr;
pub mod receipt_layout;
pub mod reconcile;
pub mod worklist;
