//! One form field as a clerk types it: checked against the field's type in the form definition
//! and turned into the value stored (dates `YYYY-MM-DD`, times `HH:MM`, numbers as numbers,
//! codes upper-case), with what was understood shown back.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::domain::clean_text;
use crate::domain::paper_time::{parse_paper_date, parse_paper_date_time, parse_paper_time, show_date};
use crate::form::{FieldDef, FieldType, FormDefinition};

/// A keyed page's values by field key. Empty fields are absent.
pub type Values = BTreeMap<String, Value>;

/// A checked field: the value to store and how it reads back to the clerk.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub value: Value,
    pub shown: String,
}

/// Looks a code up in a master: the item's name, if the master has it.
pub trait CodeLookup {
    fn name_of(&self, master: &str, code: &str) -> Option<String>;
    /// Whether the master has any items at all (an empty master cannot check anything).
    fn has_master(&self, master: &str) -> bool;
}

/// Checks the text typed into a text-like field (text, number, date, time, code, area). `Ok(None)`
/// is an empty field; whether it may be empty is `missing`'s business.
pub fn check_typed(
    field: &FieldDef,
    text: &str,
    today: NaiveDate,
    codes: &dyn CodeLookup,
) -> Result<Option<Checked>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let checked = match &field.kind {
        FieldType::Text { max_chars } => {
            let clean = clean_text(trimmed, "the text").map_err(|e| e.message)?;
            if clean.is_empty() {
                return Ok(None);
            }
            too_long(&clean, *max_chars)?;
            Checked { shown: clean.clone(), value: Value::String(clean) }
        }
        FieldType::Area { .. } => {
            let lines: Result<Vec<String>, _> = text.lines().map(|l| clean_text(l, "the note")).collect();
            let clean = lines.map_err(|e| e.message)?.join("\n").trim_matches('\n').to_string();
            if clean.trim().is_empty() {
                return Ok(None);
            }
            Checked { shown: format!("{} 文字 chars", clean.chars().count()), value: Value::String(clean) }
        }
        FieldType::Number { min, max, decimals, unit } => {
            let folded: String = trimmed.nfkc().filter(|c| !c.is_whitespace()).collect();
            let number: f64 = folded
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| format!("'{trimmed}' is not a number"))?;
            let places = folded.split_once('.').map_or(0, |(_, d)| d.len());
            if places > *decimals as usize {
                return Err(match decimals {
                    0 => format!("{folded}: a whole number is expected"),
                    d => format!("{folded}: at most {d} decimal place(s)"),
                });
            }
            if let Some(min) = min.filter(|m| number < *m) {
                return Err(format!("{folded} is below {min}"));
            }
            if let Some(max) = max.filter(|m| number > *m) {
                return Err(format!("{folded} is above {max}"));
            }
            let unit = unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
            Checked { shown: format!("{folded}{unit}"), value: serde_json::json!(number) }
        }
        FieldType::Date => {
            let date = parse_paper_date(trimmed, today).map_err(|e| e.message)?;
            Checked { shown: show_date(date), value: Value::String(date.format("%Y-%m-%d").to_string()) }
        }
        FieldType::Time => {
            let time = parse_paper_time(trimmed).map_err(|e| e.message)?;
            let text = time.format("%H:%M").to_string();
            Checked { shown: text.clone(), value: Value::String(text) }
        }
        FieldType::Code { master } => {
            let code: String =
                trimmed.nfkc().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect();
            if !codes.has_master(master) {
                return Err(format!(
                    "no {master} master is loaded: import it first (masters import FILE --master {master})"
                ));
            }
            let name = codes
                .name_of(master, &code)
                .ok_or_else(|| format!("{code} is not in the {master} master"))?;
            Checked { shown: format!("{code} {name}"), value: Value::String(code) }
        }
        FieldType::Tick | FieldType::Ticks { .. } => {
            return Err(format!("{} is ticked, not typed", field.key));
        }
    };
    Ok(Some(checked))
}

/// A date typed with its time (`1105 0930`) into a date field that a time field follows.
pub fn split_date_time(text: &str, today: NaiveDate) -> Option<(String, String)> {
    if text.split_whitespace().count() != 2 {
        return None;
    }
    let (date, time) = parse_paper_date_time(text, today).ok()?;
    Some((date.format("%Y-%m-%d").to_string(), time?.format("%H%M").to_string()))
}

/// The required fields left empty, by label.
pub fn missing(form: &FormDefinition, values: &Values) -> Vec<String> {
    form.fields
        .iter()
        .filter(|f| f.required && is_empty(values.get(&f.key)))
        .map(|f| f.label.clone())
        .collect()
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Bool(b)) => !b,
        Some(_) => false,
    }
}

fn too_long(text: &str, max: Option<u32>) -> Result<(), String> {
    match max {
        Some(max) if text.chars().count() > max as usize => {
            Err(format!("{} characters, at most {max}", text.chars().count()))
        }
        _ => Ok(()),
    }
}

