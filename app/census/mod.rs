//! The census workflow: importing the EHR's census CSV, search, export.

mod encoding;
mod export;
mod import;
mod mapping;
mod parse;
mod search;

pub use encoding::{DecodeError, Encoding, decode};
pub use export::{export_census_file, write_census_csv};
pub use import::{ImportError, ImportOptions, ImportReport, Progress, Stage, import_file};
pub use mapping::{ColumnMapping, DEFAULT_MAPPING, Field};
pub use parse::{ParsedCensus, RowError, csv_reader, parse_census};
pub use search::CensusIndex;
