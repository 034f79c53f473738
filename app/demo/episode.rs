//! A whole synthetic downtime episode for the demo hospital, after `demo::history::fill_history`:
//! a kit printed for a dozen patients, some of its pages scanned (images drawn here, filed by
//! the real scan import from their barcodes), pages of every returnable form keyed and most of
//! them verified by a second user, one double-entry mismatch, downtime IDs mapped to the record
//! numbers the EHR would have given them (one pair merged, some left), and charge slips keyed
//! until the charge lines asked for exist — so a new user can try back-entry and the hand-off,
//! and the export benchmark has data. Everything goes through the workflows and the store's
//! public API; nothing here writes SQL. All data is synthetic.

use super::charges::{ChargeOptions, key_charge_lines};
use super::scans::{SCAN_DPI, scanned_image};
use super::values::ValueMaker;
use super::{DemoError, demo_person};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use chrono::{Days, NaiveDate};
use serde_json::Value;

use crate::auth::Session;
use crate::domain::{PageCode, Patient, PatientId, Role, Serial};
use crate::downtime::{RegistrationInput, register};
use crate::entry::fields::Values;
use crate::entry::keying::{self, KeyingError, Saved, Sheet};
use crate::entry::reconcile::{self};
use crate::entry::worklist::{Stage, worklist};
use crate::form::keys;
use crate::form::{self, FieldType, FormDefinition, Layout};
use crate::print::{KitRequest, generate_kit};
use crate::scan::{ImportRequest, PageStore, import_pages};
use crate::store::{EhrFacts, PrintedPage, Store};

/// What the episode fill needs from its caller.
#[derive(Debug, Clone, Copy)]
pub struct EpisodeOptions<'a> {
    /// The last day of the downtime; the paper is dated over the `days` before it.
    pub today: NaiveDate,
    pub days: u32,
    pub seed: u64,
    /// Charge lines to have in all (the slips keyed with the kit's pages count too).
    pub charge_lines: usize,
    /// Where the demo kit's PDFs are written.
    pub kit_dir: &'a Path,
    /// Where the scanned page images are kept (beside the database).
    pub pages: &'a PageStore,
}

/// What the episode fill made, for the summary line and `demo --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeSummary {
    pub downtime_ids: usize,
    pub mapped: usize,
    /// Mapped although the EHR's facts contradict ours, with a reason.
    pub mapped_with_override: usize,
    pub merged: usize,
    pub unmapped: usize,
    pub patients_with_pages: usize,
    pub pages_printed: usize,
    /// Filed by the scan import from their barcodes.
    pub pages_scanned: usize,
    /// Scanned pages whose barcode was not read (waiting in the indexing queue).
    pub pages_queued: usize,
    /// Kit pages keyed (the bulk charge slips not counted).
    pub pages_keyed: usize,
    pub mismatches: usize,
    /// Worklist items per stage after the fill, bulk charge slips included.
    pub stages: BTreeMap<String, usize>,
    pub charge_slips: usize,
    pub charge_lines: usize,
    pub kit_dir: String,
}

impl EpisodeSummary {
    pub fn line(&self) -> String {
        let stage = |s: Stage| self.stages.get(s.code()).copied().unwrap_or(0);
        format!(
            "downtime episode: {} of {} downtime IDs mapped ({} with an override), {} merged, {} unmapped; \
             {} pages printed for {} patients, {} scanned, {} keyed ({} mismatch); worklist: {} printed, \
             {} scanned, {} entered, {} verified; {} charge lines on {} slips",
            self.mapped,
            self.downtime_ids,
            self.mapped_with_override,
            self.merged,
            self.unmapped,
            self.pages_printed,
            self.patients_with_pages,
            self.pages_scanned,
            self.pages_keyed,
            self.mismatches,
            stage(Stage::Printed),
            stage(Stage::Scanned),
            stage(Stage::Entered),
            stage(Stage::Verified),
            self.charge_lines,
            self.charge_slips
        )
    }
}

/// Inpatients whose kit pages are worked on.
const INPATIENTS_WITH_PAGES: usize = 8;
/// Aimed-at share of the kit's pages that come back through the scanner.
const EXTRA_SCAN_SHARE: f64 = 0.12;
/// Record numbers the restored EHR hands out: above every demo census ID (which stay below
/// 10,000,000 + 13 × patients), so a new MRN never names a census patient.
const FIRST_NEW_MRN: u64 = 19_000_001;

