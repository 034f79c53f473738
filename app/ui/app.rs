//! The shell: who is logged in, the top bar, the status line, and which screen fills the middle.

use std::path::PathBuf;

use chrono::Local;
use egui::{Key, KeyboardShortcut, Modifiers, RichText};

use super::census_screen::CensusScreen;
use super::entry_screen::EntryScreen;
use super::episode_screen::EpisodeScreen;
use super::fonts;
use super::import_dialog::ImportDialog;
use super::jobs::Job;
use super::kit_screen::KitScreen;
use super::labels::{
    CENSUS_TAB, ENTRY_TAB, EPISODE_TAB, IMPORT_MENU_BUTTON, KIT_TAB, LOAD_DEMO_BUTTON, LOCK_BUTTON,
    LOGOUT_BUTTON, PAGES_TAB, RECONCILE_TAB, REGISTER_TAB, SCAN_TAB, VOLUME_TAB,
};
use super::login::{ChangePasswordScreen, FirstRunScreen, LoginScreen};
use super::pages_screen::PagesScreen;
use super::reconcile_screen::ReconcileScreen;
use super::register_screen::{RegisterScreen, wristband_dir};
use super::scan_screen::ScanScreen;
use super::volume_screen::VolumeScreen;
use crate::auth::{self, Session};
use crate::census::demo::{self, DemoOptions};
use crate::domain::Permission;
use crate::downtime::{VolumeReport, volume_report};
use crate::store::{Actor, EpisodeRecord, IdSupply, Settings, Store};

const SHORTCUT_SEARCH: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
const SHORTCUT_IMPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
const SHORTCUT_LOCK: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::L);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tab {
    #[default]
    Census,
    Kit,
    Register,
    Scan,
    Volume,
    Episode,
    Pages,
    Entry,
    Reconcile,
}

impl Tab {
    /// Tabs in order, with their keys (F1…F9: the scan station is reachable without a mouse)
    /// and the permission each needs.
    const ALL: [(Tab, &'static str, Key, Option<Permission>); 9] = [
        (Tab::Census, CENSUS_TAB, Key::F1, None),
        (Tab::Kit, KIT_TAB, Key::F2, Some(Permission::PrintKit)),
        (Tab::Register, REGISTER_TAB, Key::F3, Some(Permission::Register)),
        (Tab::Scan, SCAN_TAB, Key::F4, Some(Permission::ScanStation)),
        (Tab::Volume, VOLUME_TAB, Key::F5, None),
        (Tab::Episode, EPISODE_TAB, Key::F6, None),
        (Tab::Pages, PAGES_TAB, Key::F7, Some(Permission::FilePages)),
        (Tab::Entry, ENTRY_TAB, Key::F8, Some(Permission::BackEntry)),
        (Tab::Reconcile, RECONCILE_TAB, Key::F9, Some(Permission::Reconcile)),
    ];
}

/// What every screen shows about the downtime: the episode and its phase, days over a safe
/// limit, blocks running low. Read at start, after changes and every few seconds (another
/// station may change them).
#[derive(Default)]
struct DowntimeState {
    episode: Option<EpisodeRecord>,
    volume: Option<VolumeReport>,
    low_blocks: Vec<String>,
    read_at: f64,
}

/// Who is at the keyboard.
enum Door {
    /// No users yet: create the first administrator (or load the demo).
    FirstRun(FirstRunScreen),
    LoggedOut(LoginScreen),
    In(Session),
    /// In, but an administrator reset the password: a new one first.
    MustChange(Session, ChangePasswordScreen),
    /// Locked after idle time or by hand; the session's screens stay as they were.
    Locked(Session, LoginScreen),
}

/// Everything a logged-in person sees and has half done: logging out replaces it with
/// `Default::default()`, so the next person starts from nothing (no dialog, patient or form of
/// the last one survives; screens made later read afresh).
#[derive(Default)]
struct Screens {
    tab: Tab,
    census: Option<CensusScreen>,
    kit: Option<KitScreen>,
    register: Option<RegisterScreen>,
    scan: Option<ScanScreen>,
    volume: Option<VolumeScreen>,
    episode: Option<EpisodeScreen>,
    pages: Option<PagesScreen>,
    entry: Option<EntryScreen>,
    reconcile: Option<ReconcileScreen>,
    import: ImportDialog,
    /// The census list was shown to this session (and its reading audited).
    census_read_logged: bool,
}

pub struct KamikarteApp {
    db_path: PathBuf,
    store: Store,
    door: Door,
    screens: Screens,
    downtime: DowntimeState,
    demo_job: Option<Job<Result<usize, String>>>,
    backup_job: Option<Job<Result<Option<PathBuf>, String>>>,
    is_demo: bool,
    /// Read at start and after each change; `timers` runs every frame and must not query.
    settings: Settings,
    fonts_installed: bool,
    title_sent: String,
    /// egui time (seconds) of the last input, for the idle lock.
    last_activity: f64,
    /// egui time of the last scheduled backup.
    last_backup: f64,
    last_backup_label: Option<String>,
    status: Option<String>,
    error: Option<String>,
}

impl KamikarteApp {
    pub fn new(store: Store, db_path: PathBuf) -> Self {
        let mut app = Self {
            db_path,
            store,
            door: Door::LoggedOut(LoginScreen::new()),
            screens: Screens::default(),
            downtime: DowntimeState::default(),
            demo_job: None,
            backup_job: None,
            is_demo: false,
            settings: Settings::default(),
            fonts_installed: false,
            title_sent: String::new(),
            last_activity: 0.0,
            last_backup: 0.0,
            last_backup_label: None,
            status: None,
            error: None,
        };
        app.door = app.front_door();
        app.reload();
        app
    }

