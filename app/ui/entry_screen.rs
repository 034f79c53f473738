//! The back-entry workbench (F8): the worklist of every paper page with its stage, the keying
//! screen beside the page image, and the code masters.

use super::screen::{Ctx, Screen, ShellCommand};
use std::path::Path;

use egui::{Key, RichText};

use super::entry_form::{EntryForm, FormAction};
use super::labels::{
    ENTRY_BLANK_PATIENT_LABEL, ENTRY_CODE_LABEL, ENTRY_FORM_VIEW, ENTRY_MASTERS_VIEW, ENTRY_OPEN_BUTTON,
    ENTRY_REOPEN_BUTTON, ENTRY_WORKLIST_VIEW, MASTER_FILE_LABEL, MASTER_IMPORT_BUTTON, MASTER_KIND_LABEL,
    MASTER_SEARCH_LABEL, STATUS_EPISODE_LABEL, WL_FORM_LABEL, WL_PATIENT_LABEL, WL_STAGE_LABEL,
    WL_USER_LABEL, WL_WARD_LABEL,
};
use super::widgets::{labelled_text, text_table};
use crate::auth::Session;
use crate::domain::MasterKind;
use crate::entry::form_codes;
use crate::entry::keying::{self, MasterSet, Sheet};
use crate::entry::masters::import_master_file;
use crate::entry::worklist::{self, DayTally, Stage, WorkItem, WorklistFilter};
use crate::form::{self, FormDefinition};
use crate::scan::PageStore;
use crate::store::{EpisodeRecord, ItemKey, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Worklist,
    Entry,
    Masters,
}

pub struct EntryScreen {
    view: View,
    forms: Vec<FormDefinition>,
    masters: MasterSet,
    code: String,
    blank_patient: String,
    form: Option<EntryForm>,
    items: Vec<WorkItem>,
    days: Vec<DayTally>,
    filter: WorklistFilter,
    episodes: Vec<EpisodeRecord>,
    episode: Option<i64>,
    last_saved: Option<ItemKey>,
    master_kind: MasterKind,
    master_file: String,
    master_query: String,
    focus_code: bool,
    message: Option<String>,
    error: Option<String>,
}

impl EntryScreen {
    /// How many pages the worklist shows (for the audit entry of opening it).
    pub fn listed(&self) -> usize {
        self.items.len()
    }

    pub fn new(store: &Store) -> Self {
        let mut screen = Self {
            view: View::Worklist,
            forms: Vec::new(),
            masters: MasterSet::default(),
            code: String::new(),
            blank_patient: String::new(),
            form: None,
            items: Vec::new(),
            days: Vec::new(),
            filter: WorklistFilter::default(),
            episodes: Vec::new(),
            episode: None,
            last_saved: None,
            master_kind: MasterKind::Charges,
            master_file: String::new(),
            master_query: String::new(),
            focus_code: true,
            message: None,
            error: None,
        };
        match form::load(None) {
            Ok(forms) => screen.forms = forms,
            Err(e) => screen.error = Some(format!("cannot load the forms: {e}")),
        }
        screen.reload(store);
        screen
    }

    fn reload(&mut self, store: &Store) {
        match store.episodes() {
            Ok(episodes) => self.episodes = episodes,
            Err(e) => self.error = Some(format!("cannot read the episodes: {e}")),
        }
        match MasterSet::load(store) {
            Ok(m) => self.masters = m,
            Err(e) => self.error = Some(format!("cannot read the code masters: {e}")),
        }
        let episode = self.episode.and_then(|id| self.episodes.iter().find(|e| e.id == id));
        match worklist::worklist(store, &self.forms, episode) {
            Ok(items) => {
                self.days = worklist::per_day(&items);
                self.items = items;
            }
            Err(e) => self.error = Some(format!("cannot read the worklist: {e}")),
        }
    }

