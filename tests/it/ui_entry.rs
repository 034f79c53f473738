//! The back-entry screen (F8) driven from the keyboard only: a charge slip, a vital-sign sheet
//! and a progress note keyed from paper in hand, with mistakes shown and corrected, and the
//! records checked in the database. Every key goes to whatever has the focus, as a clerk's
//! keyboard does; the keys are counted to measure what one common charge line costs.

use crate::common;

use chrono::Local;
use egui::{Event, Key, Modifiers};
use egui_kittest::kittest::Queryable;
use kamikarte::auth::ensure_demo_users;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::domain::{FormCode, PageCode, PatientId, Serial};
use kamikarte::entry::masters::{MasterIndex, load_samples};
use kamikarte::print::{KitRequest, generate_kit};
use kamikarte::store::{Actor, ItemKey, PrintedPage, Store};
use kamikarte::ui::labels::{ENTRY_CODE_LABEL, ENTRY_TAB};

/// A keyboard that counts its keys: each character typed and each key pressed is one.
struct Keyboard<'a> {
    screen: &'a mut common::ui::Screen,
    keys: usize,
}

impl Keyboard<'_> {
    fn typ(&mut self, text: &str) {
        for c in text.chars() {
            self.screen.event(Event::Text(c.to_string()));
            self.screen.run_steps(1);
            self.keys += 1;
        }
    }

    fn press(&mut self, key: Key) {
        self.screen.key_press(key);
        self.screen.run_steps(2);
        self.keys += 1;
    }

    fn chord(&mut self, modifiers: Modifiers, key: Key) {
        self.screen.key_press_modifiers(modifiers, key);
        self.screen.run_steps(2);
        self.keys += 1;
    }

    fn sees(&self, text: &str) -> bool {
        self.screen.query_by_label_contains(text).is_some()
    }
}

fn hospital(dir: &std::path::Path) -> (std::path::PathBuf, String, Vec<PrintedPage>) {
    hospital_in(dir.join("k.sqlite"), dir)
}

/// The same hospital in the database `db` (a file, or a hub on PostgreSQL).
fn hospital_in(
    db: std::path::PathBuf,
    dir: &std::path::Path,
) -> (std::path::PathBuf, String, Vec<PrintedPage>) {
    let mut store = Store::open(&db).unwrap();
    let actor = Actor("setup".into());
    let options = DemoOptions { beds: 45, seed: 2, as_of: Local::now().date_naive() };
    load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
    ensure_demo_users(&mut store, &actor).unwrap();
    let admin = common::person(&mut store, "admin", kamikarte::domain::Role::Admin);
    load_samples(&mut store, &admin).unwrap();
    let patients: Vec<String> =
        store.patients(None, false).unwrap().iter().take(2).map(|p| p.patient.id.to_string()).collect();
    let request = KitRequest {
        out_dir: dir.join("kit"),
        patients: patients.clone(),
        forms: vec!["charge_slip".into(), "vital_signs".into(), "progress_note".into()],
        blanks: 0,
        ..Default::default()
    };
    generate_kit(&mut store, &admin, &request, &mut |_, _| {}).unwrap();
    let pages = store.printed_pages(None).unwrap();
    (db, patients[0].clone(), pages)
}

fn code_of(pages: &[PrintedPage], form_id: &str, nth: usize) -> (String, ItemKey) {
    let p = pages.iter().filter(|p| p.form_id == form_id).nth(nth).expect("printed");
    let serial = Serial::new(&p.station, p.number).unwrap();
    let code = PageCode {
        form: FormCode::parse(&p.form_code).unwrap(),
        patient: p.patient_id.as_deref().map(|id| PatientId::parse(id).unwrap()),
        serial: serial.clone(),
    };
    (code.encode(), ItemKey::Serial(serial))
}

/// Logs in as billing, opens F8 with the page-code field focused.
fn entry_screen(db: &std::path::Path) -> common::ui::Screen {
    let mut screen = common::ui::log_in(db, "billing", "kamikarte-demo-billing");
    screen.key_press(Key::F8);
    screen.run_steps(4);
    assert!(screen.query_by_label(ENTRY_TAB).is_some());
    screen
}

fn open_page(kb: &mut Keyboard<'_>, code: &str) {
    assert!(
        kb.screen.get_by_label(ENTRY_CODE_LABEL).is_focused(),
        "the page-code field waits for the next page"
    );
    kb.typ(code);
    kb.press(Key::Enter);
    kb.screen.run_steps(3);
}

