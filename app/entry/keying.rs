//! Saving what a clerk keyed from one page: which keying this is (first, second of a double
//! entry, the third look at a mismatch, a correction), the checks across fields, and the charge
//! lines and records it makes — then one store transaction.

use chrono::NaiveDate;

use super::derive::{self, KeyingDiff};
use super::fields::{self, Values};
use crate::auth::Session;
use crate::domain::Permission;
use crate::domain::{FormCode, PageCode, PatientId, Serial};
use crate::form::{FieldType, FormDefinition, Layout};
use crate::store::{EntryRecord, EntryState, ItemKey, Keying, NewEntry, Store, StoreError};

/// The page being keyed: its form, patient and identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub form: FormDefinition,
    pub patient_id: String,
    pub item: ItemKey,
    /// The scanned page's image, when it is back.
    pub scanned_page: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyingError {
    #[error("{0}")]
    Refused(String),
    #[error("not saved — {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What saving this page now will be, from the keyings it already has.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    First {
        double: bool,
    },
    Second {
        first: Box<EntryRecord>,
    },
    /// A third look: the two keyings and how they differ.
    Resolve {
        first: Box<EntryRecord>,
        second: Box<EntryRecord>,
        diff: KeyingDiff,
    },
    /// A correction of an accepted keying; on a double-entry form it waits for a second keying
    /// again, so a correction cannot slip past the comparison.
    Correct {
        current: Box<EntryRecord>,
        double: bool,
    },
}

impl Plan {
    pub fn describe(&self) -> String {
        match self {
            Plan::First { double: false } => "入力 first keying".into(),
            Plan::First { double: true } => "1回目 first keying of two (double entry)".into(),
            Plan::Second { first } => {
                format!(
                    "2回目 second keying — key it from the paper without looking at {}'s",
                    first.entered_by
                )
            }
            Plan::Resolve { first, second, .. } => {
                format!(
                    "不一致の確認 third look: {} and {} keyed it differently",
                    first.entered_by, second.entered_by
                )
            }
            Plan::Correct { current, .. } => format!("修正 correcting the keying by {}", current.entered_by),
        }
    }