    fn show(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        db: &Path,
        session: &Session,
        may_import_masters: bool,
    ) {
        egui::Panel::top("entry_top").show(ui, |ui| {
            ui.horizontal(|ui| {
                for (view, label) in [
                    (View::Worklist, ENTRY_WORKLIST_VIEW),
                    (View::Entry, ENTRY_FORM_VIEW),
                    (View::Masters, ENTRY_MASTERS_VIEW),
                ] {
                    if ui.selectable_value(&mut self.view, view, label).clicked() && view == View::Worklist {
                        self.reload(store);
                    }
                }
                ui.separator();
                let code = labelled_text(ui, ENTRY_CODE_LABEL, &mut self.code, 220.0);
                if std::mem::take(&mut self.focus_code) && self.form.is_none() {
                    code.request_focus();
                }
                let enter = code.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                labelled_text(ui, ENTRY_BLANK_PATIENT_LABEL, &mut self.blank_patient, 110.0);
                if ui.button(ENTRY_OPEN_BUTTON).clicked() || enter {
                    self.open_code(store, db, session);
                }
                if let Some(last) = self.last_saved.clone()
                    && ui.button(ENTRY_REOPEN_BUTTON).clicked()
                {
                    self.open_key(store, db, session, &last);
                }
            });
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            } else if let Some(m) = &self.message {
                ui.label(RichText::new(m).strong());
            }
        });
        match self.view {
            View::Worklist => {
                egui::Panel::right("wl_days")
                    .resizable(true)
                    .default_size(320.0)
                    .show(ui, |ui| self.days_ui(ui));
                egui::CentralPanel::default().show(ui, |ui| self.worklist_ui(ui, store, db, session));
            }
            View::Masters => {
                egui::CentralPanel::default()
                    .show(ui, |ui| self.masters_ui(ui, store, session, may_import_masters));
            }
            View::Entry => {
                let Some(form) = &mut self.form else {
                    egui::CentralPanel::default().show(ui, |ui| {
                        ui.label("ページコードを入力するか、作業一覧から選んでください。 Type or scan a page code above, or pick a page in the worklist.");
                    });
                    return;
                };
                if let FormAction::Done(message) = form.ui(ui, store, session, &self.masters) {
                    let done = form.sheet.item.clone();
                    self.last_saved = Some(done.clone());
                    self.message = Some(message);
                    self.error = None;
                    self.form = None;
                    self.reload(store);
                    self.open_next(store, db, session, &done);
                }
            }
        }
    }

    /// Back to the worklist, read afresh (F8 on this tab).
    pub fn show_worklist(&mut self, store: &Store) {
        self.view = View::Worklist;
        self.reload(store);
    }

    fn open_code(&mut self, store: &mut Store, db: &Path, session: &Session) {
        let patient = Some(self.blank_patient.as_str());
        match keying::sheet_from_code(store, &self.forms, &self.code, patient) {
            Ok(sheet) => {
                self.code.clear();
                self.blank_patient.clear();
                self.open_sheet(store, db, session, sheet);
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn open_sheet(&mut self, store: &mut Store, db: &Path, session: &Session, sheet: Sheet) {
        match keying::plan(store, &sheet, session) {
            Ok(plan) => self.show_sheet(store, db, session, sheet, plan),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Shows a page to key, once its patient's opening is in the audit trail (never without).
    fn show_sheet(
        &mut self,
        store: &mut Store,
        db: &Path,
        session: &Session,
        sheet: Sheet,
        plan: keying::Plan,
    ) {
        if let Err(e) = store.record_view(&session.actor(), "patient", &sheet.patient_id) {
            self.error = Some(format!("cannot record the view in the audit trail: {e}"));
            return;
        }
        let pages = PageStore::of(store).ok().flatten().unwrap_or_else(|| PageStore::beside(db));
        self.form = Some(EntryForm::open(store, &pages, sheet, plan));
        self.view = View::Entry;
        self.error = None;
    }

    fn sheet_of(&self, store: &Store, item: &WorkItem) -> Result<Sheet, String> {
        if let Some(page) = item.scanned_page {
            return keying::sheet_from_page(store, &self.forms, page).map_err(|e| e.to_string());
        }
        let form = self
            .forms
            .iter()
            .find(|f| f.id == item.form_id)
            .ok_or_else(|| format!("the form {} is not loaded", item.form_id))?;
        let patient = item.patient.clone().ok_or_else(|| {
            format!(
                "{} is a blank form: type its page code and the patient it was used for",
                item.item.describe()
            )
        })?;
        Ok(Sheet { form: form.clone(), patient_id: patient, item: item.item.clone(), scanned_page: None })
    }

    fn open_key(&mut self, store: &mut Store, db: &Path, session: &Session, key: &ItemKey) {
        let Some(item) = self.items.iter().find(|i| i.item == *key).cloned() else {
            self.error = Some(format!("{} is not in the worklist", key.describe()));
            return;
        };
        match self.sheet_of(store, &item) {
            Ok(sheet) => self.open_sheet(store, db, session, sheet),
            Err(e) => self.error = Some(e),
        }
    }

    /// After a save: the next page in the worklist that waits for this clerk.
    fn open_next(&mut self, store: &mut Store, db: &Path, session: &Session, after: &ItemKey) {
        let waits = |i: &WorkItem| {
            self.filter.keeps(i)
                && (i.stage == Stage::Scanned
                    || (i.stage == Stage::Entered
                        && i.entered_by.as_deref() != Some(session.user().as_str())))
        };
        let start = self.items.iter().position(|i| i.item == *after).map_or(0, |p| p + 1);
        let candidates: Vec<WorkItem> = self.items[start..]
            .iter()
            .chain(&self.items[..start])
            .filter(|i| waits(i) && i.item != *after)
            .cloned()
            .collect();
        // The first page this clerk may key now (a mismatch they keyed once is someone else's).
        for item in candidates {
            let Ok(sheet) = self.sheet_of(store, &item) else { continue };
            if let Ok(plan) = keying::plan(store, &sheet, session) {
                self.show_sheet(store, db, session, sheet, plan);
                return;
            }
        }
        self.view = View::Entry;
        self.focus_code = true;
        self.message = Some(format!(
            "{} — 待ちのページはありません no more pages waiting for you in the worklist",
            self.message.clone().unwrap_or_default()
        ));
    }

    fn worklist_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, db: &Path, session: &Session) {
        let mut changed = false;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(STATUS_EPISODE_LABEL);
            let shown = match self.episode.and_then(|id| self.episodes.iter().find(|e| e.id == id)) {
                Some(e) => format!("#{} {}", e.id, e.reason),
                None => "すべて All".to_string(),
            };
            egui::ComboBox::from_id_salt("wl_episode")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    changed |= ui.selectable_value(&mut self.episode, None, "すべて All").changed();
                    for e in &self.episodes {
                        changed |= ui
                            .selectable_value(
                                &mut self.episode,
                                Some(e.id),
                                format!("#{} {}", e.id, e.reason),
                            )
                            .changed();
                    }
                })
                .response
                .labelled_by(label.id);
            let mut ward = self.filter.ward.clone().unwrap_or_default();
            labelled_text(ui, WL_WARD_LABEL, &mut ward, 60.0);
            let mut patient = self.filter.patient.clone().unwrap_or_default();
            labelled_text(ui, WL_PATIENT_LABEL, &mut patient, 90.0);
            let label = ui.label(WL_FORM_LABEL);
            let mut form = self.filter.form.clone().unwrap_or_default();
            egui::ComboBox::from_id_salt("wl_form")
                .selected_text(if form.is_empty() { "すべて All".to_string() } else { form.clone() })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form, String::new(), "すべて All");
                    for f in self.forms.iter().filter(|f| f.is_returnable()) {
                        ui.selectable_value(&mut form, f.id.clone(), format!("{} {}", f.title, f.title_en));
                    }
                })
                .response
                .labelled_by(label.id);
            let label = ui.label(WL_STAGE_LABEL);
            egui::ComboBox::from_id_salt("wl_stage")
                .selected_text(self.filter.stage.map_or("すべて All", Stage::label))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.filter.stage, None, "すべて All");
                    for s in Stage::ALL {
                        ui.selectable_value(&mut self.filter.stage, Some(s), s.label());
                    }
                })
                .response
                .labelled_by(label.id);
            let mut user = self.filter.user.clone().unwrap_or_default();
            labelled_text(ui, WL_USER_LABEL, &mut user, 80.0);
            self.filter.ward = Some(ward).filter(|s| !s.is_empty());
            self.filter.patient = Some(patient).filter(|s| !s.is_empty());
            self.filter.form = Some(form).filter(|s| !s.is_empty());
            self.filter.user = Some(user).filter(|s| !s.is_empty());
        });
        if changed {
            self.reload(store);
        }
        let shown: Vec<&WorkItem> = self.items.iter().filter(|i| self.filter.keeps(i)).collect();
        let mut at = [0usize; 6];
        for i in &shown {
            at[Stage::ALL.iter().position(|s| *s == i.stage).unwrap_or(0)] += 1;
        }
        ui.label(
            RichText::new(format!(
                "{} pages — 未スキャン not scanned {} · 未入力 not keyed {} · 未確認 not verified {} · 確認済 verified {} · 送信済 exported {} · 受領 acknowledged {}",
                shown.len(),
                at[0],
                at[1],
                at[2],
                at[3],
                at[4],
                at[5]
            ))
            .strong(),
        );
        let mut open = None;
        egui_extras::TableBuilder::new(ui)
            .id_salt("worklist")
            .striped(true)
            .columns(egui_extras::Column::auto().at_least(60.0), 7)
            .header(20.0, |mut h| {
                for t in [
                    "用紙 Page",
                    "病棟 Ward",
                    "患者 Patient",
                    "帳票 Form",
                    "段階 Stage",
                    "入力者 By",
                    "日 Day",
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, shown.len(), |mut row| {
                    let item = shown[row.index()];
                    row.col(|ui| {
                        if ui.link(item.item.describe()).on_hover_text("開く Open").clicked() {
                            open = Some(item.item.clone());
                        }
                    });
                    let stage = match &item.note {
                        Some(n) => format!("{} — {n}", item.stage.label()),
                        None => item.stage.label().to_string(),
                    };
                    for text in [
                        item.ward.clone(),
                        item.patient.clone().unwrap_or_else(|| "白紙 blank".into()),
                        item.form_code.clone(),
                        stage,
                        item.entered_by.clone().unwrap_or_default(),
                        item.day.clone(),
                    ] {
                        row.col(|ui| {
                            ui.add(egui::Label::new(text).wrap_mode(egui::TextWrapMode::Extend));
                        });
                    }
                });
            });
        if let Some(key) = open {
            self.open_key(store, db, session, &key);
        }
    }

    fn days_ui(&self, ui: &mut egui::Ui) {
        ui.strong("日ごとの進み具合 Completeness per day");
        let days = &self.days;
        text_table(
            ui,
            "wl_days",
            ["日 Day", "用紙 Pages", "スキャン", "入力", "確認", "送信"],
            days.len(),
            |i| {
                let d = &days[i];
                [
                    d.day.clone(),
                    d.items.to_string(),
                    d.reached[1].to_string(),
                    d.reached[2].to_string(),
                    d.reached[3].to_string(),
                    d.reached[4].to_string(),
                ]
            },
        );
    }

    fn masters_ui(&mut self, ui: &mut egui::Ui, store: &mut Store, session: &Session, may_import: bool) {
        ui.horizontal(|ui| {
            let label = ui.label(MASTER_KIND_LABEL);
            egui::ComboBox::from_id_salt("master_kind")
                .selected_text(self.master_kind.label())
                .show_ui(ui, |ui| {
                    for k in MasterKind::ALL {
                        ui.selectable_value(&mut self.master_kind, k, k.label());
                    }
                })
                .response
                .labelled_by(label.id);
            for k in MasterKind::ALL {
                let n = self.masters.get(k.code()).map_or(0, |m| m.len());
                ui.label(format!("{}: {n}", k.label()));
            }
        });
        if may_import {
            ui.horizontal(|ui| {
                labelled_text(ui, MASTER_FILE_LABEL, &mut self.master_file, 320.0);
                if ui.button("参照… Browse…").clicked()
                    && let Some(p) = rfd::FileDialog::new().add_filter("CSV", &["csv", "txt"]).pick_file()
                {
                    self.master_file = p.display().to_string();
                }
                if ui.button(MASTER_IMPORT_BUTTON).clicked() {
                    match import_master_file(
                        store,
                        session,
                        self.master_kind,
                        Path::new(self.master_file.trim()),
                    ) {
                        Ok(s) => {
                            self.message = Some(format!(
                                "{}: {} items ({} added, {} changed, {} removed)",
                                s.file, s.items, s.counts.added, s.counts.changed, s.counts.removed
                            ));
                            // The forms' tick boxes this master no longer covers, named now.
                            self.error = match form_codes::check(store, &self.forms, Some(s.master)) {
                                Ok(check) if check.missing.is_empty() => None,
                                Ok(check) => Some(format!(
                                    "用紙のコードがマスタにありません Form codes missing from the master:\n{}",
                                    check.missing.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("\n")
                                )),
                                Err(e) => Some(e.to_string()),
                            };
                            self.reload(store);
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
            });
        }
        labelled_text(ui, MASTER_SEARCH_LABEL, &mut self.master_query, 260.0);
        let found: Vec<[String; 4]> = self
            .masters
            .get(self.master_kind.code())
            .map(|m| {
                m.search(&self.master_query, 200)
                    .into_iter()
                    .map(|i| {
                        [
                            i.code.clone(),
                            i.name.clone(),
                            i.kana.clone().unwrap_or_default(),
                            i.uses.to_string(),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        text_table(
            ui,
            "master_found",
            ["コード Code", "名称 Name", "カナ Kana", "使用回数 Uses"],
            found.len(),
            |i| found[i].clone(),
        );
    }
}

impl Screen for EntryScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store)
    }

    fn listing(&self) -> Option<(&'static str, usize)> {
        Some(("back-entry worklist screen", self.listed()))
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        let masters = ctx.session.may(crate::domain::Permission::ManageMasters);
        self.show(ui, ctx.store, ctx.db, ctx.session, masters);
        Vec::new()
    }

    /// F8 again, from the entry form, goes back to the worklist.
    fn reselected(&mut self, ctx: &mut Ctx<'_>) {
        self.show_worklist(ctx.store);
    }
}
