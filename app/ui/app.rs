//! The shell: who is logged in, the top bar, the status line, and which screen fills the middle.

use std::path::PathBuf;

use chrono::Local;
use egui::RichText;

use super::command::{Tab, UiCommand};
use super::fonts;
use super::jobs::Job;
use super::labels::{LOAD_DEMO_BUTTON, LOGOUT_BUTTON};
use super::login::{ChangePasswordScreen, FirstRunScreen, LoginScreen};
use super::screen::{Ctx, ShellCommand};
use super::screens::Screens;
use crate::auth::{self, Session};
use crate::demo::{self, DemoOptions};
use crate::domain::Permission;
use crate::domain::Role;
use crate::downtime::{VolumeReport, volume_report};
use crate::store::{EpisodeRecord, IdSupply, Settings, Store};

/// What every screen shows about the downtime: the episode and its phase, days over a safe
/// limit, blocks running low. Read at start, after changes and every few seconds (another
/// station may change them).
#[derive(Default)]
struct DowntimeState {
    episode: Option<EpisodeRecord>,
    volume: Option<VolumeReport>,
    low_blocks: Vec<String>,
    /// The SS-MIX2 snapshot's age label and its age in hours, when there is one.
    snapshot: Option<(String, i64)>,
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
    /// The window listing every command and its key (F12).
    help_open: bool,
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
            help_open: false,
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
        format!("kamikarte 紙カルテ — {}{user}{demo}", crate::store::shown(&self.db_path))
    }

    pub fn is_busy(&self) -> bool {
        self.demo_job.is_some() || self.screens.is_busy()
    }

    /// The logged-in session, if the app is unlocked.
    pub fn session(&self) -> Option<&Session> {
        match &self.door {
            Door::In(s) => Some(s),
            _ => None,
        }
    }

    fn reload(&mut self) {
        match self.store.is_demo() {
            Ok(demo) => self.is_demo = demo,
            Err(e) => self.error = Some(format!("cannot read whether this is the demo: {e}")),
        }
        match self.store.settings() {
            Ok(settings) => self.settings = settings,
            Err(e) => self.error = Some(format!("cannot read the settings: {e}")),
        }
        self.screens.census_changed(&self.store);
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
            let snapshot = self.store.last_snapshot_run()?;
            Ok::<_, crate::store::StoreError>((episode, volume, low, snapshot))
        })();
        match read {
            Ok((episode, volume, low, snapshot)) => {
                self.downtime.episode = episode;
                self.downtime.volume = Some(volume);
                self.downtime.low_blocks = low;
                self.downtime.snapshot = snapshot.and_then(|run| {
                    let label = crate::domain::snapshot::age_label(&run.started_at)?;
                    let taken = chrono::DateTime::parse_from_rfc3339(&run.started_at).ok()?;
                    let hours = (chrono::Utc::now() - taken.with_timezone(&chrono::Utc)).num_hours();
                    Some((label, hours))
                });
            }
            Err(e) => self.error = Some(format!("cannot read the downtime state: {e}")),
        }
    }

    /// Logs a session in and opens the screen its role works in (the scan station for nurses).
    fn enter(&mut self, session: Session) {
        // The first run has just set the station code; another PC may have changed settings.
        self.reload();
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
            // Every record names a real user: the demo's administrator creates the accounts and
            // sets up, the demo's clerk loads the census.
            let admin = auth::demo_actor(Role::Admin);
            auth::ensure_demo_users(&mut store, &admin).map_err(|e| e.to_string())?;
            let counts =
                demo::load_demo(&mut store, &auth::demo_actor(Role::Clerk), &options, &mut |done, total| {
                    r.progress("writing", done, total)
                })
                .map_err(|e| e.to_string())?;
            crate::demo::prepare_downtime(&mut store, &admin).map_err(|e| e.to_string())?;
            crate::entry::masters::load_missing_samples(&mut store, &admin).map_err(|e| e.to_string())?;
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
        self.screens.locked();
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
        let Some(session) = self.session().cloned() else { return };
        let tab = self.screens.tab;
        if let Some(screen) = self.screens.get(tab) {
            screen.before_frame(ui.ctx());
        }
        if self.screens.import.ui(ui.ctx(), &self.db_path, Some(&session)) {
            self.status = Some("患者一覧を取り込みました Census imported".into());
            self.reload();
        }
        let pressed: Vec<UiCommand> = ui.input_mut(|i| {
            UiCommand::ALL.into_iter().filter(|c| i.consume_shortcut(&c.shortcut())).collect()
        });
        for command in pressed {
            if command.permission().is_some_and(|p| !session.may(p)) {
                continue;
            }
            if command == UiCommand::Lock {
                self.lock(session);
                return;
            }
            self.run(command, &session);
        }
        let now = ui.input(|i| i.time);
        if now - self.downtime.read_at > 10.0 {
            self.downtime.read_at = now;
            self.read_downtime();
        }
        egui::Panel::top("top_bar").show(ui, |ui| {
            self.top_bar(ui);
            self.downtime_banner(ui);
        });
        if !matches!(self.door, Door::In(_)) {
            return;
        }
        if self.help_open {
            self.help_window(ui.ctx(), &session);
        }
        let tab = self.screens.tab;
        if UiCommand::Show(tab).permission().is_some_and(|p| !session.may(p)) {
            self.screens.tab = Tab::Census;
            return;
        }
        let mut ctx =
            Ctx { store: &mut self.store, session: &session, settings: &self.settings, db: &self.db_path };
        let commands = self.screens.show(tab, ui, &mut ctx);
        for command in commands {
            match command {
                ShellCommand::DowntimeChanged => self.read_downtime(),
                ShellCommand::CensusChanged => self.reload(),
                ShellCommand::Status(s) => self.status = Some(s),
                ShellCommand::Error(e) => self.error = Some(e),
                ShellCommand::OpenImport => self.screens.import.open(),
            }
        }
    }

    /// Does what a key or a button asked (the caller checked that the person's role allows it).
    fn run(&mut self, command: UiCommand, session: &Session) {
        match command {
            UiCommand::Show(tab) => {
                if tab == self.screens.tab {
                    let mut ctx =
                        Ctx { store: &mut self.store, session, settings: &self.settings, db: &self.db_path };
                    if let Some(screen) = self.screens.get(tab) {
                        screen.reselected(&mut ctx);
                    }
                }
                self.screens.tab = tab;
            }
            UiCommand::Search => {
                self.screens.tab = Tab::Census;
                if let Some(c) = &mut self.screens.census {
                    c.focus_search();
                }
            }
            UiCommand::ImportCensus => {
                if !self.is_busy() {
                    self.screens.import.open();
                }
            }
            UiCommand::Help => self.help_open = !self.help_open,
            UiCommand::Lock => self.lock(session.clone()),
        }
    }

    /// Every command this person may use, with its key: the same table the shell runs.
    fn help_window(&mut self, ctx: &egui::Context, session: &Session) {
        let mut open = self.help_open;
        egui::Window::new(UiCommand::Help.label()).open(&mut open).collapsible(false).show(ctx, |ui| {
            egui::Grid::new("help_keys").num_columns(3).striped(true).show(ui, |ui| {
                for c in UiCommand::ALL.into_iter().filter(|c| c.permission().is_none_or(|p| session.may(p)))
                {
                    ui.strong(c.shortcut_text(ctx));
                    ui.label(c.label());
                    ui.label(c.describe());
                    ui.end_row();
                }
            });
        });
        self.help_open = open;
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        let Some(session) = self.session().cloned() else { return };
        let mut clicked = None;
        let mut log_out = false;
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
            let can_import = session.may(Permission::ImportCensus) && !self.is_busy();
            if ui.add_enabled(can_import, egui::Button::new(UiCommand::ImportCensus.label())).clicked() {
                clicked = Some(UiCommand::ImportCensus);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                log_out = ui.button(LOGOUT_BUTTON).clicked();
                if ui.button(UiCommand::Lock.label()).clicked() {
                    clicked = Some(UiCommand::Lock);
                }
                if ui.button(UiCommand::Help.label()).clicked() {
                    clicked = Some(UiCommand::Help);
                }
                ui.label(RichText::new(format!("{} ({})", session.user(), session.role().code())).strong());
            });
        });
        if log_out {
            self.log_out();
            return;
        }
        // The tabs on a row of their own: nine of them and the account do not fit one row.
        ui.horizontal(|ui| {
            for tab in UiCommand::TABS {
                let command = UiCommand::Show(tab);
                if command.permission().is_none_or(|p| session.may(p)) {
                    let response = ui
                        .selectable_label(self.screens.tab == tab, command.label())
                        .on_hover_text(command.shortcut_text(ui.ctx()));
                    if response.clicked() {
                        clicked = Some(command);
                    }
                }
            }
        });
        if let Some(command) = clicked {
            self.run(command, &session);
        }
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
        if self.settings.station_code.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "▲ 端末コード未設定 This PC has no station code: kits, registration and the scan station wait until an administrator runs `kamikarte station set CODE` or loads the hub's station snapshot",
            );
        }
        // How old the patient information is, on every screen; a warning once it is old.
        if let Some((label, hours)) = &self.downtime.snapshot {
            let limit = i64::from(self.settings.snapshot_warn_hours);
            if *hours >= limit {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("▲ {label} — {hours} 時間前の情報です Patient information is {hours} h old (limit {limit} h)"),
                );
            } else {
                ui.label(RichText::new(label).weak());
            }
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
            } else {
                ui.label(RichText::new(UiCommand::Help.label()).weak());
            }
            let station = &self.settings.station_code;
            let backup = self.last_backup_label.as_ref();
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if let Some(b) = backup {
                    ui.label(RichText::new(format!("バックアップ backup {b}")).small().weak());
                }
                if !station.is_empty() {
                    ui.label(RichText::new(format!("端末 station {station}")).small().weak());
                }
            });
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