/// What happens to one printed page of the demo kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Printed,
    Scanned,
    Keyed {
        scanned: bool,
        verify: bool,
    },
    /// Keyed twice under double entry, differently.
    Mismatch,
}

/// Fills the episode. Refused unless the database is a demo with its history and nothing keyed
/// or mapped yet: it is for a fresh demo, like the history before it.
pub fn fill_episode(store: &mut Store, options: &EpisodeOptions<'_>) -> Result<EpisodeSummary, DemoError> {
    if !store.live_entries_all()?.is_empty() {
        return Err(DemoError::Refused(
            "this database has keyed pages already; the demo episode goes only into a fresh demo".into(),
        ));
    }
    let downtime = store.downtime_patients()?;
    if downtime.iter().any(|p| p.link.is_some() || p.merged_into.is_some()) {
        return Err(DemoError::Refused(
            "this database has reconciled downtime IDs already; the demo episode goes only into a fresh demo"
                .into(),
        ));
    }
    if downtime.len() < 4 {
        return Err(DemoError::Refused(
            "the demo episode needs the downtime history first (demo --downtime)".into(),
        ));
    }
    let forms = form::load(None)?;
    let mut rng = fastrand::Rng::with_seed(options.seed ^ 0x6b61_6d69);
    let (clerk, billing, admin) = (
        demo_person(store, Role::Clerk)?,
        demo_person(store, Role::Billing)?,
        demo_person(store, Role::Admin)?,
    );
    let mut summary = EpisodeSummary { kit_dir: options.kit_dir.display().to_string(), ..Default::default() };

    // One person registered twice at two desks: the duplicate the reconciliation merges.
    let original = downtime[rng.usize(0..downtime.len())].record.patient.clone();
    let again = RegistrationInput {
        kana: original.kana.as_str().to_string(),
        name: original.name.as_str().to_string(),
        dob: original.dob.iso(),
        sex: original.sex.code().to_string(),
        ..RegistrationInput::default()
    };
    let duplicate = register(store, &clerk, &again, options.today, None)?.patient;

    // The patients whose paper is followed: inpatients from across the wards, and downtime
    // patients who will end up mapped, merged and unmapped (the hand-off must handle each).
    let downtime_ids: HashSet<String> =
        store.downtime_patients()?.iter().map(|p| p.record.patient.id.as_str().to_string()).collect();
    let census: Vec<Patient> = store
        .patients(None, false)?
        .into_iter()
        .map(|r| r.patient)
        .filter(|p| !downtime_ids.contains(p.id.as_str()))
        .collect();
    // Spread over the wards (the census is in ward order); a tiny hospital gives what it has.
    let step = (census.len() / INPATIENTS_WITH_PAGES).max(1);
    let inpatients: Vec<Patient> = census.iter().step_by(step).take(INPATIENTS_WITH_PAGES).cloned().collect();
    let others: Vec<Patient> = store
        .downtime_patients()?
        .into_iter()
        .map(|p| p.record.patient)
        .filter(|p| p.id != original.id && p.id != duplicate.id)
        .collect();
    let (kept_mapped, left_unmapped) = (others[0].clone(), others[others.len() - 1].clone());
    // Downtime patients first, interleaved, so the fixed fates below fall on them too.
    let downtime_with_pages =
        [original.clone(), duplicate.clone(), kept_mapped.clone(), left_unmapped.clone()];
    let mut with_pages = Vec::new();
    for i in 0..inpatients.len().max(downtime_with_pages.len()) {
        with_pages.extend(downtime_with_pages.get(i).cloned());
        with_pages.extend(inpatients.get(i).cloned());
    }
    summary.patients_with_pages = with_pages.len();

    // Printed: the real kit, every returnable form for each of them.
    let returnable: Vec<&FormDefinition> = forms.iter().filter(|f| is_returnable(f)).collect();
    let request = KitRequest {
        out_dir: options.kit_dir.to_path_buf(),
        patients: with_pages.iter().map(|p| p.id.as_str().to_string()).collect(),
        forms: returnable.iter().map(|f| f.id.clone()).collect(),
        blanks: 0,
        ..KitRequest::default()
    };
    let before: HashSet<(String, u64)> =
        store.printed_pages(None)?.into_iter().map(|p| (p.station, p.number)).collect();
    generate_kit(store, &clerk, &request, &mut |_, _| {})?;
    let printed: Vec<PrintedPage> = store
        .printed_pages(None)?
        .into_iter()
        .filter(|p| !before.contains(&(p.station.clone(), p.number)))
        .collect();
    summary.pages_printed = printed.len();

    // What becomes of each page: a few fixed fates per form so every stage and every form is
    // there whatever the seed, the rest at random.
    let rank: HashMap<&str, usize> = with_pages.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut fates: Vec<(PrintedPage, Fate, NaiveDate)> = Vec::new();
    let mut mismatch_left = 1;
    for page in printed {
        let Some(form) = returnable.iter().find(|f| f.id == page.form_id) else { continue };
        let j = page.patient_id.as_deref().and_then(|p| rank.get(p).copied()).unwrap_or(usize::MAX);
        let fate = match j {
            0 => Fate::Keyed { scanned: true, verify: true },
            1 => Fate::Keyed { scanned: false, verify: true },
            2 => Fate::Keyed { scanned: rng.bool(), verify: rng.u8(0..3) > 0 },
            3 => Fate::Scanned,
            4 if form.makes_charges() && mismatch_left > 0 => {
                mismatch_left -= 1;
                Fate::Mismatch
            }
            _ => {
                let scanned = rng.f64() < EXTRA_SCAN_SHARE;
                if rng.f64() < 0.3 {
                    Fate::Keyed { scanned, verify: rng.f64() < 0.85 }
                } else if scanned {
                    Fate::Scanned
                } else {
                    Fate::Printed
                }
            }
        };
        fates.push((page, fate, paper_day(options.today, options.days, &mut rng)));
    }

    // The values each keyed page will get, decided before scanning so the scans' tick boxes
    // show what the clerks then key.
    let mut values_for = Vec::with_capacity(fates.len());
    let keyer = ValueMaker::load(store, options.today)?;
    for (page, fate, day) in &fates {
        let form = form_of(&forms, &page.form_id)?;
        let patient = with_pages.iter().find(|p| Some(p.id.as_str()) == page.patient_id.as_deref());
        let values = match (fate, patient) {
            (Fate::Printed | Fate::Scanned, _) | (_, None) => None,
            (_, Some(p)) => Some(keyer.page(form, p, *day, None, &mut rng)?),
        };
        values_for.push(values);
    }

    // Scanned: images drawn with the page barcode where the form prints it, filed by the import.
    let scans = tempfile::tempdir().map_err(|e| DemoError::Refused(format!("no temporary folder: {e}")))?;
    let mut drawn = 0;
    for ((page, fate, _), values) in fates.iter().zip(&values_for) {
        if !matches!(fate, Fate::Scanned | Fate::Keyed { scanned: true, .. }) {
            continue;
        }
        let form = form_of(&forms, &page.form_id)?;
        let png =
            scanned_image(form, &page_code(page)?, values.as_ref(), SCAN_DPI).map_err(DemoError::Refused)?;
        drawn += 1;
        let file = scans.path().join(format!("scan-{drawn:03}.png"));
        std::fs::write(&file, png)
            .map_err(|e| DemoError::Refused(format!("cannot write {}: {e}", file.display())))?;
    }
    if drawn > 0 {
        let request = ImportRequest { paths: vec![scans.path().to_path_buf()], ..ImportRequest::default() };
        let report =
            import_pages(store, &clerk, options.pages, &request, &mut |_| {}, &AtomicBool::new(false))?;
        summary.pages_scanned = report.counts.filed;
        summary.pages_queued = report.counts.queued;
    }

    // Keyed from the paper in hand or beside its scan, by a clerk or billing, and verified by
    // the other; one charge slip keyed twice under double entry, differently.
    let keyers = [&clerk, &billing];
    for (i, ((page, fate, _), values)) in fates.iter().zip(&values_for).enumerate() {
        let Some(values) = values else { continue };
        let (by, other) = (keyers[i % 2], keyers[(i + 1) % 2]);
        let sheet = keying::sheet_from_code(store, &forms, &page_code(page)?, None)?;
        match fate {
            Fate::Keyed { verify, .. } => {
                let plan = keying::plan(store, &sheet, by)?;
                let saved = keying::save(store, by, &sheet, values, &plan)?;
                if *verify {
                    accept(store, other, &sheet, values, &saved)?;
                }
            }
            Fate::Mismatch => {
                let before = store.settings()?.double_entry_charges;
                store.set_setting(&admin.actor(), "entry.double_entry_charges", "on")?;
                let twice = |store: &mut Store| -> Result<Saved, KeyingError> {
                    let plan = keying::plan(store, &sheet, by)?;
                    keying::save(store, by, &sheet, values, &plan)?;
                    let plan = keying::plan(store, &sheet, other)?;
                    keying::save(store, other, &sheet, &misread(&sheet.form, values), &plan)
                };
                let saved = twice(store);
                // The hospital's own setting comes back whatever the keyings did.
                store.set_setting(
                    &admin.actor(),
                    "entry.double_entry_charges",
                    if before { "on" } else { "off" },
                )?;
                if matches!(saved?, Saved::Mismatch(..)) {
                    summary.mismatches += 1;
                }
            }
            Fate::Printed | Fate::Scanned => continue,
        }
        summary.pages_keyed += 1;
    }
    // The lines the kit's slips made, whether verified yet or not: the bulk slips add the rest.
    for e in store.live_entries_all()? {
        summary.charge_lines += store.charge_lines_of(e.id)?.len();
    }

    // Reconciled: the duplicate merged into the first registration, most downtime IDs mapped to
    // the record numbers the EHR gave them, some left for a person to do in the app.
    reconcile::merge(
        store,
        &clerk,
        duplicate.id.as_str(),
        original.id.as_str(),
        "demo: registered twice at two desks (same name, date of birth and wristband photo)",
        None,
    )?;
    summary.merged = 1;
    let mut next_mrn = FIRST_NEW_MRN;
    let mut override_left = 1;
    let candidates: Vec<Patient> = store
        .downtime_patients()?
        .into_iter()
        .filter(|p| p.merged_into.is_none())
        .map(|p| p.record.patient)
        .collect();
    summary.downtime_ids = candidates.len() + summary.merged;
    for patient in &candidates {
        let must_map = patient.id == original.id || patient.id == kept_mapped.id;
        if patient.id == left_unmapped.id || (!must_map && rng.f64() < 0.35) {
            summary.unmapped += 1;
            continue;
        }
        let mrn = free_mrn(store, &mut next_mrn)?;
        let mut ehr = EhrFacts {
            name: Some(patient.name.as_str().to_string()),
            kana: Some(patient.kana.as_str().to_string()),
            dob: Some(patient.dob.iso()),
            sex: Some(patient.sex.code().to_string()),
        };
        let mut reason = None;
        // One date of birth misheard at the desk: the EHR has the right one, a clerk confirmed it.
        if !must_map && override_left > 0 {
            override_left -= 1;
            ehr.dob = patient.dob.date().checked_add_days(Days::new(1)).map(|d| d.to_string());
            reason = Some("demo: date of birth misheard at arrival; confirmed with the patient");
        }
        let (_, found) = reconcile::link(store, &clerk, patient.id.as_str(), &mrn, Some(ehr), reason)?;
        summary.mapped += 1;
        summary.mapped_with_override += usize::from(!found.is_empty());
    }

    // Charge slips until the lines asked for exist.
    let wanted = options.charge_lines.saturating_sub(summary.charge_lines);
    if wanted > 0 {
        let charges = ChargeOptions {
            lines: wanted,
            last_day: options.today,
            days: options.days,
            seed: options.seed,
            ..ChargeOptions::default()
        };
        let keyed = key_charge_lines(store, &charges)?;
        summary.charge_slips += keyed.slips;
        summary.charge_lines += keyed.lines;
    }
    summary.charge_slips += fates
        .iter()
        .filter(|(p, f, _)| {
            matches!(f, Fate::Keyed { .. })
                && returnable.iter().any(|r| r.id == p.form_id && r.makes_charges())
        })
        .count();

    for item in worklist(store, &forms, None)? {
        *summary.stages.entry(item.stage.code().to_string()).or_default() += 1;
    }
    Ok(summary)
}

