//! A charge slip that the charges master says is incomplete is refused when it is saved: a code
//! whose after-hours, holiday and late-night surcharges depend on the time of service (the
//! master's 時間加算区分 `1`) on a slip keyed without its time. The billing system cannot work the
//! surcharge out afterwards; the time is on the paper or must be asked for now.

use std::collections::HashMap;

use super::derive::charge_lines;
use super::fields::Values;
use crate::domain::MasterItem;
use crate::domain::billing::insurance_combination;
use crate::form::{FieldType, FormDefinition, keys};

/// Every problem of the slip's charge lines against the charges master, as a message naming the
/// field to fill in.
pub fn charge_problems(
    form: &FormDefinition,
    values: &Values,
    charges: &HashMap<String, MasterItem>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for field in form.fields_with(&keys::CHARGE_INSURANCE) {
        if let Some(text) = values.get(&field.key).and_then(|v| v.as_str()).filter(|t| !t.trim().is_empty())
            && let Err(e) = insurance_combination(text)
        {
            problems.push(format!("{}: {}", field.label, e.message));
        }
    }
    problems.extend(time_problems(form, values, charges));
    problems
}

/// The time of service, asked for when a code's surcharges depend on it.
fn time_problems(
    form: &FormDefinition,
    values: &Values,
    charges: &HashMap<String, MasterItem>,
) -> Vec<String> {
    // Only a slip with a place for the time can be asked for it.
    let Some(time_field) = form.fields_with(&keys::CHARGE_DATE).find(|f| matches!(f.kind, FieldType::Time))
    else {
        return Vec::new();
    };
    let lines = charge_lines(form, values);
    if lines.iter().all(|l| l.service_time.is_some()) {
        return Vec::new();
    }
    let timed: Vec<String> = lines
        .iter()
        .filter_map(|l| charges.get(&l.code))
        .filter(|item| item.detail("time_addition") == Some("1"))
        .map(|item| format!("{} {}", item.code, item.name))
        .collect();
    if timed.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{}: required — {} {} after-hours, holiday and late-night surcharges (時間加算), so the time of service decides the charge",
        time_field.label,
        timed.join(", "),
        if timed.len() == 1 { "has" } else { "have" }
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::master_details::Details;
    use crate::entry::derive;
    use serde_json::json;

    fn master() -> HashMap<String, MasterItem> {
        let item = |code: &str, name: &str, time: &str| {
            let mut details = Details::new();
            details.insert("time_addition".into(), time.into());
            (
                code.to_string(),
                MasterItem {
                    code: code.into(),
                    name: name.into(),
                    kana: None,
                    unit: None,
                    points: None,
                    uses: 0,
                    details,
                },
            )
        };
        HashMap::from([item("111000110", "初診料", "1"), item("199900160", "血液採取", "0")])
    }

    fn slip(pairs: &[(&str, serde_json::Value)]) -> (FormDefinition, Values) {
        let form = crate::form::built_in().into_iter().find(|f| f.id == "charge_slip").unwrap();
        let values = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        (form, values)
    }

    #[test]
    fn a_code_with_time_surcharges_needs_the_time_of_service() {
        let (form, values) = slip(&[("date", json!("2026-11-05")), ("charges", json!(["111000110"]))]);
        let problems = charge_problems(&form, &values, &master());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("時刻 Time: required") && problems[0].contains("111000110 初診料"));
        let (form, values) = slip(&[
            ("date", json!("2026-11-05")),
            ("time", json!("22:40")),
            ("charges", json!(["111000110"])),
        ]);
        assert!(charge_problems(&form, &values, &master()).is_empty());
    }

    #[test]
    fn an_insurance_combination_that_is_no_number_is_refused_by_its_label() {
        let (form, values) = slip(&[
            ("date", json!("2026-11-05")),
            ("charges", json!(["199900160"])),
            ("insurance", json!("国保")),
        ]);
        let problems = charge_problems(&form, &values, &master());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("保険組合せ Insurance comb."), "{}", problems[0]);
        let (form, values) = slip(&[
            ("date", json!("2026-11-05")),
            ("charges", json!(["199900160"])),
            ("insurance", json!("２")),
        ]);
        assert!(charge_problems(&form, &values, &master()).is_empty());
        assert_eq!(derive::charge_lines(&form, &values)[0].insurance.as_deref(), Some("0002"));
    }

    #[test]
    fn codes_without_time_surcharges_need_no_time() {
        let (form, values) = slip(&[("date", json!("2026-11-05")), ("charges", json!(["199900160"]))]);
        assert!(charge_problems(&form, &values, &master()).is_empty());
    }
}