    /// The values the form opens with: a correction starts from what was keyed, a third look
    /// from what the two keyings agree on, a second keying from nothing.
    pub fn start_values(&self) -> Values {
        match self {
            Plan::First { .. } | Plan::Second { .. } => Values::new(),
            Plan::Correct { current, .. } => current.values.clone(),
            Plan::Resolve { first, second, .. } => first
                .values
                .iter()
                .filter(|(k, v)| second.values.get(*k) == Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Two keyings for different patients (a blank form) disagree, whatever their values.
fn with_patient(mut diff: KeyingDiff, first: &EntryRecord, second_patient: &str) -> KeyingDiff {
    if first.patient_id != second_patient {
        diff.fields.insert(
            0,
            ("patient".into(), "患者 Patient".into(), first.patient_id.clone(), second_patient.to_string()),
        );
    }
    diff
}

/// Whether this form is keyed twice under the hospital's settings.
pub fn needs_double_entry(form: &FormDefinition, double_entry_charges: bool) -> bool {
    double_entry_charges && form.makes_charges()
}

pub fn plan(store: &Store, sheet: &Sheet, session: &Session) -> Result<Plan, KeyingError> {
    session.require(Permission::BackEntry)?;
    let actor = &session.actor();
    let double_entry_charges = store.settings()?.double_entry_charges;
    let live = store.live_entries(&sheet.item)?;
    if let Some(current) = live.last()
        && current.patient_id != sheet.patient_id
        && !matches!(live.as_slice(), [first] if first.state == EntryState::Pending)
        && !matches!(live.as_slice(), [_, second] if second.state == EntryState::Mismatch)
    {
        return Err(KeyingError::Refused(format!(
            "{} was keyed for patient {}, not {}: open it for that patient",
            sheet.item.describe(),
            current.patient_id,
            sheet.patient_id
        )));
    }
    Ok(match live.as_slice() {
        [] => Plan::First { double: needs_double_entry(&sheet.form, double_entry_charges) },
        [first] if first.state == EntryState::Pending => {
            if first.entered_by == actor.0 {
                return Err(KeyingError::Refused(format!(
                    "{} waits for its second keying by someone else (you keyed the first)",
                    sheet.item.describe()
                )));
            }
            Plan::Second { first: Box::new(first.clone()) }
        }
        [first, second] if second.state == EntryState::Mismatch => {
            if first.entered_by == actor.0 || second.entered_by == actor.0 {
                return Err(KeyingError::Refused(format!(
                    "{} needs a third person to settle the mismatch (you keyed it once)",
                    sheet.item.describe()
                )));
            }
            let diff = with_patient(
                derive::compare(&sheet.form, &first.values, &second.values),
                first,
                &second.patient_id,
            );
            Plan::Resolve { first: Box::new(first.clone()), second: Box::new(second.clone()), diff }
        }
        [.., current] => Plan::Correct {
            current: Box::new(current.clone()),
            double: needs_double_entry(&sheet.form, double_entry_charges),
        },
    })
}

/// What happened on save.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    Entered(EntryRecord),
    WaitingForSecond(EntryRecord),
    /// The second keying agreed with the first.
    Agreed(EntryRecord),
    Mismatch(EntryRecord, KeyingDiff),
    Resolved(EntryRecord),
    Corrected(EntryRecord),
}

impl Saved {
    pub fn entry(&self) -> &EntryRecord {
        match self {
            Saved::Entered(e)
            | Saved::WaitingForSecond(e)
            | Saved::Agreed(e)
            | Saved::Mismatch(e, _)
            | Saved::Resolved(e)
            | Saved::Corrected(e) => e,
        }
    }

    pub fn describe(&self) -> String {
        let e = self.entry();
        match self {
            Saved::Entered(_) => format!("保存 saved keying {} ({})", e.id, e.item.describe()),
            Saved::WaitingForSecond(_) => {
                format!("保存 saved: {} waits for its second keying", e.item.describe())
            }
            Saved::Agreed(_) => format!("一致 both keyings agree: {} verified", e.item.describe()),
            Saved::Mismatch(_, d) => format!(
                "不一致 the keyings differ ({} field(s), {} line(s)): a third person settles {}",
                d.fields.len(),
                d.only_first.len() + d.only_second.len(),
                e.item.describe()
            ),
            Saved::Resolved(_) => format!("解決 mismatch settled: {} verified", e.item.describe()),
            Saved::Corrected(_) => {
                format!("修正 corrected: {} waits for verification again", e.item.describe())
            }
        }
    }
}

/// A second person confirms a keying (single entry): it counts from now on.
pub fn verify(store: &mut Store, session: &Session, entry_id: i64) -> Result<EntryRecord, KeyingError> {
    session.require(Permission::BackEntry)?;
    Ok(store.verify_entry(&session.actor(), entry_id)?)
}

/// Checks the keyed values as a whole and saves them as the keying `plan` says.
pub fn save(
    store: &mut Store,
    session: &Session,
    sheet: &Sheet,
    values: &Values,
    plan: &Plan,
) -> Result<Saved, KeyingError> {
    save_with_ticks(store, session, sheet, values, plan, None)
}

/// `save`, recording in the audit trail what the scan's tick boxes read and that the clerk
/// confirmed them.
pub fn save_with_ticks(
    store: &mut Store,
    session: &Session,
    sheet: &Sheet,
    values: &Values,
    plan: &Plan,
    tick_reading: Option<serde_json::Value>,
) -> Result<Saved, KeyingError> {
    session.require(Permission::BackEntry)?;
    let actor = &session.actor();
    let mut problems: Vec<String> =
        fields::missing(&sheet.form, values).into_iter().map(|label| format!("{label}: required")).collect();
    problems.extend(derive::row_problems(&sheet.form, values));
    let drugs: std::collections::HashMap<String, crate::domain::MasterItem> = store
        .master_items(crate::domain::MasterKind::Drugs.code())?
        .into_iter()
        .map(|d| (d.code.clone(), d))
        .collect();
    problems.extend(super::drug_checks::drug_problems(&sheet.form, values, &drugs));
    if sheet.form.makes_charges() {
        let charges: std::collections::HashMap<String, crate::domain::MasterItem> = store
            .master_items(crate::domain::MasterKind::Charges.code())?
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect();
        problems.extend(super::charge_checks::charge_problems(&sheet.form, values, &charges));
    }
    if !problems.is_empty() {
        return Err(KeyingError::Invalid(problems));
    }
    let lines = derive::charge_lines(&sheet.form, values);
    let records = derive::records(&sheet.form, values);
    if lines.is_empty() && records.is_empty() && !sheet.form.makes_charges() {
        return Err(KeyingError::Invalid(vec!["nothing was keyed".into()]));
    }
    let codes_used: Vec<(String, String)> = sheet
        .form
        .fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldType::Code { master } => {
                values.get(&f.key).and_then(|v| v.as_str()).map(|c| (master.clone(), c.to_string()))
            }
            _ => None,
        })
        .chain(
            lines
                .iter()
                .filter(|l| l.origin == crate::domain::LineOrigin::Tick)
                .map(|l| ("charges".to_string(), l.code.clone())),
        )
        .collect();
    let event_at = derive::event_at(&sheet.form, values);
    let new = NewEntry {
        form_id: &sheet.form.id,
        form_code: sheet.form.code.as_str(),
        patient_id: &sheet.patient_id,
        item: &sheet.item,
        scanned_page: sheet.scanned_page,
        values,
        event_at: event_at.as_deref(),
        lines: &lines,
        records: &records,
        codes_used: &codes_used,
        charges: sheet.form.makes_charges(),
        tick_reading,
    };
    Ok(match plan {
        Plan::First { double } => {
            let e = store.save_entry(actor, &new, Keying::First { double: *double })?;
            if *double { Saved::WaitingForSecond(e) } else { Saved::Entered(e) }
        }
        Plan::Second { first } => {
            let diff =
                with_patient(derive::compare(&sheet.form, &first.values, values), first, &sheet.patient_id);
            let e =
                store.save_entry(actor, &new, Keying::Second { first: first.id, agrees: diff.agrees() })?;
            if diff.agrees() { Saved::Agreed(e) } else { Saved::Mismatch(e, diff) }
        }
        Plan::Resolve { first, second, .. } => Saved::Resolved(store.save_entry(
            actor,
            &new,
            Keying::Resolve { first: first.id, second: second.id },
        )?),
        Plan::Correct { current, double } => {
            let e =
                store.save_entry(actor, &new, Keying::Correct { replaces: current.id, double: *double })?;
            if *double { Saved::WaitingForSecond(e) } else { Saved::Corrected(e) }
        }
    })
}

/// The sheet for a page in hand, from the code printed under its barcode (typed or scanned).
/// A blank form needs the patient it was used for.
pub fn sheet_from_code(
    store: &Store,
    forms: &[FormDefinition],
    code: &str,
    patient_for_blank: Option<&str>,
) -> Result<Sheet, KeyingError> {
    let code = PageCode::parse(code).map_err(|e| KeyingError::Refused(format!("page code: {e}")))?;
    let form = form_by_code(forms, &code.form)?;
    let patient = match (&code.patient, patient_for_blank.map(str::trim).filter(|p| !p.is_empty())) {
        (Some(p), _) => p.as_str().to_string(),
        (None, Some(p)) => {
            let id = PatientId::parse(p).map_err(|e| KeyingError::Refused(format!("patient: {e}")))?;
            if store.patient(&id)?.is_none() {
                return Err(KeyingError::Refused(format!("patient {} is not in the census", id.as_str())));
            }
            id.as_str().to_string()
        }
        (None, None) => {
            return Err(KeyingError::Refused(
                "this is a blank form: type the ID of the patient it was used for".into(),
            ));
        }
    };
    let scanned_page = store.filed_page_of(&code.serial)?;
    Ok(Sheet { form, patient_id: patient, item: ItemKey::Serial(code.serial), scanned_page })
}

/// The sheet for a filed scanned page.
pub fn sheet_from_page(store: &Store, forms: &[FormDefinition], page_id: i64) -> Result<Sheet, KeyingError> {
    let page = store
        .scanned_page(page_id)?
        .ok_or_else(|| KeyingError::Refused(format!("there is no scanned page {page_id}")))?;
    let (Some(form), Some(patient)) = (page.form_code.as_deref(), page.patient_id.clone()) else {
        return Err(KeyingError::Refused(format!(
            "page {page_id} is not filed to a patient and form yet: index it first (F7, indexing queue)"
        )));
    };
    let form = form_by_code(forms, &FormCode::parse(form).map_err(|e| KeyingError::Refused(e.message))?)?;
    let item = match page.serial.as_deref().map(Serial::parse) {
        Some(Ok(s)) => ItemKey::Serial(s),
        _ => ItemKey::Page(page_id),
    };
    Ok(Sheet { form, patient_id: patient, item, scanned_page: Some(page_id) })
}

fn form_by_code(forms: &[FormDefinition], code: &FormCode) -> Result<FormDefinition, KeyingError> {
    let form = forms
        .iter()
        .find(|f| f.code == *code)
        .ok_or_else(|| KeyingError::Refused(format!("no form has the code {}", code.as_str())))?;
    if !matches!(form.layout, Layout::Page) || form.fields.is_empty() {
        return Err(KeyingError::Refused(format!("{} ({}) has nothing to key", form.title, form.title_en)));
    }
    Ok(form.clone())
}

/// The date back-entry reads short dates against.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Every code master in memory, for checking and searching codes as they are typed.
#[derive(Default)]
pub struct MasterSet(pub std::collections::HashMap<String, super::masters::MasterIndex>);

impl MasterSet {
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut set = std::collections::HashMap::new();
        for kind in crate::domain::MasterKind::ALL {
            set.insert(
                kind.code().to_string(),
                super::masters::MasterIndex::new(store.master_items(kind.code())?),
            );
        }
        Ok(Self(set))
    }

    pub fn get(&self, master: &str) -> Option<&super::masters::MasterIndex> {
        self.0.get(master)
    }
}

impl fields::CodeLookup for MasterSet {
    fn name_of(&self, master: &str, code: &str) -> Option<String> {
        self.0.get(master)?.get(code).map(|i| i.name.clone())
    }

    fn has_master(&self, master: &str) -> bool {
        self.0.get(master).is_some_and(|m| !m.is_empty())
    }
}