/// The forms that come back on paper and are keyed: pages with fields.
pub(super) fn is_returnable(form: &FormDefinition) -> bool {
    matches!(form.layout, Layout::Page) && !form.fields.is_empty()
}

fn form_of<'a>(forms: &'a [FormDefinition], id: &str) -> Result<&'a FormDefinition, DemoError> {
    forms.iter().find(|f| f.id == id).ok_or_else(|| DemoError::Refused(format!("no form '{id}'")))
}

fn page_code(page: &PrintedPage) -> Result<String, DemoError> {
    let bad = |e: crate::domain::FieldError| DemoError::Refused(format!("printed page: {}", e.message));
    Ok(PageCode {
        form: crate::domain::FormCode::parse(&page.form_code).map_err(bad)?,
        patient: page.patient_id.as_deref().map(PatientId::parse).transpose().map_err(bad)?,
        serial: Serial::new(&page.station, page.number).map_err(bad)?,
    }
    .encode())
}

/// A day of the downtime, the paper's own date.
pub(super) fn paper_day(last: NaiveDate, days: u32, rng: &mut fastrand::Rng) -> NaiveDate {
    let back = rng.u32(0..days.max(1));
    last.checked_sub_days(Days::new(u64::from(back))).unwrap_or(last)
}

/// The next record number the EHR could have given: never a census patient's or a downtime ID.
fn free_mrn(store: &Store, next: &mut u64) -> Result<String, DemoError> {
    for _ in 0..10_000 {
        let text = next.to_string();
        *next += 1 + (*next % 3);
        let id = PatientId::parse(&text).map_err(|e| DemoError::Refused(e.message))?;
        if store.patient(&id)?.is_none() && store.registration(&id)?.is_none() {
            return Ok(text);
        }
    }
    Err(DemoError::Refused(format!("no free record number near {next}")))
}

