//! A keyed page read through its form's export keys: the hand-off asks for "the drug of row 3"
//! (`keys::DRUG`, row `3`), never for a field's key, so a hospital's own version of a form maps
//! the same way as long as its export keys say the same. HL7, FHIR and the billing CSV all read
//! pages through this one view.
//!
//! Fields whose keys end in `_N` belong to row N of the paper (a vital-sign round, a drug line);
//! the others are the page's header (row `""`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{ExportKey, FieldDef, FieldType, FormDefinition};

/// The row a field belongs to: `temp_3` → `3`, `date` → ``.
pub fn row_of(key: &str) -> &str {
    match key.rsplit_once('_') {
        Some((_, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => n,
        _ => "",
    }
}

/// `temp_3` → `temp`: the field a row's value came from, the same on every row.
pub fn base_key(key: &str) -> &str {
    match row_of(key) {
        "" => key,
        n => key.strip_suffix(n).and_then(|k| k.strip_suffix('_')).unwrap_or(key),
    }
}

/// A value as text for a message: strings trimmed, numbers without a trailing `.0`, ticks as
/// `Y`/`N`; None when there is nothing.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => n.as_f64().map(number_text),
        Value::Bool(b) => Some(if *b { "Y" } else { "N" }.to_string()),
        _ => None,
    }
}

/// A number as written on paper: `72`, not `72.0`.
pub fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Where a page's values are kept: the keying's map, or one record's.
pub trait ValueSource {
    fn value_of(&self, key: &str) -> Option<&Value>;
}

