//! The kit screen: pick wards or patients and forms, see the first page as it will print, and
//! generate the PDFs on a background job with a progress bar; then open the folder or a file to
//! print it.

use super::screen::{Ctx, Screen, ShellCommand};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Stroke, Vec2};

use super::jobs::Job;
use super::labels::{
    KIT_BLANKS_LABEL, KIT_GENERATE_BUTTON, KIT_OUT_LABEL, KIT_OUTPATIENTS_LABEL, KIT_PACKETS_LABEL,
    KIT_PATIENTS_LABEL, OPEN_FOLDER_BUTTON,
};
use crate::auth::Session;
use crate::domain::Patient;
use crate::form::{self, Family, FormDefinition};
use crate::print::{KitReport, KitRequest, Mark, generate_kit, preview_marks};
use crate::store::{Store, WardSummary};

/// What the preview shows (form id, patient id) and the marks of that page.
struct Preview {
    key: (String, Option<String>),
    marks: Result<Vec<Mark>, String>,
}

pub struct KitScreen {
    forms: Vec<FormDefinition>,
    chosen_forms: Vec<bool>,
    wards: Vec<WardSummary>,
    chosen_wards: BTreeSet<String>,
    patient_ids: String,
    /// A day (YYYY-MM-DD) whose outpatients the kit is for, from the SS-MIX2 snapshot.
    outpatient_day: String,
    /// Pre-printed packets to reserve and print.
    packets: u32,
    blanks: u32,
    out_dir: String,
    preview: Option<Preview>,
    job: Option<Job<Result<KitReport, String>>>,
    report: Option<KitReport>,
    error: Option<String>,
}

impl KitScreen {
    pub fn new(store: &Store, db_path: &Path) -> Self {
        let forms = form::built_in();
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M");
        let base =
            dirs::document_dir().unwrap_or_else(|| db_path.parent().unwrap_or(Path::new(".")).to_path_buf());
        let mut screen = Self {
            chosen_forms: vec![true; forms.len()],
            forms,
            wards: Vec::new(),
            chosen_wards: BTreeSet::new(),
            patient_ids: String::new(),
            outpatient_day: String::new(),
            packets: 0,
            blanks: 5,
            out_dir: base.join("kamikarte-kits").join(stamp.to_string()).display().to_string(),
            preview: None,
            job: None,
            report: None,
            error: None,
        };
        screen.reload(store);
        screen
    }

    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    pub fn reload(&mut self, store: &Store) {
        match store.wards() {
            Ok(wards) => self.wards = wards,
            Err(e) => self.error = Some(format!("cannot read the wards: {e}")),
        }
        self.chosen_wards.retain(|w| self.wards.iter().any(|s| &s.ward == w));
    }

    fn selected_forms(&self) -> Vec<&FormDefinition> {
        self.forms.iter().zip(&self.chosen_forms).filter(|(_, c)| **c).map(|(f, _)| f).collect()
    }