/// Makes a keying count: a second person verifies it, or keys it again under double entry.
pub(super) fn accept(
    store: &mut Store,
    other: &Session,
    sheet: &Sheet,
    values: &Values,
    saved: &Saved,
) -> Result<(), DemoError> {
    match saved {
        Saved::Entered(e) | Saved::Corrected(e) => {
            keying::verify(store, other, e.id)?;
        }
        Saved::WaitingForSecond(_) => {
            let plan = keying::plan(store, sheet, other)?;
            keying::save(store, other, sheet, values, &plan)?;
        }
        Saved::Agreed(_) | Saved::Mismatch(..) | Saved::Resolved(_) => {}
    }
    Ok(())
}

/// The second keyer's misreading of a slip: one quantity off by one, or a tick box missed (or
/// one too many when only one was ticked).
fn misread(form: &FormDefinition, values: &Values) -> Values {
    let mut misread = values.clone();
    let quantity = form.fields.iter().find(|f| {
        f.export.as_ref() == Some(&keys::CHARGE_QUANTITY)
            && values.get(&f.key).and_then(Value::as_f64).is_some()
    });
    if let Some(q) = quantity {
        let n = values.get(&q.key).and_then(Value::as_f64).unwrap_or(1.0);
        misread.insert(q.key.clone(), serde_json::json!(if n >= 2.0 { n - 1.0 } else { n + 1.0 }));
        return misread;
    }
    for field in &form.fields {
        let FieldType::Ticks { options, .. } = &field.kind else { continue };
        let mut codes: Vec<Value> = match values.get(&field.key) {
            Some(Value::Array(codes)) => codes.clone(),
            _ => Vec::new(),
        };
        if codes.len() > 1 {
            codes.remove(0);
        } else if let Some(extra) = options.iter().find(|o| !codes.contains(&Value::from(o.code.as_str()))) {
            codes.push(Value::from(extra.code.as_str()));
        } else {
            continue;
        }
        misread.insert(field.key.clone(), Value::Array(codes));
        break;
    }
    misread
}

