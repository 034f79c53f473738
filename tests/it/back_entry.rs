//! Back-entry through the library: double entry (mismatch detected, settled by a third person),
//! verification by a second person, a page keyed from paper before its scan and linked when the
//! scan arrives, the worklist's stages, and downtime IDs reconciled with the EHR's numbers.

use std::path::Path;

use chrono::Local;
use kamikarte::demo::prepare_downtime;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::domain::Role;
use kamikarte::domain::{FormCode, PageCode, PatientId, Phase, Serial};
use kamikarte::downtime::{RegistrationInput, register};
use kamikarte::entry::fields::Values;
use kamikarte::entry::keying::{self, Plan, Saved, Sheet};
use kamikarte::entry::masters::load_samples;
use kamikarte::entry::reconcile;
use kamikarte::entry::worklist::{Stage, worklist};
use kamikarte::form;
use kamikarte::print::{KitRequest, generate_kit};
use kamikarte::store::{
    Actor, EntryState, ItemKey, NewScannedPage, PageSource, PrintedPage, Reading, Store, StoredImage,
};
use serde_json::json;

use crate::common;
use common::person;

fn actor(name: &str) -> Actor {
    Actor(name.to_string())
}

/// A demo hospital with the sample masters and a kit of charge slips, vital-sign sheets and
/// progress notes for three patients; returns the printed pages.
fn hospital(dir: &Path) -> (Store, Vec<PrintedPage>) {
    let mut store = Store::open(&dir.join("k.sqlite")).unwrap();
    let setup = actor("setup");
    let options = DemoOptions { beds: 45, seed: 3, as_of: Local::now().date_naive() };
    load_demo(&mut store, &setup, &options, &mut |_, _| {}).unwrap();
    let setup = person(&mut store, "setup", Role::Admin);
    load_samples(&mut store, &setup).unwrap();
    let patients: Vec<String> =
        store.patients(None, false).unwrap().iter().take(3).map(|p| p.patient.id.to_string()).collect();
    let request = KitRequest {
        out_dir: dir.join("kit"),
        patients,
        forms: vec!["charge_slip".into(), "vital_signs".into(), "progress_note".into()],
        ..Default::default()
    };
    generate_kit(&mut store, &setup, &request, &mut |_, _| {}).unwrap();
    let pages = store.printed_pages(None).unwrap();
    (store, pages)
}

fn code_of(page: &PrintedPage) -> String {
    PageCode {
        form: FormCode::parse(&page.form_code).unwrap(),
        patient: page.patient_id.as_deref().map(|p| PatientId::parse(p).unwrap()),
        serial: Serial::new(&page.station, page.number).unwrap(),
    }
    .encode()
}

fn sheet(store: &Store, pages: &[PrintedPage], form_id: &str, nth: usize) -> Sheet {
    let page = pages.iter().filter(|p| p.form_id == form_id).nth(nth).unwrap();
    keying::sheet_from_code(store, &form::built_in(), &code_of(page), None).unwrap()
}

