//! Scanned pages after recovery: import a scanner's folder (progress bar, live counts, stop),
//! index by hand the pages whose barcode could not be read (the page image beside the input,
//! keyboard first, undo), and see what is back and what is missing.

use super::screen::{Ctx, Screen, ShellCommand};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use egui::{Key, KeyboardShortcut, Modifiers, RichText};

use super::jobs::Job;
use super::labels::{
    PAGES_CANCEL_BUTTON, PAGES_CHOOSE_BUTTON, PAGES_FOLDER_LABEL, PAGES_IMPORT_BUTTON, PAGES_IMPORT_VIEW,
    PAGES_QUEUE_VIEW, PAGES_STATUS_VIEW, QUEUE_FILE_BUTTON, QUEUE_FORM_LABEL, QUEUE_NEXT_BUTTON,
    QUEUE_PATIENT_LABEL, QUEUE_PREVIOUS_BUTTON, QUEUE_REASON_LABEL, QUEUE_SET_ASIDE_BUTTON,
    QUEUE_UNDO_BUTTON, STATUS_EPISODE_LABEL,
};
use super::page_view::fit_height;
use super::widgets::text_table;
use crate::auth::Session;
use crate::form::{self, FormDefinition};
use crate::scan::{self, Completeness, ImportCounts, ImportReport, ImportRequest, IndexInput, PageStore};
use crate::store::{EpisodeRecord, PageState, ScannedPageRecord, Store};

const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
/// Tall enough to read handwriting beside the input, small enough to upload at once.
const PREVIEW_HEIGHT: u32 = 1100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Import,
    Queue,
    Status,
}

struct Running {
    job: Job<Result<ImportReport, String>>,
    counts: Arc<Mutex<ImportCounts>>,
    cancel: Arc<AtomicBool>,
}

pub struct PagesScreen {
    view: View,
    folder: String,
    running: Option<Running>,
    last: Option<ImportReport>,
    forms: Vec<FormDefinition>,
    queue: Vec<ScannedPageRecord>,
    at: usize,
    image: Option<(i64, egui::TextureHandle)>,
    patient: String,
    form: String,
    reason: String,
    /// The pages this clerk indexed or set aside, newest last, for undo.
    undo: Vec<i64>,
    status: Option<Completeness>,
    episodes: Vec<EpisodeRecord>,
    episode: Option<i64>,
    message: Option<String>,
    error: Option<String>,
}

impl PagesScreen {
    /// How many queued pages it holds (for the audit entry of opening it).
    pub fn listed(&self) -> usize {
        self.queue.len()
    }

