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

/// The rows of a CSV file that begins with a header, as a file handed over is read: decoded
/// (UTF-8 or CP932, detected), the header's names trimmed, lower-cased and without a BOM, then
/// the rows after it. The error names the file (and line) and says what is wrong.
pub fn read_with_header(
    path: &std::path::Path,
) -> Result<(Vec<String>, csv::StringRecordsIntoIter<std::io::Cursor<String>>), String> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{file}: {e}"))?;
    let (text, _) = decode(&bytes, Encoding::Auto)
        .map_err(|e| format!("{file}:{}: not valid {:?} text", e.line, e.encoding))?;
    let mut records = csv_reader(&text).into_records();
    match records.next() {
        Some(Ok(h)) => {
            let names = h.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase()).collect();
            Ok((names, records))
        }
        Some(Err(e)) => Err(format!("{file}:1: {e}")),
        None => Err(format!("{file}: the file is empty")),
    }
}

/// The rows after a header, each with its line (what a clerk is told to look at); a row the
/// CSV reader cannot read comes as `file:line: why`.
pub fn numbered_rows<'a>(
    records: csv::StringRecordsIntoIter<std::io::Cursor<String>>,
    file: &'a str,
) -> impl Iterator<Item = (usize, Result<csv::StringRecord, String>)> + 'a {
    records.enumerate().map(move |(i, record)| match record {
        Ok(r) => (r.position().map_or(i + 2, |p| p.line() as usize), Ok(r)),
        Err(e) => {
            let line = e.position().map_or(i + 2, |p| p.line() as usize);
            (line, Err(format!("{file}:{line}: {e}")))
        }
    })
}
