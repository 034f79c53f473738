//! One shape for every screen (egui_demo_lib's `View` is the model): a screen is a plain state
//! struct, opened for a session, drawn with one context, and answering with what the shell must
//! do. To add a screen, copy `volume_screen.rs` (the smallest), add a `Tab` and its `UiCommand`,
//! and a field in `Screens`.

use std::path::Path;

use crate::auth::Session;
use crate::store::{Settings, Store};

/// What every screen gets each frame.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub session: &'a Session,
    pub settings: &'a Settings,
    /// The database file: page images, kits and wristbands are kept beside it.
    pub db: &'a Path,
}

/// What a screen asks of the shell after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellCommand {
    /// The episode, its phase or the ID blocks changed: re-read the banner every screen shows.
    DowntimeChanged,
    /// The census changed (an import): reload every screen that shows it.
    CensusChanged,
    /// A message for the status line.
    Status(String),
    /// Something failed that the person must see (the status line shows it in red).
    Error(String),
    /// Open the census import dialog.
    OpenImport,
}

pub trait Screen {
    /// Opens the screen for the logged-in person: reads what it shows.
    fn open(ctx: &mut Ctx<'_>) -> Self
    where
        Self: Sized;

    /// What the screen lists of identifiable data when it opens, for the audit of reads: what it
    /// is and how many rows. `None` when it shows nothing identifiable.
    fn listing(&self) -> Option<(&'static str, usize)> {
        None
    }

    /// Draws one frame into `ui`.
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand>;

    /// Background work is running (the shell keeps drawing, and a log-out waits for nothing).
    fn is_busy(&self) -> bool {
        false
    }

    /// The screen's own key was pressed while it is shown (F8 on the entry form: back to the
    /// worklist).
    fn reselected(&mut self, _ctx: &mut Ctx<'_>) {}

    /// The app locked itself: let go of anything tied to the person at the keyboard.
    fn locked(&mut self) {}

    /// The census changed under the screen (an import).
    fn census_changed(&mut self, _store: &Store) {}

    /// Called before anything else is drawn, every frame the screen is shown.
    fn before_frame(&self, _ctx: &egui::Context) {}
}
