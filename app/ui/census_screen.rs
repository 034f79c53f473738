//! The census: wards on the left, the ward's patients as a table, incremental search by ID,
//! kana (hiragana typed finds katakana) or kanji, and the selected patient's details.

use super::labels::{ALL_WARDS, IMPORT_MENU_BUTTON, SEARCH_LABEL};
use super::screen::{Ctx, Screen, ShellCommand};
use chrono::{Local, NaiveDate};
use egui::{Key, RichText};
use egui_extras::Column;

use super::widgets::patient_table;

use crate::census::CensusIndex;
use crate::domain::{Patient, PatientId, Permission};
use crate::store::{Store, StoreError, WardSummary};

pub struct CensusScreen {
    index: CensusIndex,
    wards: Vec<WardSummary>,
    ward: Option<String>,
    query: String,
    results: Vec<usize>,
    /// Position in `results` of the highlighted patient.
    selected: Option<usize>,
    today: NaiveDate,
    focus_search: bool,
    /// The patient whose details were shown last, and one newly shown, for the audit trail.
    shown: Option<PatientId>,
    viewed: Option<PatientId>,
    /// The census could not be read: shown instead of an empty list that would look like none.
    error: Option<String>,
}

impl CensusScreen {
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut screen = Self {
            index: CensusIndex::new(store.patients(None, false)?),
            wards: store.wards()?,
            ward: None,
            query: String::new(),
            results: Vec::new(),
            selected: None,
            today: Local::now().date_naive(),
            focus_search: true,
            shown: None,
            viewed: None,
            error: None,
        };
        screen.refresh();
        Ok(screen)
    }

    /// Reloads from the store after an import, keeping the ward and query the user had.
    pub fn reload(&mut self, store: &Store) -> Result<(), StoreError> {
        let (ward, query) = (self.ward.take(), std::mem::take(&mut self.query));
        *self = Self::load(store)?;
        self.ward = ward.filter(|w| self.wards.iter().any(|s| &s.ward == w));
        self.query = query;
        self.refresh();
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn admitted(&self) -> usize {
        self.index.len()
    }

    pub fn focus_search(&mut self) {
        self.focus_search = true;
    }

    fn refresh(&mut self) {
        self.results = self.index.search(&self.query, self.ward.as_deref());
        self.selected = if self.results.is_empty() { None } else { Some(0) };
    }

    /// The patient whose details have just been shown, once: viewing a record is audited.
    pub fn take_viewed(&mut self) -> Option<PatientId> {
        self.viewed.take()
    }

    fn selected_patient(&self) -> Option<&Patient> {
        self.selected.and_then(|s| self.results.get(s)).map(|&i| &self.index.get(i).patient)
    }

    fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::left("wards").resizable(true).default_size(170.0).show(ui, |ui| self.wards_ui(ui));
        egui::Panel::right("patient").resizable(true).default_size(250.0).show(ui, |ui| {
            match self.selected_patient() {
                Some(p) => {
                    patient_details(ui, p, self.today);
                    let id = p.id.clone();
                    if self.shown.as_ref() != Some(&id) {
                        self.shown = Some(id.clone());
                        self.viewed = Some(id);
                    }
                }
                None => {
                    ui.label("患者を選択してください\nSelect a patient.");
                }
            }
        });
        egui::CentralPanel::default().show(ui, |ui| {
            self.search_ui(ui);
            ui.separator();
            self.table_ui(ui);
        });
    }

    fn wards_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("病棟 Wards");
        let total: usize = self.wards.iter().map(|w| w.admitted).sum();
        let mut clicked = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            if ui.selectable_label(self.ward.is_none(), format!("{ALL_WARDS} ({total})")).clicked() {
                clicked = Some(None);
            }
            for w in &self.wards {
                let selected = self.ward.as_deref() == Some(w.ward.as_str());
                if ui.selectable_label(selected, format!("{} ({})", w.ward, w.admitted)).clicked() {
                    clicked = Some(Some(w.ward.clone()));
                }
            }
        });
        if let Some(ward) = clicked {
            self.ward = ward;
            self.refresh();
        }
    }

    fn search_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label(SEARCH_LABEL);
            let edit = egui::TextEdit::singleline(&mut self.query)
                .hint_text("ID / カナ / ひらがな / 氏名  (Ctrl+F)")
                .desired_width(320.0);
            let response = ui.add(edit).labelled_by(label.id);
            if self.focus_search {
                response.request_focus();
                self.focus_search = false;
            }
            if response.changed() {
                self.refresh();
            }
            // egui drops a text field's focus on Escape in the same frame, hence lost_focus.
            if response.has_focus() || response.lost_focus() {
                self.keyboard_navigation(ui);
            }
            let scope = self.ward.as_deref().unwrap_or(ALL_WARDS);
            ui.label(format!("{} / {}  ({scope})", self.results.len(), self.index.len()));
        });
    }

    /// Up and Down move the highlight while typing; Escape clears the search.
    fn keyboard_navigation(&mut self, ui: &egui::Ui) {
        let (up, down, escape) = ui.input(|i| {
            (i.key_pressed(Key::ArrowUp), i.key_pressed(Key::ArrowDown), i.key_pressed(Key::Escape))
        });
        let last = self.results.len().saturating_sub(1);
        if down {
            self.selected = Some(self.selected.map_or(0, |s| (s + 1).min(last)));
        }
        if up {
            self.selected = Some(self.selected.map_or(0, |s| s.saturating_sub(1)));
        }
        if escape && !self.query.is_empty() {
            self.query.clear();
            self.refresh();
        }
    }

    fn table_ui(&mut self, ui: &mut egui::Ui) {
        let columns = [
            Column::auto().at_least(80.0),
            Column::initial(150.0).resizable(true),
            Column::initial(120.0).resizable(true),
            Column::auto().at_least(90.0),
            Column::auto().at_least(40.0),
            Column::auto().at_least(40.0),
            Column::auto().at_least(90.0),
            Column::auto().at_least(50.0),
            Column::remainder().at_least(70.0),
        ];
        let titles = [
            "ID",
            "カナ Kana",
            "氏名 Name",
            "生年月日 DOB",
            "年齢 Age",
            "性別 Sex",
            "血液型 Blood",
            "病棟 Ward",
            "ベッド Bed",
        ];
        let cells = |pos: usize| {
            let p = &self.index.get(self.results[pos]).patient;
            vec![
                p.id.to_string(),
                p.kana.to_string(),
                p.name.to_string(),
                p.dob.iso(),
                p.dob.age_on(self.today).to_string(),
                p.sex.japanese().to_string(),
                p.blood.display(),
                p.location.ward.clone(),
                p.location.bed.clone(),
            ]
        };
        if let Some(pos) = patient_table(ui, &columns, &titles, self.results.len(), self.selected, cells) {
            self.selected = Some(pos);
        }
    }
}

