//! The downtime screens. The scan station is driven by simulated keyboard-wedge scanner keystrokes,
//! as a Japanese PC delivers them: key presses together with the text the IME made of them
//! (full-width digits, a letter converted to kana), and no mouse. Registration and the volume
//! flag are driven like a clerk would.

use crate::common;

use std::path::{Path, PathBuf};

use common::ui::{Screen, type_into};

use chrono::Local;
use egui::{Event, Key, Modifiers};
use egui_kittest::kittest::Queryable;
use kamikarte::auth::ensure_demo_users;
use kamikarte::demo::prepare_downtime;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::domain::{FormCode, PageCode, PatientId, Role, Serial};
use kamikarte::store::{Actor, ScanKind, Store};

/// How the IME turns a key press into text.
#[derive(Clone, Copy)]
enum Ime {
    /// Off: the text is the character itself.
    Off,
    /// Full-width mode: digits and Latin become full-width forms.
    FullWidth,
    /// Kana mode: a vowel key becomes hiragana (`A` → `あ`), committed by the IME.
    Kana,
}

fn key_of(c: char) -> Key {
    match c {
        '-' => Key::Minus,
        '.' => Key::Period,
        c => Key::from_name(&c.to_string()).unwrap_or_else(|| panic!("no key for {c}")),
    }
}

/// Types `code` as a wedge scanner does, then Enter.
fn scan(harness: &mut Screen, code: &str, ime: impl Fn(usize, char) -> Ime) {
    for (i, c) in code.chars().enumerate() {
        harness.key_down(key_of(c));
        match ime(i, c) {
            Ime::Off => harness.event(Event::Text(c.to_string())),
            Ime::FullWidth => {
                let wide = char::from_u32(c as u32 + 0xFEE0).unwrap();
                harness.event(Event::Text(wide.to_string()));
            }
            Ime::Kana => {
                let kana = match c {
                    'A' => "あ",
                    'I' => "い",
                    'U' => "う",
                    'E' => "え",
                    'O' => "お",
                    _ => "ん",
                };
                harness.event(Event::Ime(egui::ImeEvent::Commit(kana.to_string())));
            }
        }
        harness.key_up(key_of(c));
    }
    harness.key_press(Key::Enter);
    harness.run_steps(2);
}

fn setup() -> (tempfile::TempDir, PathBuf, Vec<PatientId>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let mut store = Store::open(&db).unwrap();
    let actor = Actor("setup".into());
    let options = DemoOptions { beds: 45, seed: 4, as_of: Local::now().date_naive() };
    load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
    ensure_demo_users(&mut store, &actor).unwrap();
    prepare_downtime(&mut store, &actor).unwrap();
    let ids = store.patients(None, false).unwrap().into_iter().map(|r| r.patient.id).collect();
    (dir, db, ids)
}

fn page(form: &str, patient: &PatientId, number: u64) -> String {
    PageCode {
        form: FormCode::parse(form).unwrap(),
        patient: Some(patient.clone()),
        serial: Serial::new("A", number).unwrap(),
    }
    .encode()
}

fn log_in_as_nurse(db: &Path) -> Screen {
    let harness = log_in(db, "nurse");
    assert!(
        harness.query_by_label_contains("リストバンドをスキャンしてください").is_some(),
        "a nurse lands on the scan station"
    );
    harness
}

fn events(db: &Path) -> Vec<kamikarte::store::ScanEventRecord> {
    Store::open(db).unwrap().recent_scans(100).unwrap()
}

