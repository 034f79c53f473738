//! The shell: top bar, status line, and which screen fills the middle.

use super::labels::{IMPORT_MENU_BUTTON, LOAD_DEMO_BUTTON};
use std::path::PathBuf;

use chrono::Local;
use egui::{Key, KeyboardShortcut, Modifiers, RichText};

use super::census_screen::CensusScreen;
use super::fonts;
use super::import_dialog::ImportDialog;
use super::jobs::Job;
use crate::census::demo::{self, DemoOptions};
use crate::store::{Actor, ApplyCounts, Store};

const SHORTCUT_SEARCH: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
const SHORTCUT_IMPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);

pub struct KamikarteApp {
    db_path: PathBuf,
    actor: Actor,
    store: Store,
    census: Option<CensusScreen>,
    import: ImportDialog,
    demo_job: Option<Job<Result<ApplyCounts, String>>>,
    is_demo: bool,
    fonts_installed: bool,
    title_sent: String,
    status: Option<String>,
    error: Option<String>,
}

impl KamikarteApp {
    pub fn new(store: Store, db_path: PathBuf, actor: Actor) -> Self {
        let mut app = Self {
            db_path,
            actor,
            store,
            census: None,
            import: ImportDialog::default(),
            demo_job: None,
            is_demo: false,
            fonts_installed: false,
            title_sent: String::new(),
            status: None,
            error: None,
        };
        app.reload();
        app
    }

    /// The window title: the database, and a loud mark on a demo database.
    pub fn title(&self) -> String {
        let demo = if self.is_demo { " — デモ DEMO (synthetic data)" } else { "" };
        format!("kamikarte 紙カルテ — {}{demo}", self.db_path.display())
    }

    pub fn is_busy(&self) -> bool {
        self.demo_job.is_some() || self.import.is_running()
    }

    fn reload(&mut self) {
        self.is_demo = self.store.is_demo().unwrap_or(false);
        let loaded = match &mut self.census {
            Some(screen) => screen.reload(&self.store),
            None => CensusScreen::load(&self.store).map(|s| self.census = Some(s)),
        };
        if let Err(e) = loaded {
            self.error = Some(format!("cannot read the census: {e}"));
        }
    }

    fn start_demo(&mut self, ctx: &egui::Context) {
        let db = self.db_path.clone();
        let actor = self.actor.clone();
        let options = DemoOptions {
            beds: demo::DEFAULT_BEDS,
            seed: demo::DEFAULT_SEED,
            as_of: Local::now().date_naive(),
        };
        self.error = None;
        self.demo_job = Some(Job::spawn(ctx, "デモ病院を作成中 Creating demo hospital", move |r| {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            demo::load_demo(&mut store, &actor, &options, &mut |done, total| {
                r.progress("writing", done, total)
            })
            .map_err(|e| e.to_string())
        }));
    }

    fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.demo_job
            && let Some(result) = job.poll()
        {
            self.demo_job = None;
            match result.and_then(|r| r) {
                Ok(c) => {
                    self.status = Some(format!(
                        "デモ病院を読み込みました Demo hospital loaded: {} patients",
                        c.inserted + c.updated + c.unchanged + c.readmitted
                    ));
                    self.reload();
                }
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Draws the whole app into `ui`; eframe calls it every frame, and so do the UI tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        if !self.fonts_installed {
            fonts::install(ui.ctx());
            self.fonts_installed = true;
        }
        self.poll_jobs();
        if self.import.ui(ui.ctx(), &self.db_path, &self.actor) {
            self.status = Some("患者一覧を取り込みました Census imported".into());
            self.reload();
        }
        let (search, import) =
            ui.input_mut(|i| (i.consume_shortcut(&SHORTCUT_SEARCH), i.consume_shortcut(&SHORTCUT_IMPORT)));
        if import {
            self.import.open();
        }
        if search && let Some(c) = &mut self.census {
            c.focus_search();
        }

        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        let empty = self.census.as_ref().is_none_or(CensusScreen::is_empty);
        if empty {
            egui::CentralPanel::default().show(ui, |ui| self.welcome(ui));
        } else if let Some(census) = &mut self.census {
            census.ui(ui);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("kamikarte 紙カルテ");
            if self.is_demo {
                ui.label(
                    RichText::new(" デモ DEMO ")
                        .strong()
                        .color(egui::Color32::WHITE)
                        .background_color(egui::Color32::from_rgb(200, 90, 0)),
                );
            }
            ui.separator();
            if ui.add_enabled(!self.is_busy(), egui::Button::new(IMPORT_MENU_BUTTON)).clicked() {
                self.import.open();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(RichText::new(self.db_path.display().to_string()).small().weak());
            });
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.demo_job {
                job.progress_bar(ui);
            } else if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            } else if let Some(s) = &self.status {
                ui.label(s);
            } else if let Some(c) = &self.census {
                ui.label(format!("入院患者 {} admitted", c.admitted()));
            }
        });
    }

    fn welcome(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(80.0);
            ui.heading("このデータベースには患者がいません。");
            ui.label("This database has no patients yet.");
            ui.add_space(16.0);
            if let Some(job) = &self.demo_job {
                job.progress_bar(ui);
                return;
            }
            ui.label("Try kamikarte with a synthetic hospital (865 beds, no real patients), or import your EHR's census CSV.");
            ui.add_space(8.0);
            if ui.add_enabled(!self.is_busy(), egui::Button::new(LOAD_DEMO_BUTTON)).clicked() {
                self.start_demo(ui.ctx());
            }
            if ui.add_enabled(!self.is_busy(), egui::Button::new(IMPORT_MENU_BUTTON)).clicked() {
                self.import.open();
            }
        });
    }
}

impl eframe::App for KamikarteApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let title = self.title();
        if title != self.title_sent {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title_sent = title;
        }
        self.show(ui);
    }
}