fn values(pairs: &[(&str, serde_json::Value)]) -> Values {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn slip(lines: &[(&str, f64)], ticks: &[&str]) -> Values {
    let mut v =
        values(&[("date", json!("2026-11-05")), ("time", json!("10:30")), ("department", json!("内科"))]);
    for (i, (code, qty)) in lines.iter().enumerate() {
        v.insert(format!("code_{}", i + 1), json!(code));
        v.insert(format!("qty_{}", i + 1), json!(qty));
    }
    if !ticks.is_empty() {
        v.insert("charges".into(), json!(ticks));
    }
    v
}

#[test]
fn double_entry_detects_a_mismatch_and_a_third_person_settles_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, pages) = hospital(dir.path());
    let (a, b, c) = (
        person(&mut store, "billing-a", Role::Billing),
        person(&mut store, "billing-b", Role::Billing),
        person(&mut store, "billing-c", Role::Billing),
    );
    store.set_setting(&actor("admin"), "entry.double_entry_charges", "on").unwrap();
    let page = sheet(&store, &pages, "charge_slip", 0);

    let plan = keying::plan(&store, &page, &a).unwrap();
    assert_eq!(plan, Plan::First { double: true });
    let first =
        keying::save(&mut store, &a, &page, &slip(&[("199900390", 2.0)], &["112007410", "199900260"]), &plan)
            .unwrap();
    assert!(matches!(first, Saved::WaitingForSecond(_)), "{first:?}");
    assert!(keying::plan(&store, &page, &a).unwrap_err().to_string().contains("someone else"));

    // The second clerk misreads the quantity and misses a tick.
    let plan = keying::plan(&store, &page, &b).unwrap();
    assert!(matches!(plan, Plan::Second { .. }));
    assert_eq!(plan.start_values(), Values::new(), "the second keying starts blank");
    let second =
        keying::save(&mut store, &b, &page, &slip(&[("199900390", 3.0)], &["112007410"]), &plan).unwrap();
    let Saved::Mismatch(_, diff) = &second else { panic!("{second:?}") };
    assert_eq!(diff.only_first.len(), 2, "{diff:?}");
    assert_eq!(diff.only_second.len(), 1, "{diff:?}");
    assert!(diff.only_first.iter().any(|l| l.contains("199900260")));
    let item =
        worklist(&store, &form::built_in(), None).unwrap().into_iter().find(|i| i.item == page.item).unwrap();
    assert_eq!(item.stage, Stage::Entered);
    assert!(item.note.unwrap().contains("mismatch"));

    // Neither keyer may settle it; a third person sees both and keys the answer.
    for who in [&a, &b] {
        assert!(keying::plan(&store, &page, who).unwrap_err().to_string().contains("third person"));
    }
    let plan = keying::plan(&store, &page, &c).unwrap();
    let Plan::Resolve { diff, .. } = &plan else { panic!("{plan:?}") };
    assert!(!diff.agrees());
    let agreed = plan.start_values();
    assert_eq!(agreed.get("date"), Some(&json!("2026-11-05")), "what both keyed is kept");
    assert!(!agreed.contains_key("qty_1"), "what they disagree on is keyed again");
    let settled =
        keying::save(&mut store, &c, &page, &slip(&[("199900390", 2.0)], &["112007410", "199900260"]), &plan)
            .unwrap();
    assert!(matches!(settled, Saved::Resolved(_)), "{settled:?}");
    let live = store.live_entries(&page.item).unwrap();
    assert_eq!(live.len(), 1, "the two keyings are superseded by the settled one");
    assert_eq!((live[0].state, live[0].pass), (EntryState::Verified, 3));
    let lines: Vec<(String, f64)> =
        store.charge_lines_of(live[0].id).unwrap().into_iter().map(|(l, _)| (l.code, l.quantity)).collect();
    assert_eq!(lines, vec![("112007410".into(), 1.0), ("199900260".into(), 1.0), ("199900390".into(), 2.0)]);
    let names: Vec<Option<String>> =
        store.charge_lines_of(live[0].id).unwrap().into_iter().map(|(_, n)| n).collect();
    assert!(names.iter().all(Option::is_some), "lines carry the master's names: {names:?}");

    // A correction of a double-entered slip is compared again: it waits for a second keying.
    let plan = keying::plan(&store, &page, &a).unwrap();
    assert!(matches!(plan, Plan::Correct { double: true, .. }), "{plan:?}");
    let fixed =
        keying::save(&mut store, &a, &page, &slip(&[("199900390", 1.0)], &["112007410", "199900260"]), &plan)
            .unwrap();
    assert!(matches!(fixed, Saved::WaitingForSecond(_)), "{fixed:?}");
    assert_eq!(store.live_entries(&page.item).unwrap()[0].state, EntryState::Pending);

    // A screen that read the setting before it changed cannot save around it.
    let third = sheet(&store, &pages, "charge_slip", 2);
    let stale = Plan::First { double: false };
    let refused =
        keying::save(&mut store, &a, &third, &slip(&[("199900260", 1.0)], &[]), &stale).unwrap_err();
    assert!(refused.to_string().contains("turned on meanwhile"), "{refused}");

    // Two keyings that agree are verified at once, whatever the line order.
    let other = sheet(&store, &pages, "charge_slip", 1);
    let plan = keying::plan(&store, &other, &a).unwrap();
    keying::save(&mut store, &a, &other, &slip(&[("199900260", 1.0), ("199900440", 1.0)], &[]), &plan)
        .unwrap();
    let plan = keying::plan(&store, &other, &b).unwrap();
    let agreed =
        keying::save(&mut store, &b, &other, &slip(&[("199900440", 1.0), ("199900260", 1.0)], &[]), &plan)
            .unwrap();
    assert!(matches!(agreed, Saved::Agreed(_)), "{agreed:?}");
    let audit = store.audit_of("entry", &settled.entry().id.to_string(), 10).unwrap();
    assert!(audit.iter().any(|e| e.action == "entry.resolve"), "{audit:?}");
    assert!(audit.iter().any(|e| e.action == "entry.resolve" && e.actor == "billing-c"));
}