    fn front_door(&self) -> Door {
        match self.store.user_count() {
            Ok(0) => Door::FirstRun(FirstRunScreen::default()),
            _ => Door::LoggedOut(LoginScreen::new()),
        }
    }

    /// The window title: the database, the user, and a loud mark on a demo database.
    pub fn title(&self) -> String {
        let demo = if self.is_demo { " — デモ DEMO (synthetic data)" } else { "" };
        let user = match &self.door {
            Door::In(s) => format!(" — {} ({})", s.user(), s.role().code()),
            _ => String::new(),
        };
        format!("kamikarte 紙カルテ — {}{user}{demo}", self.db_path.display())
    }

    pub fn is_busy(&self) -> bool {
        self.demo_job.is_some()
            || self.screens.import.is_running()
            || self.screens.kit.as_ref().is_some_and(KitScreen::is_running)
            || self.screens.pages.as_ref().is_some_and(PagesScreen::is_running)
    }

    /// The logged-in session, if the app is unlocked.
    pub fn session(&self) -> Option<&Session> {
        match &self.door {
            Door::In(s) => Some(s),
            _ => None,
        }
    }

    fn may(&self, permission: Permission) -> bool {
        self.session().is_some_and(|s| s.may(permission))
    }

    fn reload(&mut self) {
        self.is_demo = self.store.is_demo().unwrap_or(false);
        match self.store.settings() {
            Ok(settings) => self.settings = settings,
            Err(e) => self.error = Some(format!("cannot read the settings: {e}")),
        }
        let loaded = match &mut self.screens.census {
            Some(screen) => screen.reload(&self.store),
            None => CensusScreen::load(&self.store).map(|s| self.screens.census = Some(s)),
        };
        if let Err(e) = loaded {
            self.error = Some(format!("cannot read the census: {e}"));
        }
        if let Some(kit) = &mut self.screens.kit {
            kit.reload(&self.store);
        }
        self.read_downtime();
    }

    fn read_downtime(&mut self) {
        let today = Local::now().date_naive();
        let station = self.settings.station_code.clone();
        let read = (|| {
            let episode = self.store.open_episode()?;
            let volume = volume_report(&self.store, today, 14)?;
            let supply = IdSupply::of(&self.store.id_blocks()?, &station);
            let low = if supply.running_low() { vec![supply.describe()] } else { Vec::new() };
            Ok::<_, crate::store::StoreError>((episode, volume, low))
        })();
        match read {
            Ok((episode, volume, low)) => {
                self.downtime.episode = episode;
                self.downtime.volume = Some(volume);
                self.downtime.low_blocks = low;
            }
            Err(e) => self.error = Some(format!("cannot read the downtime state: {e}")),
        }
    }

