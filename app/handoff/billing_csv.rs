//! Charges for the billing system (医事会計) as CSV: one row per charge line with the facts of its
//! claim (`claims`), in one documented layout. A billing system that wants other headers, another
//! order, fewer columns, its own codes for a value, compact dates or Shift_JIS gets them from a
//! column-mapping file instead of a second exporter.
//!
//! The layout (`kamikarte export csv` without `--mapping`), UTF-8 with a header row:
//!
//! | column | what |
//! |---|---|
//! | `action` | `add`, or `cancel` for a line of a version billing had before a correction |
//! | `patient_id` | the record number 医事 registered (a patient known only by a downtime ID never appears) |
//! | `downtime_id` | the downtime ID on the paper, empty for census patients |
//! | `patient_kana` | reading, for the billing clerk's eye |
//! | `inout` | `I` inpatient, `O` outpatient (入外区分) |
//! | `insurance` | 医事's 保険組合せ番号 when the slip names one (4 digits); empty: 医事 chooses. A reference only: kamikarte keeps no insurance data |
//! | `service_date` | `YYYY-MM-DD` |
//! | `service_time` | `HH:MM` when the slip gives it (after-hours surcharges depend on it) |
//! | `department`, `department_code` | as written; the departments master's code |
//! | `doctor`, `doctor_code` | as written (title taken off); the doctors master's billing code |
//! | `code` | the receipt-computer code (診療行為コード) |
//! | `name` | the master's name for the code |
//! | `section` | the fee schedule's section number (`A000`) |
//! | `medical_class` | ORCA's 診療種別区分 (`120`, `600` …; `domain::billing`) |
//! | `quantity` | e.g. `1`, `2`, `0.5`; negative on a `cancel` row |
//! | `points`, `unit` | the master's points for one and its unit |
//! | `origin` | `tick` (a printed box) or `typed` (a code written on a line) |
//! | `slip`, `line_no`, `version` | the slip's serial (`A-000123`), the line's place, its version |
//! | `keyed_by`, `verified_by` | staff codes of who typed and who verified it |
//!
//! **Corrections.** A slip corrected after billing had it comes again whole under its new version,
//! after `cancel` rows for every line of the version billing had (same `slip`, the old `version`,
//! quantity negated). An importer that honours `action`, and one that only sums quantities in
//! the order read, both end at what the paper says now.
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
//! from = "inout"
//! header = "入外区分"
//! map = { I = "1", O = "2" } # the billing system's own codes for a column's values
//! [[column]]
//! header = "医療機関"
//! value = "1"               # a fixed value in every row
//! ```

use crate::domain::FileError;
use std::path::Path;

use serde::Deserialize;

use super::claims::Claim;

/// Every column of the layout, in its order.
pub const COLUMNS: [&str; 25] = [
    "action",
    "patient_id",
    "downtime_id",
    "patient_kana",
    "inout",
    "insurance",
    "service_date",
    "service_time",
    "department",
    "department_code",
    "doctor",
    "doctor_code",
    "code",
    "name",
    "section",
    "medical_class",
    "quantity",
    "points",
    "unit",
    "origin",
    "slip",
    "line_no",
    "version",
    "keyed_by",
    "verified_by",
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
    /// The billing system's own codes for the column's values (`{ I = "1", O = "2" }`); a value
    /// the table does not list is written as it is.
    #[serde(default)]
    pub map: std::collections::BTreeMap<String, String>,
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
                    map: Default::default(),
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
                (None, Some(_)) if !c.map.is_empty() => {
                    return Err(FileError::new(
                        "mapping",
                        format!(
                            "column {n} ('{}'): map translates a column's values; a fixed value has none",
                            c.header
                        ),
                    ));
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

/// One row of the layout, in `COLUMNS` order.
fn row(c: &Claim) -> [String; 25] {
    let number = crate::form::view::number_text;
    [
        c.action.code().to_string(),
        c.patient_id.clone(),
        c.downtime_id.clone().unwrap_or_default(),
        c.patient_kana.clone(),
        if c.inpatient { "I" } else { "O" }.to_string(),
        c.insurance.clone().unwrap_or_default(),
        c.service_date.clone(),
        c.service_time.clone().unwrap_or_default(),
        c.department.clone().unwrap_or_default(),
        c.department_code.clone().unwrap_or_default(),
        c.doctor.clone().unwrap_or_default(),
        c.doctor_code.clone().unwrap_or_default(),
        c.code.clone(),
        c.name.clone().unwrap_or_default(),
        c.section.clone().unwrap_or_default(),
        c.medical_class.code.to_string(),
        number(c.quantity),
        c.points.map(number).unwrap_or_default(),
        c.unit.clone().unwrap_or_default(),
        c.origin.to_string(),
        c.slip.clone(),
        c.line_no.to_string(),
        c.version.to_string(),
        c.keyed_by.clone(),
        c.verified_by.clone().unwrap_or_default(),
    ]
}

/// Writes `claims` (cancellations first, as `run` orders them) as CSV bytes in the mapping's
/// layout and encoding. Returns the bytes and the number of rows.
pub fn write(claims: &[Claim], mapping: &ColumnMapping) -> Result<(Vec<u8>, usize), String> {
    let index: Vec<Option<usize>> = mapping
        .column
        .iter()
        .map(|c| c.from.as_deref().and_then(|f| COLUMNS.iter().position(|x| *x == f)))
        .collect();
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header: Vec<&str> = mapping.column.iter().map(|c| c.header.as_str()).collect();
    out.write_record(&header).map_err(|e| e.to_string())?;
    let mut record: Vec<String> = Vec::with_capacity(mapping.column.len());
    for claim in claims {
        let full = row(claim);
        record.clear();
        for (c, i) in mapping.column.iter().zip(&index) {
            let value = match (i, &c.value) {
                (Some(i), _) => {
                    let v = &full[*i];
                    let v = if c.format == DateFormat::Yyyymmdd { v.replace('-', "") } else { v.clone() };
                    c.map.get(&v).cloned().unwrap_or(v)
                }
                (None, Some(fixed)) => fixed.clone(),
                (None, None) => String::new(),
            };
            record.push(value);
        }
        out.write_record(record.iter().map(|v| crate::domain::formula_safe(v).into_owned()))
            .map_err(|e| e.to_string())?;
    }
    let rows = claims.len();
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