#[test]
fn right_patient_records_wrong_patient_stops_duplicate_is_recognised() {
    let (_dir, db, ids) = setup();
    let (a, b) = (&ids[0], &ids[1]);
    let mut harness = log_in_as_nurse(&db);
    assert!(
        harness.query_by_label_contains("ダウンタイム中 DOWNTIME").is_some(),
        "the episode shows on every screen"
    );

    // Wristband of A, digits arriving full-width from the IME.
    scan(&mut harness, a.as_str(), |_, c| if c.is_ascii_digit() { Ime::FullWidth } else { Ime::Off });
    assert!(harness.query_by_label(&format!("ID {a}")).is_some(), "A's identity is shown large");
    assert!(harness.query_by_label_contains("生年月日 DOB").is_some(), "with the date of birth");

    // A's lab slip; the IME turns the 'A' of `LAB` into あ.
    let slip = page("LAB", a, 11);
    scan(&mut harness, &slip, |i, c| if c == 'A' && i < 6 { Ime::Kana } else { Ime::Off });
    assert!(harness.query_by_label_contains("記録しました Recorded: 検体採取").is_some(), "recorded");
    let recorded = events(&db);
    assert_eq!(recorded[0].facts.kind, ScanKind::Item);
    assert_eq!(recorded[0].facts.payload, slip);
    assert_eq!(recorded[0].facts.patient_id.as_deref(), Some(a.as_str()));
    assert_eq!(recorded[0].user, "nurse");
    assert_eq!(recorded[0].facts.volume.as_deref(), Some("lab_inpatient"));

    // The same slip again at once: a duplicate, not recorded twice.
    scan(&mut harness, &slip, |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("重複スキャン Duplicate scan").is_some());
    assert_eq!(events(&db).iter().filter(|e| e.facts.payload == slip).count(), 1);

    // B's slip while A is active: the hard stop, with both identities.
    scan(&mut harness, &page("LAB", b, 12), |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("患者違い STOP — WRONG PATIENT").is_some());
    // A stays on screen behind the stop, so A's ID shows twice.
    assert!(harness.query_all_by_label(&format!("ID {a}")).count() >= 2, "A in the stop");
    assert!(harness.query_by_label(&format!("ID {b}")).is_some(), "B in the stop");
    let stop = &events(&db)[0];
    assert_eq!(stop.facts.kind, ScanKind::WrongPatient);
    assert_eq!(
        (stop.facts.patient_id.as_deref(), stop.facts.other_patient_id.as_deref()),
        (Some(a.as_str()), Some(b.as_str()))
    );

    // A scanner's Enter cannot dismiss it; scans are ignored until a person does.
    scan(&mut harness, &page("MAR", a, 13), |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("患者違い STOP — WRONG PATIENT").is_some(), "still stopped");
    assert_eq!(events(&db)[0].id, stop.id, "nothing recorded while stopped");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("患者違い STOP — WRONG PATIENT").is_none(), "dismissed");
    let dismissed = Store::open(&db).unwrap().scan_event(stop.id).unwrap().unwrap();
    assert_eq!(dismissed.dismissed_by.as_deref(), Some("nurse"));

    // Dismissing lets go of A too: the nurse starts again from the wristband in front of her.
    assert!(harness.query_by_label_contains("リストバンドをスキャンしてください").is_some(), "A released");

    // B's wristband while A is active is a stop too (a label of B on A's tube).
    scan(&mut harness, a.as_str(), |_, _| Ime::Off);
    scan(&mut harness, b.as_str(), |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("患者違い STOP — WRONG PATIENT").is_some());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(2);

    // Esc: next patient; then B's wristband makes B active.
    scan(&mut harness, a.as_str(), |_, _| Ime::Off);
    assert!(harness.query_by_label(&format!("ID {a}")).is_some());
    harness.key_press(Key::Escape);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("リストバンドをスキャンしてください").is_some());
    scan(&mut harness, b.as_str(), |_, _| Ime::Off);
    assert!(harness.query_by_label(&format!("ID {b}")).is_some());
    assert!(harness.query_by_label(&format!("ID {a}")).is_none());
}

#[test]
fn a_slip_before_any_wristband_and_a_mistyped_downtime_id_are_refused() {
    let (_dir, db, ids) = setup();
    let mut harness = log_in_as_nurse(&db);
    scan(&mut harness, &page("RX", &ids[0], 21), |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("先にリストバンドをスキャン").is_some());
    // DT100000 with a wrong check character.
    let block = kamikarte::domain::IdBlock::new("DT", 100_000, 100_999).unwrap();
    let right = block.id_of(100_000).to_string();
    let wrong_check = if right.ends_with('0') { "1" } else { "0" };
    let typo = format!("{}{wrong_check}", &right[..right.len() - 1]);
    scan(&mut harness, &typo, |_, _| Ime::Off);
    assert!(harness.query_by_label_contains("wrong check character").is_some());
    assert!(events(&db).is_empty(), "nothing recorded");
}

fn log_in(db: &Path, user: &str) -> Screen {
    common::ui::log_in(db, user, &format!("kamikarte-demo-{user}"))
}

#[test]
fn a_clerk_registers_with_a_similar_name_warning_and_gets_the_next_downtime_id() {
    use kamikarte::ui::labels::{
        REG_DOB_LABEL, REG_KANA_LABEL, REG_SEX_LABEL, REGISTER_ANYWAY_BUTTON, REGISTER_BUTTON,
    };
    let (_dir, db, ids) = setup();
    let known = Store::open(&db).unwrap().patient(&ids[0]).unwrap().unwrap().patient;
    let mut harness = log_in(&db, "clerk");
    harness.key_press(Key::F3);
    harness.run_steps(2);
    for (label, text) in
        [(REG_KANA_LABEL, known.kana.as_str()), (REG_DOB_LABEL, "1990-01-01"), (REG_SEX_LABEL, "F")]
    {
        type_into(&mut harness, label, text);
    }
    harness.get_by_label(REGISTER_BUTTON).click();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("似た読みの患者がいます").is_some(), "warned before writing");
    assert!(harness.query_by_label(&format!("ID {}", known.id)).is_some(), "the known patient is shown");
    assert!(Store::open(&db).unwrap().registration(&ids[0]).unwrap().is_none());
    harness.get_by_label(REGISTER_ANYWAY_BUTTON).click();
    harness.run_steps(2);
    let block = kamikarte::domain::IdBlock::new("DT", 100_000, 100_999).unwrap();
    let new_id = block.id_of(100_000);
    assert!(harness.query_by_label(&format!("ID {new_id}")).is_some(), "the new downtime ID is shown");
    assert!(Store::open(&db).unwrap().registration(&new_id).unwrap().is_some());
    let band = db.parent().unwrap().join("wristbands").join(format!("register-{new_id}"));
    assert!(std::fs::read_dir(&band).unwrap().count() == 1, "the wristband was printed");
}

