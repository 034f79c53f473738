//! What came back: per episode, ward, patient and form, the pages printed, scanned back and
//! missing, and what waits in the manual indexing queue. Only forms that come back on paper
//! count (charts and slips); wristbands are worn and label sheets are used up.

use std::collections::BTreeMap;
use std::path::Path;

use crate::domain::Serial;
use crate::form::{self, FormError};
use crate::store::{PageState, ScannedCounts, Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub key: String,
    pub printed: u64,
    pub returned: u64,
    pub missing: u64,
}

impl Tally {
    fn count(&mut self, returned: bool) {
        self.printed += 1;
        if returned {
            self.returned += 1;
        } else {
            self.missing += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PatientTally {
    pub patient: String,
    pub ward: String,
    pub printed: u64,
    pub returned: u64,
    pub missing: u64,
    pub forms: Vec<Tally>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingPage {
    pub serial: String,
    pub form: String,
    /// `None` for a blank form.
    pub patient: Option<String>,
    pub ward: String,
    pub printed_at: String,
    /// The kit file it was printed in.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeScope {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Completeness {
    /// The episode whose kits are counted; `None` counts every kit. The queue, duplicate and
    /// filed counts are always of every scanned page (a page in the queue has no kit yet).
    pub episode: Option<EpisodeScope>,
    /// Pages printed of the forms that come back.
    pub printed: u64,
    /// Printed pages scanned back (filed, or waiting in the queue as blank forms).
    pub returned: u64,
    /// Of those, the ones still waiting in the queue or set aside (a blank form's patient).
    pub returned_not_filed: u64,
    /// Scanned pages filed (by barcode or by hand), including pages the registry does not know.
    pub filed: u64,
    pub filed_not_in_registry: u64,
    /// Pages waiting in the manual indexing queue (no readable barcode, blank forms).
    pub queued: u64,
    pub duplicates: u64,
    pub set_aside: u64,
    /// Serials printed but not scanned back.
    pub missing: Vec<String>,
    pub missing_pages: Vec<MissingPage>,
    pub wards: Vec<Tally>,
    pub forms: Vec<Tally>,
    pub patients: Vec<PatientTally>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompletenessError {
    #[error("there is no downtime episode {0}")]
    NoEpisode(i64),
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The completeness of the pages printed during `episode` (every kit when `None`).
pub fn completeness(
    store: &Store,
    forms_dir: Option<&Path>,
    episode: Option<i64>,
) -> Result<Completeness, CompletenessError> {
    let forms = form::load(forms_dir)?;
    let returnable: Vec<String> = forms.iter().filter(|f| f.is_returnable()).map(|f| f.id.clone()).collect();
    let scope = match episode {
        None => None,
        Some(id) => {
            let e =
                store.episodes()?.into_iter().find(|e| e.id == id).ok_or(CompletenessError::NoEpisode(id))?;
            Some(EpisodeScope { id, started_at: e.started_at, ended_at: e.ended_at })
        }
    };
    let in_scope = |printed_at: &str| {
        scope.as_ref().is_none_or(|s| {
            printed_at >= s.started_at.as_str() && s.ended_at.as_deref().is_none_or(|end| printed_at <= end)
        })
    };
    let ScannedCounts { filed, filed_not_in_registry, queued, duplicates, set_aside } =
        store.scanned_counts()?;
    let mut report = Completeness {
        episode: scope.clone(),
        printed: 0,
        returned: 0,
        returned_not_filed: 0,
        filed,
        filed_not_in_registry,
        queued,
        duplicates,
        set_aside,
        missing: Vec::new(),
        missing_pages: Vec::new(),
        wards: Vec::new(),
        forms: Vec::new(),
        patients: Vec::new(),
    };
    let mut wards: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_form: BTreeMap<String, Tally> = BTreeMap::new();
    let mut patients: BTreeMap<String, (String, Tally, BTreeMap<String, Tally>)> = BTreeMap::new();
    for state in store.printed_page_states(&returnable)?.into_iter().filter(|s| in_scope(&s.printed_at)) {
        let p = &state.page;
        let back = state.scanned_as.is_some();
        report.printed += 1;
        report.returned += u64::from(back);
        report.returned_not_filed += u64::from(state.scanned_as.is_some_and(|(_, s)| s != PageState::Filed));
        wards
            .entry(p.ward.clone())
            .or_insert_with(|| Tally { key: p.ward.clone(), ..Default::default() })
            .count(back);
        by_form
            .entry(p.form_code.clone())
            .or_insert_with(|| Tally { key: p.form_code.clone(), ..Default::default() })
            .count(back);
        let patient = p.patient_id.clone().unwrap_or_else(|| "BLANK".to_string());
        let (_, total, forms) = patients
            .entry(patient.clone())
            .or_insert_with(|| (p.ward.clone(), Tally::default(), BTreeMap::new()));
        total.count(back);
        forms
            .entry(p.form_code.clone())
            .or_insert_with(|| Tally { key: p.form_code.clone(), ..Default::default() })
            .count(back);
        if !back {
            let serial = Serial { station: p.station.clone(), number: p.number }.to_string();
            report.missing.push(serial.clone());
            report.missing_pages.push(MissingPage {
                serial,
                form: p.form_code.clone(),
                patient: p.patient_id.clone(),
                ward: p.ward.clone(),
                printed_at: state.printed_at.clone(),
                file: p.file.clone(),
            });
        }
    }
    report.wards = wards.into_values().collect();
    report.forms = by_form.into_values().collect();
    report.patients = patients
        .into_iter()
        .map(|(patient, (ward, t, forms))| PatientTally {
            patient,
            ward,
            printed: t.printed,
            returned: t.returned,
            missing: t.missing,
            forms: forms.into_values().collect(),
        })
        .collect();
    Ok(report)
}
