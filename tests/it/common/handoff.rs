//! Hand-off items built as `gather` builds them, for the HL7 and FHIR tests alike, and the
//! demo's downtime episode the binary-level hand-off tests start from.

use std::collections::BTreeMap;

use std::path::Path;

use kamikarte::entry::derive;
use kamikarte::entry::keying::{self, Sheet};
use kamikarte::store::{EntryState, Store};

use super::{BILLING, CLERK};
use kamikarte::form::FormDefinition;
use kamikarte::handoff::{ChargeOut, Content, Keyed};
use serde_json::Value;

/// A keyed, verified page of `form_id` with these field values: records and charge lines from
/// `entry::derive`, code names as the masters would give them.
pub fn keyed_content(
    forms: &[FormDefinition],
    form_id: &str,
    serial: &str,
    pairs: &[(&str, Value)],
    names: &[(&str, &str)],
) -> Content {
    let form = forms.iter().find(|f| f.id == form_id).unwrap();
    let values: BTreeMap<String, Value> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let code_names: BTreeMap<String, String> =
        names.iter().map(|(c, n)| (c.to_string(), n.to_string())).collect();
    let lines = derive::charge_lines(form, &values)
        .into_iter()
        .enumerate()
        .map(|(i, line)| ChargeOut {
            line_no: i as u32 + 1,
            name: code_names.get(&line.code).cloned(),
            points: None,
            unit: Some("回".into()),
            line,
        })
        .collect();
    Content::Keyed(Keyed {
        entry_id: 1,
        form_id: form_id.into(),
        form_code: form.code.as_str().to_string(),
        item: serial.into(),
        scanned_page: None,
        event_at: derive::event_at(form, &values),
        records: derive::records(form, &values),
        values,
        lines,
        code_names,
        code_facts: BTreeMap::new(),
        entered_at: "2026-11-06T01:00:00.000Z".into(),
        entered_by: "clerk01".into(),
        verified_at: Some("2026-11-06T02:00:00.000Z".into()),
        verified_by: Some("clerk02".into()),
    })
}

/// A database holding the demo's whole downtime episode (60 beds).
pub fn demo_episode(dir: &std::path::Path) -> std::path::PathBuf {
    let db = dir.join("k.sqlite");
    let out = super::run(&db, &["demo", "--beds", "60", "--downtime"]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    db
}

/// A command's JSON output, after checking it succeeded.
pub fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", super::stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", super::stdout(out)))
}

/// Corrects the first verified slip with a typed line: its first quantity goes up by one; a
/// second person verifies. Returns the slip's serial and the keying it replaced.
pub fn correct_a_slip(db: &Path, serial: Option<&str>) -> (String, i64) {
    correct_slip_with(db, serial, |values| {
        let qty = values["qty_1"].as_f64().unwrap();
        values.insert("qty_1".into(), serde_json::json!(qty + 1.0));
    })
}

/// Corrects a verified slip of the demo (the one `serial` names, or the first with a typed line)
/// by `change`, keyed by billing and verified by the clerk. Returns its serial and entry id.
pub fn correct_slip_with(
    db: &Path,
    serial: Option<&str>,
    change: impl FnOnce(&mut kamikarte::entry::fields::Values),
) -> (String, i64) {
    let mut store = Store::open(db).unwrap();
    let forms = kamikarte::form::load(None).unwrap();
    let slip = forms.iter().find(|f| f.id == "charge_slip").unwrap();
    let entry = store
        .live_entries_all()
        .unwrap()
        .into_iter()
        .find(|e| {
            e.form_id == "charge_slip"
                && e.state == EntryState::Verified
                && e.values.contains_key("qty_1")
                && serial.is_none_or(|s| e.item.describe() == s)
        })
        .expect("a verified slip with a typed line");
    let sheet = Sheet {
        form: slip.clone(),
        patient_id: entry.patient_id.clone(),
        item: entry.item.clone(),
        scanned_page: None,
    };
    let mut values = entry.values.clone();
    change(&mut values);
    let billing = super::person(&mut store, BILLING.0, kamikarte::domain::Role::Billing);
    let plan = keying::plan(&store, &sheet, &billing).unwrap();
    let saved = keying::save(&mut store, &billing, &sheet, &values, &plan).unwrap();
    let clerk = super::person(&mut store, CLERK.0, kamikarte::domain::Role::Clerk);
    keying::verify(&mut store, &clerk, saved.entry().id).unwrap();
    (entry.item.describe(), entry.id)
}
