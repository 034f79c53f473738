//! Reconciliation (F9): each downtime ID mapped to the record number the restored EHR assigned,
//! ours and the EHR's identity side by side; a contradiction needs a reason to override; two
//! downtime IDs of one person are merged; the EHR's mapping CSV is imported.

use super::screen::{Ctx, Screen, ShellCommand};
use egui::{Key, RichText};

use super::labels::{
    RECON_EHR_DOB_LABEL, RECON_EHR_KANA_LABEL, RECON_EHR_NAME_LABEL, RECON_EHR_SEX_LABEL, RECON_FILE_LABEL,
    RECON_IMPORT_BUTTON, RECON_LINK_BUTTON, RECON_MERGE_BUTTON, RECON_MERGE_INTO_LABEL,
    RECON_MERGE_REASON_LABEL, RECON_MRN_LABEL, RECON_OVERRIDE_LABEL, RECON_UNLINK_BUTTON,
};
use super::widgets::labelled_text;
use crate::auth::Session;
use crate::entry::reconcile::{self, ReconcileError};
use crate::store::{DowntimePatient, EhrFacts, Store};

#[derive(Default)]
pub struct ReconcileScreen {
    patients: Vec<DowntimePatient>,
    selected: Option<String>,
    mrn: String,
    /// The EHR's identity for the number, typed when its census does not have it.
    ehr_typed: [String; 4],
    override_reason: String,
    merge_into: String,
    merge_reason: String,
    file: String,
    message: Option<String>,
    error: Option<String>,
}

impl ReconcileScreen {
    /// How many downtime IDs the list shows (for the audit entry of opening it).
    pub fn listed(&self) -> usize {
        self.patients.len()
    }

    pub fn new(store: &Store) -> Self {
        let mut s = Self::default();
        s.reload(store);
        s
    }

