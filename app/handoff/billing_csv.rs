//! Charges for the billing system (医事会計) as CSV: one row per charge line, with the code the
//! charge master gave it (the receipt-computer code at a real site), in one documented layout.
//! A billing system that wants other headers, another order, fewer columns, compact dates or
//! Shift_JIS gets them from a column-mapping file instead of a second exporter.
//!
//! The layout (`kamikarte export csv` without `--mapping`), UTF-8 with a header row:
//!
//! | column | what |
//! |---|---|
//! | `patient_id` | the patient as billed: the MRN once the downtime ID is mapped |
//! | `downtime_id` | the downtime ID on the paper, empty for census patients |
//! | `patient_kana` | reading, for the billing clerk's eye |
//! | `service_date` | `YYYY-MM-DD` |
//! | `code` | charge (receipt-computer) code |
//! | `name` | the master's name for the code |
//! | `quantity` | e.g. `1`, `2`, `0.5` |
//! | `points` | the master's points for one, when it has them |
//! | `unit` | the master's unit |
//! | `department` | as written on the slip |
//! | `doctor` | as written on the slip |
//! | `origin` | `tick` (a printed box) or `typed` (a code written on a line) |
//! | `slip` | the slip's serial (`A-000123`) or `page N` |
//! | `line_no` | the line's place on the slip |
//! | `keyed_by`, `verified_by` | who typed and who verified it |
//! | `version` | 1, or higher when the slip was corrected after an earlier export |
//!
//! A slip corrected after billing had it comes again whole under its new version, preceded by
//! its previous version's lines with negative quantities (same `slip`, the old `version`): the
//! sum per slip is what the paper says now.
//!
//! The mapping file (TOML):
//!
//! ```toml
//! encoding = "cp932"        # or "utf-8" (the default)
//! [[column]]
//! from = "patient_id"       # a column of the layout above
//! header = "患者番号"
//! [[column]]
//! from = "service_date"
//! header = "診療日"
//! format = "yyyymmdd"       # dates only: "yyyymmdd" or "iso" (the default)
//! [[column]]
//! header = "入外区分"
//! value = "1"               # a fixed value in every row
//! ```

use crate::domain::FileError;
use std::path::Path;

use serde::Deserialize;

use super::content::{Content, HandoffItem};

/// Every column of the layout, in its order.
pub const COLUMNS: [&str; 17] = [
    "patient_id",
    "downtime_id",
    "patient_kana",
    "service_date",
    "code",
    "name",
    "quantity",
    "points",
    "unit",
    "department",
    "doctor",
    "origin",
    "slip",
    "line_no",
    "keyed_by",
    "verified_by",
    "version",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "cp932", alias = "shift_jis", alias = "sjis")]
    Cp932,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DateFormat {
    #[default]
    Iso,
    Yyyymmdd,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedColumn {
    /// A column of the layout; absent with `value`.
    pub from: Option<String>,
    pub header: String,
    #[serde(default)]
    pub format: DateFormat,
    /// A fixed value instead of a column.
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    #[serde(default)]
    pub encoding: Encoding,
    pub column: Vec<MappedColumn>,
}

impl ColumnMapping {
    /// The layout as documented.
    pub fn layout() -> Self {
        Self {
            encoding: Encoding::Utf8,
            column: COLUMNS
                .iter()
                .map(|c| MappedColumn {
                    from: Some(c.to_string()),
                    header: c.to_string(),
                    format: DateFormat::Iso,
                    value: None,
                })
                .collect(),
        }
    }

    /// Reads a mapping file; errors name the file, the line and what is wrong.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::new(&file, format!("cannot read it: {e}")))?;
        Self::parse(&text).map_err(|e| FileError { file, ..e })
    }

    /// Parses a mapping's text (errors name the line; `load` adds the file).
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let mapping: ColumnMapping = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(s) => FileError::at_line(
                    "mapping",
                    text[..s.start.min(text.len())].matches('\n').count() + 1,
                    message,
                ),
                None => FileError::new("mapping", message),
            }
        })?;
        if mapping.column.is_empty() {
            return Err(FileError::new("mapping", "the mapping has no [[column]]"));
        }
        for (i, c) in mapping.column.iter().enumerate() {
            let n = i + 1;
            match (&c.from, &c.value) {
                (Some(from), None) => {
                    if !COLUMNS.contains(&from.as_str()) {
                        return Err(FileError::new(
                            "mapping",
                            format!(
                                "column {n} ('{}'): from = '{from}' is not a column of the layout (known: {})",
                                c.header,
                                COLUMNS.join(", ")
                            ),
                        ));
                    }
                    if c.format != DateFormat::Iso && from != "service_date" {
                        return Err(FileError::new(
                            "mapping",
                            format!("column {n} ('{}'): format applies to service_date only", c.header),
                        ));
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(FileError::new(
                        "mapping",
                        format!("column {n} ('{}'): give either from or value, not both", c.header),
                    ));
                }
            }
        }
        Ok(mapping)
    }
}

