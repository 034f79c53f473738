//! The reconciliation screen (F9): a downtime ID mapped to the EHR's record number with both
//! identities side by side; a different date of birth is refused until a reason is given; unmap
//! takes it back.

use crate::common;

use chrono::Local;
use egui::Key;
use egui_kittest::kittest::Queryable;
use kamikarte::auth::ensure_demo_users;
use kamikarte::demo::prepare_downtime;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::downtime::{RegistrationInput, register};
use kamikarte::store::{Actor, Store};
use kamikarte::ui::labels::{
    RECON_EHR_DOB_LABEL, RECON_EHR_KANA_LABEL, RECON_EHR_NAME_LABEL, RECON_EHR_SEX_LABEL, RECON_LINK_BUTTON,
    RECON_MRN_LABEL, RECON_OVERRIDE_LABEL, RECON_UNLINK_BUTTON, RECONCILE_TAB,
};

/// The demo hospital in a downtime, with its accounts: where a clerk registers and maps.
fn demo_in_downtime(db: &std::path::Path) -> Store {
    let mut store = Store::open(db).unwrap();
    let actor = Actor("setup".into());
    let options = DemoOptions { beds: 45, seed: 5, as_of: Local::now().date_naive() };
    load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
    ensure_demo_users(&mut store, &actor).unwrap();
    prepare_downtime(&mut store, &actor).unwrap();
    store
}

#[test]
fn a_clerk_maps_a_downtime_id_only_with_a_reason_when_the_date_of_birth_differs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let (downtime_id, mrn, ehr_dob) = {
        let mut store = demo_in_downtime(&db);
        let m = store.patients(None, false).unwrap()[0].patient.clone();
        let input = RegistrationInput {
            kana: m.kana.as_str().into(),
            name: m.name.as_str().into(),
            dob: "1931-02-03".into(),
            sex: "F".into(),
            ..Default::default()
        };
        let clerk = common::person(&mut store, "clerk", kamikarte::domain::Role::Clerk);
        let id = register(&mut store, &clerk, &input, Local::now().date_naive(), None).unwrap().patient.id;
        (id.to_string(), m.id.to_string(), m.dob.to_string())
    };

    let mut screen = common::ui::log_in(&db, "clerk", "kamikarte-demo-clerk");
    screen.key_press(Key::F9);
    screen.run_steps(3);
    assert!(screen.query_by_label(RECONCILE_TAB).is_some());
    assert!(screen.query_by_label_contains("未照合 not yet mapped: 1").is_some());
    screen.get_by_label(&downtime_id).click();
    screen.run_steps(2);
    common::ui::type_into(&mut screen, RECON_MRN_LABEL, &mrn);
    screen.run_steps(2);
    assert!(screen.query_by_label(&ehr_dob).is_some(), "the EHR's date of birth is shown beside ours");
    assert!(screen.query_by_label_contains("date of birth differs").is_some(), "the contradiction is named");
    assert!(
        screen.get_by_label(RECON_MRN_LABEL).is_focused(),
        "the field keeps the keyboard as the check appears"
    );
    screen.key_press(Key::Enter);
    screen.run_steps(3);
    assert!(screen.query_by_label_contains("map it only with a reason to override").is_some());
    assert!(Store::open(&db).unwrap().mrn_link(&downtime_id).unwrap().is_none(), "nothing mapped");

    common::ui::type_into(
        &mut screen,
        RECON_OVERRIDE_LABEL,
        "DOB misheard at arrival, confirmed with family",
    );
    screen.get_by_label(RECON_LINK_BUTTON).click();
    screen.run_steps(3);
    let link = Store::open(&db).unwrap().mrn_link(&downtime_id).unwrap().expect("mapped with the override");
    assert_eq!(link.mrn, mrn);
    assert!(link.override_reason.unwrap().contains("misheard"));
    let audit = Store::open(&db).unwrap().audit_of("patient", &downtime_id, 5).unwrap();
    assert!(audit.iter().any(|e| e.action == "reconcile.link_override" && e.actor == "clerk"));

    screen.get_by_label(RECON_UNLINK_BUTTON).click();
    screen.run_steps(3);
    assert!(Store::open(&db).unwrap().mrn_link(&downtime_id).unwrap().is_none(), "unmap undoes it");
}

#[test]
fn a_number_the_ehr_census_lacks_is_mapped_with_the_ehrs_identity_typed_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let downtime_id = {
        let mut store = demo_in_downtime(&db);
        let input = RegistrationInput {
            kana: "カクウ　ハナコ".into(),
            name: "架空　花子".into(),
            dob: "1950-04-01".into(),
            sex: "F".into(),
            ..Default::default()
        };
        let clerk = common::person(&mut store, "clerk", kamikarte::domain::Role::Clerk);
        register(&mut store, &clerk, &input, Local::now().date_naive(), None).unwrap().patient.id.to_string()
    };
    let mut screen = common::ui::log_in(&db, "clerk", "kamikarte-demo-clerk");
    screen.key_press(Key::F9);
    screen.run_steps(3);
    screen.get_by_label(&downtime_id).click();
    screen.run_steps(2);
    common::ui::type_into(&mut screen, RECON_MRN_LABEL, "19990777");
    screen.run_steps(2);
    assert!(
        screen.query_by_label_contains("cannot be handed off").is_some(),
        "a number the census lacks asks for the EHR's identity"
    );
    for (label, value) in [
        (RECON_EHR_NAME_LABEL, "架空　花子"),
        (RECON_EHR_KANA_LABEL, "かくう　はなこ"),
        (RECON_EHR_DOB_LABEL, "1950-04-01"),
        (RECON_EHR_SEX_LABEL, "F"),
    ] {
        common::ui::type_into(&mut screen, label, value);
        screen.run_steps(1);
    }
    screen.run_steps(2);
    assert!(screen.query_by_label_contains("cannot be handed off").is_none());
    screen.get_by_label(RECON_LINK_BUTTON).click();
    screen.run_steps(3);
    let link = Store::open(&db).unwrap().mrn_link(&downtime_id).unwrap().expect("mapped without an override");
    assert_eq!(link.override_reason, None);
    assert_eq!(link.ehr.kana.as_deref(), Some("カクウ　ハナコ"), "the kana read as every kana is");
    assert_eq!((link.ehr.dob.as_deref(), link.ehr.sex.as_deref()), (Some("1950-04-01"), Some("F")));
}
