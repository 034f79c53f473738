//! The doors of the app: the first-run screen (no users yet: create the first administrator, or
//! load the demo), the login screen (password, or ID card + PIN), and the lock screen.

use chrono::Utc;
use egui::{Key, RichText};

use super::labels::{
    CARD_LABEL, CARD_LOGIN_BUTTON, CHANGE_PASSWORD_BUTTON, CONFIRM_PASSWORD_LABEL, CREATE_ADMIN_BUTTON,
    DB_PASSPHRASE_LABEL, LOGIN_BUTTON, NEW_ADMIN_LABEL, NEW_PASSWORD_LABEL, NEW_STATION_LABEL,
    OPEN_DATABASE_BUTTON, PASSWORD_LABEL, PIN_LABEL, UNLOCK_BUTTON, USER_LABEL,
};
use crate::auth::{self, AccountRequest, Session};
use crate::domain::Role;
use crate::store::{Settings, Store};

/// A labelled text field; returns true when Enter was pressed in it.
fn field(ui: &mut egui::Ui, label: &str, value: &mut String, password: bool, focus: bool) -> bool {
    let label = ui.label(label);
    let response = ui
        .add(egui::TextEdit::singleline(value).password(password).desired_width(280.0))
        .labelled_by(label.id);
    if focus {
        response.request_focus();
    }
    response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))
}

#[derive(Default)]
pub struct LoginScreen {
    name: String,
    password: String,
    card: String,
    pin: String,
    error: Option<String>,
    focus_pending: bool,
}

impl LoginScreen {
    pub fn new() -> Self {
        Self { focus_pending: true, ..Self::default() }
    }

    /// A lock screen for `user`: only the password is asked.
    pub fn for_user(user: &str) -> Self {
        Self { name: user.to_string(), focus_pending: true, ..Self::default() }
    }

    /// Draws the login form; returns the session once a login succeeds.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        locked_user: Option<&str>,
        hint: Option<&str>,
    ) -> Option<Session> {
        let mut session = None;
        ui.vertical_centered(|ui| {
            ui.add_space(60.0);
            match locked_user {
                Some(user) => {
                    ui.heading(format!("ロック中 Locked — {user}"));
                    ui.label("パスワードを入力してください。Enter your password to continue.");
                }
                None => {
                    ui.heading("kamikarte 紙カルテ");
                    ui.label("ログインしてください。Please log in.");
                }
            }
            ui.add_space(12.0);
            let focus = std::mem::take(&mut self.focus_pending);
            let mut submit = false;
            egui::Grid::new("login").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
                if locked_user.is_none() {
                    submit |= field(ui, USER_LABEL, &mut self.name, false, focus);
                    ui.end_row();
                }
                submit |= field(ui, PASSWORD_LABEL, &mut self.password, true, focus && locked_user.is_some());
                ui.end_row();
            });
            let label = if locked_user.is_some() { UNLOCK_BUTTON } else { LOGIN_BUTTON };
            if ui.button(label).clicked() || submit {
                session = self.try_password(store);
            }
            if locked_user.is_none() {
                ui.add_space(16.0);
                ui.label("またはIDカードとPIN / or ID card and PIN");
                let mut card_submit = false;
                egui::Grid::new("card_login").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
                    field(ui, CARD_LABEL, &mut self.card, false, false);
                    ui.end_row();
                    card_submit |= field(ui, PIN_LABEL, &mut self.pin, true, false);
                    ui.end_row();
                });
                if ui.button(CARD_LOGIN_BUTTON).clicked() || card_submit {
                    session = self.try_card(store);
                }
            }
            if let Some(e) = &self.error {
                ui.add_space(8.0);
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(hint) = hint {
                ui.add_space(16.0);
                ui.label(RichText::new(hint).weak());
            }
        });
        session
    }

    fn try_password(&mut self, store: &mut Store) -> Option<Session> {
        let result = auth::login(store, &self.name, &self.password, Utc::now());
        self.password.clear();
        self.finish(result)
    }

    fn try_card(&mut self, store: &mut Store) -> Option<Session> {
        let result = auth::login_with_card(store, &self.card, &self.pin, Utc::now());
        self.pin.clear();
        self.finish(result)
    }

    fn finish(&mut self, result: Result<Session, auth::AuthError>) -> Option<Session> {
        match result {
            Ok(session) => {
                self.error = None;
                Some(session)
            }
            Err(e) => {
                self.error = Some(e.to_string());
                self.focus_pending = true;
                None
            }
        }
    }
}

/// No users yet: create the first administrator. Returns their session once created.
#[derive(Default)]
pub struct FirstRunScreen {
    station: String,
    name: String,
    password: String,
    confirm: String,
    error: Option<String>,
}

