//! The desktop app: the only module that imports egui. Screens hold their own state, read through
//! the store, and hand every change to a workflow (on a background job when it takes a while).

mod app;
mod census_screen;
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
mod register_screen;
mod scan_screen;
mod volume_screen;
mod widgets;

use std::path::PathBuf;

pub use app::KamikarteApp;

use crate::store::Store;

/// Opens the main window on the database at `db`, at its login (or first-run) screen.
pub fn run(db: PathBuf) -> anyhow::Result<()> {
    let store = Store::open(&db)?;
    let app = KamikarteApp::new(store, db);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0])
            .with_title(app.title()),
        ..Default::default()
    };
    eframe::run_native("kamikarte", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