#[test]
fn a_keying_is_verified_by_a_second_person_and_records_land_with_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, pages) = hospital(dir.path());
    let (clerk, other) =
        (person(&mut store, "clerk", Role::Clerk), person(&mut store, "clerk2", Role::Clerk));
    let vs = sheet(&store, &pages, "vital_signs", 0);
    let plan = keying::plan(&store, &vs, &clerk).unwrap();
    assert_eq!(plan, Plan::First { double: false }, "only charge slips are keyed twice");
    let missing =
        keying::save(&mut store, &clerk, &vs, &values(&[("time_1", json!("06:00"))]), &plan).unwrap_err();
    assert!(missing.to_string().contains("日付 Date: required"), "{missing}");
    let keyed = values(&[
        ("date", json!("2026-11-05")),
        ("time_1", json!("06:00")),
        ("temp_1", json!(36.8)),
        ("pulse_1", json!(72.0)),
        ("time_2", json!("10:00")),
        ("temp_2", json!(37.9)),
    ]);
    let saved = keying::save(&mut store, &clerk, &vs, &keyed, &plan).unwrap();
    let id = saved.entry().id;
    let records = store.records_of(id).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].event_at.as_deref(), Some("2026-11-05T10:00"));
    assert_eq!(records[1].values["temp_2"], json!(37.9));
    assert_eq!(saved.entry().entered_by, "clerk");

    assert!(keying::verify(&mut store, &clerk, id).unwrap_err().to_string().contains("someone else"));
    keying::verify(&mut store, &other, id).unwrap();
    let item =
        worklist(&store, &form::built_in(), None).unwrap().into_iter().find(|i| i.item == vs.item).unwrap();
    assert_eq!(item.stage, Stage::Verified);
    assert_eq!(item.day, "2026-11-05", "the worklist files the page under the day it was written");

    // A correction replaces the keying and needs verifying again.
    let plan = keying::plan(&store, &vs, &other).unwrap();
    let Plan::Correct { .. } = &plan else { panic!("{plan:?}") };
    let mut fixed = plan.start_values();
    fixed.insert("temp_2".into(), json!(37.6));
    let corrected = keying::save(&mut store, &other, &vs, &fixed, &plan).unwrap();
    assert!(matches!(corrected, Saved::Corrected(_)));
    assert_eq!(store.live_entries(&vs.item).unwrap().len(), 1);
    assert_eq!(store.live_entries(&vs.item).unwrap()[0].state, EntryState::Entered);
}

