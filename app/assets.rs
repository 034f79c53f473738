//! Files compiled into the program, so it runs self-contained on a downtime PC.

/// BIZ UD PGothic (SIL OFL 1.1, see assets/fonts/OFL.txt): a universal-design Japanese face,
/// used on screen and embedded (subset) in every printed PDF.
pub const BIZ_UD_PGOTHIC: &[u8] = include_bytes!("../assets/fonts/BIZUDPGothic-Regular.ttf");

/// Synthetic sample code masters (`kamikarte masters import --samples`, and the demo): made-up
/// counts and points, for trying back-entry search, not for billing.
/// The charges sample in the receipt-computer master's published layout (CP932, no header).
pub const SAMPLE_CHARGES_CSV: &[u8] = include_bytes!("../assets/masters/s_sample.csv");
pub const SAMPLE_DRUGS_CSV: &[u8] = include_bytes!("../assets/masters/drugs.csv");
pub const SAMPLE_LAB_TESTS_CSV: &[u8] = include_bytes!("../assets/masters/lab_tests.csv");
pub const SAMPLE_DEPARTMENTS_CSV: &[u8] = include_bytes!("../assets/masters/departments.csv");
pub const SAMPLE_USAGES_CSV: &[u8] = include_bytes!("../assets/masters/usages.csv");
pub const SAMPLE_DOCTORS_CSV: &[u8] = include_bytes!("../assets/masters/doctors.csv");
pub const SAMPLE_STAFF_CSV: &[u8] = include_bytes!("../assets/masters/staff.csv");
