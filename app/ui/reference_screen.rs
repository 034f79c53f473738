//! The reference viewer (参照系): anyone with an ID in the SS-MIX2 snapshot — inpatients,
//! outpatients, the discharged — found by ID, kana or kanji as it is typed, and what the snapshot
//! holds of them: demographics, allergies, problems, medications, results, diet and where they
//! have been. Read-only; every patient shown is audited.

use chrono::{Local, NaiveDate};
use egui::{Key, RichText};
use egui_extras::Column;

use super::labels::REFERENCE_SEARCH_LABEL;
use super::screen::{Ctx, Screen, ShellCommand};
use super::widgets::patient_table;
use crate::domain::snapshot::{MovementKind, SnapshotPatient};
use crate::snapshot::{ClinicalView, clinical_view};
use crate::store::{SnapshotPerson, Store};

/// Rows listed for a query: a clerk narrows a longer list by typing on.
const LIMIT: usize = 200;

/// What the details pane shows: the person and their records, read when they were highlighted.
struct Shown {
    person: SnapshotPerson,
    view: ClinicalView,
}

pub struct ReferenceScreen {
    query: String,
    results: Vec<SnapshotPatient>,
    /// More patients matched than are listed.
    more: bool,
    selected: Option<usize>,
    shown: Option<Shown>,
    /// The patient master's size, and the snapshot's age label; `None` without a snapshot.
    patients: usize,
    age: Option<String>,
    today: NaiveDate,
    results_per_test: usize,
    focus_search: bool,
    /// A search whose list is on screen and not yet in the audit trail: (query, rows).
    listed: Option<(String, usize)>,
    error: Option<String>,
}

impl ReferenceScreen {
    fn load(store: &Store) -> Self {
        let mut me = Self {
            query: String::new(),
            results: Vec::new(),
            more: false,
            selected: None,
            shown: None,
            patients: 0,
            age: None,
            today: Local::now().date_naive(),
            results_per_test: 3,
            focus_search: true,
            listed: None,
            error: None,
        };
        let read = (|| {
            me.patients = store.snapshot_patient_count()?;
            me.age = crate::snapshot::age_label(store)?;
            me.results_per_test = store.settings()?.snapshot_results_per_test as usize;
            Ok::<_, crate::store::StoreError>(())
        })();
        if let Err(e) = read {
            me.error = Some(format!("cannot read the snapshot: {e}"));
        }
        me
    }

    fn search(&mut self, store: &Store) {
        match store.search_snapshot_patients(&self.query, LIMIT) {
            Ok((found, more)) => {
                self.listed = (!found.is_empty()).then(|| (self.query.clone(), found.len()));
                self.results = found;
                self.more = more;
                self.error = None;
            }
            Err(e) => {
                self.results.clear();
                self.more = false;
                self.error = Some(format!("cannot search the snapshot: {e}"));
            }
        }
        // Nobody is shown until the person picks a row (arrow keys, Enter or a click): a
        // record opened by a half-typed name would be a view nobody chose.
        self.selected = None;
    }

    /// Reads the highlighted patient's records when the highlight moved, and audits the view.
    fn follow_selection(&mut self, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        let wanted = self.selected.and_then(|i| self.results.get(i)).map(|p| p.id.clone());
        if wanted.as_deref() == self.shown.as_ref().map(|s| s.person.patient.id.as_str()) {
            return Vec::new();
        }
        self.shown = None;
        let Some(id) = wanted else { return Vec::new() };
        let read = (|| {
            let person = ctx.store.snapshot_person(&id)?;
            let view = clinical_view(ctx.store, &id, self.today, self.results_per_test)?;
            Ok::<_, crate::store::StoreError>(person.map(|person| Shown { person, view }))
        })();
        match read {
            Ok(Some(shown)) => {
                self.shown = Some(shown);
                match ctx.store.record_view(&ctx.session.actor(), "snapshot patient", &id) {
                    Ok(()) => Vec::new(),
                    Err(e) => {
                        // Nothing is shown that the audit trail does not know of; the person
                        // picks again rather than the screen retrying every frame.
                        self.shown = None;
                        self.selected = None;
                        vec![ShellCommand::Error(format!("cannot record the view in the audit trail: {e}"))]
                    }
                }
            }
            Ok(None) => Vec::new(),
            Err(e) => vec![ShellCommand::Error(format!("cannot read patient {id} from the snapshot: {e}"))],
        }
    }