    pub fn new(store: &Store) -> Self {
        let mut screen = Self {
            view: View::Import,
            folder: String::new(),
            running: None,
            last: None,
            forms: Vec::new(),
            queue: Vec::new(),
            at: 0,
            image: None,
            patient: String::new(),
            form: String::new(),
            reason: String::new(),
            undo: Vec::new(),
            status: None,
            episodes: Vec::new(),
            episode: None,
            message: None,
            error: None,
        };
        match form::load(None) {
            Ok(forms) => screen.forms = forms,
            Err(e) => screen.error = Some(format!("cannot load the forms: {e}")),
        }
        screen.reload(store);
        if !screen.queue.is_empty() {
            screen.view = View::Queue;
        }
        screen
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn reload(&mut self, store: &Store) {
        match store.scanned_pages(Some(PageState::Queued)) {
            Ok(queue) => self.queue = queue,
            Err(e) => self.error = Some(e.to_string()),
        }
        self.at = self.at.min(self.queue.len().saturating_sub(1));
        match store.episodes() {
            Ok(episodes) => self.episodes = episodes,
            Err(e) => self.error = Some(format!("cannot read the episodes: {e}")),
        }
        // Counted again when the completeness view is next shown, not after every filing.
        self.status = None;
    }

    fn show(&mut self, ui: &mut egui::Ui, store: &mut Store, db: &Path, session: &Session) {
        self.poll(store);
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                let queued = self.queue.len();
                ui.selectable_value(&mut self.view, View::Import, PAGES_IMPORT_VIEW);
                ui.selectable_value(&mut self.view, View::Queue, PAGES_QUEUE_VIEW)
                    .on_hover_text(format!("{queued} pages wait"));
                ui.label(RichText::new(format!("({queued})")).strong());
                ui.selectable_value(&mut self.view, View::Status, PAGES_STATUS_VIEW);
            });
            ui.separator();
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(m) = &self.message {
                ui.label(m);
            }
            match self.view {
                View::Import => self.import_ui(ui, db, session),
                View::Queue => self.queue_ui(ui, store, db, session),
                View::Status => self.status_ui(ui, store),
            }
        });
    }

    fn poll(&mut self, store: &Store) {
        let Some(running) = &mut self.running else { return };
        let Some(result) = running.job.poll() else { return };
        self.running = None;
        match result.and_then(|r| r) {
            Ok(report) => {
                self.error = None;
                self.message = Some(format!(
                    "{}取り込み完了 Import finished: {}",
                    if report.cancelled { "中止 Stopped — " } else { "" },
                    report.counts.summary()
                ));
                self.last = Some(report);
            }
            Err(e) => self.error = Some(e),
        }
        self.reload(store);
    }

    fn import_ui(&mut self, ui: &mut egui::Ui, db: &Path, session: &Session) {
        ui.label("スキャナが書き出したフォルダを選んでください（PNG・JPEG・TIFF・PDF）。 Choose the folder the scanner wrote (PNG, JPEG, TIFF, PDF). Pages are filed by their barcode; the rest wait in the indexing queue. Running it again on the same folder files nothing twice.");
        ui.horizontal(|ui| {
            let label = ui.label(PAGES_FOLDER_LABEL);
            ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(420.0)).labelled_by(label.id);
            if ui.button(PAGES_CHOOSE_BUTTON).clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                self.folder = dir.display().to_string();
            }
        });
        if let Some(running) = &self.running {
            running.job.progress_bar(ui);
            let counts = running.counts.lock().map(|c| c.clone()).unwrap_or_default();
            ui.label(counts.summary());
            if ui.button(PAGES_CANCEL_BUTTON).clicked() {
                running.cancel.store(true, Ordering::Relaxed);
            }
            return;
        }
        let ready = !self.folder.trim().is_empty();
        if ui.add_enabled(ready, egui::Button::new(PAGES_IMPORT_BUTTON)).clicked() {
            self.start(ui.ctx(), db, session);
        }
        if let Some(report) = &self.last {
            ui.separator();
            ui.label(RichText::new(report.counts.summary()).strong());
            // The unreadable files stay listed here until the next import (the scanner's folder may
            // be emptied meanwhile: these are the pages to rescan).
            for problem in &report.problems {
                ui.colored_label(ui.visuals().error_fg_color, format!("読めない unreadable: {problem}"));
            }
            egui::ScrollArea::vertical().max_height(360.0).show(ui, |ui| {
                for notice in report.pages.iter().filter_map(|p| p.notice()) {
                    ui.label(notice);
                }
            });
        }
    }

    fn start(&mut self, ctx: &egui::Context, db: &Path, session: &Session) {
        self.message = None;
        self.error = None;
        let counts = Arc::new(Mutex::new(ImportCounts::default()));
        let cancel = Arc::new(AtomicBool::new(false));
        let request =
            ImportRequest { paths: vec![PathBuf::from(self.folder.trim())], forms_dir: None, workers: None };
        let (db, session, live, stop) = (db.to_path_buf(), session.clone(), counts.clone(), cancel.clone());
        let job = Job::spawn(ctx, "取り込み中 Importing", move |reporter| {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            let pages =
                PageStore::of(&store).map_err(|e| e.to_string())?.unwrap_or_else(|| PageStore::beside(&db));
            scan::import_pages(
                &mut store,
                &session,
                &pages,
                &request,
                &mut |c| {
                    if let Ok(mut shown) = live.lock() {
                        *shown = c.clone();
                    }
                    reporter.progress("files", c.files_done, c.files);
                },
                &stop,
            )
            .map_err(|e| e.to_string())
        });
        self.running = Some(Running { job, counts, cancel });
    }

    fn queue_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, db: &Path, session: &Session) {
        // While the clerk types, Ctrl+Z belongs to the text; on empty fields it undoes a filing.
        let typing = !(self.patient.is_empty() && self.form.is_empty() && self.reason.is_empty());
        if !typing && ui.input_mut(|i| i.consume_shortcut(&UNDO)) {
            self.undo_last(store, session);
        }
        let (next, previous) = ui.input_mut(|i| {
            (i.consume_key(Modifiers::NONE, Key::PageDown), i.consume_key(Modifiers::NONE, Key::PageUp))
        });
        if next {
            self.move_by(1);
        }
        if previous {
            self.move_by(-1);
        }
        ui.horizontal(|ui| {
            if ui.add_enabled(!self.undo.is_empty(), egui::Button::new(QUEUE_UNDO_BUTTON)).clicked() {
                self.undo_last(store, session);
            }
            if ui.button(QUEUE_PREVIOUS_BUTTON).clicked() {
                self.move_by(-1);
            }
            if ui.button(QUEUE_NEXT_BUTTON).clicked() {
                self.move_by(1);
            }
        });
        let Some(page) = self.queue.get(self.at).cloned() else {
            ui.label("仕分け待ちのページはありません。 No page waits for indexing.");
            return;
        };
        ui.label(format!(
            "{} / {}   page {} — {} p.{} — {}",
            self.at + 1,
            self.queue.len(),
            page.id,
            page.source_name,
            page.source_page,
            page.reason.as_deref().unwrap_or("")
        ));
        ui.columns(2, |cols| {
            self.page_image(&mut cols[0], store, db, &page);
            self.index_form(&mut cols[1], store, session, &page);
        });
    }

    fn move_by(&mut self, step: isize) {
        if self.queue.is_empty() {
            return;
        }
        let n = self.queue.len() as isize;
        self.at = ((self.at as isize + step).rem_euclid(n)) as usize;
        self.patient.clear();
        self.form.clear();
        self.reason.clear();
    }

    fn page_image(&mut self, ui: &mut egui::Ui, store: &Store, db: &Path, page: &ScannedPageRecord) {
        if self.image.as_ref().is_none_or(|(id, _)| *id != page.id) {
            // Read once per page shown (the setting says where a hub keeps its images).
            let pages = PageStore::of(store).ok().flatten().unwrap_or_else(|| PageStore::beside(db));
            match load_preview(&pages, page) {
                Ok(image) => {
                    let texture =
                        ui.ctx().load_texture(format!("page-{}", page.id), image, Default::default());
                    self.image = Some((page.id, texture));
                }
                Err(e) => {
                    self.image = None;
                    ui.colored_label(ui.visuals().error_fg_color, e);
                    return;
                }
            }
        }
        if let Some((_, texture)) = &self.image {
            egui::ScrollArea::both().id_salt("page_image").show(ui, |ui| {
                let width = ui.available_width();
                let size = texture.size_vec2();
                ui.add(egui::Image::new(texture).fit_to_exact_size(size * (width / size.x)));
            });
        }
    }

    fn index_form(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        session: &Session,
        page: &ScannedPageRecord,
    ) {
        ui.label("患者のリストバンドをスキャンするか、ページ上部のIDを入力してください。 Scan the patient's wristband or type the ID on the page; or type the page code printed under the barcode.");
        let label = ui.label(QUEUE_PATIENT_LABEL);
        let patient = ui.add(egui::TextEdit::singleline(&mut self.patient)).labelled_by(label.id);
        if self.patient.is_empty() && !ui.ctx().memory(|m| m.focused().is_some()) {
            patient.request_focus();
        }
        let label = ui.label(QUEUE_FORM_LABEL);
        let form = ui.add(egui::TextEdit::singleline(&mut self.form)).labelled_by(label.id);
        if let Some(code) = &page.form_code {
            ui.label(format!("バーコードの帳票 Form from the barcode: {code}"));
        }
        ui.label(
            self.forms
                .iter()
                .filter(|f| matches!(f.layout, crate::form::Layout::Page))
                .map(|f| format!("{} {}", f.code.as_str(), f.title))
                .collect::<Vec<_>>()
                .join("  "),
        );
        let enter = (patient.lost_focus() || form.lost_focus()) && ui.input(|i| i.key_pressed(Key::Enter));
        if ui.button(QUEUE_FILE_BUTTON).clicked() || enter {
            let input = IndexInput { patient_or_code: self.patient.clone(), form: self.form.clone() };
            match scan::index_page(store, session, &self.forms, page.id, &input) {
                Ok(filed) => {
                    self.message = Some(format!(
                        "page {} filed: {} {}",
                        filed.id,
                        filed.patient_id.as_deref().unwrap_or(""),
                        filed.form_code.as_deref().unwrap_or("")
                    ));
                    self.error = None;
                    self.undo.push(filed.id);
                    self.patient.clear();
                    self.form.clear();
                    self.reload(store);
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        }
        ui.separator();
        let label = ui.label(QUEUE_REASON_LABEL);
        ui.add(egui::TextEdit::singleline(&mut self.reason)).labelled_by(label.id);
        if ui.add_enabled(!self.reason.trim().is_empty(), egui::Button::new(QUEUE_SET_ASIDE_BUTTON)).clicked()
        {
            match scan::queue::set_aside(store, session, page.id, &self.reason) {
                Ok(_) => {
                    self.message = Some(format!("page {} set aside", page.id));
                    self.undo.push(page.id);
                    self.reason.clear();
                    self.reload(store);
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    fn undo_last(&mut self, store: &mut Store, session: &Session) {
        let Some(id) = self.undo.pop() else { return };
        // What was typed was for another page.
        self.patient.clear();
        self.form.clear();
        self.reason.clear();
        match scan::queue::requeue(store, session, id) {
            Ok(_) => {
                self.message = Some(format!("page {id} is back in the queue"));
                self.error = None;
                self.reload(store);
                self.at = self.queue.iter().position(|p| p.id == id).unwrap_or(self.at);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn status_ui(&mut self, ui: &mut egui::Ui, store: &Store) {
        ui.horizontal(|ui| {
            let before = self.episode;
            let label = ui.label(STATUS_EPISODE_LABEL);
            let shown = match self.episode {
                None => "全て All kits".to_string(),
                Some(id) => format!("#{id}"),
            };
            egui::ComboBox::from_id_salt("status_episode")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.episode, None, "全て All kits");
                    for e in &self.episodes {
                        ui.selectable_value(
                            &mut self.episode,
                            Some(e.id),
                            format!("#{} {} {}", e.id, &e.started_at[..10], e.reason),
                        );
                    }
                })
                .response
                .labelled_by(label.id);
            if before != self.episode || ui.button("更新 Refresh").clicked() {
                self.reload(store);
            }
        });
        if self.status.is_none() {
            match scan::completeness(store, None, self.episode) {
                Ok(status) => self.status = Some(status),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
        let Some(status) = &self.status else { return };
        ui.label(
            RichText::new(format!(
                "印刷 printed {}   回収 back {} (仕分け待ち・除外 {} in the queue or set aside)   不足 missing {}   仕分け待ち queued {}   重複 duplicates {}   除外 set aside {}   登録外 filed, not in registry {}",
                status.printed,
                status.returned,
                status.returned_not_filed,
                status.missing.len(),
                status.queued,
                status.duplicates,
                status.set_aside,
                status.filed_not_in_registry
            ))
            .strong(),
        );
        let fraction = if status.printed == 0 { 0.0 } else { status.returned as f32 / status.printed as f32 };
        ui.add(egui::ProgressBar::new(fraction).text(format!("{:.0}% back", fraction * 100.0)));
        ui.columns(2, |cols| {
            cols[0].label(RichText::new("病棟 Wards").strong());
            text_table(
                &mut cols[0],
                "wards",
                ["病棟 Ward", "印刷 Printed", "回収 Back", "不足 Missing"],
                status.wards.len(),
                |i| {
                    let w = &status.wards[i];
                    [w.key.clone(), w.printed.to_string(), w.returned.to_string(), w.missing.to_string()]
                },
            );
            cols[1].label(RichText::new("不足ページ Missing pages").strong());
            let headers = ["番号 Serial", "帳票 Form", "患者 Patient", "病棟 Ward"];
            text_table(&mut cols[1], "missing", headers, status.missing_pages.len(), |i| {
                let m = &status.missing_pages[i];
                [
                    m.serial.clone(),
                    m.form.clone(),
                    m.patient.clone().unwrap_or_else(|| "白紙 blank".into()),
                    m.ward.clone(),
                ]
            });
        });
    }
}

/// A table of text, four columns, `rows` rows drawn lazily (a kit may miss thousands of pages).
/// The stored page, upright and scaled for the screen.
fn load_preview(pages: &PageStore, page: &ScannedPageRecord) -> Result<egui::ColorImage, String> {
    let scaled = fit_height(&pages.upright(page).map_err(|e| e.to_string())?, PREVIEW_HEIGHT);
    let (w, h) = scaled.dimensions();
    Ok(egui::ColorImage::from_gray([w as usize, h as usize], scaled.as_raw()))
}

impl Screen for PagesScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store)
    }

    fn listing(&self) -> Option<(&'static str, usize)> {
        Some(("scanned pages screen (queue)", self.listed()))
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        self.show(ui, ctx.store, ctx.db, ctx.session);
        Vec::new()
    }

    fn is_busy(&self) -> bool {
        self.is_running()
    }
}
