//! Census import from the app: pick a file, import on a background job with a progress bar, and
//! read the report — every refused row with its line, column, value and reason.

use super::labels::{FILE_LABEL, IMPORT_BUTTON};
use std::path::{Path, PathBuf};

use chrono::Local;
use egui_extras::{Column, TableBuilder};

use super::jobs::Job;
use crate::auth::Session;
use crate::census::{self, Encoding, ImportOptions, ImportReport, Stage};
use crate::store::Store;

#[derive(Default)]
pub struct ImportDialog {
    pub open: bool,
    path: String,
    encoding: Encoding,
    skip_invalid: bool,
    keep_absent: bool,
    job: Option<Job<Result<ImportReport, String>>>,
    report: Option<ImportReport>,
    error: Option<String>,
}

impl ImportDialog {
    pub fn open(&mut self) {
        self.open = true;
    }

    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Shows the dialog; returns true when an import changed the census.
    pub fn ui(&mut self, ctx: &egui::Context, db: &Path, session: Option<&Session>) -> bool {
        let mut changed = false;
        if let Some(job) = &mut self.job
            && let Some(result) = job.poll()
        {
            self.job = None;
            match result.and_then(|r| r) {
                Ok(report) => {
                    changed = report.applied.is_some();
                    self.report = Some(report);
                }
                Err(e) => self.error = Some(e),
            }
        }
        if !self.open {
            return changed;
        }
        let mut open = self.open;
        egui::Window::new("患者一覧の取り込み Import census")
            .open(&mut open)
            .default_size([760.0, 520.0])
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| match session {
                Some(session) => self.contents(ui, db, session),
                None => {
                    ui.label("Log in to import.");
                }
            });
        // Closing the window never stops a running import: it finishes or rolls back whole.
        self.open = open || self.job.is_some();
        changed
    }

    fn contents(&mut self, ui: &mut egui::Ui, db: &Path, session: &Session) {
        let running = self.job.is_some();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label(FILE_LABEL);
                ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0)).labelled_by(label.id);
                if ui.button("参照… Browse…").clicked()
                    && let Some(file) =
                        rfd::FileDialog::new().add_filter("CSV", &["csv", "txt", "CSV", "TXT"]).pick_file()
                {
                    self.path = file.display().to_string();
                }
            });
            ui.horizontal(|ui| {
                ui.label("文字コード Encoding");
                egui::ComboBox::from_id_salt("encoding").selected_text(self.encoding.to_string()).show_ui(
                    ui,
                    |ui| {
                        for e in [Encoding::Auto, Encoding::Utf8, Encoding::Cp932] {
                            ui.selectable_value(&mut self.encoding, e, e.to_string());
                        }
                    },
                );
                ui.checkbox(&mut self.skip_invalid, "不正な行を飛ばす Skip invalid rows");
                ui.checkbox(&mut self.keep_absent, "載っていない患者を退院にしない Keep absent patients");
            });
            let ready = !self.path.trim().is_empty();
            if ui.add_enabled(ready, egui::Button::new(IMPORT_BUTTON)).clicked() {
                self.start(ui.ctx(), db, session);
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
            report_ui(ui, report);
        }
    }

    fn start(&mut self, ctx: &egui::Context, db: &Path, session: &Session) {
        let path = PathBuf::from(self.path.trim());
        let db = db.to_path_buf();
        let session = session.clone();
        let options = ImportOptions {
            encoding: self.encoding,
            skip_invalid: self.skip_invalid,
            keep_absent: self.keep_absent,
            mapping: None,
            today: Local::now().date_naive(),
        };
        self.report = None;
        self.error = None;
        self.job = Some(Job::spawn(ctx, "取り込み中 Importing", move |reporter| {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            census::import_file(&mut store, &session, &path, &options, &mut |p| {
                let stage = match p.stage {
                    Stage::Reading => "reading",
                    Stage::Writing => "writing",
                };
                reporter.progress(stage, p.done, p.total);
            })
            .map_err(|e| e.to_string())
        }));
    }
}

fn report_ui(ui: &mut egui::Ui, report: &ImportReport) {
    match &report.applied {
        Some(c) => {
            ui.label(format!(
                "{} ({}): {} 行 rows — 新規 {} new, 更新 {} updated, 変更なし {} unchanged, 再入院 {} re-admitted, 退院 {} discharged, 飛ばした {} skipped",
                report.file, report.encoding, report.rows, c.inserted, c.updated, c.unchanged, c.readmitted, c.discharged, report.skipped
            ));
        }
        None => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "{}: 取り込みませんでした — rejected, nothing imported ({} problems). Fix the rows below, or tick “Skip invalid rows”.",
                    report.file,
                    report.errors.len()
                ),
            );
        }
    }
    for w in &report.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, format!("※ {w}"));
    }
    if !report.demo_accounts_disabled.is_empty() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "※ デモ用アカウント ({}) を無効にしました — the demo's public accounts are switched off now that a real census is here; log in with your own account",
                report.demo_accounts_disabled.join(", ")
            ),
        );
    }
    if report.errors.is_empty() {
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("import_errors")
        .striped(true)
        .column(Column::auto().at_least(50.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(120.0))
        .column(Column::remainder())
        .header(row_height, |mut h| {
            for t in ["行 Line", "列 Column", "値 Value", "問題 Problem"] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, report.errors.len(), |mut row| {
                let e = &report.errors[row.index()];
                for text in [e.line.to_string(), e.column.clone(), e.value.clone(), e.message.clone()] {
                    row.col(|ui| {
                        ui.label(text);
                    });
                }
            });
        });
}