#[test]
fn a_day_over_its_limit_is_flagged_on_every_screen() {
    let (_dir, db, ids) = setup();
    {
        let mut store = Store::open(&db).unwrap();
        store.set_setting(&Actor("admin".into()), "volume.limit.lab_inpatient", "2").unwrap();
        let mut station =
            kamikarte::scan::Station::open(&store, kamikarte::form::load(None).unwrap()).unwrap();
        let actor = common::person(&mut store, "nurse", Role::Nurse);
        let now = chrono::Utc::now();
        station.scan(&mut store, &actor, ids[0].as_str(), now).unwrap();
        for n in 0..3 {
            station.scan(&mut store, &actor, &page("LAB", &ids[0], 100 + n), now).unwrap();
        }
    }
    let mut harness = log_in(&db, "clerk");
    assert!(harness.query_by_label_contains("上限到達 At or over the safe limit").is_some());
    harness.key_press(Key::F5);
    harness.run_steps(2);
    assert!(
        harness.query_by_label_contains("上限到達 At or over the safe limit").is_some(),
        "on the volume screen too"
    );
    assert!(harness.query_by_label_contains("紙オーダー件数 Paper orders per day").is_some());
}

/// The station's rules without the screen: the cases a reviewer asked about.
mod station_rules {
    use super::*;
    use kamikarte::scan::{Outcome, Station};

    fn station(db: &Path) -> (Store, Station) {
        let store = Store::open(db).unwrap();
        let station = Station::open(&store, kamikarte::form::load(None).unwrap()).unwrap();
        (store, station)
    }

    fn blank(form: &str, number: u64) -> String {
        PageCode {
            form: FormCode::parse(form).unwrap(),
            patient: None,
            serial: Serial::new("A", number).unwrap(),
        }
        .encode()
    }

    #[test]
    fn a_blank_form_recorded_for_one_patient_stops_when_scanned_for_another() {
        let (_dir, db, ids) = setup();
        let (mut store, mut st) = station(&db);
        let nurse = common::person(&mut store, "nurse", Role::Nurse);
        let now = chrono::Utc::now();
        st.scan(&mut store, &nurse, ids[0].as_str(), now).unwrap();
        let slip = blank("LAB", 500);
        assert!(matches!(st.scan(&mut store, &nurse, &slip, now).unwrap(), Outcome::Recorded { .. }));
        st.finish_patient();
        st.scan(&mut store, &nurse, ids[1].as_str(), now).unwrap();
        let Outcome::WrongPatient(stop) = st.scan(&mut store, &nurse, &slip, now).unwrap() else {
            panic!("a sheet already filed for A, scanned for B, must stop");
        };
        assert_eq!(stop.item_patient_id, ids[0].as_str());
    }

    #[test]
    fn an_id_this_station_does_not_know_still_stops_while_a_patient_is_active() {
        let (_dir, db, ids) = setup();
        let (mut store, mut st) = station(&db);
        let nurse = common::person(&mut store, "nurse", Role::Nurse);
        let now = chrono::Utc::now();
        assert!(
            matches!(st.scan(&mut store, &nurse, "99999999", now).unwrap(), Outcome::Refused(_)),
            "no one active"
        );
        st.scan(&mut store, &nurse, ids[0].as_str(), now).unwrap();
        let Outcome::WrongPatient(stop) = st.scan(&mut store, &nurse, "99999999", now).unwrap() else {
            panic!("a label of a patient from another ward must stop");
        };
        assert!(stop.item_patient.is_none());
        assert_eq!(stop.item_patient_id, "99999999");
    }

