//! Keying one paper page: the scanned page on the left, the form's fields on the right in the
//! paper's reading order. Enter moves to the next field (a code takes the best match of the
//! master's search first), every field says what it understood or what is wrong as it is typed,
//! Ctrl+Enter saves. Tick boxes read from the scan arrive ticked and marked, and the page is not
//! saved until the clerk confirms them against the paper.

use std::collections::{BTreeMap, BTreeSet};

use egui::{Key, KeyboardShortcut, Modifiers, RichText};
use serde_json::Value;

use super::labels::{ENTRY_SAVE_BUTTON, ENTRY_TICKS_CONFIRM, ENTRY_VERIFY_BUTTON};
use super::page_view::PageView;
use super::widgets::identity_block;
use crate::auth::Session;
use crate::domain::kana::search_key;
use crate::domain::paper_time::{parse_paper_date_time, show_date};
use crate::entry::derive;
use crate::entry::fields::{self, Checked, Values};
use crate::entry::keying::{self, KeyingError, MasterSet, Plan, Saved, Sheet};
use crate::entry::omr::{OmrReading, read_ticks};
use crate::form::{FieldDef, FieldType, keys};
use crate::scan::PageStore;
use crate::store::{EntryState, PatientRecord, Store};

const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Enter);
/// Suggestions shown under a code field.
const SUGGESTIONS: usize = 6;

/// What the keying screen asks of the worklist around it.
pub enum FormAction {
    None,
    /// Saved (or verified): move on to the next page.
    Done(String),
}

pub struct EntryForm {
    pub sheet: Sheet,
    plan: Plan,
    patient: Option<PatientRecord>,
    texts: BTreeMap<String, String>,
    ticks: BTreeMap<String, BTreeSet<String>>,
    omr: Option<Result<OmrReading, String>>,
    /// (field, code) the scan said were ticked.
    read_from_scan: BTreeSet<(String, String)>,
    ticks_confirmed: bool,
    page: Option<PageView>,
    focus: Option<String>,
    error: Option<String>,
    /// Field keys in reading order that take typing (Enter moves between them).
    typed: Vec<String>,
}

impl EntryForm {
    pub fn open(store: &Store, pages: &PageStore, sheet: Sheet, plan: Plan) -> Self {
        let mut problems = Vec::new();
        let patient = match crate::domain::PatientId::parse(&sheet.patient_id) {
            Ok(id) => store.patient(&id).unwrap_or_else(|e| {
                problems.push(format!("cannot read patient {}: {e}", sheet.patient_id));
                None
            }),
            Err(e) => {
                problems.push(format!("patient ID {}: {}", sheet.patient_id, e.message));
                None
            }
        };
        let mut form = Self {
            typed: sheet
                .form
                .fields
                .iter()
                .filter(|f| !matches!(f.kind, FieldType::Tick | FieldType::Ticks { .. }))
                .map(|f| f.key.clone())
                .collect(),
            patient,
            texts: BTreeMap::new(),
            ticks: BTreeMap::new(),
            omr: None,
            read_from_scan: BTreeSet::new(),
            ticks_confirmed: false,
            page: None,
            focus: None,
            error: None,
            plan,
            sheet,
        };
        form.fill(&form.plan.start_values());
        form.focus = form.typed.first().cloned();
        let page = form.sheet.scanned_page.and_then(|id| {
            store.scanned_page(id).unwrap_or_else(|e| {
                problems.push(format!("cannot read scanned page {id}: {e}"));
                None
            })
        });
        if !problems.is_empty() {
            form.error = Some(problems.join("; "));
        }
        if let Some(page) = page {
            match pages.upright(&page).map_err(|e| e.to_string()) {
                Ok(full) => {
                    let has_ticks = form.sheet.form.fields.iter().any(|f| !f.tick_boxes().is_empty());
                    // The first keying reads the tick boxes from the image. The second keying
                    // of a double entry ticks them by hand, so the comparison also checks the
                    // reading; a correction or a third look starts from what was keyed.
                    if has_ticks && matches!(form.plan, Plan::First { .. }) {
                        let reading = read_ticks(&full, &form.sheet.form).map_err(|e| e.to_string());
                        if let Ok(r) = &reading {
                            for t in r.ticks.iter().filter(|t| t.ticked) {
                                form.read_from_scan.insert((t.field.clone(), t.code.clone()));
                                form.ticks.entry(t.field.clone()).or_default().insert(t.code.clone());
                            }
                        }
                        form.omr = Some(reading);
                    }
                    form.page = Some(PageView::new(page.id, &full));
                }
                Err(e) => form.error = Some(e),
            }
        }
        form
    }