    fn search_ui(&mut self, ui: &mut egui::Ui, store: &Store) {
        ui.horizontal(|ui| {
            let label = ui.label(REFERENCE_SEARCH_LABEL);
            let edit = egui::TextEdit::singleline(&mut self.query)
                .hint_text("ID / カナ / ひらがな / 氏名")
                .desired_width(320.0);
            let response = ui.add(edit).labelled_by(label.id);
            if self.focus_search {
                response.request_focus();
                self.focus_search = false;
            }
            if response.changed() {
                self.search(store);
            }
            if response.has_focus() || response.lost_focus() {
                self.keyboard_navigation(ui, store);
            }
            let listed =
                if self.more { format!("{}+", self.results.len()) } else { self.results.len().to_string() };
            ui.label(format!("{listed} / {} 名", self.patients));
        });
    }

    /// Up and Down move the highlight while typing; Escape clears the search.
    fn keyboard_navigation(&mut self, ui: &egui::Ui, store: &Store) {
        let (up, down, escape, enter) = ui.input(|i| {
            (
                i.key_pressed(Key::ArrowUp),
                i.key_pressed(Key::ArrowDown),
                i.key_pressed(Key::Escape),
                i.key_pressed(Key::Enter),
            )
        });
        if enter && self.selected.is_none() && !self.results.is_empty() {
            self.selected = Some(0);
        }
        let last = self.results.len().saturating_sub(1);
        if down && !self.results.is_empty() {
            self.selected = Some(self.selected.map_or(0, |s| (s + 1).min(last)));
        }
        if up && !self.results.is_empty() {
            self.selected = Some(self.selected.map_or(0, |s| s.saturating_sub(1)));
        }
        if escape && !self.query.is_empty() {
            self.query.clear();
            self.search(store);
        }
    }

    fn table_ui(&mut self, ui: &mut egui::Ui) {
        let columns = [
            Column::auto().at_least(90.0),
            Column::initial(150.0).resizable(true),
            Column::initial(120.0).resizable(true),
            Column::auto().at_least(100.0),
            Column::remainder().at_least(40.0),
        ];
        let titles = ["ID", "カナ Kana", "氏名 Name", "生年月日 DOB", "性別 Sex"];
        let cells = |pos: usize| {
            let p = &self.results[pos];
            vec![
                p.id.clone(),
                p.kana.clone(),
                p.name.clone(),
                p.dob.map(|d| d.to_string()).unwrap_or_default(),
                sex(&p.sex).to_string(),
            ]
        };
        if let Some(pos) = patient_table(ui, &columns, &titles, self.results.len(), self.selected, cells) {
            self.selected = Some(pos);
        }
    }

    fn empty_ui(&self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(80.0);
            ui.heading("参照できる患者情報がありません。");
            ui.label("No snapshot yet: an administrator imports the hospital's SS-MIX2 storage");
            ui.label(RichText::new("kamikarte snapshot import ROOT").monospace());
        });
    }
}

fn sex(code: &str) -> &str {
    match code {
        "M" => "男",
        "F" => "女",
        "O" => "その他",
        _ => "不明",
    }
}

fn age_on(dob: NaiveDate, today: NaiveDate) -> u32 {
    today.years_since(dob).unwrap_or(0)
}

fn movement(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Visit => "外来受診 visit",
        MovementKind::Admit => "入院 admitted",
        MovementKind::Transfer => "転棟 transfer",
        MovementKind::Discharge => "退院 discharged",
    }
}

/// A heading of the details pane.
fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(title).strong().size(15.0));
    ui.separator();
}

