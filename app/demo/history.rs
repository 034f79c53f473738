//! A synthetic downtime history for the demo hospital: for each of the last days, outpatients
//! registered under downtime IDs and paper orders scanned at the station, outpatient lab rising
//! past its safe limit — so a new user sees the scan log and the volume monitor with something in
//! them. Everything goes through the real workflows (registration, scan station).

use chrono::{Days, Local, NaiveDate, TimeZone, Utc};

use crate::domain::{FormCode, PageCode, PatientId, Serial};
use crate::downtime::{RegistrationInput, register};
use crate::scan::{Outcome, Station};
use crate::store::{Store, StoreError};

/// What the history added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistoryCounts {
    pub registered: usize,
    pub orders: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Station(#[from] crate::scan::StationError),
    #[error("{0}")]
    Other(String),
}

const KANA: [&str; 8] = [
    "サトウ　ミツコ",
    "スズキ　ケン",
    "タカハシ　ユミ",
    "タナカ　マコト",
    "ワタナベ　アイ",
    "イトウ　サトシ",
    "ヤマモト　ハナ",
    "ナカムラ　ジュン",
];

/// Adds `days` days of history ending `today` (refused if the database has scans already).
/// The demo nurse registers and scans, logged in through the front door like anyone.
pub fn fill_history(
    store: &mut Store,
    today: NaiveDate,
    days: u32,
    seed: u64,
) -> Result<HistoryCounts, HistoryError> {
    let nurse = crate::auth::demo_session(store, crate::domain::Role::Nurse, Utc::now())
        .map_err(|e| HistoryError::Other(e.to_string()))?;
    let actor = &nurse;
    if !store.recent_scans(1)?.is_empty() {
        return Err(HistoryError::Other(
            "this database has scans already; the demo history goes only into a fresh demo".into(),
        ));
    }
    let forms = crate::form::load(None).map_err(|e| HistoryError::Other(e.to_string()))?;
    let inpatients: Vec<PatientId> = store.patients(None, false)?.into_iter().map(|r| r.patient.id).collect();
    if inpatients.is_empty() {
        return Err(HistoryError::Other("load the demo hospital first".into()));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut counts = HistoryCounts::default();
    let mut serial = 0u64;
    let mut next_page = |form: &str, patient: &PatientId| {
        serial += 1;
        PageCode {
            form: FormCode::parse(form).expect("shipped code"),
            patient: Some(patient.clone()),
            serial: Serial::new("D", serial).expect("valid station"),
        }
        .encode()
    };
    let mut station = Station::open(store, forms)?;
    for back in (0..days).rev() {
        let day = today.checked_sub_days(Days::new(u64::from(back))).unwrap_or(today);
        let at = Local
            .from_local_datetime(&day.and_hms_opt(10, 0, 0).expect("a valid time"))
            .earliest()
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let progress = f64::from(days - back) / f64::from(days.max(1));
        // Outpatients registered today, and the lab slips of the outpatient clinic.
        let outpatients = 6 + (progress * 6.0) as usize;
        let outpatient_labs = 120 + (progress * 100.0) as usize + rng.usize(0..15);
        for i in 0..outpatients {
            let input = RegistrationInput {
                kana: KANA[rng.usize(0..KANA.len())].to_string(),
                dob: format!("{}-{:02}-{:02}", rng.i32(1940..2010), rng.u32(1..13), rng.u32(1..29)),
                sex: if rng.bool() { "M" } else { "F" }.to_string(),
                ..RegistrationInput::default()
            };
            let done = register(store, actor, &input, today, None)
                .map_err(|e| HistoryError::Other(e.to_string()))?;
            counts.registered += 1;
            let share = outpatient_labs / outpatients + usize::from(i < outpatient_labs % outpatients);
            let mut codes = vec![done.patient.id.to_string()];
            codes.extend((0..share).map(|_| next_page("LAB", &done.patient.id)));
            if rng.u8(0..3) == 0 {
                codes.push(next_page("RX", &done.patient.id));
            }
            counts.orders += scan_all(&mut station, store, actor, &codes, at)?;
        }
        // Inpatients: lab, imaging, prescriptions, injections, diet.
        for (form, n) in [("LAB", 70), ("IMG", 25), ("RX", 45), ("INJ", 35), ("DIET", 18)] {
            for _ in 0..n + rng.usize(0..10) {
                let patient = &inpatients[rng.usize(0..inpatients.len())];
                let codes = vec![patient.to_string(), next_page(form, patient)];
                counts.orders += scan_all(&mut station, store, actor, &codes, at)?;
            }
        }
    }
    Ok(counts)
}

/// Scans a wristband then its slips; returns how many slips were recorded.
fn scan_all(
    station: &mut Station,
    store: &mut Store,
    actor: &crate::auth::Session,
    codes: &[String],
    at: chrono::DateTime<Utc>,
) -> Result<usize, HistoryError> {
    let mut recorded = 0;
    for code in codes {
        match station.scan(store, actor, code, at)? {
            Outcome::Recorded { .. } => recorded += 1,
            Outcome::Identified { .. } => {}
            other => return Err(HistoryError::Other(format!("demo scan of {code} gave {other:?}"))),
        }
    }
    station.finish_patient();
    Ok(recorded)
}