impl FirstRunScreen {
    pub fn ui(&mut self, ui: &mut egui::Ui, store: &mut Store) -> Option<Session> {
        let mut created = None;
        ui.heading("最初の管理者を作成 Create the first administrator");
        ui.label("This database has no users. The administrator manages accounts, settings and backups.");
        ui.label("端末コード: 病棟・外来・救急の端末ごとに別のコード（例 W3, ER）。印刷する用紙の番号とダウンタイムIDの枠に使います。");
        ui.label(
            "Station code: each PC its own (e.g. W3 for ward 3, ER): it is in every serial this PC prints.",
        );
        ui.add_space(8.0);
        let mut submit = false;
        egui::Grid::new("first_admin").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            field(ui, NEW_STATION_LABEL, &mut self.station, false, false);
            ui.end_row();
            field(ui, NEW_ADMIN_LABEL, &mut self.name, false, false);
            ui.end_row();
            field(ui, NEW_PASSWORD_LABEL, &mut self.password, true, false);
            ui.end_row();
            submit |= field(ui, CONFIRM_PASSWORD_LABEL, &mut self.confirm, true, false);
            ui.end_row();
        });
        if ui.button(CREATE_ADMIN_BUTTON).clicked() || submit {
            created = self.create(store);
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        created
    }

    fn create(&mut self, store: &mut Store) -> Option<Session> {
        // Checked before anything is written; on a new database no other station is known, so
        // only its form can be wrong.
        let station = match Settings::check_station_code(&self.station) {
            Ok(code) => code,
            Err(e) => {
                self.error = Some(format!("端末コード Station code: {e}"));
                return None;
            }
        };
        if self.password != self.confirm {
            self.error = Some("パスワードが一致しません The two passwords differ".into());
            return None;
        }
        let request =
            AccountRequest { name: &self.name, role: Role::Admin, password: &self.password, card: None };
        let result = auth::add_user(store, None, &request)
            .and_then(|_| auth::login(store, &self.name, &self.password, Utc::now()))
            .and_then(|session| {
                store.set_station_code(&session.actor(), &station)?;
                Ok(session)
            });
        self.password.clear();
        self.confirm.clear();
        match result {
            Ok(session) => Some(session),
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }
}

/// An administrator reset this account: a password of the user's own is set before anything
/// else. Returns the new session (logged in again with the new password) once done.
#[derive(Default)]
pub struct ChangePasswordScreen {
    password: String,
    confirm: String,
    error: Option<String>,
}

impl ChangePasswordScreen {
    pub fn ui(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session) -> Option<Session> {
        let mut changed = None;
        ui.vertical_centered(|ui| {
            ui.add_space(60.0);
            ui.heading(format!("パスワードの変更 New password — {}", session.user()));
            ui.label("管理者がパスワードをリセットしました。自分だけのパスワードを設定してください。");
            ui.label("An administrator reset your password: set one of your own (16+ characters, used by no one else).");
            ui.add_space(12.0);
            let mut submit = false;
            egui::Grid::new("change_password").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
                field(ui, NEW_PASSWORD_LABEL, &mut self.password, true, false);
                ui.end_row();
                submit |= field(ui, CONFIRM_PASSWORD_LABEL, &mut self.confirm, true, false);
                ui.end_row();
            });
            if ui.button(CHANGE_PASSWORD_BUTTON).clicked() || submit {
                changed = self.change(store, session);
            }
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
        changed
    }

    fn change(&mut self, store: &mut Store, session: &Session) -> Option<Session> {
        if self.password != self.confirm {
            self.error = Some("パスワードが一致しません The two passwords differ".into());
            return None;
        }
        let result = auth::change_password(store, session, &self.password)
            .and_then(|()| auth::login(store, session.user().as_str(), &self.password, Utc::now()));
        self.password.clear();
        self.confirm.clear();
        match result {
            Ok(session) => Some(session),
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }
}

/// The database is encrypted with a passphrase: it is asked before anything else can be read.
pub struct PassphraseScreen {
    db: std::path::PathBuf,
    passphrase: String,
    error: Option<String>,
    focus_pending: bool,
    fonts_installed: bool,
}

impl PassphraseScreen {
    pub fn new(db: std::path::PathBuf) -> Self {
        Self { db, passphrase: String::new(), error: None, focus_pending: true, fonts_installed: false }
    }

    /// Returns the opened store once the passphrase opens it.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<(Store, std::path::PathBuf)> {
        let mut opened = None;
        if !self.fonts_installed {
            super::fonts::install(ui.ctx());
            self.fonts_installed = true;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.vertical_centered(|ui| {
                ui.add_space(60.0);
                ui.heading("暗号化されたデータベース Encrypted database");
                ui.label(self.db.display().to_string());
                ui.label("パスフレーズを入力してください。Enter the database passphrase.");
                ui.add_space(12.0);
                let focus = std::mem::take(&mut self.focus_pending);
                let submit = field(ui, DB_PASSPHRASE_LABEL, &mut self.passphrase, true, focus);
                if ui.button(OPEN_DATABASE_BUTTON).clicked() || submit {
                    match Store::open_with_passphrase(&self.db, &self.passphrase) {
                        Ok(store) => opened = Some((store, self.db.clone())),
                        Err(e) => {
                            self.error = Some(e.to_string());
                            self.focus_pending = true;
                        }
                    }
                    self.passphrase.clear();
                }
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            });
        });
        opened
    }
}