/// One row of the layout.
fn row(
    item: &HandoffItem,
    version: u32,
    line: &super::content::ChargeOut,
    k: &super::content::Keyed,
) -> [String; 17] {
    let number = crate::form::view::number_text;
    [
        item.patient.id.clone(),
        item.patient.downtime_id.clone().unwrap_or_default(),
        item.patient.kana.clone(),
        line.line.service_date.clone(),
        line.line.code.clone(),
        line.name.clone().unwrap_or_default(),
        number(line.line.quantity),
        line.points.map(number).unwrap_or_default(),
        line.unit.clone().unwrap_or_default(),
        line.line.department.clone().unwrap_or_default(),
        line.line.doctor.clone().unwrap_or_default(),
        line.line.origin.code().to_string(),
        k.item.clone(),
        line.line_no.to_string(),
        k.entered_by.clone(),
        k.verified_by.clone().unwrap_or_default(),
        version.to_string(),
    ]
}

/// Writes the charge lines of `items` (with their versions) as CSV bytes in the mapping's
/// layout and encoding, after `credits`: the lines of versions billing had before, each with its
/// quantity negated, so that a corrected slip replaces its charges instead of adding to them.
/// Returns the bytes and the number of rows.
pub fn write(
    items: &[(&HandoffItem, u32)],
    credits: &[(&HandoffItem, u32)],
    mapping: &ColumnMapping,
) -> Result<(Vec<u8>, usize), String> {
    let index: Vec<Option<usize>> = mapping
        .column
        .iter()
        .map(|c| c.from.as_deref().and_then(|f| COLUMNS.iter().position(|x| *x == f)))
        .collect();
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header: Vec<&str> = mapping.column.iter().map(|c| c.header.as_str()).collect();
    out.write_record(&header).map_err(|e| e.to_string())?;
    let mut rows = 0;
    let mut record: Vec<String> = Vec::with_capacity(mapping.column.len());
    let rows_of = credits.iter().map(|(i, v)| (i, v, true)).chain(items.iter().map(|(i, v)| (i, v, false)));
    for (item, version, credit) in rows_of {
        let Content::Keyed(k) = &item.content else { continue };
        for line in &k.lines {
            let mut full = row(item, *version, line, k);
            if credit {
                full[6] = format!("-{}", full[6]);
            }
            record.clear();
            for (c, i) in mapping.column.iter().zip(&index) {
                let value = match (i, &c.value) {
                    (Some(i), _) => {
                        let v = &full[*i];
                        if c.format == DateFormat::Yyyymmdd { v.replace('-', "") } else { v.clone() }
                    }
                    (None, Some(fixed)) => fixed.clone(),
                    (None, None) => String::new(),
                };
                record.push(value);
            }
            out.write_record(record.iter().map(|v| crate::domain::formula_safe(v).into_owned()))
                .map_err(|e| e.to_string())?;
            rows += 1;
        }
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    match mapping.encoding {
        Encoding::Utf8 => Ok((bytes, rows)),
        Encoding::Cp932 => {
            let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            let (encoded, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
            if unmappable {
                let (line, c) = text
                    .lines()
                    .enumerate()
                    .find_map(|(n, l)| l.chars().find(|c| !encodable_cp932(*c)).map(|c| (n + 1, c)))
                    .unwrap_or((0, '?'));
                return Err(format!(
                    "line {line} of the CSV has '{c}', which Shift_JIS (CP932) cannot hold; use encoding = \"utf-8\""
                ));
            }
            Ok((encoded.into_owned(), rows))
        }
    }
}

fn encodable_cp932(c: char) -> bool {
    let mut buf = [0u8; 4];
    !encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf)).2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_checked_and_names_the_line_of_a_mistake() {
        let ok = ColumnMapping::parse(
            "encoding = \"cp932\"\n[[column]]\nfrom = \"patient_id\"\nheader = \"患者番号\"\n\
             [[column]]\nfrom = \"service_date\"\nheader = \"診療日\"\nformat = \"yyyymmdd\"\n\
             [[column]]\nheader = \"区分\"\nvalue = \"1\"\n",
        )
        .unwrap();
        assert_eq!(ok.encoding, Encoding::Cp932);
        assert_eq!(ok.column.len(), 3);
        let unknown =
            ColumnMapping::parse("[[column]]\nfrom = \"patinet_id\"\nheader = \"x\"\n").unwrap_err();
        assert!(
            unknown.message.contains("patinet_id") && unknown.message.contains("patient_id"),
            "{unknown}"
        );
        let syntax =
            ColumnMapping::parse("[[column]]\nfrom = \"code\"\nheader = \"x\"\ncolour = 1\n").unwrap_err();
        assert_eq!(syntax.line, Some(4), "{syntax}");
        let format =
            ColumnMapping::parse("[[column]]\nfrom = \"code\"\nheader = \"x\"\nformat = \"yyyymmdd\"\n")
                .unwrap_err();
        assert!(format.message.contains("service_date only"), "{format}");
    }
}
