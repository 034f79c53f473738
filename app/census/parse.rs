//! From decoded CSV text to validated patients, collecting every problem rather than stopping at
//! the first, so a clerk fixes the whole file in one go.

use crate::csv_in::csv_reader;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::mapping::{ColumnMapping, Field};
use crate::domain::{
    BloodType, DateOfBirth, KanaName, KanjiName, Location, Patient, PatientId, Sex, clean_text, split_list,
};

/// One problem in a census file: where it is and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based line in the file where the row starts (1 is the header).
    pub line: u64,
    /// The column's header as the file spells it, or the field's name when the column is absent.
    pub column: String,
    pub value: String,
    pub message: String,
}

/// A census file read and checked, not yet written anywhere.
#[derive(Debug, Default)]
pub struct ParsedCensus {
    /// Valid rows with their line numbers.
    pub patients: Vec<(u64, Patient)>,
    pub errors: Vec<RowError>,
    /// Data rows in the file.
    pub rows: usize,
    /// IDs of rows that were refused: still in the EHR's census, so never discharged for it.
    pub refused_ids: HashSet<String>,
    /// Refused rows whose ID itself could not be read.
    pub unreadable_ids: usize,
    /// A problem with the file as a whole (header, CSV syntax): nothing can be imported.
    pub fatal: bool,
    pub warnings: Vec<String>,
}

pub fn parse_census(text: &str, mapping: &ColumnMapping, today: NaiveDate) -> ParsedCensus {
    let mut out = ParsedCensus::default();
    let mut reader = csv_reader(text);
    let mut records = reader.records();

    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            out.errors.push(csv_error(&e));
            out.fatal = true;
            return out;
        }
        None => {
            out.errors.push(RowError {
                line: 1,
                column: String::new(),
                value: String::new(),
                message: "the file is empty (expected a header row, then one row per patient)".into(),
            });
            out.fatal = true;
            return out;
        }
    };
    let header_cells: Vec<&str> = header.iter().collect();
    // A missing required column makes the file unusable, but the rows are still checked with
    // the columns that are there, so one report names every problem.
    let columns = match mapping.locate(&header_cells) {
        Ok(c) => c,
        Err((found, problems)) => {
            for p in problems {
                out.errors.push(RowError {
                    line: 1,
                    column: p.field.key().to_string(),
                    value: String::new(),
                    message: format!(
                        "required column for '{}' not found (looked for: {})",
                        p.field.key(),
                        p.looked_for.join(", ")
                    ),
                });
            }
            out.fatal = true;
            found
        }
    };
    for field in Field::ALL {
        if !columns.contains_key(&field) && !field.required() {
            out.warnings.push(format!("no column for '{}': left empty", field.key()));
        }
    }

    let mut checked: Vec<(u64, Option<PatientId>, Option<Patient>)> = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(csv_error(&e));
                out.fatal = true;
                return out;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.rows += 1;
        let row = RowReader { record: &record, header: &header_cells, columns: &columns, line };
        match row.patient(today) {
            Ok(p) => checked.push((line, Some(p.id.clone()), Some(p))),
            Err((id, errors)) => {
                out.errors.extend(errors);
                checked.push((line, id, None));
            }
        }
        if record.len() != header_cells.len() {
            out.warnings.push(format!(
                "line {line}: {} cells where the header has {}",
                record.len(),
                header_cells.len()
            ));
        }
    }

    // A duplicated ID is refused on every line it appears on (valid or not): which row is right
    // is the EHR's to say, not ours.
    let mut lines_by_id: HashMap<PatientId, Vec<u64>> = HashMap::new();
    for (line, id, _) in &checked {
        if let Some(id) = id {
            lines_by_id.entry(id.clone()).or_default().push(*line);
        }
    }
    let id_column = columns.get(&Field::Id).map_or("id", |&i| header_cells[i]).to_string();
    for (line, id, patient) in checked {
        let Some(id) = id else {
            out.unreadable_ids += 1;
            continue;
        };
        let lines = &lines_by_id[&id];
        if lines.len() > 1 {
            let others: Vec<String> = lines.iter().filter(|l| **l != line).map(u64::to_string).collect();
            out.errors.push(RowError {
                line,
                column: id_column.clone(),
                value: id.to_string(),
                message: format!("duplicate ID (also on line {})", others.join(", ")),
            });
        }
        match patient {
            Some(p) if lines.len() == 1 => out.patients.push((line, p)),
            _ => {
                out.refused_ids.insert(id.as_str().to_string());
            }
        }
    }
    out.errors.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.column.cmp(&b.column)));
    out
}

fn csv_error(e: &csv::Error) -> RowError {
    let line = e.position().map_or(0, |p| p.line());
    RowError {
        line,
        column: String::new(),
        value: String::new(),
        message: format!("the file is not readable CSV: {e}"),
    }
}

struct RowReader<'a> {
    record: &'a csv::StringRecord,
    header: &'a [&'a str],
    columns: &'a HashMap<Field, usize>,
    line: u64,
}

type RowResult = Result<Patient, (Option<PatientId>, Vec<RowError>)>;