fn details_ui(ui: &mut egui::Ui, shown: &Shown, today: NaiveDate) {
    let p = &shown.person.patient;
    let v = &shown.view;
    ui.heading(RichText::new(&p.name).size(24.0));
    ui.label(RichText::new(&p.kana).size(18.0));
    ui.add_space(6.0);
    egui::Grid::new("reference_patient").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
        let mut row = |k: &str, v: String| {
            ui.label(k);
            ui.label(RichText::new(v).strong());
            ui.end_row();
        };
        row("ID", p.id.clone());
        row("生年月日 DOB", p.dob.map_or("不明 unknown".into(), |d| format!("{d} ({}歳)", age_on(d, today))));
        row("性別 Sex", sex(&p.sex).to_string());
        row(
            "血液型 Blood",
            if p.blood_type.is_empty() { "不明 unknown".into() } else { p.blood_type.clone() },
        );
        let stay = match &shown.person.stay {
            Some(s) if s.admitted => format!(
                "入院中 admitted since {}: {} {} {}",
                s.since.replace('T', " "),
                s.place.ward,
                s.place.room,
                s.place.bed
            ),
            Some(s) => format!("退院 discharged ({})", s.since.replace('T', " ")),
            None => "外来 outpatient".into(),
        };
        row("状態 Status", stay);
    });

    // Allergies stand out even when there are none: "none recorded" is information too.
    section(ui, "アレルギー Allergies");
    let allergies: Vec<String> = p.allergies.iter().chain(&v.allergies).map(|a| a.describe()).collect();
    if allergies.is_empty() {
        ui.label("記載なし none recorded");
    } else {
        for a in allergies {
            ui.label(RichText::new(format!("！ {a}")).color(ui.visuals().warn_fg_color).strong());
        }
    }

    section(ui, "病名 Problems");
    if v.problems.is_empty() {
        ui.label("なし none open");
    }
    for pr in &v.problems {
        let onset = pr.onset.map(|d| format!("  (発症 {d})")).unwrap_or_default();
        ui.label(format!("{}{onset}", if pr.name.is_empty() { &pr.code } else { &pr.name }));
    }

    section(ui, "投薬 Medications running today");
    if v.medications.is_empty() {
        ui.label("なし none");
    }
    for m in &v.medications {
        let until = m.end.map(|d| format!(" 〜{d}")).unwrap_or_default();
        let kind = if m.injection { "注射" } else { "処方" };
        ui.label(format!("[{kind}] {}  {}  {}  {}{until}", m.name, m.dose, m.route, m.schedule));
    }

    section(ui, "検査結果 Recent results");
    if v.results.is_empty() {
        ui.label("なし none");
    } else {
        egui::Grid::new("reference_results").striped(true).num_columns(3).show(ui, |ui| {
            for test in &v.results {
                ui.label(&test[0].name);
                ui.label(&test[0].range);
                let values: Vec<String> = test
                    .iter()
                    .map(|r| {
                        let flag = if r.flag.is_empty() { String::new() } else { format!(" {}", r.flag) };
                        format!("{}{}{flag} ({})", r.value, r.unit, r.at.get(..10).unwrap_or(&r.at))
                    })
                    .collect();
                ui.label(values.join("  "));
                ui.end_row();
            }
        });
    }

    section(ui, "食事 Diet");
    if v.diet.is_empty() {
        ui.label("なし none");
    }
    for d in &v.diet {
        ui.label(&d.name);
    }

    section(ui, "受診・入退院 Visits and stays");
    if v.movements.is_empty() {
        ui.label("なし none");
    }
    for m in v.movements.iter().take(10) {
        let place = [m.ward.as_str(), m.room.as_str(), m.bed.as_str(), m.department.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        ui.label(format!("{}  {}  {place}", m.at.replace('T', " "), movement(m.kind)));
    }
}

impl Screen for ReferenceScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::load(ctx.store)
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        if self.patients == 0 && self.error.is_none() {
            egui::CentralPanel::default().show(ui, |ui| self.empty_ui(ui));
            return Vec::new();
        }
        let mut out = self.follow_selection(ctx);
        egui::Panel::left("reference_list").resizable(true).default_size(560.0).show(ui, |ui| {
            ui.heading("参照系 Read-only reference");
            if let Some(age) = &self.age {
                ui.label(RichText::new(age).strong());
            }
            ui.label("表示した患者は監査記録に残ります。 Each patient shown is recorded in the audit trail.");
            self.search_ui(ui, ctx.store);
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.separator();
            self.table_ui(ui);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match &self.shown {
                Some(shown) => details_ui(ui, shown, self.today),
                None => {
                    ui.label("患者を検索し、行を選んでください（↓ / Enter / クリック）\nSearch by ID, kana or name, then pick a row (Down, Enter or a click).");
                }
            });
        });
        // The list shown is a read of identifiable data too: one entry per search.
        if let Some((query, rows)) = self.listed.take()
            && let Err(e) =
                ctx.store.record_list_view(&ctx.session.actor(), &format!("reference search '{query}'"), rows)
        {
            out.push(ShellCommand::Error(format!("cannot record the view in the audit trail: {e}")));
        }
        out
    }

    fn reselected(&mut self, _ctx: &mut Ctx<'_>) {
        self.focus_search = true;
    }

    fn locked(&mut self) {
        self.shown = None;
        self.selected = None;
    }

    fn census_changed(&mut self, store: &Store) {
        let query = std::mem::take(&mut self.query);
        *self = Self::load(store);
        self.query = query;
        self.search(store);
    }
}