    fn patient_list(&self) -> Vec<String> {
        self.patient_ids
            .split([',', ' ', '\n', '、'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn show(&mut self, ui: &mut egui::Ui, store: &Store, db: &Path, session: &Session, hospital: &str) {
        if let Some(job) = &mut self.job
            && let Some(result) = job.poll()
        {
            self.job = None;
            match result.and_then(|r| r) {
                Ok(report) => self.report = Some(report),
                Err(e) => self.error = Some(e),
            }
        }
        egui::Panel::left("kit_options").resizable(true).default_size(360.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.options_ui(ui, db, session));
        });
        egui::CentralPanel::default().show(ui, |ui| self.preview_ui(ui, store, hospital));
    }

    fn options_ui(&mut self, ui: &mut egui::Ui, db: &Path, session: &Session) {
        let running = self.job.is_some();
        ui.add_enabled_ui(!running, |ui| {
            ui.heading("病棟 Wards");
            ui.horizontal(|ui| {
                if ui.button("全て All").clicked() {
                    self.chosen_wards = self.wards.iter().map(|w| w.ward.clone()).collect();
                }
                if ui.button("解除 None").clicked() {
                    self.chosen_wards.clear();
                }
            });
            ui.horizontal_wrapped(|ui| {
                for w in &self.wards {
                    let mut on = self.chosen_wards.contains(&w.ward);
                    if ui.checkbox(&mut on, format!("{} ({})", w.ward, w.admitted)).changed() {
                        if on {
                            self.chosen_wards.insert(w.ward.clone());
                        } else {
                            self.chosen_wards.remove(&w.ward);
                        }
                    }
                }
            });
            let label = ui.label(KIT_PATIENTS_LABEL);
            ui.add(egui::TextEdit::singleline(&mut self.patient_ids).hint_text("10002326, 10002339").desired_width(300.0))
                .labelled_by(label.id);
            ui.horizontal(|ui| {
                let label = ui.label(KIT_OUTPATIENTS_LABEL);
                ui.add(egui::TextEdit::singleline(&mut self.outpatient_day).hint_text("2026-12-07").desired_width(110.0))
                    .labelled_by(label.id);
            });
            ui.horizontal(|ui| {
                let label = ui.label(KIT_PACKETS_LABEL);
                ui.add(egui::DragValue::new(&mut self.packets).range(0..=crate::print::MAX_PACKETS))
                    .labelled_by(label.id);
            });
            ui.separator();
            ui.heading("帳票 Forms");
            for family in Family::ALL {
                ui.label(RichText::new(family.name()).strong());
                for (f, chosen) in self.forms.iter().zip(self.chosen_forms.iter_mut()) {
                    if f.family == family {
                        ui.checkbox(chosen, format!("{}  {}", f.title, f.title_en));
                    }
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                let label = ui.label(KIT_BLANKS_LABEL);
                ui.add(egui::DragValue::new(&mut self.blanks).range(0..=100)).labelled_by(label.id);
            });
            let label = ui.label(KIT_OUT_LABEL);
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut self.out_dir).desired_width(260.0)).labelled_by(label.id);
                if ui.button("参照… Browse…").clicked()
                    && let Some(dir) = rfd::FileDialog::new().pick_folder()
                {
                    self.out_dir = dir.display().to_string();
                }
            });
            let patients = self.patient_list();
            let something = !self.chosen_wards.is_empty()
                || !patients.is_empty()
                || self.blanks > 0
                || self.packets > 0
                || !self.outpatient_day.trim().is_empty();
            let ready = something && !self.selected_forms().is_empty() && !self.out_dir.trim().is_empty();
            if ui.add_enabled(ready, egui::Button::new(RichText::new(KIT_GENERATE_BUTTON).strong())).clicked() {
                self.start(ui.ctx(), db, session);
            }
            if self.chosen_wards.is_empty() && patients.is_empty() {
                ui.label(RichText::new("病棟も患者も選ばないと白紙だけを作成します / With no ward or patient, only blank forms are made.").small().weak());
            }
        });
        if let Some(job) = &self.job {
            job.progress_bar(ui);
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(report) = &self.report {
            ui.separator();
            ui.label(format!(
                "{} ページ pages, {} 患者 patients, {} files",
                report.pages,
                report.patients,
                report.files.len()
            ));
            if let (Some(first), Some(last)) = (report.packets.first(), report.packets.last()) {
                ui.label(
                    RichText::new(format!("パケット {} 件 packets: {first} … {last}", report.packets.len()))
                        .strong(),
                );
            }
            let dir = PathBuf::from(self.out_dir.trim());
            if ui.button(OPEN_FOLDER_BUTTON).clicked()
                && let Err(e) = open::that_detached(&dir)
            {
                self.error = Some(format!("cannot open {}: {e}", dir.display()));
            }
            for f in &report.files {
                ui.horizontal(|ui| {
                    let name =
                        f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    // Opening a PDF shows it in the system's viewer, which prints it.
                    if ui.small_button("開く・印刷 Open / print").clicked()
                        && let Err(e) = open::that_detached(&f.path)
                    {
                        self.error = Some(format!("cannot open {}: {e}", f.path.display()));
                    }
                    ui.label(format!("{name}  ({} pages)", f.pages));
                });
            }
        }
    }

    fn start(&mut self, ctx: &egui::Context, db: &Path, session: &Session) {
        let request = KitRequest {
            out_dir: PathBuf::from(self.out_dir.trim()),
            wards: self.chosen_wards.iter().cloned().collect(),
            patients: self.patient_list(),
            forms: self.selected_forms().iter().map(|f| f.id.clone()).collect(),
            blanks: self.blanks,
            forms_dir: None,
            blanks_only: false,
            packets: self.packets,
        };
        let day = self.outpatient_day.trim();
        let outpatients = if day.is_empty() {
            None
        } else {
            match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    self.error = Some(format!("外来日 outpatient day '{day}' is not YYYY-MM-DD"));
                    return;
                }
            }
        };
        if outpatients.is_some() && request.packets > 0 {
            self.error =
                Some("パケットか外来日のどちらか Packets or an outpatient day, not both: clear one".into());
            return;
        }
        // Packets and an outpatient day stand alone; typed IDs win over wards; with none of
        // them, only blank forms (never the whole hospital by accident).
        let request = if request.packets > 0 || outpatients.is_some() {
            KitRequest { wards: vec![], patients: vec![], ..request }
        } else if request.patients.is_empty() {
            request
        } else {
            KitRequest { wards: vec![], ..request }
        };
        let blanks_only = request.wards.is_empty()
            && request.patients.is_empty()
            && request.packets == 0
            && outpatients.is_none();
        let mut request = KitRequest { blanks_only, ..request };
        let (db, session) = (db.to_path_buf(), session.clone());
        self.report = None;
        self.error = None;
        self.job = Some(Job::spawn(ctx, "キット作成中 Generating kit", move |reporter| {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            if let Some(date) = outpatients {
                let today = chrono::Local::now().date_naive();
                let day = crate::snapshot::outpatients::prepare(&mut store, &session, date, None, today)
                    .map_err(|e| e.to_string())?;
                if day.ids.is_empty() {
                    return Err(format!("no outpatient of {date} can be printed"));
                }
                request.patients = day.ids;
                let forms = form::built_in();
                request.forms.retain(|id| {
                    forms
                        .iter()
                        .any(|f| &f.id == id && crate::snapshot::outpatients::prints_for_outpatients(f))
                });
                // An empty list would mean "every form" to the kit: bands and MARs for outpatients.
                if request.forms.is_empty() {
                    return Err("none of the ticked forms is printed for outpatients (bands, the MAR and the diet order are the wards'): tick a chart or slip".into());
                }
            }
            generate_kit(&mut store, &session, &request, &mut |done, total| {
                reporter.progress("pages", done, total)
            })
            .map_err(|e| e.to_string())
        }));
    }

    /// The patient the preview shows: the first of the typed IDs, else the first of the first
    /// chosen ward, else none (a blank form).
    fn preview_patient(&self, store: &Store) -> Option<Patient> {
        if let Some(id) = self.patient_list().first() {
            return store
                .patients(None, false)
                .ok()?
                .into_iter()
                .map(|r| r.patient)
                .find(|p| p.id.as_str() == id.to_uppercase());
        }
        let ward = self.chosen_wards.iter().next()?;
        store.patients(Some(ward), false).ok()?.into_iter().next().map(|r| r.patient)
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui, store: &Store, hospital: &str) {
        let Some(form) = self.selected_forms().first().map(|f| (*f).clone()) else {
            ui.label("帳票を選んでください / Choose at least one form.");
            return;
        };
        let patient = self.preview_patient(store);
        let key = (form.id.clone(), patient.as_ref().map(|p| p.id.to_string()));
        if self.preview.as_ref().is_none_or(|p| p.key != key) {
            self.preview = Some(Preview { marks: preview_marks(&form, patient.as_ref(), hospital), key });
        }
        ui.label(format!(
            "プレビュー Preview — {} {}",
            form.title,
            patient.as_ref().map_or("(白紙 blank)".to_string(), |p| p.name.to_string())
        ));
        match self.preview.as_ref().map(|p| &p.marks) {
            Some(Ok(marks)) => draw_page(ui, marks, form.width_mm, form.height_mm),
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}

/// Draws a page's marks scaled to the space available: white paper, black ink.
fn draw_page(ui: &mut egui::Ui, marks: &[Mark], width_mm: f32, height_mm: f32) {
    let avail = ui.available_size() - Vec2::splat(8.0);
    let scale = (avail.x / width_mm).min(avail.y / height_mm).max(0.5);
    let (response, painter) =
        ui.allocate_painter(Vec2::new(width_mm * scale, height_mm * scale), Sense::hover());
    let origin = response.rect.min;
    let at = |x: f32, y: f32| Pos2::new(origin.x + x * scale, origin.y + y * scale);
    painter.rect_filled(response.rect, 0.0, Color32::WHITE);
    for mark in marks {
        match mark {
            Mark::Text { x, y, size_pt, scale: h_scale, text, white } => {
                let size = size_pt * 25.4 / 72.0 * scale * (h_scale / 100.0).min(1.0);
                let colour = if *white { Color32::WHITE } else { Color32::BLACK };
                painter.text(
                    at(*x, *y),
                    Align2::LEFT_BOTTOM,
                    text,
                    FontId::proportional(size.max(1.0)),
                    colour,
                );
            }
            Mark::Rect { x, y, w, h, line_pt } => {
                let stroke = Stroke::new((line_pt * 25.4 / 72.0 * scale).max(0.5), Color32::BLACK);
                painter.rect_stroke(
                    Rect::from_min_max(at(*x, *y), at(x + w, y + h)),
                    0.0,
                    stroke,
                    egui::StrokeKind::Middle,
                );
            }
            Mark::Fill { x, y, w, h } => {
                painter.rect_filled(Rect::from_min_max(at(*x, *y), at(x + w, y + h)), 0.0, Color32::BLACK);
            }
            Mark::Line { x1, y1, x2, y2, line_pt } => {
                let stroke = Stroke::new((line_pt * 25.4 / 72.0 * scale).max(0.5), Color32::BLACK);
                painter.line_segment([at(*x1, *y1), at(*x2, *y2)], stroke);
            }
        }
    }
}

impl Screen for KitScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store, ctx.db)
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        self.show(ui, ctx.store, ctx.db, ctx.session, &ctx.settings.hospital_name);
        Vec::new()
    }

    fn is_busy(&self) -> bool {
        self.is_running()
    }

    fn census_changed(&mut self, store: &Store) {
        self.reload(store);
    }
}