impl RowReader<'_> {
    fn cell(&self, field: Field) -> &str {
        self.columns
            .get(&field)
            .and_then(|&i| self.record.get(i))
            .map(crate::domain::formula_unsafe)
            .unwrap_or("")
    }

    fn column(&self, field: Field) -> String {
        match self.columns.get(&field) {
            Some(&i) => self.header[i].trim().to_string(),
            None => field.key().to_string(),
        }
    }

    fn patient(&self, today: NaiveDate) -> RowResult {
        let mut errors = Vec::new();
        let mut check = |field: Field, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(RowError {
                    line: self.line,
                    column: self.column(field),
                    value: self.cell(field).to_string(),
                    message,
                });
            }
        };
        // A required field whose column is missing was reported once, on the header.
        macro_rules! field {
            ($field:expr, $parse:expr) => {{
                if $field.required() && !self.columns.contains_key(&$field) {
                    None
                } else {
                    let r = $parse(self.cell($field)).map_err(|e: crate::domain::FieldError| e.message);
                    let (ok, res) = match r {
                        Ok(v) => (Some(v), Ok(())),
                        Err(m) => (None, Err(m)),
                    };
                    check($field, res);
                    ok
                }
            }};
        }
        let id = field!(Field::Id, PatientId::parse);
        let name = field!(Field::Name, KanjiName::parse);
        let kana = field!(Field::Kana, KanaName::parse);
        let dob = field!(Field::Dob, |s| DateOfBirth::parse(s, today));
        let sex = field!(Field::Sex, Sex::parse);
        let blood = field!(Field::BloodType, BloodType::parse);
        let ward = field!(Field::Ward, |s| required_text(s, "ward"));
        let room = field!(Field::Room, |s| clean_text(s, "room"));
        let bed = field!(Field::Bed, |s| clean_text(s, "bed"));
        let department = field!(Field::Department, |s| clean_text(s, "department"));
        let allergies = field!(Field::Allergies, |s| split_list(s, "allergy"));
        match (id, name, kana, dob, sex, blood, ward, room, bed, department, allergies) {
            (
                Some(id),
                Some(name),
                Some(kana),
                Some(dob),
                Some(sex),
                Some(blood),
                Some(ward),
                Some(room),
                Some(bed),
                Some(department),
                Some(allergies),
            ) => Ok(Patient {
                id,
                name,
                kana,
                dob,
                sex,
                blood,
                location: Location { ward, room, bed },
                department,
                allergies,
            }),
            (id, ..) => Err((id, errors)),
        }
    }
}

fn required_text(s: &str, what: &str) -> Result<String, crate::domain::FieldError> {
    let text = clean_text(s, what)?;
    if text.is_empty() {
        return Err(crate::domain::FieldError::new(format!("{what} is empty")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟,病室,ベッド,診療科,アレルギー\n";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn parse(body: &str) -> ParsedCensus {
        parse_census(&format!("{HEADER}{body}"), &ColumnMapping::default_mapping(), today())
    }

    #[test]
    fn a_windows_file_names_the_right_line() {
        let text = format!("{HEADER}100001,山田 太郎,ヤマダ タロウ,1950/4/1,男,A+,5E,,,,\n100002,山田 花子,ヤマダ ハナコ,1950/13/1,女,A+,5E,,,,\n")
            .replace('\n', "\r\n");
        let p = parse_census(&text, &ColumnMapping::default_mapping(), today());
        assert_eq!(p.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3], "{:?}", p.errors);
    }

    #[test]
    fn a_good_row_becomes_a_patient() {
        let p = parse("100001,山田 太郎,ﾔﾏﾀﾞ ﾀﾛｳ,1950/4/1,男,A+,5E,501,501-1,内科,ペニシリン;卵\n");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let (line, patient) = &p.patients[0];
        assert_eq!(*line, 2);
        assert_eq!(patient.kana.as_str(), "ヤマダ　タロウ");
        assert_eq!(patient.allergies, ["ペニシリン", "卵"]);
    }

    #[test]
    fn every_bad_field_of_a_row_is_reported_with_line_and_column() {
        let p = parse("100001,山田 太郎,ヤマダ,1950-02-30,X,A+,5E,,,,\n");
        let got: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(got, [(2, "性別"), (2, "生年月日")]);
        assert!(p.refused_ids.contains("100001"));
        assert!(!p.fatal);
    }

    #[test]
    fn duplicate_ids_are_refused_on_every_line_naming_the_others() {
        let row = "100001,山田 太郎,ヤマダ,1950-02-03,M,A+,5E,,,,\n";
        let p = parse(&format!("{row}{row}"));
        assert_eq!(p.errors.len(), 2);
        assert!(p.errors[0].message.contains("also on line 3"), "{:?}", p.errors[0]);
        assert!(p.errors[1].message.contains("also on line 2"));
        assert!(p.patients.is_empty());
    }

    #[test]
    fn quoted_multi_line_cells_keep_line_numbers_right() {
        let p = parse("1,\"山田\n太郎\",ヤマダ,1950-02-03,M,A+,5E,,,,\n2,佐藤 花子,サトウ,bad,F,O,5E,,,,\n");
        assert_eq!(p.errors[0].line, 4);
    }

    #[test]
    fn a_missing_required_column_is_fatal_and_the_rows_are_still_checked() {
        let p = parse_census(
            "患者ID,氏名,カナ氏名,性別,血液型,病棟\n1,山田,ヤマダ,M,A,5E\n2,佐藤,サトウ,Q,A,5E\n",
            &ColumnMapping::default_mapping(),
            today(),
        );
        assert!(p.fatal);
        let got: Vec<(u64, &str)> = p.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(got, [(1, "dob"), (3, "性別")]);
        assert!(p.patients.is_empty());
    }

    #[test]
    fn blank_lines_and_empty_files_are_handled() {
        assert_eq!(parse("\n,,,,,,,,,,\n").rows, 0);
        assert!(parse_census("", &ColumnMapping::default_mapping(), today()).fatal);
    }
}
