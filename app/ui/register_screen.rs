//! Registering an arriving patient under the next downtime ID; the wristband prints at once.
//! A similar reading already known stops the clerk with both identities before anything is
//! written: registering the same person twice is the mistake to avoid.

use super::screen::{Ctx, Screen, ShellCommand};
use std::path::{Path, PathBuf};

use chrono::Local;
use egui::{Color32, RichText};

use super::labels::{
    REG_AGE_LABEL, REG_ALLERGIES_LABEL, REG_BED_LABEL, REG_BLOOD_LABEL, REG_DEPARTMENT_LABEL, REG_DOB_LABEL,
    REG_KANA_LABEL, REG_NAME_LABEL, REG_PACKET_LABEL, REG_SEX_LABEL, REG_UNKNOWN_LABEL, REG_WARD_LABEL,
    REGISTER_ANYWAY_BUTTON, REGISTER_BUTTON,
};
use super::widgets::{identity_block, labelled_text};
use crate::auth::Session;
use crate::downtime::{self, Registered, RegistrationInput};
use crate::store::{PatientRecord, Store};

#[derive(Default)]
pub struct RegisterScreen {
    kana: String,
    name: String,
    dob: String,
    age: String,
    sex: String,
    blood: String,
    ward: String,
    bed: String,
    department: String,
    allergies: String,
    unknown: bool,
    /// A pre-printed packet's ID or page code, as scanned; empty: the next ID.
    packet: String,
    /// Known patients with a similar reading, waiting for the clerk's decision.
    similar: Vec<PatientRecord>,
    done: Option<Registered>,
    errors: Vec<(&'static str, String)>,
    error: Option<String>,
}

impl RegisterScreen {
    fn input(&self) -> Result<RegistrationInput, String> {
        let age = self.age.trim();
        let estimated_age = if age.is_empty() {
            None
        } else {
            Some(
                age.parse::<u32>()
                    .map_err(|_| format!("推定年齢 estimated age '{age}' is not a number of years"))?,
            )
        };
        Ok(RegistrationInput {
            kana: self.kana.clone(),
            name: self.name.clone(),
            dob: self.dob.clone(),
            estimated_age,
            sex: self.sex.clone(),
            blood: self.blood.clone(),
            ward: self.ward.clone(),
            room: String::new(),
            bed: self.bed.clone(),
            department: self.department.clone(),
            allergies: self.allergies.clone(),
            identity_unknown: self.unknown,
            packet: self.packet.clone(),
        })
    }