fn patient_details(ui: &mut egui::Ui, p: &Patient, today: NaiveDate) {
    ui.heading(RichText::new(p.name.as_str()).size(24.0));
    ui.label(RichText::new(p.kana.as_str()).size(18.0));
    ui.add_space(8.0);
    egui::Grid::new("patient_details").num_columns(2).spacing([12.0, 6.0]).show(ui, |ui| {
        let mut row = |k: &str, v: String| {
            ui.label(k);
            ui.label(RichText::new(v).strong());
            ui.end_row();
        };
        row("ID", p.id.to_string());
        row("生年月日 DOB", format!("{} ({}歳)", p.dob.iso(), p.dob.age_on(today)));
        row("性別 Sex", p.sex.japanese().to_string());
        row("血液型 Blood", p.blood.display());
        row("病棟 Ward", p.location.ward.clone());
        row("病室 Room", p.location.room.clone());
        row("ベッド Bed", p.location.bed.clone());
        row("診療科 Dept.", p.department.clone());
    });
    ui.add_space(8.0);
    ui.label("アレルギー Allergies");
    if p.allergies.is_empty() {
        ui.label("記載なし none recorded");
    } else {
        for a in &p.allergies {
            ui.label(RichText::new(format!("！ {a}")).color(ui.visuals().warn_fg_color).strong());
        }
    }
}

impl CensusScreen {
    /// A screen that says why the census could not be read.
    fn failed(e: StoreError) -> Self {
        Self {
            index: CensusIndex::new(Vec::new()),
            wards: Vec::new(),
            ward: None,
            query: String::new(),
            results: Vec::new(),
            selected: None,
            today: Local::now().date_naive(),
            focus_search: false,
            shown: None,
            viewed: None,
            error: Some(format!("cannot read the census: {e}")),
        }
    }

    /// An empty census: what to do next.
    fn welcome(ui: &mut egui::Ui, may_import: bool) -> Vec<ShellCommand> {
        let mut out = Vec::new();
        egui::CentralPanel::default().show(ui, |ui| {
            ui.vertical_centered(|ui| {
                ui.add_space(80.0);
                ui.heading("このデータベースには患者がいません。");
                ui.label("This database has no patients yet.");
                ui.add_space(16.0);
                if may_import {
                    if ui.button(IMPORT_MENU_BUTTON).clicked() {
                        out.push(ShellCommand::OpenImport);
                    }
                } else {
                    ui.label("Ask a clerk or an administrator to import the census.");
                }
            });
        });
        out
    }
}

impl Screen for CensusScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::load(ctx.store).unwrap_or_else(Self::failed)
    }

    fn listing(&self) -> Option<(&'static str, usize)> {
        (!self.is_empty()).then(|| ("census screen", self.admitted()))
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        if let Some(e) = &self.error {
            let e = e.clone();
            egui::CentralPanel::default().show(ui, |ui| {
                ui.colored_label(ui.visuals().error_fg_color, &e);
            });
            return Vec::new();
        }
        if self.is_empty() {
            return Self::welcome(ui, ctx.session.may(Permission::ImportCensus));
        }
        self.show(ui);
        match self.take_viewed() {
            Some(id) => match ctx.store.record_view(&ctx.session.actor(), "patient", id.as_str()) {
                Ok(()) => Vec::new(),
                Err(e) => {
                    vec![ShellCommand::Error(format!("cannot record the view in the audit trail: {e}"))]
                }
            },
            None => Vec::new(),
        }
    }

    fn census_changed(&mut self, store: &Store) {
        match self.reload(store) {
            Ok(()) => self.error = None,
            Err(e) => self.error = Some(format!("cannot read the census: {e}")),
        }
    }
}
