//! Charge slips keyed in bulk for the demo and the export benchmark, through the keying workflow.

use super::episode::{accept, is_returnable, paper_day};
use super::values::ValueMaker;
use super::{DemoError, demo_person};

use chrono::NaiveDate;

use crate::domain::{Patient, Role, Serial};
use crate::entry::derive;
use crate::entry::fields::Values;
use crate::entry::keying::{self, Plan, Sheet};
use crate::form::{self};
use crate::store::{ItemKey, PrintedPage, Store};

/// How the bulk charge slips are made.
#[derive(Debug, Clone, Copy)]
pub struct ChargeOptions {
    /// Charge lines to key.
    pub lines: usize,
    /// The slips are dated over the `days` days up to `last_day`.
    pub last_day: NaiveDate,
    pub days: u32,
    pub seed: u64,
    /// Lines on one slip, at least and at most (a slip holds its tick boxes plus its code rows).
    pub lines_per_slip: (usize, usize),
    /// Verified by a second person (what the export takes by default); else left entered.
    pub verify: bool,
}

impl Default for ChargeOptions {
    fn default() -> Self {
        Self {
            lines: 300,
            last_day: keying::today(),
            days: 10,
            seed: 1,
            lines_per_slip: (3, 12),
            verify: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChargeCounts {
    pub slips: usize,
    pub lines: usize,
}

/// Keys charge slips for the admitted patients until `options.lines` charge lines were added.
///
/// The fastest correct path the workflows allow, for the export benchmark: the slips are
/// registered as printed (`printed_slips`), then each slip is one `keying::save`
/// (its own transaction: the store checks the item's keyings and the double-entry rule inside
/// it) and, with `verify`, one `verify_entry` (or, under double entry, the agreeing second
/// keying) — two transactions a slip, the store's minimum for a verified keying.
pub fn key_charge_lines(store: &mut Store, options: &ChargeOptions) -> Result<ChargeCounts, DemoError> {
    let printed = printed_slips(store, options)?;
    let clerk = demo_person(store, Role::Clerk)?;
    let billing = demo_person(store, Role::Billing)?;
    let form = &printed.form;
    // A fresh slip's keying is always the first, so the plan is known without asking the store
    // per slip; the store still refuses it inside the save if that were not so.
    let double = keying::needs_double_entry(form, store.settings()?.double_entry_charges);
    let keyers = [clerk, billing];
    let mut counts = ChargeCounts::default();
    for (i, (sheet, values, made)) in printed.slips.iter().enumerate() {
        let (by, other) = (&keyers[i % 2], &keyers[(i + 1) % 2]);
        let saved = keying::save(store, by, sheet, values, &Plan::First { double })?;
        if options.verify || double {
            accept(store, other, sheet, values, &saved)?;
        }
        counts.slips += 1;
        counts.lines += made;
    }
    Ok(counts)
}

/// Charge slips made up and registered as printed (not yet keyed): each slip's sheet, the values
/// a clerk would key from it, and how many charge lines they make.
pub struct PrintedSlips {
    pub form: crate::form::FormDefinition,
    pub slips: Vec<(Sheet, Values, usize)>,
}

/// Makes up slips for the admitted patients until `options.lines` charge lines, and registers
/// them as printed in one transaction (`reserve_serials` + `record_kit`: the kit's own registry
/// path, without rendering PDFs nobody prints).
pub fn printed_slips(store: &mut Store, options: &ChargeOptions) -> Result<PrintedSlips, DemoError> {
    let forms = form::load(None)?;
    let form = forms
        .iter()
        .find(|f| is_returnable(f) && f.makes_charges())
        .ok_or_else(|| DemoError::Refused("no charge slip form is defined".into()))?;
    let patients: Vec<Patient> = store.patients(None, false)?.into_iter().map(|r| r.patient).collect();
    if patients.is_empty() {
        return Err(DemoError::Refused("no admitted patients to key charge slips for".into()));
    }
    let maker = ValueMaker::load(store, options.last_day)?;
    let most = patients.iter().map(|p| maker.most_lines(form, p)).max().unwrap_or(0).max(1);
    let (low, high) = options.lines_per_slip;
    let (low, high) = (low.clamp(1, most), high.clamp(1, most).max(low.clamp(1, most)));
    let mut rng = fastrand::Rng::with_seed(options.seed ^ 0x6368_6172);

    // Every slip decided first: how many are printed is known before anything is written.
    let mut slips: Vec<(&Patient, Values, usize)> = Vec::new();
    let mut left = options.lines;
    while left > 0 {
        let lines = rng.usize(low..=high).min(left);
        let patient = &patients[rng.usize(0..patients.len())];
        let day = paper_day(options.last_day, options.days, &mut rng);
        let values = maker.page(form, patient, day, Some(lines), &mut rng)?;
        let made = derive::charge_lines(form, &values).len();
        if made == 0 {
            return Err(DemoError::Refused("a demo charge slip made no charge lines".into()));
        }
        left = left.saturating_sub(made);
        slips.push((patient, values, made));
    }
    let clerk = demo_person(store, Role::Clerk)?;
    let station = store.settings()?.station()?.to_string();
    let first = store.reserve_serials(&station, slips.len() as u64)?;
    let printed: Vec<PrintedPage> = slips
        .iter()
        .zip(first..)
        .map(|((patient, ..), number)| PrintedPage {
            station: station.clone(),
            number,
            form_code: form.code.as_str().to_string(),
            form_id: form.id.clone(),
            patient_id: Some(patient.id.as_str().to_string()),
            ward: patient.location.ward.clone(),
            file: "(demo charge slips: registered, not rendered)".into(),
        })
        .collect();
    store.record_kit(&clerk.actor(), "(demo charge slips: registered, not rendered)", 0, &printed)?;

    let mut sheets = Vec::with_capacity(slips.len());
    for ((patient, values, made), page) in slips.into_iter().zip(&printed) {
        let serial = Serial::new(&page.station, page.number).map_err(|e| DemoError::Refused(e.message))?;
        let sheet = Sheet {
            form: form.clone(),
            patient_id: patient.id.as_str().to_string(),
            item: ItemKey::Serial(serial),
            scanned_page: None,
        };
        sheets.push((sheet, values, made));
    }
    Ok(PrintedSlips { form: form.clone(), slips: sheets })
}
