//! The desktop app: the only module that imports egui. Screens hold their own state, read through
//! the store, and hand every change to a workflow (on a background job when it takes a while).

mod app;
mod census_screen;
pub mod command;
mod entry_form;
mod entry_screen;
mod episode_screen;
mod fonts;
mod import_dialog;
mod jobs;
mod kit_screen;
pub mod labels;
mod login;
mod page_view;
mod pages_screen;
mod reconcile_screen;
mod reference_screen;
mod register_screen;
mod scan_screen;
pub mod screen;
mod screens;
mod volume_screen;
mod widgets;

use std::path::PathBuf;

pub use app::KamikarteApp;

use crate::store::{Store, StoreError};

/// Opens the main window on the database at `db`, at its login (or first-run) screen — after its
/// passphrase, when it is encrypted with one.
pub fn run(db: PathBuf) -> anyhow::Result<()> {
    let root = match Store::open(&db) {
        Ok(store) => Root::App(Box::new(KamikarteApp::new(store, db.clone()))),
        Err(StoreError::NeedsPassphrase { .. }) => Root::Unlock(login::PassphraseScreen::new(db.clone())),
        Err(e) => return Err(e.into()),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0])
            .with_title(format!("kamikarte 紙カルテ — {}", crate::store::shown(&db))),
        ..Default::default()
    };
    eframe::run_native("kamikarte", options, Box::new(|_cc| Ok(Box::new(root))))
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// The window's content: the passphrase of an encrypted database first, then the app.
enum Root {
    Unlock(login::PassphraseScreen),
    App(Box<KamikarteApp>),
}

impl eframe::App for Root {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        match self {
            Root::App(app) => eframe::App::ui(app.as_mut(), ui, frame),
            Root::Unlock(screen) => {
                if let Some((store, db)) = screen.ui(ui) {
                    *self = Root::App(Box::new(KamikarteApp::new(store, db)));
                }
            }
        }
    }
}
