//! The desktop screens driven like a clerk would, through egui_kittest's accessibility tree.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Key, Modifiers, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kamikarte::auth::{AccountRequest, add_user};
use kamikarte::domain::Role;
use kamikarte::store::Store;
use kamikarte::ui::KamikarteApp;
use kamikarte::ui::labels::{
    ALL_WARDS, FILE_LABEL, IMPORT_BUTTON, LOAD_DEMO_BUTTON, LOCK_BUTTON, LOGIN_BUTTON, PASSWORD_LABEL,
    SEARCH_LABEL, UNLOCK_BUTTON, USER_LABEL,
};

struct Screen {
    _dir: tempfile::TempDir,
    db: PathBuf,
    harness: Harness<'static, KamikarteApp>,
}

fn open_app() -> Screen {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    open_app_on(dir, db)
}

/// A database whose only user is the administrator `sato`, then `setup` on it.
fn database_with_admin(setup: impl FnOnce(&mut Store)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let mut store = Store::open(&db).unwrap();
    let request = AccountRequest {
        name: "sato",
        role: Role::Admin,
        password: "a passphrase of some length",
        card: None,
    };
    add_user(&mut store, None, &request).unwrap();
    setup(&mut store);
    (dir, db)
}

fn open_app_on(dir: tempfile::TempDir, db: PathBuf) -> Screen {
    let app = KamikarteApp::new(Store::open(&db).unwrap(), db.clone());
    let harness = Harness::builder()
        .with_size(Vec2::new(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut KamikarteApp| app.show(ui), app);
    Screen { _dir: dir, db, harness }
}

impl Screen {
    fn type_into(&mut self, label: &str, text: &str) {
        let node = self.harness.get_by_label(label);
        node.focus();
        node.type_text(text);
        self.harness.run_steps(2);
    }

    fn log_in(&mut self, user: &str, password: &str) {
        self.type_into(USER_LABEL, user);
        self.type_into(PASSWORD_LABEL, password);
        self.harness.get_by_label(LOGIN_BUTTON).click();
        self.harness.run_steps(3);
    }

    /// Steps frames until background work is done (the app shows its progress meanwhile).
    fn wait_idle(&mut self) {
        let start = Instant::now();
        self.harness.step();
        while self.harness.state().is_busy() {
            assert!(start.elapsed() < Duration::from_secs(120), "background work did not finish");
            std::thread::sleep(Duration::from_millis(20));
            self.harness.step();
        }
        self.harness.run_steps(3);
    }
}

fn to_hiragana(katakana: &str) -> String {
    katakana
        .chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap(),
            _ => c,
        })
        .collect()
}

#[test]
fn load_demo_pick_a_ward_and_find_a_patient_by_hiragana() {
    let mut s = open_app();
    s.harness.run_steps(2);
    s.harness.get_by_label(LOAD_DEMO_BUTTON).click();
    s.wait_idle();
    assert!(s.harness.state().title().contains("DEMO"), "a demo database says so in the title");
    assert!(s.harness.state().session().is_none(), "the demo ends at the login screen");
    s.log_in("clerk", "kamikarte-demo-clerk");
    assert_eq!(s.harness.state().session().map(|s| s.role()), Some(Role::Clerk));

    s.harness.get_by_label_contains("5E (").click();
    s.harness.run_steps(2);

    // Pick a patient of 5E from the database and search for their family name in hiragana.
    let store = Store::open(&s.db).unwrap();
    let ward = store.patients(Some("5E"), false).unwrap();
    let target = &ward[ward.len() / 2].patient;
    let family = target.kana.as_str().split('\u{3000}').next().unwrap();
    let search = s.harness.get_by_label(SEARCH_LABEL);
    search.focus();
    search.type_text(&to_hiragana(family));
    s.harness.run_steps(3);

    assert!(
        s.harness.query_all_by_label(target.id.as_str()).count() >= 1,
        "the patient {} ({}) is listed",
        target.id,
        target.kana
    );
    let others_in_ward = ward.iter().filter(|r| !r.patient.kana.as_str().contains(family));
    for other in others_in_ward.take(5) {
        assert!(
            s.harness.query_by_label(other.patient.id.as_str()).is_none(),
            "{} is filtered out",
            other.patient.id
        );
    }
    let shown = s.harness.query_all_by_label(target.kana.as_str()).count();
    assert!(shown >= 1, "the kana reading is shown in katakana");

    // Looking at a patient's details is in the audit trail, under the clerk's name.
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let views: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'view' AND actor = 'clerk' AND entity = 'patient'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(views >= 1, "viewing is audited");

    // Escape clears the search and the whole ward is back.
    s.harness.get_by_label(SEARCH_LABEL).focus();
    s.harness.key_press(Key::Escape);
    s.harness.run_steps(2);
    assert!(s.harness.query_by_label_contains(&format!("{} / ", ward.len())).is_some());
    s.harness.get_by_label_contains(ALL_WARDS).click();
    s.harness.run_steps(2);
}

