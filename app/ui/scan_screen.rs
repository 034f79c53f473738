//! The scan station: works with a keyboard-wedge scanner and no mouse. Scans are read from raw
//! key events (see `scan::wedge`), so a Japanese IME or full-width mode cannot corrupt them.
//! Esc lets go of the patient ("next patient"); Ctrl+Enter dismisses a wrong-patient stop (a
//! scanner never sends Ctrl, so a scan cannot dismiss a stop by accident).

use super::screen::{Ctx, Screen, ShellCommand};
use chrono::{Local, Utc};
use egui::{Color32, Event, Key, RichText};

use super::labels::{MANUAL_CODE_LABEL, NEXT_PATIENT_BUTTON, STOP_DISMISS_BUTTON};
use super::widgets::{identity_block, labelled_text};
use crate::auth::Session;
use crate::domain::Patient;
use crate::scan::{Outcome, Station, WedgeInput, WedgeReader, WedgeScan};
use crate::store::{ScanEventRecord, ScanKind, Store};

pub struct ScanScreen {
    station: Result<Station, String>,
    reader: WedgeReader,
    manual: String,
    /// What the last scan did, shown under the patient: (good news, text).
    message: Option<(bool, String)>,
    recent: Vec<ScanEventRecord>,
    /// The manual code field: the one widget allowed the keyboard.
    manual_id: Option<egui::Id>,
}

/// The character a key press stands for in a code, if any.
fn code_char(key: Key) -> Option<char> {
    match key {
        Key::Minus => Some('-'),
        Key::Period => Some('.'),
        _ => {
            let name = key.name();
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphanumeric() => Some(c),
                _ => None,
            }
        }
    }
}

impl ScanScreen {
    pub fn new(store: &Store) -> Self {
        let station = crate::form::load(None)
            .map_err(|e| e.to_string())
            .and_then(|forms| Station::open(store, forms).map_err(|e| e.to_string()));
        let mut me = Self {
            station,
            reader: WedgeReader::default(),
            manual: String::new(),
            message: None,
            recent: Vec::new(),
            manual_id: None,
        };
        me.refresh(store);
        me
    }

    /// Lets go of the active patient (the screen was locked).
    pub fn release_patient(&mut self) {
        if let Ok(station) = &mut self.station {
            station.finish_patient();
        }
        self.reader.clear();
    }

    fn refresh(&mut self, store: &Store) {
        match store.recent_scans(12) {
            Ok(r) => self.recent = r,
            Err(e) => self.message = Some((false, format!("cannot read recent scans: {e}"))),
        }
    }

    fn show(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session) {
        if let Err(e) = &self.station {
            let text = format!("スキャンステーションを開けません Cannot open the scan station: {e}");
            egui::CentralPanel::default().show(ui, |ui| ui.colored_label(ui.visuals().error_fg_color, text));
            return;
        }
        if let Ok(station) = &mut self.station
            && station.expire(Utc::now())
        {
            self.message =
                Some((true, "時間切れ: 患者の選択を解除しました Patient released after a pause".into()));
        }
        let nothing_focused = ui.ctx().memory(|m| m.focused().is_none());
        // Act on keys in the order they came: a scan, Esc and Ctrl+Enter in one frame must not
        // swap places. A dismissal counts only for a stop that was on screen when the frame began.
        let stop_on_screen = self.station.as_ref().ok().and_then(|s| s.stop()).map(|s| s.event_id);
        let events = ui.input(|i| i.events.clone());
        for event in events {
            match event {
                Event::Key { key: Key::Enter, pressed: true, modifiers, .. }
                    if modifiers.command || modifiers.ctrl =>
                {
                    let current = self.station.as_ref().ok().and_then(|s| s.stop()).map(|s| s.event_id);
                    if current.is_some() && current == stop_on_screen {
                        self.dismiss(store, session);
                    }
                }
                Event::Key { key: Key::Escape, pressed: true, .. } if nothing_focused => self.next_patient(),
                Event::Key { key, pressed: true, modifiers, .. }
                    if nothing_focused && !modifiers.command && !modifiers.ctrl && !modifiers.alt =>
                {
                    let input = if key == Key::Enter {
                        Some(WedgeInput::Enter)
                    } else {
                        code_char(key).map(WedgeInput::Key)
                    };
                    match input.and_then(|i| self.reader.push(i)) {
                        Some(WedgeScan::Code(code)) => self.handle(store, session, &code),
                        Some(WedgeScan::Unreadable(text)) => {
                            self.message = Some((
                                false,
                                format!("読めません Unreadable scan '{text}': switch the IME off or rescan"),
                            ));
                        }
                        None => {}
                    }
                }
                Event::Text(t) if nothing_focused => {
                    self.reader.push(WedgeInput::Text(t));
                }
                Event::Ime(egui::ImeEvent::Commit(t)) if nothing_focused => {
                    self.reader.push(WedgeInput::Text(t));
                }
                _ => {}
            }
        }

        egui::Panel::bottom("scan_recent")
            .resizable(true)
            .default_size(180.0)
            .show(ui, |ui| self.recent_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.main_ui(ui, store, session));
        if let Ok(station) = &self.station
            && let Some(stop) = station.stop().cloned()
        {
            self.stop_ui(
                ui,
                store,
                session,
                &stop.active,
                stop.item_patient.as_ref(),
                &stop.item_patient_id,
                &stop.item,
            );
        }
    }

