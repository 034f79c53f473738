//! From a keyed page to what billing and the chart receive. The form's `kind` says what a page
//! makes (a charge slip charge lines, a progress note a note, the MAR doses given, a vital-sign
//! sheet observations, the rest orders); each field's `export` key says what it is for (the
//! same key the hand-off uses: `FT1-7` a charge code, `FT1-10` its quantity). Fields whose keys
//! end in `_N` belong to row N of the paper (`form::view::row_of`); the others are the page's
//! header and go with every row.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fields::Values;
use crate::domain::{ChargeLine, LineOrigin, PaperRecord};
use crate::form::view::row_of;
use crate::form::{ExportKey, FieldDef, FieldType, FormDefinition, keys};

fn text(values: &Values, key: &str) -> Option<String> {
    values.get(key).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty())
}

fn header_by_export(form: &FormDefinition, values: &Values, key: &ExportKey) -> Option<String> {
    form.fields_with(key).find_map(|f| text(values, &f.key))
}

/// The charge lines of a keyed charge slip, in the slip's reading order.
pub fn charge_lines(form: &FormDefinition, values: &Values) -> Vec<ChargeLine> {
    // FT1-4 holds the day and, on a slip with a time field, the time of service.
    let of_type = |time: bool| {
        form.fields_with(&keys::CHARGE_DATE)
            .filter(|f| matches!(f.kind, FieldType::Time) == time)
            .find_map(|f| text(values, &f.key))
    };
    let date = of_type(false).unwrap_or_default();
    let time = of_type(true);
    let department = header_by_export(form, values, &keys::CHARGE_DEPARTMENT);
    let doctor = header_by_export(form, values, &keys::CHARGE_DOCTOR);
    // Checked before saving (`charge_checks`): what reaches here is a valid number or nothing.
    let insurance = header_by_export(form, values, &keys::CHARGE_INSURANCE)
        .and_then(|t| crate::domain::billing::insurance_combination(&t).ok());
    let line = |code: &str, quantity: f64, origin| ChargeLine {
        service_date: date.clone(),
        service_time: time.clone(),
        code: code.to_string(),
        quantity,
        department: department.clone(),
        doctor: doctor.clone(),
        origin,
        insurance: insurance.clone(),
    };
    let mut lines = Vec::new();
    for field in form.fields_with(&keys::CHARGE_CODE) {
        match (&field.kind, values.get(&field.key)) {
            (FieldType::Ticks { .. }, Some(Value::Array(codes))) => {
                lines.extend(codes.iter().filter_map(Value::as_str).map(|c| line(c, 1.0, LineOrigin::Tick)));
            }
            (FieldType::Tick, Some(Value::Bool(true))) => lines.push(line(&field.key, 1.0, LineOrigin::Tick)),
            (FieldType::Code { .. }, Some(Value::String(code))) if !code.is_empty() => {
                lines.push(line(code, quantity_of(form, values, field).unwrap_or(1.0), LineOrigin::Typed));
            }
            _ => {}
        }
    }
    lines
}

/// The quantity field on the same row as a code field.
fn quantity_of(form: &FormDefinition, values: &Values, code: &FieldDef) -> Option<f64> {
    let row = row_of(&code.key);
    form.fields
        .iter()
        .filter(|f| f.export.as_ref() == Some(&keys::CHARGE_QUANTITY) && row_of(&f.key) == row)
        .find_map(|f| values.get(&f.key).and_then(Value::as_f64))
}

/// What is wrong across fields (each field alone may be fine): a quantity with no code.
pub fn row_problems(form: &FormDefinition, values: &Values) -> Vec<String> {
    let mut problems = Vec::new();
    for qty in form.fields_with(&keys::CHARGE_QUANTITY).filter(|f| values.contains_key(&f.key)) {
        let row = row_of(&qty.key);
        let has_code = form.fields.iter().any(|f| {
            f.export.as_ref() == Some(&keys::CHARGE_CODE)
                && row_of(&f.key) == row
                && values.contains_key(&f.key)
        });
        if !has_code {
            problems.push(format!("{}: a quantity without a code", qty.label));
        }
    }
    problems
}