#[test]
fn a_clerk_keys_a_charge_slip_a_vital_sign_sheet_and_a_progress_note_from_the_keyboard() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, pages) = hospital(dir.path());
    keys_three_forms(&db, &pages);
}

/// The same screens, the same keys, on a hub on PostgreSQL.
#[test]
fn a_clerk_keys_the_same_three_forms_into_a_postgres_hub_from_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, pages) = hospital_in(common::pg::new_hub("kk_ui_entry"), dir.path());
    keys_three_forms(&db, &pages);
}

fn keys_three_forms(db: &std::path::Path, pages: &[PrintedPage]) {
    let mut screen = entry_screen(db);
    let mut kb = Keyboard { screen: &mut screen, keys: 0 };

    // 1. The charge slip: header, one tick box, two code lines, a wrong code caught.
    let (slip, slip_item) = code_of(pages, "charge_slip", 0);
    open_page(&mut kb, &slip);
    assert!(kb.sees("会計伝票 Charge slip"), "the slip is open");
    assert!(kb.screen.get_by_label("実施日 Date").is_focused(), "typing starts at the paper's first field");
    kb.typ("1105");
    assert!(kb.sees("→ 20"), "the date understood is shown as it is typed");
    kb.press(Key::Enter);
    // The time of service: 再診料 has after-hours surcharges, so the slip is not saved without it.
    kb.typ("2240");
    kb.press(Key::Enter);
    kb.typ("内科");
    kb.press(Key::Enter);
    kb.press(Key::Tab); // past the doctor, into the tick boxes: 初診料, then 再診料
    kb.press(Key::Tab);
    kb.press(Key::Space);
    for _ in 0..23 {
        kb.press(Key::Tab);
    }
    assert!(
        kb.screen.get_by_label("その他コード1 Other code").is_focused(),
        "Tab walks the boxes down each column"
    );
    kb.typ("d40");
    assert!(kb.sees("Enter ▶ 199900260"), "the master's best match is offered");
    kb.press(Key::Enter);
    kb.press(Key::Enter); // quantity: empty means 1
    kb.typ("Z999");
    kb.press(Key::Enter);
    assert!(kb.sees("Z999 is not in the charges master"), "a wrong code is named as it is typed");
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("not saved — その他コード2 Other code: Z999 is not in the charges master"));
    kb.chord(Modifiers::SHIFT, Key::Tab);
    kb.chord(Modifiers::COMMAND, Key::A);
    kb.typ("G004");
    kb.press(Key::Enter);
    kb.typ("2");
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("保存 saved"), "the slip is saved");

    let store = Store::open(db).unwrap();
    let live = store.live_entries(&slip_item).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].entered_by, "billing");
    let lines: Vec<(String, f64)> =
        store.charge_lines_of(live[0].id).unwrap().into_iter().map(|(l, _)| (l.code, l.quantity)).collect();
    assert_eq!(lines, vec![("112007410".into(), 1.0), ("199900260".into(), 1.0), ("199900390".into(), 2.0)]);
    let line = &store.charge_lines_of(live[0].id).unwrap()[0].0;
    assert_eq!(line.department.as_deref(), Some("内科"));
    assert!(line.service_date.ends_with("-11-05"));

    // 2. The vital-sign sheet: date and time typed together, a temperature out of range fixed.
    let (vs, vs_item) = code_of(pages, "vital_signs", 0);
    open_page(&mut kb, &vs);
    kb.typ("1105 0600");
    kb.press(Key::Enter);
    assert!(kb.screen.get_by_label("体温1 Temp ℃").is_focused(), "the time went into its own field");
    kb.typ("368");
    assert!(kb.sees("368 is above 43"), "the slip of the decimal point is caught as it is typed");
    kb.chord(Modifiers::COMMAND, Key::A);
    kb.typ("36.8");
    kb.press(Key::Enter);
    for value in ["72", "124", "78", "16", "98"] {
        kb.typ(value);
        kb.press(Key::Enter);
    }
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("保存 saved"), "the sheet is saved");
    let live = store.live_entries(&vs_item).unwrap();
    assert_eq!(live.len(), 1);
    let records = store.records_of(live[0].id).unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].event_at.as_deref().unwrap().ends_with("-11-05T06:00"));
    assert_eq!(records[0].values["temp_1"], serde_json::json!(36.8));
    assert_eq!(records[0].values["spo2_1"], serde_json::json!(98.0));

    // 3. The progress note: a required note left empty is refused, then written.
    let (pn, pn_item) = code_of(pages, "progress_note", 0);
    open_page(&mut kb, &pn);
    kb.typ("1105 0930");
    kb.press(Key::Enter);
    kb.typ("医師 一郎");
    kb.press(Key::Enter);
    kb.typ("医師");
    kb.press(Key::Enter);
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("記録 (S/O/A/P): required"), "the empty note is named");
    kb.typ("S) 頭痛あり");
    kb.press(Key::Enter);
    kb.typ("A) 緊張型頭痛");
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("保存 saved"));
    let live = store.live_entries(&pn_item).unwrap();
    let records = store.records_of(live[0].id).unwrap();
    assert_eq!(records[0].values["note"], serde_json::json!("S) 頭痛あり\nA) 緊張型頭痛"));
    assert!(records[0].event_at.as_deref().unwrap().ends_with("-11-05T09:30"));
    assert_eq!(records[0].values["author"], serde_json::json!("医師 一郎"));
}