#[cfg(test)]
mod tests {
    use super::super::hospital::{DemoOptions, load_demo};
    use super::*;
    use crate::demo::values::base_key;
    use crate::entry::derive;
    use crate::entry::fields;
    use crate::scan::locate::{SearchBand, find_page_code};
    use crate::store::Reading;

    fn demo_store(beds: u32) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let setup = crate::store::Actor("setup".into());
        let options = DemoOptions { beds, seed: 5, as_of: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap() };
        load_demo(&mut store, &setup, &options, &mut |_, _| {}).unwrap();
        crate::auth::ensure_demo_users(&mut store, &setup).unwrap();
        let admin = demo_person(&mut store, Role::Admin).unwrap();
        crate::entry::masters::load_samples(&mut store, &admin).unwrap();
        store
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn a_drawn_scan_is_read_back_as_its_page_code_by_the_import_reader() {
        let forms = form::built_in();
        let band = SearchBand::from_forms(&forms);
        for form in forms.iter().filter(|f| is_returnable(f)) {
            let code = PageCode {
                form: form.code.clone(),
                patient: Some(PatientId::parse("10000123").unwrap()),
                serial: Serial::new("A", 123_456).unwrap(),
            };
            let png = scanned_image(form, &code.encode(), None, SCAN_DPI).unwrap();
            let page = image::load_from_memory(&png).unwrap().to_luma8();
            let reading = find_page_code(page.as_raw(), page.width(), page.height(), &band);
            assert_eq!(reading, Reading::Code { code: code.clone(), upside_down: false }, "{}", form.id);
        }
    }