    /// `wristbands`: the folder registration wristbands are printed into.
    fn show(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session, wristbands: &Path) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("ダウンタイム登録 Register a patient under a downtime ID");
            ui.label("分かることだけ入力。身元不明なら性別と推定年齢だけ。 Enter what is known; for an unidentified patient, sex and apparent age are enough.");
            ui.add_space(8.0);
            // While the clerk decides about a similar patient, the form is what was checked: it
            // cannot change under the decision.
            let editable = self.similar.is_empty();
            ui.add_enabled_ui(editable, |ui| egui::Grid::new("register_form").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
                let label = ui.label(REG_UNKNOWN_LABEL);
                ui.checkbox(&mut self.unknown, "").labelled_by(label.id);
                ui.end_row();
                for (label, value) in [
                    (REG_PACKET_LABEL, &mut self.packet),
                    (REG_KANA_LABEL, &mut self.kana),
                    (REG_NAME_LABEL, &mut self.name),
                    (REG_DOB_LABEL, &mut self.dob),
                    (REG_AGE_LABEL, &mut self.age),
                    (REG_SEX_LABEL, &mut self.sex),
                    (REG_BLOOD_LABEL, &mut self.blood),
                    (REG_WARD_LABEL, &mut self.ward),
                    (REG_BED_LABEL, &mut self.bed),
                    (REG_DEPARTMENT_LABEL, &mut self.department),
                    (REG_ALLERGIES_LABEL, &mut self.allergies),
                ] {
                    labelled_text(ui, label, value, 320.0);
                    ui.end_row();
                }
            }));
            ui.add_space(8.0);
            if self.similar.is_empty() {
                let submit = ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::Enter));
                if ui.button(RichText::new(REGISTER_BUTTON).size(16.0)).clicked() || submit {
                    self.submit(store, session, wristbands, false);
                }
            } else {
                self.similar_ui(ui, store, session, wristbands);
            }
            for (field, message) in &self.errors {
                ui.colored_label(ui.visuals().error_fg_color, format!("{field}: {message}"));
            }
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(done) = &self.done {
                ui.add_space(12.0);
                egui::Frame::new().fill(Color32::from_rgb(0, 95, 45)).inner_margin(12.0).show(ui, |ui| {
                    ui.visuals_mut().override_text_color = Some(Color32::WHITE);
                    ui.label(RichText::new("登録しました Registered").strong());
                    identity_block(ui, &done.patient, 1.6);
                    if let Some(w) = done.skipped_warning() {
                        ui.label(RichText::new(format!("▲ {w}")).strong().color(Color32::from_rgb(255, 220, 90)));
                    }
                    if let Some(path) = &done.wristband {
                        ui.label(format!("リストバンド Wristband: {}", path.display()));
                        if ui.button("リストバンドを開く Open wristband to print").clicked()
                            && let Err(e) = open::that(path)
                        {
                            self.error = Some(format!("cannot open {}: {e}", path.display()));
                        }
                    }
                });
            }
        });
    }

    fn similar_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session, wristbands: &Path) {
        egui::Frame::new().fill(Color32::from_rgb(120, 70, 0)).inner_margin(12.0).show(ui, |ui| {
            ui.visuals_mut().override_text_color = Some(Color32::WHITE);
            ui.label(
                RichText::new("▲ 似た読みの患者がいます A patient with a similar reading is already known")
                    .size(18.0)
                    .strong(),
            );
            ui.label(format!("登録しようとしている人 Registering: {} {}", self.kana, self.dob));
            for s in &self.similar {
                ui.separator();
                identity_block(ui, &s.patient, 1.0);
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button(REGISTER_ANYWAY_BUTTON).clicked() {
                    self.submit(store, session, wristbands, true);
                }
                if ui.button("やめる Cancel (same person)").clicked() {
                    self.similar.clear();
                }
            });
        });
    }

    fn submit(&mut self, store: &mut Store, session: &Session, wristbands: &Path, confirmed_different: bool) {
        self.errors.clear();
        self.error = None;
        let input = match self.input() {
            Ok(i) => i,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let today = Local::now().date_naive();
        if !confirmed_different {
            let checked = match input.check(today) {
                Ok(c) => c,
                Err(e) => {
                    self.errors = e.0;
                    return;
                }
            };
            match store.patients(None, true) {
                Ok(known) => {
                    self.similar = checked.similar_patients(&known);
                    if !self.similar.is_empty() {
                        return;
                    }
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
        }
        self.similar.clear();
        match downtime::register(store, session, &input, today, Some(wristbands)) {
            Ok(done) => {
                *self = Self { done: Some(done), ..Self::default() };
            }
            Err(downtime::RegisterError::Input(e)) => self.errors = e.0,
            Err(downtime::RegisterError::Wristband(done, e)) => {
                let id = done.patient.id.clone();
                *self = Self { done: Some(*done), ..Self::default() };
                self.error = Some(format!(
                    "{id} は登録済み、リストバンド印刷に失敗 registered, but the wristband did not print: {e}. Print it from the Kit tab for {id}; do not register again."
                ));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

/// Where registration wristbands go: `wristbands/` beside the database.
pub fn wristband_dir(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join("wristbands")
}

impl Screen for RegisterScreen {
    fn open(_ctx: &mut Ctx<'_>) -> Self {
        Self::default()
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        let wristbands = wristband_dir(ctx.db);
        self.show(ui, ctx.store, ctx.session, &wristbands);
        Vec::new()
    }
}