    fn handle(&mut self, store: &mut Store, session: &Session, code: &str) {
        let Ok(station) = &mut self.station else { return };
        self.message = Some(match station.scan(store, session, code, Utc::now()) {
            Ok(Outcome::Identified { patient, again: false }) => (
                true,
                format!(
                    "本人確認: ID・氏名・生年月日を確認 Check ID, name and date of birth of {}",
                    patient.id
                ),
            ),
            Ok(Outcome::Identified { again: true, .. }) => (true, "同じ患者です Same patient".into()),
            Ok(Outcome::Recorded { event, what }) => {
                (true, format!("記録しました Recorded: {} — {what}", event.facts.action))
            }
            Ok(Outcome::Duplicate { previous, what }) => (
                false,
                format!(
                    "重複スキャン Duplicate scan: {what} was recorded at {} — not recorded again",
                    local_time(&previous.at)
                ),
            ),
            Ok(Outcome::WrongPatient(_)) => (false, "患者違い STOP — wrong patient".into()),
            Ok(Outcome::Refused(reason)) => (false, reason),
            Ok(Outcome::Ignored) => (
                false,
                "患者違いを先に確認してください Dismiss the wrong-patient stop first (Ctrl+Enter)".into(),
            ),
            Err(e) => (false, format!("記録できません Not recorded: {e}")),
        });
        self.refresh(store);
    }