    fn fill(&mut self, values: &Values) {
        for field in &self.sheet.form.fields {
            let Some(value) = values.get(&field.key) else { continue };
            match (&field.kind, value) {
                (FieldType::Ticks { .. }, Value::Array(codes)) => {
                    self.ticks.insert(
                        field.key.clone(),
                        codes.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    );
                }
                (FieldType::Tick, Value::Bool(true)) => {
                    self.ticks.entry(field.key.clone()).or_default().insert(field.key.clone());
                }
                _ => {
                    self.texts.insert(field.key.clone(), fields::value_as_text(field, value));
                }
            }
        }
    }

    /// Every field checked as typed now.
    fn checks(&self, masters: &MasterSet) -> BTreeMap<String, Result<Option<Checked>, String>> {
        let today = keying::today();
        self.sheet
            .form
            .fields
            .iter()
            .filter(|f| self.typed.contains(&f.key))
            .map(|f| {
                let text = self.texts.get(&f.key).map(String::as_str).unwrap_or("");
                (f.key.clone(), fields::check_typed(f, text, today, masters))
            })
            .collect()
    }

    fn values(
        &self,
        checks: &BTreeMap<String, Result<Option<Checked>, String>>,
    ) -> Result<Values, Vec<String>> {
        let mut values = Values::new();
        let mut problems = Vec::new();
        for field in &self.sheet.form.fields {
            match &field.kind {
                FieldType::Ticks { options, .. } => {
                    let set = self.ticks.get(&field.key);
                    let codes: Vec<Value> = options
                        .iter()
                        .filter(|o| set.is_some_and(|s| s.contains(&o.code)))
                        .map(|o| Value::String(o.code.clone()))
                        .collect();
                    if !codes.is_empty() {
                        values.insert(field.key.clone(), Value::Array(codes));
                    }
                }
                FieldType::Tick => {
                    if self.ticks.get(&field.key).is_some_and(|s| s.contains(&field.key)) {
                        values.insert(field.key.clone(), Value::Bool(true));
                    }
                }
                _ => match checks.get(&field.key) {
                    Some(Ok(Some(c))) => {
                        values.insert(field.key.clone(), c.value.clone());
                    }
                    Some(Err(e)) => problems.push(format!("{}: {e}", field.label)),
                    _ => {}
                },
            }
        }
        if problems.is_empty() { Ok(values) } else { Err(problems) }
    }

    /// Anything the scan pre-filled, or boxes it could not locate (read as empty), must be
    /// compared with the paper before the page is saved.
    fn needs_tick_confirmation(&self) -> bool {
        !self.read_from_scan.is_empty() || matches!(&self.omr, Some(Ok(r)) if r.located < r.total)
    }

    /// The scan's reading as the audit trail keeps it.
    fn tick_reading(&self) -> Option<serde_json::Value> {
        let Some(Ok(r)) = &self.omr else { return None };
        let read: Vec<String> = self.read_from_scan.iter().map(|(f, c)| format!("{f}:{c}")).collect();
        Some(serde_json::json!({
            "read_ticked": read,
            "located": r.located,
            "total": r.total,
            "confirmed": self.ticks_confirmed,
        }))
    }

    /// The time field right after a date field, which `1105 0930` typed in the date fills.
    fn time_after(&self, field: &FieldDef) -> Option<String> {
        if !matches!(field.kind, FieldType::Date) {
            return None;
        }
        let next = self.next_after(&field.key, 0)?;
        self.sheet
            .form
            .fields
            .iter()
            .any(|f| f.key == next && matches!(f.kind, FieldType::Time))
            .then_some(next)
    }

