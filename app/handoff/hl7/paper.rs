//! Reading a keyed page through its form's export keys: the builders ask for "the RXE-2 of row
//! 3", not for a field key, so a hospital's own version of a form maps the same way as long as
//! its export keys say the same.

use serde_json::Value;

use super::er7;
use crate::entry::derive::row_of;
use crate::form::{FieldDef, FieldType, FormDefinition};
use crate::handoff::Keyed;

/// A value as text: strings as typed, numbers without a trailing `.0`, ticks as `Y`/`N`.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => n.as_f64().map(er7::num),
        Value::Bool(b) => Some(if *b { "Y" } else { "N" }.to_string()),
        _ => None,
    }
}

pub struct Paper<'a> {
    pub form: &'a FormDefinition,
    pub keyed: &'a Keyed,
}

impl<'a> Paper<'a> {
    pub fn item(&self) -> &str {
        &self.keyed.item
    }

    fn export_of(field: &FieldDef) -> &str {
        field.export.as_deref().unwrap_or("")
    }

    /// The fields exported as `export` on `row` (`""` for the page's header), in reading order.
    pub fn fields(&self, export: &'a str, row: &'a str) -> impl Iterator<Item = &'a FieldDef> + 'a {
        self.form.fields.iter().filter(move |f| Self::export_of(f) == export && row_of(&f.key) == row)
    }

    pub fn value(&self, field: &FieldDef) -> Option<&'a Value> {
        self.keyed.values.get(&field.key).filter(|v| !v.is_null())
    }

    pub fn text(&self, export: &'a str, row: &'a str) -> Option<String> {
        self.fields(export, row).find_map(|f| self.value(f).and_then(value_text))
    }

    /// The `n`th (0-based) field exported as `export` on the header, as text: where a form puts
    /// two fields under one key (TXA-5: the writer, then their profession).
    pub fn nth_text(&self, export: &'a str, n: usize) -> Option<String> {
        self.fields(export, "").nth(n).and_then(|f| self.value(f)).and_then(value_text)
    }

    pub fn ticked(&self, export: &'a str, row: &'a str) -> bool {
        self.fields(export, row).any(|f| self.value(f) == Some(&Value::Bool(true)))
    }

    /// The codes ticked in a tick list exported as `export`, in the order printed, then the
    /// codes typed into code fields with the same export key.
    pub fn codes(&self, export: &'a str, row: &'a str) -> Vec<String> {
        let mut codes: Vec<String> = Vec::new();
        for field in self.fields(export, row) {
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

    /// The master's (or the printed tick list's) name for a code, else the code itself.
    pub fn name_of(&self, code: &str) -> String {
        if let Some(name) = self.keyed.code_names.get(code) {
            return name.clone();
        }
        self.form
            .fields
            .iter()
            .find_map(|f| match &f.kind {
                FieldType::Ticks { options, .. } => {
                    options.iter().find(|o| o.code == code).map(|o| o.label.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| code.to_string())
    }

    /// The rows of the paper (`1`, `2` …) on which `export` has a value, in paper order.
    pub fn rows_with(&self, export: &str) -> Vec<String> {
        let mut rows: Vec<(u32, String)> = self
            .form
            .fields
            .iter()
            .filter(|f| Self::export_of(f) == export && !row_of(&f.key).is_empty())
            .filter(|f| self.value(f).and_then(value_text).is_some())
            .map(|f| row_of(&f.key).to_string())
            .map(|r| (r.parse().unwrap_or(u32::MAX), r))
            .collect();
        rows.sort();
        rows.dedup();
        rows.into_iter().map(|(_, r)| r).collect()
    }

    fn first_of_type(&self, row: &str, date: bool) -> Option<String> {
        self.form
            .fields
            .iter()
            .filter(|f| row_of(&f.key) == row)
            .filter(
                |f| if date { matches!(f.kind, FieldType::Date) } else { matches!(f.kind, FieldType::Time) },
            )
            .find_map(|f| self.value(f).and_then(value_text))
    }

    /// The page's date (its first date field), as typed (`YYYY-MM-DD`).
    pub fn date(&self) -> Option<String> {
        self.first_of_type("", true)
    }

    /// When the page says it happened, as HL7 (`YYYYMMDDHHMM` or `YYYYMMDD`).
    pub fn event(&self) -> Option<String> {
        self.keyed
            .event_at
            .as_deref()
            .and_then(er7::paper)
            .or_else(|| self.date().as_deref().and_then(er7::paper))
    }

    /// When row `row` happened: the page's date with the row's own time, else the page's time.
    pub fn row_at(&self, row: &str) -> Option<String> {
        let time = self.first_of_type(row, false).or_else(|| self.first_of_type("", false));
        er7::paper_at(self.date().as_deref(), time.as_deref()).or_else(|| self.event())
    }

    /// The label of a row's field without its row number: `体温1 Temp ℃` → `体温`.
    pub fn short_label(field: &FieldDef) -> String {
        let first = field.label.split_whitespace().next().unwrap_or(&field.key);
        first.strip_suffix(row_of(&field.key)).filter(|s| !s.is_empty()).unwrap_or(first).to_string()
    }
}