#[test]
fn a_bad_census_shows_every_problem_in_a_table_and_imports_nothing() {
    let (dir, db) = database_with_admin(|_| {});
    let mut s = open_app_on(dir, db);
    s.harness.run_steps(2);
    s.log_in("sato", "a passphrase of some length");
    let csv = s.db.with_file_name("bad.csv");
    std::fs::write(
        &csv,
        "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟\n\
         1,山田 花子,ヤマダ ハナコ,1950-02-30,F,A+,5E\n\
         2,佐藤 花子,サトウ ハナコ,1950-02-03,F,C+,5E\n",
    )
    .unwrap();
    s.harness.run_steps(2);
    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::I);
    s.harness.run_steps(2);
    let file = s.harness.get_by_label(FILE_LABEL);
    file.focus();
    file.type_text(csv.to_str().unwrap());
    s.harness.run_steps(2);
    s.harness.get_by_label(IMPORT_BUTTON).click();
    s.wait_idle();

    assert!(s.harness.query_by_label_contains("rejected, nothing imported (2 problems)").is_some());
    assert!(s.harness.query_by_label_contains("is not a real date").is_some());
    assert!(s.harness.query_by_label_contains("blood type 'C+' is not understood").is_some());
    assert_eq!(Store::open(&s.db).unwrap().patient_count().unwrap(), 0);

    // Fix the file, import again: the census appears.
    std::fs::write(
        &csv,
        "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟\n1,山田 花子,ﾔﾏﾀﾞ ﾊﾅｺ,1950-02-03,F,A+,5E\n",
    )
    .unwrap();
    s.harness.get_by_label(IMPORT_BUTTON).click();
    s.wait_idle();
    assert!(s.harness.query_by_label_contains("1 new").is_some());
    assert!(s.harness.query_all_by_label("ヤマダ　ハナコ").count() >= 1);
}

#[test]
fn a_wrong_password_is_refused_and_a_locked_screen_needs_the_password_again() {
    let mut s = open_app();
    s.harness.run_steps(2);
    s.harness.get_by_label(LOAD_DEMO_BUTTON).click();
    s.wait_idle();
    s.log_in("nurse", "not the password");
    assert!(s.harness.state().session().is_none());
    assert!(s.harness.query_by_label_contains("wrong user name or password").is_some());
    // The name stays filled in; only the password is typed again.
    s.type_into(PASSWORD_LABEL, "kamikarte-demo-nurse");
    s.harness.get_by_label(LOGIN_BUTTON).click();
    s.harness.run_steps(3);
    assert!(s.harness.state().session().is_some());
    assert!(
        s.harness.query_by_label_contains("リストバンドをスキャンしてください").is_some(),
        "a nurse starts at the scan station"
    );
    s.harness.key_press(Key::F1);
    s.harness.run_steps(2);

    // A nurse may not import: the button is there but disabled, and Ctrl+I does nothing.
    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::I);
    s.harness.run_steps(2);
    assert!(s.harness.query_by_label(FILE_LABEL).is_none());

    s.harness.get_by_label(LOCK_BUTTON).click();
    s.harness.run_steps(2);
    assert!(s.harness.state().session().is_none(), "locked");
    assert!(s.harness.query_by_label(SEARCH_LABEL).is_none(), "nothing of the census shows while locked");
    s.type_into(PASSWORD_LABEL, "kamikarte-demo-nurse");
    s.harness.get_by_label(UNLOCK_BUTTON).click();
    s.harness.run_steps(3);
    assert!(s.harness.state().session().is_some());
    assert!(s.harness.query_by_label(SEARCH_LABEL).is_some());
}