    /// The field after `key` in reading order that takes typing.
    fn next_after(&self, key: &str, skip: usize) -> Option<String> {
        let at = self.typed.iter().position(|k| k == key)?;
        self.typed.get(at + 1 + skip).cloned()
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        store: &mut Store,
        session: &Session,
        masters: &MasterSet,
    ) -> FormAction {
        let mut action = FormAction::None;
        let save_pressed = ui.input_mut(|i| i.consume_shortcut(&SAVE));
        let checks = self.checks(masters);
        if let Some(page) = &mut self.page {
            egui::Panel::left("entry_page_panel")
                .resizable(true)
                .default_size(ui.available_width() * 0.5)
                .show(ui, |ui| {
                    page.ui(ui);
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.header(ui);
            egui::ScrollArea::vertical().id_salt("entry_fields").show(ui, |ui| {
                self.fields_ui(ui, masters, &checks);
                ui.separator();
                if self.needs_tick_confirmation() {
                    ui.checkbox(&mut self.ticks_confirmed, ENTRY_TICKS_CONFIRM);
                }
                if self.sheet.form.makes_charges() {
                    ui.label(format!("算定行 Charge lines to post: {}", self.preview_lines(masters)));
                }
                // Verifying confirms what is stored: not once anything on screen was changed.
                let unchanged = self.values(&checks).is_ok_and(
                    |v| matches!(&self.plan, Plan::Correct { current, .. } if current.values == v),
                );
                let verify = unchanged
                    && matches!(&self.plan, Plan::Correct { current, .. }
                    if current.state == EntryState::Entered && current.entered_by != session.user().as_str());
                ui.horizontal(|ui| {
                    if ui.button(ENTRY_SAVE_BUTTON).clicked() || save_pressed {
                        match self.save(store, session, &checks) {
                            Ok(saved) => action = FormAction::Done(saved.describe()),
                            Err(e) => self.error = Some(e),
                        }
                    }
                    if verify
                        && ui.button(ENTRY_VERIFY_BUTTON).clicked()
                        && let Plan::Correct { current, .. } = &self.plan
                    {
                        match keying::verify(store, session, current.id) {
                            Ok(e) => {
                                action = FormAction::Done(format!("確認 verified {}", e.item.describe()))
                            }
                            Err(e) => self.error = Some(e.to_string()),
                        }
                    }
                });
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            });
        });
        action
    }

    fn header(&self, ui: &mut egui::Ui) {
        let form = &self.sheet.form;
        ui.heading(format!("{} {} — {}", form.title, form.title_en, self.sheet.item.describe()));
        match &self.patient {
            Some(p) => identity_block(ui, &p.patient, 0.6),
            None => {
                ui.label(RichText::new(format!("ID {}", self.sheet.patient_id)).strong());
            }
        }
        ui.label(RichText::new(self.plan.describe()).strong());
        if self.page.is_none() {
            ui.label("用紙から入力 Keying from the paper in hand: the scan, when it comes, is linked by its serial.");
        }
        if let Plan::Resolve { diff, .. } = &self.plan {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(RichText::new("不一致 Where the two keyings differ — check the paper:").strong());
                for (_, label, a, b) in &diff.fields {
                    ui.label(format!("{label}: 1回目 first '{a}' / 2回目 second '{b}'"));
                }
                for l in &diff.only_first {
                    ui.label(format!("1回目だけ only in the first: {l}"));
                }
                for l in &diff.only_second {
                    ui.label(format!("2回目だけ only in the second: {l}"));
                }
            });
        }
        match &self.omr {
            Some(Ok(r)) => {
                let n = r.ticks.iter().filter(|t| t.ticked).count();
                ui.label(format!(
                    "読取 Tick boxes read from the scan: {n} ticked ({} of {} boxes located) — ● marks them; confirm against the paper",
                    r.located, r.total
                ));
            }
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("チェック欄を読めません Tick boxes not read: {e} — tick them by hand"),
                );
            }
            None => {}
        }
    }

    fn fields_ui(
        &mut self,
        ui: &mut egui::Ui,
        masters: &MasterSet,
        checks: &BTreeMap<String, Result<Option<Checked>, String>>,
    ) {
        let fields = self.sheet.form.fields.clone();
        for field in &fields {
            match &field.kind {
                FieldType::Ticks { columns, .. } => self.ticks_ui(ui, field, (*columns).max(1) as usize),
                FieldType::Tick => {
                    let set = self.ticks.entry(field.key.clone()).or_default();
                    let mut on = set.contains(&field.key);
                    let scanned = self.read_from_scan.contains(&(field.key.clone(), field.key.clone()));
                    let label = if scanned { format!("● {}", field.label) } else { field.label.clone() };
                    if ui.checkbox(&mut on, label).changed() {
                        if on {
                            set.insert(field.key.clone());
                        } else {
                            set.remove(&field.key);
                        }
                    }
                }
                _ => self.typed_ui(ui, field, masters, checks.get(&field.key)),
            }
        }
    }

    fn ticks_ui(&mut self, ui: &mut egui::Ui, field: &FieldDef, columns: usize) {
        ui.label(RichText::new(&field.label).strong());
        let boxes = field.tick_boxes();
        // As many of the paper's columns as the panel has room for.
        let columns = columns.min((ui.available_width() / 300.0).floor().max(1.0) as usize);
        let rows = boxes.len().div_ceil(columns);
        let set = self.ticks.entry(field.key.clone()).or_default();
        // Down each column, as the boxes are printed and read on paper: Tab follows that order.
        ui.horizontal_top(|ui| {
            for c in 0..columns {
                ui.vertical(|ui| {
                    for b in boxes.iter().skip(c * rows).take(rows) {
                        let mut on = set.contains(&b.code);
                        let scanned = self.read_from_scan.contains(&(field.key.clone(), b.code.clone()));
                        let label = format!("{}{} {}", if scanned { "● " } else { "" }, b.code, b.label);
                        if ui.checkbox(&mut on, label).changed() {
                            if on {
                                set.insert(b.code.clone());
                            } else {
                                set.remove(&b.code);
                            }
                        }
                    }
                });
            }
        });
    }

    fn typed_ui(
        &mut self,
        ui: &mut egui::Ui,
        field: &FieldDef,
        masters: &MasterSet,
        check: Option<&Result<Option<Checked>, String>>,
    ) {
        let id = ui.make_persistent_id(("entry_field", &field.key));
        let area = matches!(field.kind, FieldType::Area { .. });
        let label = ui
            .horizontal(|ui| {
                let label = ui.label(&field.label);
                if field.required {
                    ui.label(RichText::new("必須 required").small().weak());
                }
                label
            })
            .inner;
        let text = self.texts.entry(field.key.clone()).or_default();
        let response = if let FieldType::Area { lines } = field.kind {
            ui.add(
                egui::TextEdit::multiline(text)
                    .id(id)
                    .desired_rows((lines as usize).clamp(3, 10))
                    .desired_width(f32::INFINITY),
            )
        } else {
            let hint = if export_is_quantity(field) { "1" } else { "" };
            ui.add(egui::TextEdit::singleline(text).id(id).hint_text(hint).desired_width(260.0))
        }
        .labelled_by(label.id);
        if self.focus.as_deref() == Some(&field.key) {
            response.request_focus();
            self.focus = None;
        }
        let suggestions: Vec<(String, String)> = match &field.kind {
            FieldType::Code { master }
                if (response.has_focus() || response.lost_focus()) && !text.trim().is_empty() =>
            {
                masters
                    .get(master)
                    .map(|m| {
                        m.search(text, SUGGESTIONS)
                            .into_iter()
                            .map(|i| (i.code.clone(), i.name.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        // What was typed this frame is checked now, not on the next frame.
        let fresh;
        let check = if response.changed() {
            fresh = fields::check_typed(field, text, keying::today(), masters);
            Some(&fresh)
        } else {
            check
        };
        let enter = !area && response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let mut skip = 0;
        if enter {
            let text = self.texts.get(&field.key).cloned().unwrap_or_default();
            if let Some(next) = self.time_after(field)
                && let Some((date, time)) = fields::split_date_time(&text, keying::today())
                && self.texts.get(&next).is_none_or(|t| t.trim().is_empty())
            {
                self.texts.insert(field.key.clone(), date);
                self.texts.insert(next, time);
                skip = 1;
            }
            // Enter takes the best match only when it begins with what was typed (its code,
            // name or reading): a code that merely contains the typing is not taken unseen.
            if let FieldType::Code { master } = &field.kind
                && let Some(index) = masters.get(master)
                && index.get(&text).is_none()
                && let Some(best) = index.search(&text, 1).first()
            {
                let q = search_key(&text);
                let begins = [
                    Some(best.code.as_str()),
                    best.detail("section"),
                    Some(best.name.as_str()),
                    best.kana.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|k| search_key(k).starts_with(&q));
                if begins {
                    self.texts.insert(field.key.clone(), best.code.clone());
                }
            }
            self.focus = self.next_after(&field.key, skip);
        }
        // A date typed with its time reads as both until Enter splits them.
        let together = self
            .time_after(field)
            .is_some()
            .then(|| self.texts.get(&field.key).and_then(|t| parse_paper_date_time(t, keying::today()).ok()))
            .flatten()
            .and_then(|(date, time)| Some((date, time?)));
        match check {
            Some(Err(_)) if together.is_some() => {
                if let Some((date, time)) = together {
                    ui.label(
                        RichText::new(format!(
                            "→ {} {} (Enter: the time goes to the next field)",
                            show_date(date),
                            time.format("%H:%M")
                        ))
                        .weak(),
                    );
                }
            }
            // Free text is shown as typed already; dates, times, numbers and codes say what
            // they were understood as.
            Some(Ok(Some(c))) if !area && !matches!(field.kind, FieldType::Text { .. }) => {
                ui.label(RichText::new(format!("→ {}", c.shown)).weak());
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("▲ {e}"));
            }
            _ => {}
        }
        if !suggestions.is_empty() {
            ui.indent(("suggest", &field.key), |ui| {
                for (i, (code, name)) in suggestions.iter().enumerate() {
                    let mark = if i == 0 { "Enter ▶ " } else { "" };
                    if ui.selectable_label(i == 0, format!("{mark}{code} {name}")).clicked() {
                        self.texts.insert(field.key.clone(), code.clone());
                        self.focus = self.next_after(&field.key, 0);
                    }
                }
            });
        }
        ui.add_space(2.0);
    }

    fn save(
        &mut self,
        store: &mut Store,
        session: &Session,
        checks: &BTreeMap<String, Result<Option<Checked>, String>>,
    ) -> Result<Saved, String> {
        let values = self.values(checks).map_err(|p| format!("not saved — {}", p.join("; ")))?;
        if self.needs_tick_confirmation() && !self.ticks_confirmed {
            return Err("not saved — the tick boxes read from the scan are not confirmed: compare them with the paper, then tick the confirmation".into());
        }
        let reading = self.tick_reading();
        keying::save_with_ticks(store, session, &self.sheet, &values, &self.plan, reading).map_err(
            |e| match e {
                KeyingError::Invalid(p) => format!("not saved — {}", p.join("; ")),
                e => e.to_string(),
            },
        )
    }

    /// The lines this keying would post, for the clerk to see before saving.
    pub fn preview_lines(&self, masters: &MasterSet) -> usize {
        self.values(&self.checks(masters))
            .map(|v| derive::charge_lines(&self.sheet.form, &v).len())
            .unwrap_or(0)
    }
}

fn export_is_quantity(field: &FieldDef) -> bool {
    field.export.as_ref() == Some(&keys::CHARGE_QUANTITY)
}