    fn main_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session) {
        let Ok(station) = &self.station else { return };
        ui.heading("スキャンステーション Scan station");
        ui.label("リストバンドをスキャンし、次に伝票・用紙をスキャン。Esc で次の患者。 Scan a wristband, then the patient's slips and pages. Esc: next patient.");
        ui.add_space(8.0);
        match station.active() {
            Some(active) => {
                egui::Frame::new()
                    .fill(Color32::from_rgb(0, 95, 45))
                    .inner_margin(12.0)
                    .corner_radius(6.0)
                    .show(ui, |ui| {
                        // White on dark green reads in the light and the dark theme alike.
                        ui.visuals_mut().override_text_color = Some(Color32::WHITE);
                        ui.label(RichText::new("対象患者 Active patient").strong());
                        identity_block(ui, &active.patient, 2.0);
                        for other in &active.similar {
                            ui.label(
                                RichText::new(format!(
                                    "▲ 似た読みの患者 Similar name: {} {} {} 生年月日 DOB {} — 生年月日で確認 check the date of birth",
                                    other.id, other.name, other.kana, other.dob.iso()
                                ))
                                .strong()
                                .color(Color32::from_rgb(255, 220, 90)),
                            );
                        }
                        if active.downtime {
                            ui.label(
                                RichText::new("ダウンタイムID Downtime ID")
                                    .color(Color32::from_rgb(150, 60, 0)),
                            );
                        }
                    });
                if ui.button(NEXT_PATIENT_BUTTON).clicked_by(egui::PointerButton::Primary) {
                    self.station.as_mut().expect("ok").finish_patient();
                }
            }
            None => {
                egui::Frame::new()
                    .fill(ui.visuals().faint_bg_color)
                    .inner_margin(24.0)
                    .corner_radius(6.0)
                    .show(ui, |ui| {
                        ui.label(
                            RichText::new("リストバンドをスキャンしてください Scan a wristband").size(28.0),
                        );
                    });
            }
        }
        ui.add_space(8.0);
        if let Some((good, text)) = &self.message {
            let color = if *good { Color32::from_rgb(0, 110, 0) } else { ui.visuals().error_fg_color };
            ui.label(RichText::new(text).size(18.0).color(color));
        }
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            let response = labelled_text(ui, MANUAL_CODE_LABEL, &mut self.manual, 260.0);
            self.manual_id = Some(response.id);
            if response.lost_focus()
                && ui.input(|i| i.key_pressed(Key::Enter))
                && !self.manual.trim().is_empty()
            {
                let code = std::mem::take(&mut self.manual);
                self.handle(store, session, &code);
            }
            ui.label(
                RichText::new("（読めないバーコードは手入力 type a code the scanner cannot read）").weak(),
            );
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn stop_ui(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        session: &Session,
        active: &Patient,
        item_patient: Option<&Patient>,
        item_patient_id: &str,
        item: &str,
    ) {
        let mut dismiss = false;
        egui::Modal::new(egui::Id::unique("wrong_patient_stop")).show(ui.ctx(), |ui| {
            ui.set_width(760.0);
            egui::Frame::new().fill(Color32::from_rgb(200, 0, 0)).inner_margin(12.0).show(ui, |ui| {
                ui.label(RichText::new("■ 患者違い STOP — WRONG PATIENT").size(30.0).strong().color(Color32::WHITE));
            });
            ui.label(RichText::new(format!("スキャンしたもの Scanned: {item}")).size(16.0));
            ui.columns(2, |cols| {
                cols[0].label(RichText::new("対象患者 Active patient").strong());
                identity_block(&mut cols[0], active, 1.4);
                cols[1].label(RichText::new("スキャンした物の患者 The item belongs to").strong());
                match item_patient {
                    Some(p) => identity_block(&mut cols[1], p, 1.4),
                    None => {
                        cols[1].label(RichText::new(format!("ID {item_patient_id}（この端末に登録なし not in this station's census）")).size(20.0));
                    }
                }
            });
            ui.label("記録は残りません: 正しい患者を確認してから解除してください。Nothing was recorded for the active patient. Check the patient, then dismiss.");
            // Only a pointer click or Ctrl+Enter: never a key a scanner sends.
            dismiss = ui.button(RichText::new(STOP_DISMISS_BUTTON).size(18.0)).clicked_by(egui::PointerButton::Primary);
        });
        if dismiss {
            self.dismiss(store, session);
        }
    }

    /// The keyboard belongs to the scanner: a button must never hold focus on this screen, or a
    /// scan's Enter would press it (dismissing a stop, letting go of the patient). Only the manual
    /// code field may keep it. The shell calls this before it draws anything, so no bar or tab
    /// can hold focus for a frame either.
    pub fn guard_keyboard(&self, ctx: &egui::Context) {
        if let Some(id) = ctx.memory(|m| m.focused())
            && Some(id) != self.manual_id
        {
            ctx.memory_mut(|m| m.surrender_focus(id));
        }
    }

    fn next_patient(&mut self) {
        let Ok(station) = &mut self.station else { return };
        if station.stop().is_none() {
            station.finish_patient();
            self.message =
                Some((true, "次の患者のリストバンドをスキャン Scan the next patient's wristband".into()));
        }
    }

    fn dismiss(&mut self, store: &mut Store, session: &Session) {
        let Ok(station) = &mut self.station else { return };
        if station.stop().is_none() {
            return;
        }
        self.message = Some(match station.dismiss(store, session) {
            Ok(()) => (
                true,
                "解除しました。目の前の患者のリストバンドをスキャン Stop dismissed: scan the wristband of the patient in front of you".into(),
            ),
            Err(e) => (false, e.to_string()),
        });
        self.refresh(store);
    }

    fn recent_ui(&self, ui: &mut egui::Ui) {
        ui.label(RichText::new("最近のスキャン Recent scans").strong());
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("recent_scans").striped(true).num_columns(5).show(ui, |ui| {
                for e in &self.recent {
                    ui.label(local_time(&e.at));
                    ui.label(e.facts.patient_id.as_deref().unwrap_or("-"));
                    let action = match e.facts.kind {
                        ScanKind::WrongPatient => {
                            RichText::new(&e.facts.action).color(ui.visuals().error_fg_color)
                        }
                        _ => RichText::new(&e.facts.action),
                    };
                    ui.label(action);
                    ui.label(e.facts.serial.as_deref().unwrap_or(""));
                    ui.label(&e.user);
                    ui.end_row();
                }
            });
        });
    }
}

/// The time of a scan; with its date when it was not today.
fn local_time(at: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else { return at.to_string() };
    let t = t.with_timezone(&Local);
    let format = if t.date_naive() == Local::now().date_naive() { "%H:%M:%S" } else { "%m-%d %H:%M:%S" };
    t.format(format).to_string()
}

impl Screen for ScanScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store)
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        self.show(ui, ctx.store, ctx.session);
        Vec::new()
    }

    /// Whoever unlocks scans the wristband again.
    fn locked(&mut self) {
        self.release_patient();
    }

    fn before_frame(&self, ctx: &egui::Context) {
        self.guard_keyboard(ctx);
    }
}