#[test]
fn the_app_locks_itself_after_the_idle_time() {
    let (dir, db) = database_with_admin(|store| {
        store.set_setting(&kamikarte::store::Actor("sato".into()), "idle_lock_minutes", "1").unwrap();
    });
    let mut s = open_app_on(dir, db);
    s.harness.run_steps(2);
    s.log_in("sato", "a passphrase of some length");
    assert!(s.harness.state().session().is_some());
    // egui's clock advances one step_dt (1/60 s) per frame: 61 s of frames without input.
    s.harness.run_steps(61 * 60);
    assert!(s.harness.state().session().is_none(), "locked after a minute without input");
    assert!(s.harness.query_by_label_contains("Locked — sato").is_some());
}

#[test]
fn logging_out_closes_the_import_dialog_and_a_nurse_cannot_import_through_the_workflow() {
    use kamikarte::ui::labels::LOGOUT_BUTTON;
    let (dir, db) = database_with_admin(|store| {
        let admin =
            kamikarte::auth::login(store, "sato", "a passphrase of some length", chrono::Utc::now()).unwrap();
        for (name, role, password) in
            [("ito", Role::Clerk, "Kaede-Momiji-Ichou-7"), ("kato", Role::Nurse, "Sakura-Fuji-Kawa-88")]
        {
            add_user(store, Some(&admin), &AccountRequest { name, role, password, card: None }).unwrap();
        }
    });
    let mut s = open_app_on(dir, db.clone());
    s.harness.run_steps(2);
    s.log_in("ito", "Kaede-Momiji-Ichou-7");
    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::I);
    s.harness.run_steps(3);
    assert!(s.harness.query_by_label(FILE_LABEL).is_some(), "the clerk opened the import dialog");
    s.harness.get_by_label(LOGOUT_BUTTON).click();
    s.harness.run_steps(3);
    s.log_in("kato", "Sakura-Fuji-Kawa-88");
    assert!(s.harness.query_by_label(FILE_LABEL).is_none(), "nothing of the clerk's survives the log-out");

    // The workflow itself refuses the nurse, whatever a screen shows.
    let mut store = Store::open(&db).unwrap();
    let nurse =
        kamikarte::auth::login(&mut store, "kato", "Sakura-Fuji-Kawa-88", chrono::Utc::now()).unwrap();
    let csv = s.db.with_file_name("c.csv");
    std::fs::write(
        &csv,
        "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟\n1,山田　花子,ヤマダ　ハナコ,1950-01-01,F,,5E\n",
    )
    .unwrap();
    let options = kamikarte::census::ImportOptions::new(chrono::Local::now().date_naive());
    let err = kamikarte::census::import_file(&mut store, &nurse, &csv, &options, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("may not import the census"), "{err}");
    assert_eq!(store.patient_count().unwrap(), 0);
}

#[test]
fn f12_lists_the_commands_of_the_persons_role_from_the_one_table() {
    use kamikarte::ui::command::UiCommand;
    let (dir, db) = database_with_admin(|_| {});
    let mut s = open_app_on(dir, db);
    s.harness.run_steps(2);
    s.log_in("sato", "a passphrase of some length");
    s.harness.key_press(UiCommand::Help.shortcut().logical_key);
    s.harness.run_steps(3);
    assert!(s.harness.query_by_label_contains("Import a census file").is_some(), "an admin may import");
    assert!(s.harness.query_by_label_contains("Lock the screen now").is_some());
    // The scan station is a nurse's: not in an administrator's list, nor among the tabs.
    let scan = UiCommand::Show(kamikarte::ui::command::Tab::Scan).label();
    assert!(s.harness.query_by_label(scan).is_none());
}