#[test]
fn a_page_keyed_from_paper_is_linked_to_its_scan_when_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, pages) = hospital(dir.path());
    let clerk = person(&mut store, "clerk", Role::Clerk);
    let pn = sheet(&store, &pages, "progress_note", 0);
    assert_eq!(pn.scanned_page, None);
    let plan = keying::plan(&store, &pn, &clerk).unwrap();
    let note =
        values(&[("date", json!("2026-11-05")), ("time", json!("09:30")), ("note", json!("S) 頭痛あり"))]);
    keying::save(&mut store, &clerk, &pn, &note, &plan).unwrap();
    let item = |store: &Store| {
        worklist(store, &form::built_in(), None).unwrap().into_iter().find(|i| i.item == pn.item).unwrap()
    };
    assert_eq!((item(&store).stage, item(&store).scanned_page), (Stage::Entered, None));

    let ItemKey::Serial(serial) = &pn.item else { panic!() };
    let page = pages.iter().find(|p| p.station == serial.station && p.number == serial.number).unwrap();
    let filing = store
        .file_scanned_page(
            &clerk.actor(),
            &NewScannedPage {
                source: PageSource { sha256: "s".into(), page: 1, name: "scan.png".into() },
                image: StoredImage {
                    sha256: "i".into(),
                    file: "i/i.png".into(),
                    format: "png",
                    width: 10,
                    height: 10,
                },
                reading: Reading::Code { code: PageCode::parse(&code_of(page)).unwrap(), upside_down: false },
            },
        )
        .unwrap();
    let linked = item(&store);
    assert!(linked.scanned_page.is_some(), "{filing:?}");
    assert_eq!(linked.stage, Stage::Entered, "the keying stays; the scan joins it");
    let again = keying::sheet_from_code(&store, &form::built_in(), &code_of(page), None).unwrap();
    assert_eq!(again.scanned_page, linked.scanned_page, "reopening shows the page image");

    // What is left is never hidden: every printed page of the kit is an item.
    let all = worklist(&store, &form::built_in(), None).unwrap();
    assert_eq!(all.len(), pages.len());
    assert!(all.iter().filter(|i| i.item != pn.item).all(|i| i.stage == Stage::Printed));
}

/// A downtime ID that is not mapped (for refusals).
fn third_id(store: &mut Store) -> String {
    register_downtime(store, "ダミー イチロウ", "仮 一郎", "1980-01-01")
}

fn register_downtime(store: &mut Store, kana: &str, name: &str, dob: &str) -> String {
    let input = RegistrationInput {
        kana: kana.into(),
        name: name.into(),
        dob: dob.into(),
        sex: "F".into(),
        ..Default::default()
    };
    let clerk = person(store, "clerk", Role::Clerk);
    register(store, &clerk, &input, Local::now().date_naive(), None).unwrap().patient.id.to_string()
}

