//! The census workflow: importing the EHR's census CSV, search, export.

mod export;
mod import;
mod mapping;
mod parse;
mod search;

pub use crate::csv_in::{DecodeError, Encoding, csv_reader, decode};
pub use export::{export_census_file, write_census_csv};
pub use import::{ImportError, ImportOptions, ImportReport, Progress, Stage, import_file};
pub use mapping::{ColumnMapping, DEFAULT_MAPPING, Field};
pub use parse::{ParsedCensus, RowError, parse_census};
pub use search::CensusIndex;