impl ValueSource for BTreeMap<String, Value> {
    fn value_of(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl ValueSource for Map<String, Value> {
    fn value_of(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// A form and the values keyed on one of its pages (or one record of it).
pub struct KeyedView<'a, V: ?Sized> {
    pub form: &'a FormDefinition,
    pub values: &'a V,
}

impl<V: ?Sized> Clone for KeyedView<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V: ?Sized> Copy for KeyedView<'_, V> {}

impl<'a, V: ValueSource + ?Sized> KeyedView<'a, V> {
    pub fn new(form: &'a FormDefinition, values: &'a V) -> Self {
        KeyedView { form, values }
    }

    /// A field's value; an explicit null counts as nothing.
    pub fn value(&self, field: &FieldDef) -> Option<&'a Value> {
        self.values.value_of(&field.key).filter(|v| !v.is_null())
    }

    /// The fields exported as `key` on `row` (`""` for the page's header), in reading order.
    pub fn fields<'s>(&'s self, key: &'s ExportKey, row: &'s str) -> impl Iterator<Item = &'a FieldDef> + 's {
        self.form.fields.iter().filter(move |f| f.export.as_ref() == Some(key) && row_of(&f.key) == row)
    }

    /// The first value exported as `key` on `row`, as text.
    pub fn text(&self, key: &ExportKey, row: &str) -> Option<String> {
        self.fields(key, row).find_map(|f| self.value(f).and_then(value_text))
    }

    /// The `n`th (0-based) header field exported as `key`, as text: where a form puts two fields
    /// under one key (`TXA-5`: the writer, then their profession).
    pub fn nth_text(&self, key: &ExportKey, n: usize) -> Option<String> {
        self.fields(key, "").nth(n).and_then(|f| self.value(f)).and_then(value_text)
    }

    /// Whether a tick box exported as `key` on `row` is ticked.
    pub fn ticked(&self, key: &ExportKey, row: &str) -> bool {
        self.fields(key, row).any(|f| self.value(f) == Some(&Value::Bool(true)))
    }

    /// The codes ticked in tick lists exported as `key` on `row`, in the order printed, then
    /// the codes typed into code fields with the same key; each once.
    pub fn codes(&self, key: &ExportKey, row: &str) -> Vec<String> {
        let mut codes: Vec<String> = Vec::new();
        for field in self.fields(key, row) {
            match (&field.kind, self.value(field)) {
                (FieldType::Ticks { options, .. }, Some(Value::Array(ticked))) => {
                    let ticked: Vec<&str> = ticked.iter().filter_map(Value::as_str).collect();
                    for o in options.iter().filter(|o| ticked.contains(&o.code.as_str())) {
                        codes.push(o.code.clone());
                    }
                    // A code keyed that the printed list does not have still counts.
                    for t in ticked.iter().filter(|t| !options.iter().any(|o| o.code == **t)) {
                        codes.push((*t).to_string());
                    }
                }
                (FieldType::Tick, Some(Value::Bool(true))) => codes.push(field.key.clone()),
                (_, Some(v)) => codes.extend(value_text(v)),
                _ => {}
            }
        }
        let mut seen = std::collections::HashSet::new();
        codes.retain(|c| seen.insert(c.clone()));
        codes
    }

    /// The rows of the paper (`1`, `2` …) on which `key` has a value, in paper order.
    pub fn rows_with(&self, key: &ExportKey) -> Vec<String> {
        let mut rows: Vec<(u32, String)> = self
            .form
            .fields
            .iter()
            .filter(|f| f.export.as_ref() == Some(key) && !row_of(&f.key).is_empty())
            .filter(|f| self.value(f).and_then(value_text).is_some())
            .map(|f| row_of(&f.key).to_string())
            .map(|r| (r.parse().unwrap_or(u32::MAX), r))
            .collect();
        rows.sort();
        rows.dedup();
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// Every field that has a value, on any row, with it, in reading order.
    pub fn filled(&self) -> Vec<(&'a FieldDef, &'a Value)> {
        self.form.fields.iter().filter_map(|f| self.value(f).map(|v| (f, v))).collect()
    }

    /// The fields exported as `key` that have a value, on any row, in reading order.
    pub fn filled_as(&self, key: &ExportKey) -> Vec<(&'a FieldDef, &'a Value)> {
        self.filled().into_iter().filter(|(f, _)| f.export.as_ref() == Some(key)).collect()
    }

    /// The first date (`date`) or time field of `row` with a value, as typed.
    pub fn first_of_type(&self, row: &str, date: bool) -> Option<String> {
        self.form
            .fields
            .iter()
            .filter(|f| row_of(&f.key) == row)
            .filter(
                |f| if date { matches!(f.kind, FieldType::Date) } else { matches!(f.kind, FieldType::Time) },
            )
            .find_map(|f| self.value(f).and_then(value_text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{built_in, keys};
    use serde_json::json;

    fn form(id: &str) -> FormDefinition {
        built_in().into_iter().find(|f| f.id == id).unwrap()
    }

    #[test]
    fn rows_and_base_keys_come_from_the_field_key() {
        assert_eq!((row_of("temp_3"), row_of("date"), row_of("a_b")), ("3", "", ""));
        assert_eq!((base_key("temp_3"), base_key("date")), ("temp", "date"));
    }

    #[test]
    fn a_prescription_is_read_by_meaning_and_row() {
        let rx = form("prescription");
        let drug = rx.fields.iter().find(|f| f.export.as_ref() == Some(&keys::DRUG)).unwrap();
        let row = row_of(&drug.key).to_string();
        let values: BTreeMap<String, Value> =
            [(drug.key.clone(), json!(" 620000033 ")), ("unknown".into(), json!(null))].into();
        let view = KeyedView::new(&rx, &values);
        assert_eq!(view.text(&keys::DRUG, &row).as_deref(), Some("620000033"));
        assert_eq!(view.rows_with(&keys::DRUG), vec![row.clone()]);
        assert_eq!(view.codes(&keys::DRUG, &row), vec!["620000033".to_string()]);
        assert!(view.text(&keys::DOSE, &row).is_none());
        assert_eq!(view.filled_as(&keys::DRUG).len(), 1);
    }

    #[test]
    fn numbers_lose_only_a_trailing_zero() {
        assert_eq!(value_text(&json!(72.0)).as_deref(), Some("72"));
        assert_eq!(value_text(&json!(36.5)).as_deref(), Some("36.5"));
        assert_eq!(value_text(&json!(true)).as_deref(), Some("Y"));
        assert_eq!(value_text(&json!("  ")), None);
    }
}
