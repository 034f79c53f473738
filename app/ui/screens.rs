//! Everything a logged-in person sees and has half done. Logging out replaces it with
//! `Screens::default()`, so the next person starts from nothing: no dialog, patient or form of the
//! last one survives, and a screen opened later reads afresh (and audits that read).

use super::census_screen::CensusScreen;
use super::command::Tab;
use super::entry_screen::EntryScreen;
use super::episode_screen::EpisodeScreen;
use super::import_dialog::ImportDialog;
use super::kit_screen::KitScreen;
use super::pages_screen::PagesScreen;
use super::reconcile_screen::ReconcileScreen;
use super::reference_screen::ReferenceScreen;
use super::register_screen::RegisterScreen;
use super::scan_screen::ScanScreen;
use super::screen::{Ctx, Screen, ShellCommand};
use super::volume_screen::VolumeScreen;
use crate::store::Store;

#[derive(Default)]
pub struct Screens {
    pub tab: Tab,
    pub census: Option<CensusScreen>,
    kit: Option<KitScreen>,
    register: Option<RegisterScreen>,
    scan: Option<ScanScreen>,
    volume: Option<VolumeScreen>,
    episode: Option<EpisodeScreen>,
    pages: Option<PagesScreen>,
    entry: Option<EntryScreen>,
    reconcile: Option<ReconcileScreen>,
    reference: Option<ReferenceScreen>,
    pub import: ImportDialog,
}

/// Opens the screen in `slot` if it is not open yet (auditing what it lists), then draws it.
fn show<S: Screen>(slot: &mut Option<S>, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
    let mut out = Vec::new();
    let screen = match slot {
        Some(screen) => screen,
        None => {
            let screen = S::open(ctx);
            if let Some((what, rows)) = screen.listing()
                && let Err(e) = ctx.store.record_list_view(&ctx.session.actor(), what, rows)
            {
                out.push(ShellCommand::Error(format!("cannot record the view in the audit trail: {e}")));
            }
            slot.insert(screen)
        }
    };
    out.extend(screen.ui(ui, ctx));
    out
}

impl Screens {
    /// Draws the screen of `tab`, opening it first if needed.
    pub fn show(&mut self, tab: Tab, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        match tab {
            Tab::Census => show(&mut self.census, ui, ctx),
            Tab::Kit => show(&mut self.kit, ui, ctx),
            Tab::Register => show(&mut self.register, ui, ctx),
            Tab::Scan => show(&mut self.scan, ui, ctx),
            Tab::Volume => show(&mut self.volume, ui, ctx),
            Tab::Episode => show(&mut self.episode, ui, ctx),
            Tab::Pages => show(&mut self.pages, ui, ctx),
            Tab::Entry => show(&mut self.entry, ui, ctx),
            Tab::Reconcile => show(&mut self.reconcile, ui, ctx),
            Tab::Reference => show(&mut self.reference, ui, ctx),
        }
    }

    /// Every screen that is open.
    fn open_screens(&mut self) -> Vec<&mut dyn Screen> {
        let mut out: Vec<&mut dyn Screen> = Vec::new();
        macro_rules! push {
            ($($field:ident),*) => { $( if let Some(s) = &mut self.$field { out.push(s); } )* };
        }
        push!(census, kit, register, scan, volume, episode, pages, entry, reconcile, reference);
        out
    }

    fn open_screens_ref(&self) -> Vec<&dyn Screen> {
        let mut out: Vec<&dyn Screen> = Vec::new();
        macro_rules! push {
            ($($field:ident),*) => { $( if let Some(s) = &self.$field { out.push(s); } )* };
        }
        push!(census, kit, register, scan, volume, episode, pages, entry, reconcile, reference);
        out
    }

    /// The open screen of `tab`, if it is open.
    pub fn get(&mut self, tab: Tab) -> Option<&mut dyn Screen> {
        match tab {
            Tab::Census => self.census.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Kit => self.kit.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Register => self.register.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Scan => self.scan.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Volume => self.volume.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Episode => self.episode.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Pages => self.pages.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Entry => self.entry.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Reconcile => self.reconcile.as_mut().map(|s| s as &mut dyn Screen),
            Tab::Reference => self.reference.as_mut().map(|s| s as &mut dyn Screen),
        }
    }

    pub fn is_busy(&self) -> bool {
        self.import.is_running() || self.open_screens_ref().iter().any(|s| s.is_busy())
    }

    pub fn locked(&mut self) {
        for s in self.open_screens() {
            s.locked();
        }
    }

    pub fn census_changed(&mut self, store: &Store) {
        for s in self.open_screens() {
            s.census_changed(store);
        }
    }
}
