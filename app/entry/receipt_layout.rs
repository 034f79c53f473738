//! The receipt-computer masters (レセプト電算処理システム マスター) in the layout 社会保険診療報酬支払基金
//! publishes them in, read as they come: CP932, comma-separated, no header, one item per line,
//! each value at its numbered column. The 医科診療行為マスター (`S`, 150 columns now, 122 in older
//! files) is the charges master; the 医薬品マスター (`Y`, 42 columns, 35–40 in older files) the
//! drugs master. The columns read (1-based, as the published specification numbers them; see
//! docs/research/receipt-computer-masters.md):
//!
//! | master | column | read as |
//! |---|---|---|
//! | both | 1 変更区分 | `1` 抹消 and `9` 廃止 rows are left out (the code may no longer be charged) |
//! | both | 2 マスター種別 | `S` or `Y`: what tells the layout apart from a CSV with a header |
//! | both | 3 コード | `code` (9 digits) |
//! | both | 5 (省略)漢字名称 | `name` |
//! | both | 7 (省略)カナ名称 | `kana` (half-width kana widened) |
//! | both | 10 単位漢字名称 | `unit` |
//! | both | 12 新又は現点数 / 金額 | `points` (points of a procedure, yen of a drug) |
//! | S | 13 入外適用区分 | `inout` |
//! | S | 43 時間加算区分 | `time_addition` |
//! | S | 117, else 85 + 92 (+ `-`93) | `section`, the fee schedule's section number (`A000`, `B001-2`) |
//! | Y | 28 剤形 | `form` (1 内用, 4 注射, 6 外用; 3 その他 and 8 歯科用 left empty) |
//! | Y | 32 薬価基準収載医薬品コード | `yj` |

use csv::StringRecord;

use super::masters::MasterRowError;
use crate::domain::master_details::Details;
use crate::domain::{MasterItem, MasterKind};

/// Which published layout a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 医科診療行為マスター.
    Procedures,
    /// 医薬品マスター.
    Drugs,
}

impl Layout {
    fn letter(self) -> &'static str {
        match self {
            Layout::Procedures => "S",
            Layout::Drugs => "Y",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Layout::Procedures => "医科診療行為マスター (S)",
            Layout::Drugs => "医薬品マスター (Y)",
        }
    }

    /// The fewest columns a row of this layout has (the older layouts' widths).
    fn min_columns(self) -> usize {
        match self {
            Layout::Procedures => 113,
            Layout::Drugs => 32,
        }
    }
}

/// The published layout `first` (a file's first row) is in, if it is one and `kind` is the
/// master it feeds: column 2 the master's letter, column 3 a 9-digit code.
pub fn detect(kind: MasterKind, first: &StringRecord) -> Option<Layout> {
    let layout = match kind {
        MasterKind::Charges => Layout::Procedures,
        MasterKind::Drugs => Layout::Drugs,
        _ => return None,
    };
    let code = first.get(2).unwrap_or("").trim();
    (first.get(1).map(str::trim) == Some(layout.letter())
        && code.len() == 9
        && code.bytes().all(|b| b.is_ascii_digit()))
    .then_some(layout)
}

/// Reads every row; each problem is named by line and the column's name.
pub fn read(
    kind: MasterKind,
    layout: Layout,
    records: impl Iterator<Item = csv::Result<StringRecord>>,
) -> (Vec<(u64, MasterItem)>, Vec<MasterRowError>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(problem(line, "", "", format!("not readable CSV: {e}")));
                break;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match row(kind, layout, &record, line) {
            Ok(Some(item)) => items.push((line, item)),
            Ok(None) => {}
            Err(mut e) => errors.append(&mut e),
        }
    }
    (items, errors)
}

fn problem(line: u64, field: &str, value: &str, message: impl Into<String>) -> MasterRowError {
    MasterRowError { line, field: field.to_string(), value: value.to_string(), message: message.into() }
}

