//! Reading the CSV files a hospital hands over (census, code masters, the EHR's mapping of
//! downtime IDs): UTF-8 (with or without a BOM) or CP932, detected or forced, and one reader
//! whose line numbers are what a clerk is told to look at.

mod encoding;

pub use encoding::{DecodeError, Encoding, decode};

/// A CSV text as this program reads every CSV file: no header handling, rows of any length,
/// fields as written. CRLF becomes LF first: the csv crate numbers the lines of a CRLF file one
/// short (a record starts before the previous line's \n is read), and the line is what a clerk
/// is told to look at.
pub fn csv_reader(text: &str) -> csv::Reader<std::io::Cursor<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(std::io::Cursor::new(text.replace("\r\n", "\n")))
}
