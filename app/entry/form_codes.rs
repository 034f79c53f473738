//! The codes printed on the forms, checked against the masters they belong to: a charge slip's
//! tick box under a receipt code the charges master lacks is billed with no points and no name,
//! and 医事 rejects it — so the check runs when a master is imported and on `masters check`, not
//! after a month of ticked slips.

use std::collections::HashSet;

use crate::domain::MasterKind;
use crate::form::{FieldType, FormDefinition};
use crate::store::{Store, StoreError};

/// One tick box whose code its master lacks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingCode {
    /// The form's file name without `.toml` (`charge_slip`).
    pub form: String,
    /// The tick list's key (`charges`).
    pub field: String,
    pub master: MasterKind,
    pub code: String,
    /// The box's printed label.
    pub label: String,
}

impl std::fmt::Display for MissingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "forms/{}.toml: {}: '{}' ({}) is not in the {} master",
            self.form, self.field, self.code, self.label, self.master
        )
    }
}

/// The tick lists of `forms` that name a master, with that master.
fn coded_tick_lists(
    forms: &[FormDefinition],
) -> impl Iterator<Item = (&FormDefinition, &crate::form::FieldDef, MasterKind)> {
    forms.iter().flat_map(|form| {
        form.fields.iter().filter_map(move |field| match &field.kind {
            // The master's name was checked when the form was read.
            FieldType::Ticks { master: Some(master), .. } => {
                MasterKind::parse(master).ok().map(|kind| (form, field, kind))
            }
            _ => None,
        })
    })
}

/// The masters some form's tick boxes are coded in.
pub fn masters_used(forms: &[FormDefinition]) -> Vec<MasterKind> {
    let mut kinds: Vec<MasterKind> = coded_tick_lists(forms).map(|(_, _, kind)| kind).collect();
    kinds.sort_by_key(|k| k.code());
    kinds.dedup();
    kinds
}

/// Each tick box of `forms` coded in `master` whose code is not in `codes`.
pub fn missing_from(
    forms: &[FormDefinition],
    master: MasterKind,
    codes: &HashSet<String>,
) -> Vec<MissingCode> {
    let mut missing = Vec::new();
    for (form, field, _) in coded_tick_lists(forms).filter(|(_, _, kind)| *kind == master) {
        let FieldType::Ticks { options, .. } = &field.kind else { continue };
        for option in options.iter().filter(|o| !codes.contains(&o.code)) {
            missing.push(MissingCode {
                form: form.id.clone(),
                field: field.key.clone(),
                master,
                code: option.code.clone(),
                label: option.label.clone(),
            });
        }
    }
    missing
}

/// What the stored masters say about the forms' tick boxes.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FormCodeCheck {
    /// Boxes whose master is loaded but lacks their code.
    pub missing: Vec<MissingCode>,
    /// Masters some form's boxes are coded in that hold nothing yet (nothing to check against).
    pub empty_masters: Vec<MasterKind>,
}

impl FormCodeCheck {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.empty_masters.is_empty()
    }
}

/// Checks every coded tick box of `forms` against the stored master it names; `only` narrows
/// the check to one master (the one just imported).
pub fn check(
    store: &Store,
    forms: &[FormDefinition],
    only: Option<MasterKind>,
) -> Result<FormCodeCheck, StoreError> {
    let mut out = FormCodeCheck::default();
    for kind in masters_used(forms).into_iter().filter(|k| only.is_none_or(|o| o == *k)) {
        let codes: HashSet<String> = store.master_items(kind.code())?.into_iter().map(|i| i.code).collect();
        if codes.is_empty() {
            out.empty_masters.push(kind);
        } else {
            out.missing.extend(missing_from(forms, kind, &codes));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slip(master: &str) -> FormDefinition {
        let text = format!(
            r#"
kind = "charges"
code = "XCH"
title = "会計伝票"
title_en = "Charge slip"
family = "slips"
width_mm = 210
height_mm = 297
margin_mm = 10
layout = {{ kind = "page" }}
barcode = {{ x_mm = 100, y_mm = 8, module_mm = 0.33, height_mm = 12 }}

[[field]]
key = "date"
label = "実施日 Date"
type = "date"
x_mm = 10
y_mm = 54
width_mm = 38
height_mm = 9
export = "FT1-4"

[[field]]
key = "charges"
label = "算定項目 Charges"
type = "ticks"
x_mm = 10
y_mm = 70
width_mm = 190
height_mm = 40
columns = 2
export = "FT1-7"
master = "{master}"
options = [
  {{ code = "111000110", label = "初診料 First visit" }},
  {{ code = "199999999", label = "架空 Not in the master" }},
]
"#
        );
        FormDefinition::parse(&text, "x_slip.toml", "x_slip").unwrap()
    }

    #[test]
    fn a_tick_box_whose_code_the_master_lacks_is_named_with_its_form_and_label() {
        let codes: HashSet<String> = ["111000110".to_string()].into();
        let missing = missing_from(&[slip("charges")], MasterKind::Charges, &codes);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].code, "199999999");
        assert_eq!(
            missing[0].to_string(),
            "forms/x_slip.toml: charges: '199999999' (架空 Not in the master) is not in the charges master"
        );
        // Another master's codes are not checked against this one.
        assert!(missing_from(&[slip("charges")], MasterKind::LabTests, &codes).is_empty());
    }

    #[test]
    fn a_tick_list_naming_an_unknown_master_is_refused_when_the_form_is_read() {
        let def = FormDefinition::parse(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/forms/charge_slip.toml"))
                .unwrap()
                .replace("master = \"charges\"\noptions", "master = \"charge\"\noptions"),
            "charge_slip.toml",
            "charge_slip",
        )
        .unwrap_err();
        assert!(def.to_string().contains("master"), "{def}");
        assert!(def.to_string().contains("'charge' is not one of"), "{def}");
    }

    #[test]
    fn the_shipped_slips_are_coded_in_the_charges_and_lab_masters() {
        let forms = crate::form::built_in();
        assert_eq!(masters_used(&forms), vec![MasterKind::Charges, MasterKind::LabTests]);
    }
}