/// One row as an item; `None` for a code that was struck off or abolished.
fn row(
    kind: MasterKind,
    layout: Layout,
    r: &StringRecord,
    line: u64,
) -> Result<Option<MasterItem>, Vec<MasterRowError>> {
    // Columns are numbered from 1, as the specification numbers them.
    let col = |n: usize| r.get(n - 1).unwrap_or("").trim();
    if r.len() < layout.min_columns() {
        return Err(vec![problem(
            line,
            "",
            "",
            format!(
                "{} columns, but a row of the {} has at least {}",
                r.len(),
                layout.name(),
                layout.min_columns()
            ),
        )]);
    }
    if col(2) != layout.letter() {
        return Err(vec![problem(
            line,
            "マスター種別 (column 2)",
            col(2),
            format!("is not '{}': every row of a {} says so", layout.letter(), layout.name()),
        )]);
    }
    if matches!(col(1), "1" | "9") {
        return Ok(None);
    }
    let mut errors = Vec::new();
    fn take<T>(
        errors: &mut Vec<MasterRowError>,
        line: u64,
        (field, n, value): (&str, usize, &str),
        result: Result<T, crate::domain::FieldError>,
    ) -> Option<T> {
        result
            .map_err(|e| errors.push(problem(line, &format!("{field} (column {n})"), value, e.message)))
            .ok()
    }
    let code = take(&mut errors, line, ("code", 3, col(3)), MasterItem::parse_code(col(3)));
    let name = take(&mut errors, line, ("name", 5, col(5)), MasterItem::parse_name(col(5)));
    let kana = take(&mut errors, line, ("kana", 7, col(7)), MasterItem::parse_kana(col(7))).flatten();
    let unit = take(&mut errors, line, ("unit", 10, col(10)), MasterItem::parse_unit(col(10))).flatten();
    let points =
        take(&mut errors, line, ("points", 12, col(12)), MasterItem::parse_points(col(12))).flatten();
    let mut raw: Vec<(&str, usize, String)> = Vec::new();
    match layout {
        Layout::Procedures => {
            raw.push(("inout", 13, col(13).to_string()));
            raw.push(("time_addition", 43, col(43).to_string()));
            let published = r.get(116).unwrap_or("").trim();
            let section = if !published.is_empty() {
                published.to_string()
            } else if !col(85).is_empty() && !matches!(col(85), "-" | "*") && !col(92).is_empty() {
                match col(93) {
                    "" | "00" | "0" => format!("{}{}", col(85), col(92)),
                    branch => format!("{}{}-{}", col(85), col(92), branch.trim_start_matches('0')),
                }
            } else {
                String::new()
            };
            raw.push(("section", 117, section));
        }
        Layout::Drugs => {
            let form = if matches!(col(28), "1" | "4" | "6") { col(28) } else { "" };
            raw.push(("form", 28, form.to_string()));
            raw.push(("yj", 32, col(32).to_string()));
        }
    }
    let mut details = Details::new();
    for (key, n, value) in raw {
        let Some(column) = kind.detail_columns().find(|c| c.key == key) else { continue };
        match (column.parse)(&value) {
            Ok(Some(v)) => {
                details.insert(key.to_string(), v);
            }
            Ok(None) => {}
            Err(e) => errors.push(problem(line, &format!("{key} (column {n})"), &value, e.message)),
        }
    }
    match (code, name) {
        (Some(code), Some(name)) if errors.is_empty() => {
            Ok(Some(MasterItem { code, name, kana, unit, points, uses: 0, details }))
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<csv::Result<StringRecord>> {
        crate::csv_in::csv_reader(text).records().collect()
    }

    fn s_row(code: &str, change: &str, section: (&str, &str, &str), published: &str) -> String {
        let mut row = vec!["0".to_string(); 150];
        row[0] = change.into();
        row[1] = "S".into();
        row[2] = code.into();
        row[4] = "初診料".into();
        row[6] = "ｼｮｼﾝﾘｮｳ".into();
        row[9] = "回".into();
        row[11] = "291.00".into();
        row[12] = "0".into();
        row[42] = "1".into();
        row[84] = section.0.into();
        row[91] = section.1.into();
        row[92] = section.2.into();
        row[116] = published.into();
        row.join(",")
    }

    #[test]
    fn a_procedure_row_reads_its_code_names_points_and_section() {
        let text = format!(
            "{}\n{}\n{}\n",
            s_row("111000110", "0", ("A", "000", "00"), "A000"),
            s_row("112007410", "5", ("B", "001", "02"), ""),
            s_row("113000910", "9", ("A", "000", "00"), "")
        );
        let all = records(&text);
        let layout = detect(MasterKind::Charges, all[0].as_ref().unwrap()).unwrap();
        let (items, errors) = read(MasterKind::Charges, layout, all.into_iter());
        assert!(errors.is_empty(), "{errors:?}");
        // The abolished code (変更区分 9) is left out.
        assert_eq!(items.len(), 2);
        let first = &items[0].1;
        assert_eq!((first.code.as_str(), first.name.as_str()), ("111000110", "初診料"));
        assert_eq!(first.kana.as_deref(), Some("ショシンリョウ"));
        assert_eq!(first.points, Some(291.0));
        assert_eq!(first.detail("section"), Some("A000"));
        assert_eq!(first.detail("time_addition"), Some("1"));
        // Without column 117 the section is built from 85, 92 and the branch in 93.
        assert_eq!(items[1].1.detail("section"), Some("B001-2"));
    }

    #[test]
    fn a_headed_csv_is_not_taken_for_the_published_layout() {
        let all = records("code,name\nA000,初診料\n");
        assert!(detect(MasterKind::Charges, all[0].as_ref().unwrap()).is_none());
        let drugs = records("0,Y,620000001,x\n");
        assert!(detect(MasterKind::Charges, drugs[0].as_ref().unwrap()).is_none());
        assert!(detect(MasterKind::Drugs, drugs[0].as_ref().unwrap()).is_some());
    }

    #[test]
    fn a_short_or_foreign_row_is_named_by_line() {
        let text = format!("{}\n0,S,111000110,3,初診料\n", s_row("111000110", "0", ("A", "000", "00"), ""));
        let all = records(&text);
        let (_, errors) = read(MasterKind::Charges, Layout::Procedures, all.into_iter());
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("at least 113"), "{errors:?}");
    }
}
