//! The downtime episode (start, phase, notes, end), this database's downtime-ID blocks, and this
//! station's bundle for the hub (what a ward clerk writes to the USB stick).

use super::screen::{Ctx, Screen, ShellCommand};
use egui::RichText;

use super::labels::{
    BLOCK_ADD_BUTTON, BLOCK_FROM_LABEL, BLOCK_PREFIX_LABEL, BLOCK_STATION_LABEL, BLOCK_TO_LABEL,
    BUNDLE_ALL_LABEL, BUNDLE_EXPORT_BUTTON, BUNDLE_OUT_LABEL, EPISODE_END_BUTTON, EPISODE_NOTE_BUTTON,
    EPISODE_NOTE_LABEL, EPISODE_REASON_LABEL, EPISODE_START_BUTTON,
};
use super::widgets::labelled_text;
use crate::auth::Session;
use crate::domain::{IdBlock, Phase};
use crate::store::{BlockRecord, EpisodeNote, EpisodeRecord, Store};

#[derive(Default)]
pub struct EpisodeScreen {
    reason: String,
    note: String,
    prefix: String,
    from: String,
    to: String,
    station: String,
    bundle_out: String,
    bundle_all: bool,
    confirm_end: bool,
    episode: Option<EpisodeRecord>,
    notes: Vec<EpisodeNote>,
    blocks: Vec<BlockRecord>,
    message: Option<(bool, String)>,
}

impl EpisodeScreen {
    pub fn new(store: &Store, db: &std::path::Path) -> Self {
        let mut me = Self::default();
        let code = store.settings().map(|s| s.station_code).unwrap_or_default();
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M");
        let dir = db.parent().unwrap_or(std::path::Path::new(".")).join("kamikarte-bundles");
        me.bundle_out = dir.join(format!("{code}-{stamp}.bundle")).display().to_string();
        me.reload(store);
        me
    }

    pub fn reload(&mut self, store: &Store) {
        let loaded = store.open_episode().and_then(|e| {
            let notes = match &e {
                Some(e) => store.episode_notes(e.id)?,
                None => Vec::new(),
            };
            Ok((e, notes, store.id_blocks()?))
        });
        match loaded {
            Ok((e, notes, blocks)) => {
                self.episode = e;
                self.notes = notes;
                self.blocks = blocks;
            }
            Err(e) => self.message = Some((false, e.to_string())),
        }
    }