    #[test]
    fn every_returnable_form_gets_values_the_entry_screen_accepts() {
        let store = demo_store(45);
        let maker = ValueMaker::load(&store, today()).unwrap();
        let patient = store.patients(None, false).unwrap().remove(0).patient;
        let mut rng = fastrand::Rng::with_seed(3);
        for form in form::built_in().iter().filter(|f| is_returnable(f)) {
            for _ in 0..20 {
                let values = maker.page(form, &patient, today(), None, &mut rng).unwrap();
                assert!(fields::missing(form, &values).is_empty(), "{}: {values:?}", form.id);
                assert!(derive::row_problems(form, &values).is_empty(), "{}: {values:?}", form.id);
                let made = derive::charge_lines(form, &values).len() + derive::records(form, &values).len();
                assert!(made > 0, "{} keyed nothing: {values:?}", form.id);
            }
        }
    }

    #[test]
    fn charge_slips_carry_exactly_the_lines_asked_for() {
        let store = demo_store(45);
        let maker = ValueMaker::load(&store, today()).unwrap();
        let forms = form::built_in();
        let slip = forms.iter().find(|f| f.makes_charges()).unwrap();
        let patient = store.patients(None, false).unwrap().remove(0).patient;
        let mut rng = fastrand::Rng::with_seed(9);
        for lines in 1..=maker.most_lines(slip, &patient) {
            let values = maker.page(slip, &patient, today(), Some(lines), &mut rng).unwrap();
            assert_eq!(derive::charge_lines(slip, &values).len(), lines, "{values:?}");
        }
    }

    #[test]
    fn bulk_charge_keying_reaches_the_line_count_verified_by_someone_else() {
        let mut store = demo_store(45);
        let options = ChargeOptions { lines: 157, last_day: today(), ..ChargeOptions::default() };
        let counts = key_charge_lines(&mut store, &options).unwrap();
        assert_eq!(counts.lines, 157);
        let entries = store.live_entries_all().unwrap();
        assert_eq!(entries.len(), counts.slips);
        let mut lines = 0;
        for e in &entries {
            assert_eq!(e.state, crate::store::EntryState::Verified, "{e:?}");
            assert_ne!(e.verified_by.as_deref(), Some(e.entered_by.as_str()));
            lines += store.charge_lines_of(e.id).unwrap().len();
        }
        assert_eq!(lines, 157, "the lines counted are the lines stored");
        let items = worklist(&store, &form::built_in(), None).unwrap();
        assert_eq!(items.iter().filter(|i| i.stage == Stage::Verified).count(), counts.slips);
        assert!(items.iter().all(|i| !i.ward.is_empty()), "every slip is a printed page of a ward");
    }

    #[test]
    fn bulk_charge_keying_under_double_entry_verifies_by_the_agreeing_second_keying() {
        let mut store = demo_store(45);
        store.set_setting(&crate::store::Actor("admin".into()), "entry.double_entry_charges", "on").unwrap();
        let options = ChargeOptions { lines: 40, last_day: today(), ..ChargeOptions::default() };
        let counts = key_charge_lines(&mut store, &options).unwrap();
        let entries = store.live_entries_all().unwrap();
        assert_eq!(entries.len(), counts.slips);
        assert!(entries.iter().all(|e| e.state == crate::store::EntryState::Verified && e.pass == 2));
    }

    #[test]
    fn the_episode_fill_is_refused_without_the_downtime_history() {
        let mut store = demo_store(45);
        let dir = tempfile::tempdir().unwrap();
        let pages = PageStore::new(dir.path().join("pages"));
        let options = EpisodeOptions {
            today: today(),
            days: 10,
            seed: 1,
            charge_lines: 10,
            kit_dir: &dir.path().join("kit"),
            pages: &pages,
        };
        let refused = fill_episode(&mut store, &options).unwrap_err();
        assert!(refused.to_string().contains("downtime history"), "{refused}");
    }

    #[test]
    fn row_fields_lose_their_row_number_and_others_keep_their_name() {
        assert_eq!(base_key("temp_3"), "temp");
        assert_eq!(base_key("bp_sys_10"), "bp_sys");
        assert_eq!(base_key("order_date"), "order_date");
        assert_eq!(base_key("salt_g"), "salt_g");
    }
}