    #[test]
    fn a_slip_is_a_duplicate_forever_but_a_mar_counts_each_dose_after_the_window() {
        let (_dir, db, ids) = setup();
        let (mut store, mut st) = station(&db);
        let nurse = common::person(&mut store, "nurse", Role::Nurse);
        let t0 = chrono::Utc::now();
        let later = t0 + chrono::Duration::minutes(30);
        st.scan(&mut store, &nurse, ids[0].as_str(), t0).unwrap();
        let (slip, mar) = (page("LAB", &ids[0], 600), page("MAR", &ids[0], 601));
        assert!(matches!(st.scan(&mut store, &nurse, &slip, t0).unwrap(), Outcome::Recorded { .. }));
        assert!(matches!(st.scan(&mut store, &nurse, &mar, t0).unwrap(), Outcome::Recorded { .. }));
        assert!(
            matches!(st.scan(&mut store, &nurse, &mar, t0).unwrap(), Outcome::Duplicate { .. }),
            "within the window"
        );
        st.scan(&mut store, &nurse, ids[0].as_str(), later).unwrap();
        assert!(
            matches!(st.scan(&mut store, &nurse, &slip, later).unwrap(), Outcome::Duplicate { .. }),
            "one order, once"
        );
        assert!(
            matches!(st.scan(&mut store, &nurse, &mar, later).unwrap(), Outcome::Recorded { .. }),
            "the next dose"
        );
    }

    #[test]
    fn a_patient_with_a_near_same_reading_is_shown_beside_the_identity() {
        let (_dir, db, ids) = setup();
        let (mut store, mut st) = station(&db);
        let known = store.patient(&ids[0]).unwrap().unwrap().patient;
        let input = kamikarte::downtime::RegistrationInput {
            kana: known.kana.as_str().to_string(),
            dob: "1999-09-09".into(),
            sex: "U".into(),
            ..Default::default()
        };
        let today = chrono::Local::now().date_naive();
        let clerk = common::person(&mut store, "clerk", Role::Clerk);
        let twin = kamikarte::downtime::register(&mut store, &clerk, &input, today, None).unwrap();
        let nurse = common::person(&mut store, "nurse", Role::Nurse);
        st.scan(&mut store, &nurse, ids[0].as_str(), chrono::Utc::now()).unwrap();
        let similar: Vec<_> = st.active().unwrap().similar.iter().map(|p| p.id.clone()).collect();
        assert!(similar.contains(&twin.patient.id), "{similar:?}");
        assert!(!similar.contains(&ids[0]), "not the patient themself");
    }
}

#[test]
fn a_clerk_ends_the_drill_starts_an_episode_and_moves_it_to_phase_three() {
    use kamikarte::domain::Phase;
    use kamikarte::ui::labels::{EPISODE_END_BUTTON, EPISODE_REASON_LABEL, EPISODE_START_BUTTON};
    let (_dir, db, _) = setup();
    let mut harness = log_in(&db, "clerk");
    harness.key_press(Key::F6);
    harness.run_steps(2);
    harness.get_by_label(EPISODE_END_BUTTON).click();
    harness.run_steps(2);
    harness.get_by_label("終了する Yes, end it").click();
    harness.run_steps(2);
    assert!(Store::open(&db).unwrap().open_episode().unwrap().is_none());
    assert!(harness.query_by_label_contains("平常運用 No downtime episode").is_some(), "the banner follows");

    type_into(&mut harness, EPISODE_REASON_LABEL, "ランサムウェア ransomware");
    harness.get_by_label(EPISODE_START_BUTTON).click();
    harness.run_steps(2);
    harness.get_by_label(&format!("3 {}", Phase::MinimalOrders.describe())).click();
    harness.run_steps(2);
    let open = Store::open(&db).unwrap().open_episode().unwrap().expect("running");
    assert_eq!((open.reason.as_str(), open.phase), ("ランサムウェア ransomware", Phase::MinimalOrders));
    assert_eq!(
        harness.query_all_by_label_contains("第3段階 Phase 3").count(),
        2,
        "on the screen and in the banner"
    );
}

#[test]
fn an_administrator_adds_a_block_and_an_overlap_is_refused_on_screen() {
    use kamikarte::ui::labels::{BLOCK_ADD_BUTTON, BLOCK_FROM_LABEL, BLOCK_PREFIX_LABEL, BLOCK_TO_LABEL};
    let (_dir, db, _) = setup();
    let mut harness = log_in(&db, "admin");
    harness.key_press(Key::F6);
    harness.run_steps(2);
    let add = |harness: &mut Screen, from: &str, to: &str| {
        for (label, text) in [(BLOCK_PREFIX_LABEL, "DT"), (BLOCK_FROM_LABEL, from), (BLOCK_TO_LABEL, to)] {
            type_into(harness, label, text);
        }
        harness.get_by_label(BLOCK_ADD_BUTTON).click();
        harness.run_steps(2);
    };
    add(&mut harness, "100500", "101500");
    assert!(harness.query_by_label_contains("overlaps block DT100000–DT100999").is_some());
    add(&mut harness, "101000", "101999");
    assert!(harness.query_by_label_contains("Block DT101000–DT101999 added").is_some());
    assert_eq!(Store::open(&db).unwrap().id_blocks().unwrap().len(), 2);
}