/// The structured records of a keyed page that is not a charge slip: one per paper row that has
/// anything on it, or one for the page when the form has no rows.
pub fn records(form: &FormDefinition, values: &Values) -> Vec<PaperRecord> {
    if form.makes_charges() {
        return Vec::new();
    }
    let kind = form.kind.record_kind();
    let mut header = Map::new();
    let mut rows: BTreeMap<u32, Map<String, Value>> = BTreeMap::new();
    for field in &form.fields {
        let Some(value) = values.get(&field.key) else { continue };
        match row_of(&field.key) {
            "" => {
                header.insert(field.key.clone(), value.clone());
            }
            n => {
                rows.entry(n.parse().unwrap_or(0)).or_default().insert(field.key.clone(), value.clone());
            }
        }
    }
    let date = first_of_type(form, values, "", |k| matches!(k, FieldType::Date));
    let header_time = first_of_type(form, values, "", |k| matches!(k, FieldType::Time));
    let when = |time: Option<String>| match (&date, time) {
        (Some(d), Some(t)) => Some(format!("{d}T{t}")),
        (Some(d), None) => Some(d.clone()),
        _ => None,
    };
    let has_rows = form.fields.iter().any(|f| !row_of(&f.key).is_empty());
    if !has_rows {
        if header.is_empty() {
            return Vec::new();
        }
        return vec![PaperRecord { kind, row: String::new(), event_at: when(header_time), values: header }];
    }
    // On a page of rows, what the page says besides its date and time (a day's intake and
    // output, who signed) is one record of its own, never copied into every row.
    let page_values: Map<String, Value> = header
        .iter()
        .filter(|(k, _)| {
            form.fields.iter().any(|f| f.key == **k && !matches!(f.kind, FieldType::Date | FieldType::Time))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let page = (!page_values.is_empty()).then(|| PaperRecord {
        kind,
        row: String::new(),
        event_at: when(header_time.clone()),
        values: page_values,
    });
    rows.into_iter()
        // A time written on a row with nothing else on it is not a record.
        .filter(|(_, row)| {
            row.keys().any(|k| form.fields.iter().any(|f| f.key == *k && !matches!(f.kind, FieldType::Time)))
        })
        .map(|(n, row)| {
            let time = first_of_type(form, values, &n.to_string(), |k| matches!(k, FieldType::Time))
                .or(header_time.clone());
            PaperRecord { kind, row: n.to_string(), event_at: when(time), values: row }
        })
        .chain(page)
        .collect()
}

fn first_of_type(
    form: &FormDefinition,
    values: &Values,
    row: &str,
    kind: impl Fn(&FieldType) -> bool,
) -> Option<String> {
    form.fields.iter().filter(|f| kind(&f.kind) && row_of(&f.key) == row).find_map(|f| text(values, &f.key))
}

/// When the page says it happened: its first date and the header's time.
pub fn event_at(form: &FormDefinition, values: &Values) -> Option<String> {
    let date = first_of_type(form, values, "", |k| matches!(k, FieldType::Date))?;
    Some(match first_of_type(form, values, "", |k| matches!(k, FieldType::Time)) {
        Some(t) => format!("{date}T{t}"),
        None => date,
    })
}

/// How two independent keyings of one page differ: the fields (outside the charge lines) that
/// disagree, and the charge lines only one of them has (compared as a set, so the same line on
/// another row is the same line).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct KeyingDiff {
    /// (field key, label, first keying's text, second keying's text)
    pub fields: Vec<(String, String, String, String)>,
    pub only_first: Vec<String>,
    pub only_second: Vec<String>,
}

impl KeyingDiff {
    pub fn agrees(&self) -> bool {
        self.fields.is_empty() && self.only_first.is_empty() && self.only_second.is_empty()
    }
}

pub fn compare(form: &FormDefinition, first: &Values, second: &Values) -> KeyingDiff {
    let charges = form.makes_charges();
    let is_line_field = |f: &FieldDef| {
        charges && [keys::CHARGE_CODE, keys::CHARGE_QUANTITY].iter().any(|k| f.export.as_ref() == Some(k))
    };
    let mut diff = KeyingDiff::default();
    for field in form.fields.iter().filter(|f| !is_line_field(f)) {
        let (a, b) = (first.get(&field.key), second.get(&field.key));
        if a != b {
            let show =
                |v: Option<&Value>| v.map(|v| super::fields::value_as_text(field, v)).unwrap_or_default();
            diff.fields.push((field.key.clone(), field.label.clone(), show(a), show(b)));
        }
    }
    if charges {
        let keys = |v: &Values| {
            let mut k: Vec<String> = charge_lines(form, v).iter().map(ChargeLine::key).collect();
            k.sort();
            k
        };
        let (mut a, mut b) = (keys(first), keys(second));
        // Multiset difference: a line keyed twice on one side and once on the other differs.
        let mut i = 0;
        while i < a.len() {
            if let Some(j) = b.iter().position(|x| *x == a[i]) {
                b.remove(j);
                a.remove(i);
            } else {
                i += 1;
            }
        }
        diff.only_first = a;
        diff.only_second = b;
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RecordKind;
    use crate::form::built_in;
    use serde_json::json;

    fn form(id: &str) -> FormDefinition {
        built_in().into_iter().find(|f| f.id == id).unwrap()
    }

    fn values(pairs: &[(&str, Value)]) -> Values {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn a_charge_slip_becomes_lines_from_ticks_and_code_rows() {
        let slip = form("charge_slip");
        let v = values(&[
            ("date", json!("2026-11-05")),
            ("department", json!("内科")),
            ("charges", json!(["112007410", "199900260"])),
            ("code_1", json!("199900390")),
            ("qty_1", json!(2.0)),
            ("code_2", json!("199900440")),
        ]);
        let lines = charge_lines(&slip, &v);
        let got: Vec<(&str, f64, LineOrigin)> =
            lines.iter().map(|l| (l.code.as_str(), l.quantity, l.origin)).collect();
        assert_eq!(
            got,
            vec![
                ("112007410", 1.0, LineOrigin::Tick),
                ("199900260", 1.0, LineOrigin::Tick),
                ("199900390", 2.0, LineOrigin::Typed),
                ("199900440", 1.0, LineOrigin::Typed)
            ]
        );
        assert!(
            lines.iter().all(|l| l.service_date == "2026-11-05" && l.department.as_deref() == Some("内科"))
        );
        assert!(records(&slip, &v).is_empty());
        let orphan = values(&[("qty_3", json!(1.0))]);
        assert_eq!(row_problems(&slip, &orphan), vec!["数量3 Qty: a quantity without a code".to_string()]);
    }

    #[test]
    fn vital_signs_become_one_observation_per_round_at_its_time() {
        let vs = form("vital_signs");
        let v = values(&[
            ("date", json!("2026-11-05")),
            ("time_1", json!("06:00")),
            ("temp_1", json!(36.8)),
            ("time_2", json!("10:00")),
            ("signature", json!("看護 花子")),
        ]);
        let recs = records(&vs, &v);
        assert_eq!(recs.len(), 2, "one round (a round with only a time is not a record) and the page");
        assert_eq!(recs[0].kind, RecordKind::Observation);
        assert_eq!(recs[0].event_at.as_deref(), Some("2026-11-05T06:00"));
        assert!(!recs[0].values.contains_key("signature"), "page values are not copied into rounds");
        assert_eq!((recs[1].row.as_str(), &recs[1].values["signature"]), ("", &json!("看護 花子")));
        let page_only = values(&[("date", json!("2026-11-05")), ("intake_output", json!("1200/900"))]);
        assert_eq!(records(&vs, &page_only).len(), 1, "a sheet with only the day's totals is a record");
    }

    #[test]
    fn a_progress_note_is_one_record_for_the_page() {
        let pn = form("progress_note");
        let v =
            values(&[("date", json!("2026-11-05")), ("time", json!("09:30")), ("note", json!("S) 頭痛"))]);
        let recs = records(&pn, &v);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            (recs[0].kind, recs[0].event_at.as_deref()),
            (RecordKind::ProgressNote, Some("2026-11-05T09:30"))
        );
        assert_eq!(form("mar").kind.record_kind(), RecordKind::Administration);
        assert_eq!(form("injection_order").kind.record_kind(), RecordKind::Order);
        assert_eq!(form("prescription").kind.record_kind(), RecordKind::Order);
        assert_eq!(form("vital_signs").kind.record_kind(), RecordKind::Observation);
        assert_eq!(form("lab_order").kind.record_kind(), RecordKind::Order);
    }

    #[test]
    fn keyings_compare_lines_as_a_set_and_name_the_fields_that_differ() {
        let slip = form("charge_slip");
        let a = values(&[
            ("date", json!("2026-11-05")),
            ("code_1", json!("199900260")),
            ("code_2", json!("199900390")),
        ]);
        let b = values(&[
            ("date", json!("2026-11-05")),
            ("code_1", json!("199900390")),
            ("code_2", json!("199900260")),
        ]);
        assert!(compare(&slip, &a, &b).agrees());
        let c =
            values(&[("date", json!("2026-11-06")), ("code_1", json!("199900390")), ("qty_1", json!(2.0))]);
        let diff = compare(&slip, &a, &c);
        assert_eq!(diff.fields.len(), 1);
        assert_eq!(diff.fields[0].0, "date");
        assert_eq!(diff.only_first.len(), 2);
        assert_eq!(diff.only_second.len(), 1);
    }
}