    fn reload(&mut self, store: &Store) {
        match store.downtime_patients() {
            Ok(p) => self.patients = p,
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn select(&mut self, id: String) {
        self.mrn = self
            .patients
            .iter()
            .find(|p| p.record.patient.id.as_str() == id)
            .and_then(|p| p.link.as_ref())
            .map(|l| l.mrn.clone())
            .unwrap_or_default();
        self.override_reason.clear();
        self.ehr_typed = Default::default();
        self.merge_into.clear();
        self.merge_reason.clear();
        self.selected = Some(id);
    }

    fn show(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session) {
        egui::Panel::left("recon_list").resizable(true).default_size(460.0).show(ui, |ui| {
            let left = self.patients.iter().filter(|p| p.link.is_none() && p.merged_into.is_none()).count();
            ui.label(
                RichText::new(format!(
                    "{} downtime IDs — 未照合 not yet mapped: {left}",
                    self.patients.len()
                ))
                .strong(),
            );
            let mut pick = None;
            egui::ScrollArea::vertical().id_salt("recon_scroll").show(ui, |ui| {
                egui::Grid::new("recon_grid").striped(true).num_columns(4).show(ui, |ui| {
                    for p in &self.patients {
                        let id = p.record.patient.id.as_str().to_string();
                        let state = match (&p.link, &p.merged_into) {
                            (_, Some(into)) => format!("→ {into} に統合 merged"),
                            (Some(l), _) => format!(
                                "= {}{}",
                                l.mrn,
                                if l.override_reason.is_some() { " (override)" } else { "" }
                            ),
                            _ => "未照合 unmapped".to_string(),
                        };
                        if ui.selectable_label(self.selected.as_deref() == Some(&id), &id).clicked() {
                            pick = Some(id.clone());
                        }
                        ui.label(format!(
                            "{} {}",
                            p.record.patient.name.as_str(),
                            p.record.patient.kana.as_str()
                        ));
                        ui.label(p.record.patient.dob.to_string());
                        ui.label(state);
                        ui.end_row();
                    }
                });
            });
            ui.separator();
            ui.horizontal(|ui| {
                labelled_text(ui, RECON_FILE_LABEL, &mut self.file, 200.0);
                if ui.button("参照… Browse…").clicked()
                    && let Some(p) = rfd::FileDialog::new().add_filter("CSV", &["csv", "txt"]).pick_file()
                {
                    self.file = p.display().to_string();
                }
            });
            if ui.button(RECON_IMPORT_BUTTON).clicked() {
                match reconcile::import_links(store, session, std::path::Path::new(self.file.trim())) {
                    Ok(r) => {
                        let mut m = format!(
                            "{} mapped, {} unchanged, {} left for you to decide",
                            r.mapped,
                            r.unchanged,
                            r.unmapped.len()
                        );
                        for u in &r.unmapped {
                            m.push_str(&format!(
                                "\nline {}: {} → {}: {}",
                                u.line, u.downtime_id, u.mrn, u.why
                            ));
                        }
                        self.message = Some(m);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
                self.reload(store);
            }
            if let Some(id) = pick {
                if let Err(e) = store.record_view(&session.actor(), "patient", &id) {
                    self.error = Some(format!("cannot record the view in the audit trail: {e}"));
                }
                self.select(id);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            } else if let Some(m) = &self.message {
                ui.label(RichText::new(m).strong());
            }
            let Some(id) = self.selected.clone() else {
                ui.label("左の一覧からダウンタイムIDを選んでください。 Pick a downtime ID on the left.");
                return;
            };
            let Some(p) = self.patients.iter().find(|p| p.record.patient.id.as_str() == id).cloned() else {
                return;
            };
            self.detail_ui(ui, store, session, &p);
        });
    }

    fn detail_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session, p: &DowntimePatient) {
        let ours = &p.record.patient;
        let mrn = self.mrn.trim().to_string();
        let census: Option<EhrFacts> = if mrn.is_empty() {
            None
        } else {
            match reconcile::facts_from_census(store, &mrn) {
                Ok(facts) => facts,
                Err(e) => {
                    // Shown, not taken as "the EHR does not know this number".
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("cannot read the EHR's census: {e}"),
                    );
                    return;
                }
            }
        };
        // What the clerk typed from the EHR's screen counts first; the census fills the rest.
        let [name, kana, dob, sex] = self.ehr_typed.clone().map(Some);
        let typed = match reconcile::typed_facts(name, kana, dob, sex) {
            Ok(t) => t,
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                None
            }
        };
        let ehr = EhrFacts::completed(typed.clone(), census.clone());
        egui::Grid::new("side_by_side").num_columns(3).striped(true).show(ui, |ui| {
            ui.strong("");
            ui.strong("ダウンタイム Downtime");
            ui.strong("電子カルテ EHR");
            ui.end_row();
            let e = ehr.clone().unwrap_or_default();
            for (what, a, b) in [
                ("ID", ours.id.as_str().to_string(), mrn.clone()),
                ("氏名 Name", ours.name.as_str().to_string(), e.name.unwrap_or_default()),
                ("カナ Kana", ours.kana.as_str().to_string(), e.kana.unwrap_or_default()),
                ("生年月日 DOB", ours.dob.to_string(), e.dob.unwrap_or_default()),
                ("性別 Sex", ours.sex.code().to_string(), e.sex.unwrap_or_default()),
            ] {
                ui.label(what);
                ui.label(RichText::new(a).size(16.0));
                ui.label(RichText::new(b).size(16.0));
                ui.end_row();
            }
        });
        let problems =
            if mrn.is_empty() { Vec::new() } else { reconcile::contradictions(ours, &mrn, ehr.as_ref()) };
        for c in &problems {
            ui.colored_label(ui.visuals().error_fg_color, format!("▲ {c}"));
        }
        // Fixed ids: the contradictions shown above appear as the MRN is typed, and a field
        // with a position-based id would lose the keyboard when they do.
        let label = ui.label(RECON_MRN_LABEL);
        let field = ui
            .add(egui::TextEdit::singleline(&mut self.mrn).id_salt("recon_mrn").desired_width(200.0))
            .labelled_by(label.id);
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        if !mrn.is_empty() && census.is_none() {
            // Every message about the patient will carry the EHR's identity: without its census,
            // the clerk copies it from the EHR's screen.
            ui.label("電子カルテの患者情報を入力 Type the EHR's identity for this number:");
            let labels =
                [RECON_EHR_NAME_LABEL, RECON_EHR_KANA_LABEL, RECON_EHR_DOB_LABEL, RECON_EHR_SEX_LABEL];
            for (i, label) in labels.into_iter().enumerate() {
                let l = ui.label(label);
                ui.add(
                    egui::TextEdit::singleline(&mut self.ehr_typed[i])
                        .id_salt(("recon_ehr", i))
                        .desired_width(240.0),
                )
                .labelled_by(l.id);
            }
            if ehr.as_ref().is_none_or(|e| !e.missing().is_empty()) {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "▲ 氏名と生年月日がないと、この患者の記録は電子カルテに送れません \
                     Without the EHR's name and date of birth this patient's paper cannot be handed off",
                );
            }
        }
        // Also used by a merge whose survivor contradicts the record number it takes.
        let label = ui.label(RECON_OVERRIDE_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut self.override_reason)
                .id_salt("recon_override")
                .desired_width(320.0),
        )
        .labelled_by(label.id);
        ui.horizontal(|ui| {
            if (ui.button(RECON_LINK_BUTTON).clicked() || enter) && !mrn.is_empty() {
                let reason = Some(self.override_reason.as_str()).filter(|r| !r.trim().is_empty());
                match reconcile::link(store, session, ours.id.as_str(), &mrn, typed.clone(), reason) {
                    Ok((l, _)) => {
                        self.message = Some(format!("{} → {} mapped", l.downtime_id, l.mrn));
                        self.error = None;
                    }
                    Err(ReconcileError::Store(e)) => self.error = Some(e.to_string()),
                    Err(e) => self.error = Some(e.to_string()),
                }
                self.reload(store);
            }
            if p.link.is_some() && ui.button(RECON_UNLINK_BUTTON).clicked() {
                match reconcile::unlink(store, session, ours.id.as_str()) {
                    Ok(()) => self.message = Some(format!("{} unmapped", ours.id.as_str())),
                    Err(e) => self.error = Some(e.to_string()),
                }
                self.reload(store);
            }
        });
        ui.separator();
        ui.label("同じ人に2つのダウンタイムIDが付いた場合 Two downtime IDs for one person:");
        labelled_text(ui, RECON_MERGE_INTO_LABEL, &mut self.merge_into, 160.0);
        labelled_text(ui, RECON_MERGE_REASON_LABEL, &mut self.merge_reason, 320.0);
        if ui.button(RECON_MERGE_BUTTON).clicked() {
            let into = self.merge_into.trim().to_uppercase();
            let over = Some(self.override_reason.as_str()).filter(|r| !r.trim().is_empty());
            match reconcile::merge(store, session, ours.id.as_str(), &into, &self.merge_reason, over) {
                Ok(_) => {
                    self.message = Some(format!("{} merged into {into}", ours.id.as_str()));
                    self.error = None;
                }
                Err(e) => self.error = Some(e.to_string()),
            }
            self.reload(store);
        }
    }
}

impl Screen for ReconcileScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store)
    }

    fn listing(&self) -> Option<(&'static str, usize)> {
        Some(("reconciliation screen", self.listed()))
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        self.show(ui, ctx.store, ctx.session);
        Vec::new()
    }
}