#[test]
fn one_common_charge_line_takes_at_most_eight_keys_at_the_median() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, pages) = hospital(dir.path());
    // The hospital's twelve most used charges, by the master's own ranking.
    // Each with what the clerk reads off the slip: its fee-schedule section (`D400`) where the
    // master gives one, else its receipt-computer code.
    let common: Vec<(String, String)> = {
        let store = Store::open(&db).unwrap();
        let index = MasterIndex::new(store.master_items("charges").unwrap());
        index
            .search("", 12)
            .into_iter()
            .map(|i| (i.code.clone(), i.detail("section").unwrap_or(&i.code).to_string()))
            .collect()
    };
    assert_eq!(common.len(), 12);
    let mut screen = entry_screen(&db);
    let mut kb = Keyboard { screen: &mut screen, keys: 0 };
    let mut per_line = Vec::new();
    for (slip, codes) in common.chunks(6).enumerate() {
        let (code, item) = code_of(&pages, "charge_slip", slip);
        open_page(&mut kb, &code);
        kb.typ("1105");
        kb.press(Key::Enter);
        kb.typ("1030");
        kb.press(Key::Enter);
        kb.typ("外科");
        kb.press(Key::Enter);
        kb.press(Key::Enter); // no doctor
        for (wanted, written) in codes {
            // Typed as the clerk reads it off the slip, until the best match is the one.
            let before = kb.keys;
            for c in written.chars() {
                kb.typ(&c.to_string());
                if kb.sees(&format!("Enter ▶ {wanted} ")) {
                    break;
                }
            }
            kb.press(Key::Enter); // take it
            kb.press(Key::Enter); // quantity 1
            per_line.push(kb.keys - before);
        }
        kb.chord(Modifiers::COMMAND, Key::Enter);
        assert!(kb.sees("保存 saved"), "slip {slip} saved");
        let store = Store::open(&db).unwrap();
        let live = store.live_entries(&item).unwrap();
        let mut keyed: Vec<String> = store
            .charge_lines_of(live.last().unwrap().id)
            .unwrap()
            .into_iter()
            .map(|(l, _)| l.code)
            .collect();
        let mut want: Vec<String> = codes.iter().map(|(code, _)| code.clone()).collect();
        keyed.sort();
        want.sort();
        assert_eq!(keyed, want, "every line landed as meant");
    }
    let mut sorted = per_line.clone();
    sorted.sort();
    let median = (sorted[5] + sorted[6]) as f64 / 2.0;
    println!("keys per common charge line: {per_line:?}, median {median}");
    assert!(median <= 8.0, "median {median} keys per line: {per_line:?}");
}