/// The text a stored value is typed back as (to edit a keying, or to resolve a mismatch).
pub fn value_as_text(field: &FieldDef, value: &Value) -> String {
    match (&field.kind, value) {
        (FieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or(s.clone()),
        (_, Value::String(s)) => s.clone(),
        // As typed: a whole-number field must not come back as `72.0`.
        (FieldType::Number { decimals, .. }, Value::Number(n)) => {
            n.as_f64().map(|f| format!("{f:.*}", *decimals as usize)).unwrap_or_else(|| n.to_string())
        }
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::Bool(b)) => if *b { "✓" } else { "" }.to_string(),
        (_, Value::Array(a)) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::built_in;

    struct Masters;
    impl CodeLookup for Masters {
        fn name_of(&self, master: &str, code: &str) -> Option<String> {
            (master == "charges" && code == "D400").then(|| "血液採取".to_string())
        }
        fn has_master(&self, master: &str) -> bool {
            master == "charges"
        }
    }

    fn field(form: &str, key: &str) -> FieldDef {
        let forms = built_in();
        let form = forms.iter().find(|f| f.id == form).unwrap();
        form.fields.iter().find(|f| f.key == key).unwrap().clone()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn numbers_keep_their_range_and_decimals() {
        let temp = field("vital_signs", "temp_1");
        let ok = check_typed(&temp, "３６.８", today(), &Masters).unwrap().unwrap();
        assert_eq!((ok.value.as_f64(), ok.shown.as_str()), (Some(36.8), "36.8 Cel"));
        assert!(check_typed(&temp, "368", today(), &Masters).unwrap_err().contains("above 43"));
        assert!(check_typed(&temp, "36.85", today(), &Masters).unwrap_err().contains("1 decimal"));
        assert!(check_typed(&temp, "abc", today(), &Masters).unwrap_err().contains("not a number"));
        let pulse = field("vital_signs", "pulse_1");
        assert!(check_typed(&pulse, "72.5", today(), &Masters).unwrap_err().contains("whole number"));
        assert_eq!(check_typed(&pulse, "  ", today(), &Masters).unwrap(), None);
    }

    #[test]
    fn dates_and_times_are_stored_in_full_and_shown_back() {
        let date = check_typed(&field("vital_signs", "date"), "1105", today(), &Masters).unwrap().unwrap();
        assert_eq!((date.value, date.shown), (Value::String("2026-11-05".into()), "2026-11-05 (木)".into()));
        let time = check_typed(&field("vital_signs", "time_1"), "930", today(), &Masters).unwrap().unwrap();
        assert_eq!(time.value, Value::String("09:30".into()));
        assert_eq!(split_date_time("1105 0930", today()), Some(("2026-11-05".into(), "0930".into())));
        assert_eq!(split_date_time("2025-11-05 0930", today()), Some(("2025-11-05".into(), "0930".into())));
        assert_eq!(split_date_time("R7.11.5 0930", today()), Some(("2025-11-05".into(), "0930".into())));
        assert_eq!(split_date_time("1105", today()), None);
    }

    #[test]
    fn a_stored_value_types_back_as_it_checks() {
        let pulse = field("vital_signs", "pulse_1");
        let temp = field("vital_signs", "temp_1");
        for (f, typed) in [(&pulse, "72"), (&temp, "36.8"), (&temp, "37")] {
            let stored = check_typed(f, typed, today(), &Masters).unwrap().unwrap().value;
            let again = value_as_text(f, &stored);
            assert_eq!(
                check_typed(f, &again, today(), &Masters).unwrap().unwrap().value,
                stored,
                "{typed} → {again}"
            );
        }
        assert_eq!(value_as_text(&pulse, &serde_json::json!(72.0)), "72");
    }

    #[test]
    fn codes_must_be_in_their_master() {
        let code = field("charge_slip", "code_1");
        let ok = check_typed(&code, "ｄ４００", today(), &Masters).unwrap().unwrap();
        assert_eq!((ok.value, ok.shown), (Value::String("D400".into()), "D400 血液採取".into()));
        assert!(check_typed(&code, "Z999", today(), &Masters).unwrap_err().contains("not in the charges"));
        let drug = field("mar", "drug_1");
        assert!(check_typed(&drug, "X1", today(), &Masters).unwrap_err().contains("import it first"));
    }

    #[test]
    fn text_is_limited_but_not_folded() {
        let doctor = field("charge_slip", "department");
        let ok = check_typed(&doctor, "内科①", today(), &Masters).unwrap().unwrap();
        assert_eq!(ok.value, Value::String("内科①".into()));
        assert!(
            check_typed(&doctor, &"あ".repeat(21), today(), &Masters).unwrap_err().contains("at most 20")
        );
    }

    #[test]
    fn required_fields_left_empty_are_named() {
        let forms = built_in();
        let note = forms.iter().find(|f| f.id == "progress_note").unwrap();
        let mut values = Values::new();
        values.insert("date".into(), Value::String("2026-11-05".into()));
        assert_eq!(missing(note, &values), vec!["時刻 Time".to_string(), "記録 (S/O/A/P)".to_string()]);
    }
}
