//! Helpers for the tests that drive the desktop screens through egui_kittest.

use std::path::Path;

use egui::{Key, Modifiers, Vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kamikarte::store::Store;
use kamikarte::ui::KamikarteApp;
use kamikarte::ui::labels::{LOGIN_BUTTON, PASSWORD_LABEL, USER_LABEL};

pub type Screen = Harness<'static, KamikarteApp>;

/// The app on `db`, at its login screen.
pub fn open(db: &Path) -> Screen {
    let app = KamikarteApp::new(Store::open(db).unwrap(), db.to_path_buf());
    let mut harness = Harness::builder()
        .with_size(Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut KamikarteApp| app.show(ui), app);
    harness.run_steps(2);
    harness
}

/// Replaces the text of the field labelled `label` with `text`, as typed.
pub fn type_into(harness: &mut Screen, label: &str, text: &str) {
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(1);
}

/// The app on `db`, logged in as `user` with `password`.
pub fn log_in(db: &Path, user: &str, password: &str) -> Screen {
    let mut harness = open(db);
    type_into(&mut harness, USER_LABEL, user);
    type_into(&mut harness, PASSWORD_LABEL, password);
    harness.get_by_label(LOGIN_BUTTON).click();
    harness.run_steps(3);
    harness
}