    /// Logs a session in and opens the screen its role works in (the scan station for nurses).
    fn enter(&mut self, session: Session) {
        if session.must_change_password() {
            self.door = Door::MustChange(session, ChangePasswordScreen::default());
            return;
        }
        if session.may(Permission::ScanStation) {
            self.screens.tab = Tab::Scan;
        }
        self.door = Door::In(session);
    }

    fn start_demo(&mut self, ctx: &egui::Context) {
        let db = self.db_path.clone();
        let options = DemoOptions {
            beds: demo::DEFAULT_BEDS,
            seed: demo::DEFAULT_SEED,
            as_of: Local::now().date_naive(),
        };
        self.error = None;
        self.demo_job = Some(Job::spawn(ctx, "デモ病院を作成中 Creating demo hospital", move |r| {
            let mut store = Store::open(&db).map_err(|e| e.to_string())?;
            let actor = Actor::from_os();
            let counts = demo::load_demo(&mut store, &actor, &options, &mut |done, total| {
                r.progress("writing", done, total)
            })
            .map_err(|e| e.to_string())?;
            auth::ensure_demo_users(&mut store, &actor).map_err(|e| e.to_string())?;
            crate::downtime::prepare_demo(&mut store, &actor).map_err(|e| e.to_string())?;
            crate::entry::masters::load_missing_samples(&mut store, &actor).map_err(|e| e.to_string())?;
            Ok(counts.inserted + counts.updated + counts.unchanged + counts.readmitted)
        }));
    }

    fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.demo_job
            && let Some(result) = job.poll()
        {
            self.demo_job = None;
            match result.and_then(|r| r) {
                Ok(n) => {
                    self.status = Some(format!(
                        "デモ病院を読み込みました Demo hospital loaded: {n} patients. Log in as clerk / kamikarte-demo-clerk (or admin, nurse, billing)."
                    ));
                    self.reload();
                    if matches!(self.door, Door::FirstRun(_)) {
                        self.door = Door::LoggedOut(LoginScreen::new());
                    }
                }
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(job) = &mut self.backup_job
            && let Some(result) = job.poll()
        {
            self.backup_job = None;
            match result.and_then(|r| r) {
                Ok(Some(path)) => {
                    self.last_backup_label =
                        Some(format!("{} → {}", Local::now().format("%H:%M"), path.display()));
                }
                Ok(None) => {}
                Err(e) => self.error = Some(format!("scheduled backup failed: {e}")),
            }
        }
    }

    /// Locks after the configured idle time, and backs up on the configured schedule.
    fn timers(&mut self, ctx: &egui::Context) {
        let (now, active) = ctx.input(|i| (i.time, !i.events.is_empty() || i.pointer.is_moving()));
        if active {
            self.last_activity = now;
        }
        let (idle_minutes, backup_minutes) =
            (self.settings.idle_lock_minutes, self.settings.backup_interval_minutes);
        if let Door::In(session) = &self.door
            && now - self.last_activity > f64::from(idle_minutes) * 60.0
        {
            let session = session.clone();
            self.lock(session);
        }
        let interval = f64::from(backup_minutes) * 60.0;
        if self.backup_job.is_none() && self.session().is_some() && now - self.last_backup > interval {
            self.last_backup = now;
            let db = self.db_path.clone();
            self.backup_job = Some(Job::spawn(ctx, "バックアップ Backup", move |_| {
                let mut store = Store::open(&db).map_err(|e| e.to_string())?;
                store.automatic_backup().map_err(|e| e.to_string())
            }));
        }
        ctx.request_repaint_after(std::time::Duration::from_secs(15));
    }

    /// Locks the screen. The scan station lets go of its patient: whoever unlocks scans the
    /// wristband again.
    fn lock(&mut self, session: Session) {
        if let Some(scan) = &mut self.screens.scan {
            scan.release_patient();
        }
        let screen = LoginScreen::for_user(session.user().as_str());
        self.door = Door::Locked(session, screen);
    }

    /// Logs out: the next user starts from clean screens — no active patient, no form half
    /// filled, no patient left selected (their own look at a patient is audited afresh).
    fn log_out(&mut self) {
        self.screens = Screens::default();
        self.status = None;
        self.error = None;
        self.door = Door::LoggedOut(LoginScreen::new());
        self.reload();
    }

    /// Draws the whole app into `ui`; eframe calls it every frame, and so do the UI tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        if !self.fonts_installed {
            fonts::install(ui.ctx());
            self.fonts_installed = true;
        }
        self.poll_jobs();
        self.timers(ui.ctx());
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        match &mut self.door {
            Door::FirstRun(screen) => {
                let mut created = None;
                let mut load_demo = false;
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.vertical_centered(|ui| {
                        ui.add_space(40.0);
                        created = screen.ui(ui, &mut self.store);
                        ui.add_space(24.0);
                        ui.separator();
                        ui.label("または、合成データのデモ病院で試す / or try kamikarte with a synthetic hospital (865 beds, no real patients, demo users)");
                        if let Some(job) = &self.demo_job {
                            job.progress_bar(ui);
                        } else {
                            load_demo = ui.button(LOAD_DEMO_BUTTON).clicked();
                        }
                    });
                });
                if let Some(session) = created {
                    self.enter(session);
                } else if load_demo {
                    self.start_demo(ui.ctx());
                }
            }
            Door::LoggedOut(screen) => {
                let hint = self.is_demo.then_some(
                    "デモ: ユーザー admin / clerk / nurse / billing、パスワード kamikarte-demo-<ユーザー名>  (Demo: password kamikarte-demo-<user>; cards DEMO-CARD-<USER>, PIN 123456)",
                );
                let mut session = None;
                egui::CentralPanel::default()
                    .show(ui, |ui| session = screen.ui(ui, &mut self.store, None, hint));
                if let Some(session) = session {
                    self.enter(session);
                }
            }
            Door::Locked(locked, screen) => {
                let mut session = None;
                let mut switch = false;
                egui::CentralPanel::default().show(ui, |ui| {
                    session = screen.ui(ui, &mut self.store, Some(locked.user().as_str()), None);
                    ui.vertical_centered(|ui| switch = ui.button(LOGOUT_BUTTON).clicked());
                });
                if let Some(session) = session {
                    self.door = Door::In(session);
                } else if switch {
                    self.log_out();
                }
            }
            Door::MustChange(session, screen) => {
                let mut changed = None;
                let mut leave = false;
                egui::CentralPanel::default().show(ui, |ui| {
                    changed = screen.ui(ui, &mut self.store, session);
                    ui.vertical_centered(|ui| leave = ui.button(LOGOUT_BUTTON).clicked());
                });
                if let Some(session) = changed {
                    self.enter(session);
                } else if leave {
                    self.log_out();
                }
            }
            Door::In(_) => self.main_ui(ui),
        }
    }

    fn main_ui(&mut self, ui: &mut egui::Ui) {
        if self.screens.tab == Tab::Scan
            && let Some(scan) = &self.screens.scan
        {
            scan.guard_keyboard(ui.ctx());
        }
        let session = self.session().cloned();
        if self.screens.import.ui(ui.ctx(), &self.db_path, session.as_ref()) {
            self.status = Some("患者一覧を取り込みました Census imported".into());
            self.reload();
        }
        let (search, import, lock) = ui.input_mut(|i| {
            (
                i.consume_shortcut(&SHORTCUT_SEARCH),
                i.consume_shortcut(&SHORTCUT_IMPORT),
                i.consume_shortcut(&SHORTCUT_LOCK),
            )
        });
        if import && self.may(Permission::ImportCensus) {
            self.screens.import.open();
        }
        if search && let Some(c) = &mut self.screens.census {
            c.focus_search();
        }
        if lock && let Some(session) = self.session().cloned() {
            self.lock(session);
            return;
        }
        let now = ui.input(|i| i.time);
        if now - self.downtime.read_at > 10.0 {
            self.downtime.read_at = now;
            self.read_downtime();
        }
        let switch = ui.input_mut(|i| {
            Tab::ALL
                .iter()
                .find(|(_, _, key, _)| i.consume_key(Modifiers::NONE, *key))
                .map(|(t, _, _, need)| (*t, *need))
        });
        if let Some((tab, need)) = switch
            && need.is_none_or(|p| self.may(p))
        {
            // F8 again, from the entry screen, goes back to the worklist.
            if tab == Tab::Entry
                && self.screens.tab == Tab::Entry
                && let Some(entry) = &mut self.screens.entry
            {
                entry.show_worklist(&self.store);
            }
            self.screens.tab = tab;
        }
        egui::Panel::top("top_bar").show(ui, |ui| {
            self.top_bar(ui);
            self.downtime_banner(ui);
        });
        let Some(session) = self.session().cloned() else { return };
        match self.screens.tab {
            Tab::Register if self.may(Permission::Register) => {
                let screen = self.screens.register.get_or_insert_with(RegisterScreen::default);
                screen.ui(ui, &mut self.store, &session, &wristband_dir(&self.db_path));
                return;
            }
            Tab::Scan if self.may(Permission::ScanStation) => {
                let screen = self.screens.scan.get_or_insert_with(|| ScanScreen::new(&self.store));
                screen.ui(ui, &mut self.store, &session);
                return;
            }
            Tab::Volume => {
                let screen = self.screens.volume.get_or_insert_with(|| VolumeScreen::new(&self.store));
                screen.ui(ui, &self.store);
                return;
            }
            Tab::Pages if self.may(Permission::FilePages) => {
                if self.screens.pages.is_none() {
                    let screen = PagesScreen::new(&self.store);
                    self.log_list(&session, "scanned pages screen (queue)", screen.listed());
                    self.screens.pages = Some(screen);
                }
                let Some(screen) = self.screens.pages.as_mut() else { return };
                screen.ui(ui, &mut self.store, &self.db_path, &session);
                return;
            }
            Tab::Entry if self.may(Permission::BackEntry) => {
                let masters = self.may(Permission::ManageMasters);
                if self.screens.entry.is_none() {
                    let screen = EntryScreen::new(&self.store);
                    self.log_list(&session, "back-entry worklist screen", screen.listed());
                    self.screens.entry = Some(screen);
                }
                let Some(screen) = self.screens.entry.as_mut() else { return };
                screen.ui(ui, &mut self.store, &self.db_path, &session, masters);
                return;
            }
            Tab::Reconcile if self.may(Permission::Reconcile) => {
                if self.screens.reconcile.is_none() {
                    let screen = ReconcileScreen::new(&self.store);
                    self.log_list(&session, "reconciliation screen", screen.listed());
                    self.screens.reconcile = Some(screen);
                }
                let Some(screen) = self.screens.reconcile.as_mut() else { return };
                screen.ui(ui, &mut self.store, &session);
                return;
            }
            Tab::Episode => {
                let (manage, blocks) =
                    (self.may(Permission::ManageEpisode), self.may(Permission::ManageBlocks));
                let screen = self.screens.episode.get_or_insert_with(|| EpisodeScreen::new(&self.store));
                if screen.ui(ui, &mut self.store, &session, manage, blocks) {
                    self.read_downtime();
                }
                return;
            }
            _ => {}
        }
        if self.screens.tab == Tab::Kit && self.may(Permission::PrintKit) {
            let kit = self.screens.kit.get_or_insert_with(|| KitScreen::new(&self.store, &self.db_path));
            kit.ui(ui, &self.store, &self.db_path, &session, &self.settings.hospital_name);
            return;
        }
        let empty = self.screens.census.as_ref().is_none_or(CensusScreen::is_empty);
        if !empty && !self.screens.census_read_logged {
            self.screens.census_read_logged = true;
            let rows = self.screens.census.as_ref().map_or(0, CensusScreen::admitted);
            self.log_list(&session, "census screen", rows);
        }
        if empty {
            egui::CentralPanel::default().show(ui, |ui| self.welcome(ui));
        } else if let Some(census) = &mut self.screens.census {
            census.ui(ui);
            if let Some(id) = census.take_viewed()
                && let Err(e) = self.store.record_view(&session.actor(), "patient", id.as_str())
            {
                self.error = Some(format!("cannot record the view in the audit trail: {e}"));
            }
        }
    }

    /// Audits that this session was shown a list of identifiable data.
    fn log_list(&mut self, session: &Session, query: &str, rows: usize) {
        if let Err(e) = self.store.record_list_view(&session.actor(), query, rows) {
            self.error = Some(format!("cannot record the view in the audit trail: {e}"));
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
            let can_import = self.may(Permission::ImportCensus) && !self.is_busy();
            if ui.add_enabled(can_import, egui::Button::new(IMPORT_MENU_BUTTON)).clicked() {
                self.screens.import.open();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(LOGOUT_BUTTON).clicked() {
                    self.log_out();
                    return;
                }
                if ui.button(LOCK_BUTTON).clicked()
                    && let Some(session) = self.session().cloned()
                {
                    self.lock(session);
                    return;
                }
                if let Some(s) = self.session() {
                    ui.label(RichText::new(format!("{} ({})", s.user(), s.role().code())).strong());
                }
            });
        });
        // The tabs on a row of their own: six of them and the account do not fit one row.
        ui.horizontal(|ui| {
            for (tab, label, key, need) in Tab::ALL {
                if need.is_none_or(|p| self.may(p)) {
                    ui.selectable_value(&mut self.screens.tab, tab, label).on_hover_text(key.name());
                }
            }
        });
    }

    /// The downtime state, on every screen: the episode and its phase, days over a safe limit,
    /// blocks running low.
    fn downtime_banner(&self, ui: &mut egui::Ui) {
        let white = egui::Color32::WHITE;
        match &self.downtime.episode {
            Some(e) => {
                let since = chrono::DateTime::parse_from_rfc3339(&e.started_at)
                    .map(|t| t.with_timezone(&Local).format("%m-%d %H:%M").to_string())
                    .unwrap_or_else(|_| e.started_at.clone());
                egui::Frame::new().fill(egui::Color32::from_rgb(190, 60, 0)).inner_margin(4.0).show(
                    ui,
                    |ui| {
                        ui.set_width(ui.available_width());
                        ui.label(
                            RichText::new(format!(
                                "ダウンタイム中 DOWNTIME — 第{}段階 Phase {}: {} — since {since} ({})",
                                e.phase.number(),
                                e.phase.number(),
                                e.phase.describe(),
                                e.reason
                            ))
                            .strong()
                            .color(white),
                        );
                    },
                );
            }
            None => {
                ui.label(RichText::new("平常運用 No downtime episode running").weak());
            }
        }
        // The newest day at or over a limit, and how many more (the volume tab lists them all).
        if let Some(v) = &self.downtime.volume
            && let Some(o) = v.over.iter().max_by(|a, b| a.day.cmp(&b.day))
        {
            let more = v.over.len() - 1;
            let more = if more > 0 { format!(" (+{more} more, F5)") } else { String::new() };
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "▲ 上限到達 At or over the safe limit: {} {} — {} (limit {} a day){more}",
                    o.day, o.label, o.count, o.limit
                ),
            );
        }
        for b in &self.downtime.low_blocks {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("▲ ダウンタイムIDの残りわずか Downtime IDs running low: {b}"),
            );
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.demo_job {
                job.progress_bar(ui);
            } else if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            } else if let Some(s) = &self.status {
                ui.label(s);
            } else if let Some(c) = &self.screens.census {
                ui.label(format!("入院患者 {} admitted", c.admitted()));
            }
            if let Some(b) = &self.last_backup_label {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(RichText::new(format!("バックアップ backup {b}")).small().weak());
                });
            }
        });
    }

    fn welcome(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(80.0);
            ui.heading("このデータベースには患者がいません。");
            ui.label("This database has no patients yet.");
            ui.add_space(16.0);
            if self.may(Permission::ImportCensus) {
                if ui.add_enabled(!self.is_busy(), egui::Button::new(IMPORT_MENU_BUTTON)).clicked() {
                    self.screens.import.open();
                }
            } else {
                ui.label("Ask a clerk or an administrator to import the census.");
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