    /// Returns true when the episode changed (the app refreshes its banner).
    fn show(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        session: &Session,
        may_manage: bool,
        may_blocks: bool,
        may_bundle: bool,
    ) -> bool {
        let mut changed = false;
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.heading("ダウンタイム Downtime episode");
                match self.episode.clone() {
                    None => {
                        ui.label("現在ダウンタイムではありません。 No downtime episode is running.");
                        if may_manage {
                            ui.horizontal(|ui| {
                                labelled_text(ui, EPISODE_REASON_LABEL, &mut self.reason, 320.0);
                                if ui.button(EPISODE_START_BUTTON).clicked() {
                                    let r = crate::downtime::episode::start(store, session, &self.reason, Phase::PastUnknown);
                                    changed |= self.done(r.map(|_| "開始しました Episode started".to_string()));
                                    self.reason.clear();
                                }
                            });
                        }
                    }
                    Some(e) => {
                        ui.label(RichText::new(format!("第{}段階 Phase {}: {}", e.phase.number(), e.phase.number(), e.phase.describe())).size(20.0).strong());
                        ui.label(format!("開始 since {} — {} ({})", e.started_at, e.reason, e.started_by));
                        if may_manage {
                            ui.horizontal(|ui| {
                                for p in Phase::ALL {
                                    let text = format!("{} {}", p.number(), p.describe());
                                    if ui.selectable_label(e.phase == p, text).clicked() && e.phase != p {
                                        changed |= self.done(crate::downtime::episode::set_phase(store, session, p).map(|_| format!("段階 {} Phase {}", p.number(), p.number())));
                                    }
                                }
                            });
                            ui.horizontal(|ui| {
                                labelled_text(ui, EPISODE_NOTE_LABEL, &mut self.note, 420.0);
                                if ui.button(EPISODE_NOTE_BUTTON).clicked() {
                                    let r = crate::downtime::episode::add_note(store, session, &self.note);
                                    if self.done(r.map(|_| "メモを追加しました Note added".to_string())) {
                                        self.note.clear();
                                    }
                                }
                            });
                            if self.confirm_end {
                                ui.horizontal(|ui| {
                                    ui.label("本当に終了しますか？ End the episode? Everything after this belongs to no episode.");
                                    if ui.button("終了する Yes, end it").clicked() {
                                        changed |= self.done(crate::downtime::episode::end(store, session).map(|_| "終了しました Episode ended".to_string()));
                                        self.confirm_end = false;
                                    }
                                    if ui.button("やめる Cancel").clicked() {
                                        self.confirm_end = false;
                                    }
                                });
                            } else if ui.button(EPISODE_END_BUTTON).clicked() {
                                self.confirm_end = true;
                            }
                        }
                        for n in &self.notes {
                            ui.label(format!("{} {}: {}", n.at, n.by, n.text));
                        }
                    }
                }
                if let Some((good, text)) = &self.message {
                    let color = if *good { egui::Color32::from_rgb(0, 110, 0) } else { ui.visuals().error_fg_color };
                    ui.colored_label(color, text);
                }
                ui.separator();
                ui.heading("ダウンタイムID ブロック Downtime-ID blocks");
                egui::Grid::new("blocks").striped(true).num_columns(4).show(ui, |ui| {
                    for b in &self.blocks {
                        ui.label(&b.station);
                        ui.label(b.block.describe());
                        ui.label(format!("残り {} / {} left", b.remaining(), b.block.size()));
                        if b.remaining() == 0 {
                            ui.colored_label(ui.visuals().error_fg_color, "使用済み used up");
                        } else if b.running_low() {
                            ui.colored_label(ui.visuals().warn_fg_color, "▲ 残り10%未満 fewer than 10% left");
                        } else {
                            ui.label("");
                        }
                        ui.end_row();
                    }
                });
                if may_blocks {
                    ui.horizontal(|ui| {
                        labelled_text(ui, BLOCK_PREFIX_LABEL, &mut self.prefix, 60.0);
                        labelled_text(ui, BLOCK_FROM_LABEL, &mut self.from, 100.0);
                        labelled_text(ui, BLOCK_TO_LABEL, &mut self.to, 100.0);
                        labelled_text(ui, BLOCK_STATION_LABEL, &mut self.station, 60.0);
                        if ui.button(BLOCK_ADD_BUTTON).clicked() {
                            let r = self.add_block(store, session);
                            changed |= self.done(r);
                        }
                    });
                }
                if may_bundle {
                    self.bundle_section(ui, store, session);
                }
            });
        });
        if changed {
            self.reload(store);
        }
        changed
    }

    /// What this station recorded, written for the hub (`station export`).
    fn bundle_section(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session) {
        ui.separator();
        ui.heading("ハブへの記録 Station bundle for the hub");
        match crate::station::identity(store) {
            Ok(me) => {
                let code = me.station.unwrap_or_else(|| "（未設定 none）".into());
                ui.label(format!("この端末 This PC: {code} — 鍵 key {}", me.fingerprint));
            }
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.to_string());
            }
        }
        ui.label("前回からの記録（登録・印刷・スキャン・メモ・監査）を署名付きで書き出し、USBでハブへ運びます。 What this PC recorded since its last bundle, signed, for the USB stick.");
        ui.horizontal(|ui| {
            labelled_text(ui, BUNDLE_OUT_LABEL, &mut self.bundle_out, 420.0);
            if ui.button("…").clicked()
                && let Some(file) = rfd::FileDialog::new().set_file_name("station.bundle").save_file()
            {
                self.bundle_out = file.display().to_string();
            }
        });
        ui.checkbox(&mut self.bundle_all, BUNDLE_ALL_LABEL);
        if ui.button(BUNDLE_EXPORT_BUTTON).clicked() {
            let out = std::path::PathBuf::from(self.bundle_out.trim());
            let r = crate::station::export(store, session, &out, self.bundle_all)
                .map_err(|e| e.to_string())
                .map(|done| {
                    let rows: usize = done.rows.values().sum();
                    format!(
                        "書き出しました Bundle {} of station {} written to {}: {rows} rows",
                        done.seq, done.station, done.file
                    )
                });
            self.done(r);
            self.bundle_all = false;
        }
    }

    fn add_block(&mut self, store: &mut Store, session: &Session) -> Result<String, String> {
        let number = |what: &str, v: &str| {
            v.trim().parse::<u64>().map_err(|_| format!("{what} '{v}' is not a number"))
        };
        let block = IdBlock::new(&self.prefix, number("from", &self.from)?, number("to", &self.to)?)
            .map_err(|e| e.message)?;
        let station = if self.station.trim().is_empty() {
            store.settings().and_then(|s| Ok(s.station()?.to_string())).map_err(|e| e.to_string())?
        } else {
            self.station.clone()
        };
        let rec = crate::downtime::episode::add_block(store, session, &station, &block)
            .map_err(|e| e.to_string())?;
        Ok(format!("ブロック追加 Block {} added for station {}", rec.block.describe(), rec.station))
    }

    fn done<E: std::fmt::Display>(&mut self, r: Result<String, E>) -> bool {
        match r {
            Ok(m) => {
                self.message = Some((true, m));
                true
            }
            Err(e) => {
                self.message = Some((false, e.to_string()));
                false
            }
        }
    }
}

impl Screen for EpisodeScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store, ctx.db)
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        use crate::domain::Permission;
        let (manage, blocks, bundle) = (
            ctx.session.may(Permission::ManageEpisode),
            ctx.session.may(Permission::ManageBlocks),
            ctx.session.may(Permission::ExportBundle),
        );
        if self.show(ui, ctx.store, ctx.session, manage, blocks, bundle) {
            vec![ShellCommand::DowntimeChanged]
        } else {
            Vec::new()
        }
    }
}
