//! A keyed page as the HL7 builders read it: the shared view (`form::view`), asked by export
//! key and row, plus what only messages need (a code's name, the page's HL7 times).

use std::collections::BTreeMap;
use std::ops::Deref;

use serde_json::Value;

use super::er7;
use crate::form::view::{KeyedView, row_of};
use crate::form::{FieldDef, FieldType, FormDefinition};
use crate::handoff::Keyed;

pub use crate::form::view::value_text;

pub struct Paper<'a> {
    pub form: &'a FormDefinition,
    pub keyed: &'a Keyed,
    view: KeyedView<'a, BTreeMap<String, Value>>,
}

/// The builders read values through the shared view (`paper.text(&keys::DRUG, row)`); `Paper`
/// only adds to it.
impl<'a> Deref for Paper<'a> {
    type Target = KeyedView<'a, BTreeMap<String, Value>>;
    fn deref(&self) -> &Self::Target {
        &self.view
    }
}

impl<'a> Paper<'a> {
    pub fn new(form: &'a FormDefinition, keyed: &'a Keyed) -> Self {
        Paper { form, keyed, view: KeyedView::new(form, &keyed.values) }
    }

    pub fn item(&self) -> &str {
        &self.keyed.item
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

    /// What the master says of a keyed code besides its name (`unit`, `specimen`, `jlac10`,
    /// `form`, …).
    pub fn fact(&self, code: &str, key: &str) -> Option<&'a str> {
        self.keyed.code_facts.get(code).and_then(|f| f.get(key)).map(String::as_str)
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