#[test]
fn reconciliation_refuses_a_different_date_of_birth_unless_overridden_and_audits_the_override() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = hospital(dir.path());
    let setup = actor("setup");
    prepare_downtime(&mut store, &setup).unwrap();
    if store.open_episode().unwrap().is_none() {
        store.start_episode(&setup, "test", Phase::PatientInfo).unwrap();
    }
    let census = store.patients(None, false).unwrap();
    let (m1, m2) = (&census[0].patient, &census[1].patient);
    // The same person as m1, registered on arrival; and someone whose DOB was misheard.
    let same = register_downtime(&mut store, m1.kana.as_str(), m1.name.as_str(), &m1.dob.to_string());
    let misheard = register_downtime(&mut store, m2.kana.as_str(), m2.name.as_str(), "1950-01-02");
    let twice = register_downtime(&mut store, m2.kana.as_str(), m2.name.as_str(), "1950-01-02");
    let clerk = person(&mut store, "clerk", Role::Clerk);

    let (link, found) = reconcile::link(&mut store, &clerk, &same, m1.id.as_str(), None, None).unwrap();
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(link.ehr.dob.as_deref(), Some(m1.dob.to_string().as_str()));

    let refused = reconcile::link(&mut store, &clerk, &misheard, m2.id.as_str(), None, None).unwrap_err();
    assert!(refused.to_string().contains("date of birth differs"), "{refused}");
    assert!(store.mrn_link(&misheard).unwrap().is_none(), "nothing mapped");
    let (link, found) = reconcile::link(
        &mut store,
        &clerk,
        &misheard,
        m2.id.as_str(),
        None,
        Some("DOB misheard at arrival; confirmed with the family"),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert!(link.override_reason.unwrap().contains("misheard"));
    let audit = store.audit_of("patient", &misheard, 5).unwrap();
    let entry =
        audit.iter().find(|e| e.action == "reconcile.link_override").expect("the override is audited");
    assert_eq!(entry.actor, "clerk");
    assert!(entry.after.as_deref().unwrap().contains("date of birth differs"));
    assert!(entry.after.as_deref().unwrap().contains("confirmed with the family"));

    // One person registered twice: the second ID cannot take the same MRN, it is merged.
    let dup = reconcile::link(&mut store, &clerk, &twice, m2.id.as_str(), None, Some("same")).unwrap_err();
    assert!(dup.to_string().contains("merge"), "{dup}");
    reconcile::merge(&mut store, &clerk, &twice, &misheard, "same wristband photo, registered twice", None)
        .unwrap();
    let merged = reconcile::link(&mut store, &clerk, &twice, m2.id.as_str(), None, Some("x")).unwrap_err();
    assert!(merged.to_string().contains("merged into"), "{merged}");
    let listed = store.downtime_patients().unwrap();
    let row = listed.iter().find(|p| p.record.patient.id.as_str() == twice).unwrap();
    assert_eq!(row.merged_into.as_deref(), Some(misheard.as_str()));

    // A wristband scanned into the MRN field is a downtime ID, not the EHR's number.
    let unmapped = third_id(&mut store);
    let own = reconcile::link(&mut store, &clerk, &unmapped, &same, None, Some("x")).unwrap_err();
    assert!(own.to_string().contains("is a downtime ID"), "{own}");

    // Twins: same date of birth, readings one sound apart (タロウ / ジロウ) — not the same person.
    let census = store.patients(None, false).unwrap();
    let m3 = &census[2].patient;
    let twin_kana = format!("{}ジロウ", m3.kana.as_str().split_whitespace().next().unwrap_or("ヤマダ"));
    let twin = register_downtime(&mut store, &twin_kana, "試験 次郎", &m3.dob.to_string());
    let found = reconcile::link(&mut store, &clerk, &twin, m3.id.as_str(), None, None).unwrap_err();
    assert!(found.to_string().contains("name differs"), "{found}");

    // A merge that hands a record number to a survivor it contradicts needs an override too.
    let mapped = register_downtime(&mut store, m3.kana.as_str(), m3.name.as_str(), &m3.dob.to_string());
    reconcile::link(&mut store, &clerk, &mapped, m3.id.as_str(), None, None).unwrap();
    let survivor = register_downtime(&mut store, "ベツジン ハナコ", "別人 花子", "1970-07-07");
    let refused = reconcile::merge(&mut store, &clerk, &mapped, &survivor, "same person?", None).unwrap_err();
    assert!(refused.to_string().contains("reason to override"), "{refused}");
    assert!(store.mrn_link(&survivor).unwrap().is_none());
    let moved = reconcile::merge(
        &mut store,
        &clerk,
        &mapped,
        &survivor,
        "same person",
        Some("name changed by marriage"),
    )
    .unwrap();
    assert!(!moved.is_empty());
    assert_eq!(store.mrn_link(&survivor).unwrap().unwrap().mrn, m3.id.as_str());
    let audit = store.audit_of("patient", &mapped, 5).unwrap();
    let merge = audit.iter().find(|e| e.action == "reconcile.merge").unwrap();
    assert!(merge.after.as_deref().unwrap().contains("name changed by marriage"));
    assert!(merge.after.as_deref().unwrap().contains(m3.id.as_str()), "the record number moved is audited");

    // The EHR's CSV: a good row maps, a contradicting row waits for a person.
    let third = register_downtime(&mut store, "テスト ハナコ", "試験 花子", "1960-03-03");
    let csv = dir.path().join("map.csv");
    std::fs::write(
        &csv,
        format!("downtime_id,mrn,name,kana,dob\n{third},90000001,試験 花子,テスト ハナコ,1960-03-03\n{same},{},x,x,1901-01-01\n", m1.id.as_str()),
    )
    .unwrap();
    let report = reconcile::import_links(&mut store, &clerk, &csv).unwrap();
    assert_eq!((report.mapped, report.unchanged, report.unmapped.len()), (1, 0, 1), "{report:?}");
    assert!(
        report.unmapped[0].why.contains("date of birth differs"),
        "a mapped row the EHR now contradicts is shown"
    );
    std::fs::write(&csv, format!("downtime_id,mrn\n{third},90000001\n{third},90000002\n")).unwrap();
    let twice = reconcile::import_links(&mut store, &clerk, &csv).unwrap_err();
    assert!(twice.to_string().contains("map.csv:3: downtime_id"), "{twice}");
    std::fs::write(&csv, "downtime_id,mrn\nNOT AN ID!,1\n").unwrap();
    let bad = reconcile::import_links(&mut store, &clerk, &csv).unwrap_err();
    assert!(bad.to_string().contains("map.csv:2: downtime_id"), "{bad}");
}