#[test]
fn ticks_read_from_a_scanned_slip_arrive_ticked_and_are_not_saved_unconfirmed() {
    use kamikarte::scan::{ImportRequest, PageStore, import_pages};
    use kamikarte::ui::labels::ENTRY_TICKS_CONFIRM;
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let (db, patient, pages) = hospital(dir.path());
    // The printed slip, rendered by poppler, ticked by hand-like pen marks (再診料, 血液採取, 点滴注射),
    // turned 1.5°, then imported like any scan.
    let slip_pdf = std::fs::read_dir(dir.path().join("kit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-slips.pdf"))
        .unwrap();
    let prefix = dir.path().join("slip");
    let status = Command::new("pdftoppm")
        .args(["-r", "200", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&slip_pdf)
        .arg(&prefix)
        .status()
        .unwrap_or_else(|e| panic!("pdftoppm is needed ({e}): apt-get install poppler-utils"));
    assert!(status.success());
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    let marked = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/tick_slip.py"))
        .arg(prefix.with_extension("png"))
        .arg(scans.join("slip.png"))
        .args(["--seed", "4", "--rotate", "1.5", "--marks", "[[13, 90], [76.33, 100], [139.67, 100]]"])
        .output()
        .unwrap_or_else(|e| panic!("python3 with Pillow is needed ({e}): pip install pillow"));
    assert!(marked.status.success(), "{}", String::from_utf8_lossy(&marked.stderr));
    {
        let mut store = Store::open(&db).unwrap();
        let request = ImportRequest { paths: vec![scans], forms_dir: None, workers: Some(1) };
        let clerk = common::person(&mut store, "clerk", kamikarte::domain::Role::Clerk);
        let report = import_pages(
            &mut store,
            &clerk,
            &PageStore::beside(&db),
            &request,
            &mut |_| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(report.counts.filed, 1, "{report:?}");
    }
    let (code, item) = code_of(&pages, "charge_slip", 0);
    assert!(code.contains(&patient));

    let mut screen = entry_screen(&db);
    let mut kb = Keyboard { screen: &mut screen, keys: 0 };
    open_page(&mut kb, &code);
    assert!(kb.sees("3 ticked (24 of 24 boxes located)"), "the slip's boxes were read");
    for label in
        ["● 112007410 再診料 Revisit", "● 199900260 血液採取 Blood draw", "● 199900390 点滴注射 IV drip"]
    {
        assert!(kb.sees(label), "{label} arrives ticked and marked");
    }
    kb.typ("1105");
    kb.press(Key::Enter);
    kb.typ("0915");
    kb.press(Key::Enter);
    kb.typ("内科");
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("not confirmed"), "ticks read from a scan are never posted unconfirmed");
    assert!(Store::open(&db).unwrap().live_entries(&item).unwrap().is_empty());
    // The clerk compares the boxes with the paper, then confirms.
    kb.screen.get_by_label(ENTRY_TICKS_CONFIRM).focus();
    kb.screen.run_steps(1);
    kb.press(Key::Space);
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("保存 saved"));
    let store = Store::open(&db).unwrap();
    let live = store.live_entries(&item).unwrap();
    assert!(live[0].scanned_page.is_some(), "the keying is linked to its scan");
    let lines: Vec<(String, kamikarte::domain::LineOrigin)> =
        store.charge_lines_of(live[0].id).unwrap().into_iter().map(|(l, _)| (l.code, l.origin)).collect();
    use kamikarte::domain::LineOrigin::Tick;
    assert_eq!(
        lines,
        vec![("112007410".into(), Tick), ("199900260".into(), Tick), ("199900390".into(), Tick)]
    );
}

#[test]
fn the_page_opened_after_a_save_is_audited_like_any_other() {
    use kamikarte::entry::keying;
    use kamikarte::form::built_in;

    let dir = tempfile::tempdir().unwrap();
    let (db, _, pages) = hospital(dir.path());
    // A vital-sign sheet the clerk keyed: it waits for someone else to check it.
    let (vs, _) = code_of(&pages, "vital_signs", 0);
    let vs_patient = pages.iter().find(|p| p.form_id == "vital_signs").unwrap().patient_id.clone().unwrap();
    {
        let mut store = Store::open(&db).unwrap();
        let clerk = common::person(&mut store, "clerk", kamikarte::domain::Role::Clerk);
        let sheet = keying::sheet_from_code(&store, &built_in(), &vs, None).unwrap();
        let plan = keying::plan(&store, &sheet, &clerk).unwrap();
        let values = [
            ("date".to_string(), serde_json::json!("2026-11-05")),
            ("temp_1".into(), serde_json::json!(36.8)),
        ]
        .into_iter()
        .collect();
        keying::save(&mut store, &clerk, &sheet, &values, &plan).unwrap();
    }
    let views = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE action = 'view' AND actor = 'billing' AND entity_id = ?1",
                [&vs_patient],
                |r| r.get(0),
            )
            .unwrap()
    };
    let mut screen = entry_screen(&db);
    let mut kb = Keyboard { screen: &mut screen, keys: 0 };
    let (slip, _) = code_of(&pages, "charge_slip", 0);
    open_page(&mut kb, &slip);
    kb.typ("1105");
    kb.press(Key::Enter);
    kb.typ("0915");
    kb.press(Key::Enter);
    kb.typ("内科");
    kb.press(Key::Enter);
    kb.press(Key::Tab);
    kb.press(Key::Tab);
    kb.press(Key::Space);
    let before = views(&db);
    kb.chord(Modifiers::COMMAND, Key::Enter);
    assert!(kb.sees("温度板 Vital signs"), "the sheet waiting for billing opened after the save");
    assert_eq!(views(&db), before + 1, "and its patient's opening is in the audit trail");
}
