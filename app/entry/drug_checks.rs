//! A drug row that contradicts the drugs master is refused when it is saved: a tablet on an
//! injection slip, an injection on a prescription, 500 mL of a tablet, a tablet given
//! intramuscularly. The master's dosage form (`form`: 内用 / 外用 / 注射) and unit decide; a
//! drug the master does not describe is not judged.

use std::collections::HashMap;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::fields::Values;
use crate::domain::dose::{Route, split_amount};
use crate::domain::{DosageForm, MasterItem};
use crate::form::view::row_of;
use crate::form::{ExportKey, FormDefinition, FormKind, keys};

/// Units that count solid doses: a volume of one of these is no dose.
const SOLID_UNITS: [&str; 6] = ["錠", "カプセル", "包", "枚", "個", "T"];
/// Volumes: a count of tablets of a fluid, or a volume of a tablet, is a contradiction.
const VOLUME_UNITS: [&str; 5] = ["mL", "ml", "ML", "L", "cc"];

fn text_in_row(form: &FormDefinition, values: &Values, key: &ExportKey, row: &str) -> Option<String> {
    form.fields_with(key)
        .filter(|f| row_of(&f.key) == row)
        .find_map(|f| values.get(&f.key).and_then(Value::as_str).map(str::to_string))
}

/// Every drug row of `values` that the drugs master contradicts, as a message naming the row.
pub fn drug_problems(
    form: &FormDefinition,
    values: &Values,
    drugs: &HashMap<String, MasterItem>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for field in form.fields_with(&keys::DRUG).chain(form.fields_with(&keys::GIVEN_DRUG)) {
        let Some(code) = values.get(&field.key).and_then(Value::as_str) else { continue };
        let Some(drug) = drugs.get(code) else { continue };
        let row = row_of(&field.key);
        let at = if row.is_empty() { field.label.clone() } else { format!("{} (row {row})", field.label) };
        let form_of_drug = drug.detail("form").and_then(DosageForm::parse);
        match (form.kind, form_of_drug) {
            (FormKind::Injection, Some(f @ (DosageForm::Internal | DosageForm::External))) => {
                problems.push(format!(
                    "{at}: {} is {} in the drugs master, not an injection: write it on a prescription",
                    drug.name,
                    f.label()
                ))
            }
            (FormKind::Prescription, Some(DosageForm::Injection)) => problems.push(format!(
                "{at}: {} is an injection in the drugs master: write it on an injection slip",
                drug.name
            )),
            _ => {}
        }
        let dose = text_in_row(form, values, &keys::DOSE, row)
            .or_else(|| text_in_row(form, values, &keys::GIVEN_AMOUNT, row));
        if let (Some(dose), Some(unit)) = (&dose, drug.unit.as_deref())
            && let Some((_, written)) = split_amount(dose).filter(|(_, u)| !u.is_empty())
        {
            // `ｍＬ` typed full-width is mL.
            let written: String = written.nfkc().collect();
            let solid = SOLID_UNITS.contains(&unit);
            let volume = VOLUME_UNITS.contains(&written.as_str());
            let count_of_fluid = SOLID_UNITS.contains(&written.as_str())
                && (VOLUME_UNITS.contains(&unit) || form_of_drug == Some(DosageForm::Injection));
            if (solid && volume) || count_of_fluid {
                problems.push(format!(
                    "{at}: the dose {dose} does not fit {}, which the drugs master counts in {unit}",
                    drug.name
                ));
            }
        }
        let route = text_in_row(form, values, &keys::ROUTE, row);
        if let (Some(route), Some(form_of_drug)) = (&route, form_of_drug) {
            let contradicts = match Route::parse(route) {
                Some(r) if r.injected() => form_of_drug != DosageForm::Injection,
                Some(r) if r.by_mouth() => form_of_drug != DosageForm::Internal,
                Some(_) => form_of_drug == DosageForm::Injection,
                None => false,
            };
            if contradicts {
                problems.push(format!(
                    "{at}: the route {route} does not fit {}, which is {} in the drugs master",
                    drug.name,
                    form_of_drug.label()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::built_in;

    fn drugs() -> HashMap<String, MasterItem> {
        let item = |code: &str, name: &str, unit: &str, form: &str| MasterItem {
            code: code.into(),
            name: name.into(),
            kana: None,
            unit: Some(unit.into()),
            points: None,
            uses: 0,
            details: [("form".to_string(), form.to_string())].into(),
        };
        [
            item("990000102", "アセトアミノフェン錠500mg", "錠", "内用"),
            item("990000201", "生理食塩液500mL", "袋", "注射"),
        ]
        .into_iter()
        .map(|i| (i.code.clone(), i))
        .collect()
    }

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect()
    }

    fn form(id: &str) -> FormDefinition {
        built_in().into_iter().find(|f| f.id == id).unwrap()
    }

    #[test]
    fn a_tablet_by_the_litre_or_into_a_muscle_is_refused_naming_the_row() {
        let rx = form("prescription");
        let problems =
            drug_problems(&rx, &values(&[("drug_1", "990000102"), ("dose_1", "５００ｍＬ")]), &drugs());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("row 1") && problems[0].contains("５００ｍＬ"), "{}", problems[0]);
        let fine = drug_problems(&rx, &values(&[("drug_1", "990000102"), ("dose_1", "2錠")]), &drugs());
        assert!(fine.is_empty(), "{fine:?}");

        let injection = form("injection_order");
        let problems =
            drug_problems(&injection, &values(&[("drug_1", "990000102"), ("route_1", "IM")]), &drugs());
        assert!(problems.iter().any(|p| p.contains("not an injection")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("route IM")), "{problems:?}");
    }

    #[test]
    fn an_injection_on_a_prescription_and_tablets_of_saline_are_refused() {
        let rx = form("prescription");
        let problems = drug_problems(&rx, &values(&[("drug_1", "990000201"), ("dose_1", "2錠")]), &drugs());
        assert!(problems.iter().any(|p| p.contains("injection slip")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("2錠")), "{problems:?}");
        let unknown = drug_problems(&rx, &values(&[("drug_1", "X"), ("dose_1", "500mL")]), &drugs());
        assert!(unknown.is_empty(), "a drug the master lacks is not judged");
    }
}
