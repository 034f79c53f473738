//! `kamikarte demo`: a deterministic synthetic hospital. The same beds, seed and as-of date give
//! the same patients, byte for byte; nothing in it is a real person.

use chrono::{Days, NaiveDate};

use super::names::{ALLERGIES, FEMALE_NAMES, MALE_NAMES, SURNAMES};
use crate::domain::{
    Abo, BloodType, DateOfBirth, KanaName, KanjiName, Location, Patient, PatientId, Rh, Sex,
};
use crate::store::{Actor, ApplyCounts, CensusApply, Store, StoreError};

pub const DEFAULT_BEDS: u32 = 865;
pub const DEFAULT_SEED: u64 = 1031;
/// Printed on the demo's paper, so nobody mistakes it for a real hospital's.
pub const DEMO_HOSPITAL: &str = "kamikarte デモ総合病院 (DEMO)";
/// A made-up medical institution code (Tokyo, 医科, a sequence no hospital would hold).
pub const DEMO_HOSPITAL_CODE: &str = "1312345678";
/// The demo hospital's FHIR systems live under a reserved example domain.
pub const DEMO_FHIR_BASE: &str = "https://demo-hospital.example/fhir";
const GENERAL_WARD_BEDS: u32 = 45;

#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub beds: u32,
    pub seed: u64,
    /// The day the census is "taken": ages and newborns are relative to it.
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Icu,
    Hcu,
    Nicu,
    General,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardPlan {
    pub code: String,
    pub beds: u32,
    kind: Kind,
    departments: &'static [&'static str],
}

const GENERAL_DEPARTMENTS: &[&[&str]] = &[
    &["消化器内科", "内科"],
    &["循環器内科"],
    &["呼吸器内科"],
    &["外科", "消化器外科"],
    &["整形外科"],
    &["脳神経外科", "脳神経内科"],
    &["小児科"],
    &["産婦人科"],
    &["泌尿器科", "腎臓内科"],
    &["血液内科", "腫瘍内科"],
    &["耳鼻咽喉科", "眼科", "皮膚科"],
    &["糖尿病内分泌内科", "総合内科"],
    &["心臓血管外科", "呼吸器外科"],
    &["精神科"],
];

/// Splits `beds` into ICU, HCU and NICU (for hospitals of 300 beds or more) and general wards
/// of about 45 beds, named by floor and wing (3E, 3W, 4E, …).
pub fn plan_wards(beds: u32) -> Vec<WardPlan> {
    let mut plans = Vec::new();
    let mut rest = beds;
    if beds >= 300 {
        for (code, share, kind, departments) in [
            ("ICU", 0.014, Kind::Icu, &["救急科", "集中治療科", "心臓血管外科"][..]),
            ("HCU", 0.023, Kind::Hcu, &["救急科", "脳神経外科", "循環器内科"][..]),
            ("NICU", 0.014, Kind::Nicu, &["新生児科"][..]),
        ] {
            let n = ((beds as f64 * share).round() as u32).max(6);
            plans.push(WardPlan { code: code.to_string(), beds: n, kind, departments });
            rest -= n;
        }
    }
    let wards = ((rest as f64 / GENERAL_WARD_BEDS as f64).round() as u32).max(1);
    for w in 0..wards {
        let n = rest / wards + u32::from(w < rest % wards);
        let floor = 3 + w / 2;
        let wing = if w % 2 == 0 { 'E' } else { 'W' };
        plans.push(WardPlan {
            code: format!("{floor}{wing}"),
            beds: n,
            kind: Kind::General,
            departments: GENERAL_DEPARTMENTS[w as usize % GENERAL_DEPARTMENTS.len()],
        });
    }
    plans
}

/// Generates the admitted patients of the demo hospital.
pub fn generate(options: &DemoOptions) -> Vec<Patient> {
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let mut patients = Vec::new();
    let mut serial: u32 = 0;
    for ward in plan_wards(options.beds) {
        let occupancy = match ward.kind {
            Kind::Icu | Kind::Hcu => 0.8,
            Kind::Nicu => 0.7,
            Kind::General => 0.75,
        };
        // Exactly the ward's share of beds, chosen at random, so every seed gives ~75%.
        let mut beds: Vec<u32> = (0..ward.beds).collect();
        rng.shuffle(&mut beds);
        beds.truncate((ward.beds as f64 * occupancy).round() as usize);
        beds.sort_unstable();
        for bed_index in beds {
            serial += 1;
            let (room, bed) = bed_label(&ward, bed_index);
            patients.push(make_patient(&mut rng, &ward, serial, room, bed, options.as_of));
        }
    }
    patients
}

fn bed_label(ward: &WardPlan, index: u32) -> (String, String) {
    if ward.kind != Kind::General {
        return (ward.code.clone(), format!("{}-{:02}", ward.code, index + 1));
    }
    // Four-bed rooms numbered from floor * 100 + 1 (501, 502, …); the east and west wings of a
    // floor get different hundreds-halves (501… and 551…).
    let digits: String = ward.code.chars().take_while(char::is_ascii_digit).collect();
    let floor: u32 = digits.parse().unwrap_or(1);
    let base = floor * 100 + if ward.code.ends_with('W') { 51 } else { 1 };
    let room = base + index / 4;
    (room.to_string(), format!("{room}-{}", index % 4 + 1))
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn make_patient(
    rng: &mut fastrand::Rng,
    ward: &WardPlan,
    serial: u32,
    room: String,
    bed: String,
    as_of: NaiveDate,
) -> Patient {
    let department = pick(rng, ward.departments).to_string();
    let sex = match department.as_str() {
        "産婦人科" => Sex::Female,
        _ if rng.f64() < 0.5 => Sex::Male,
        _ => Sex::Female,
    };
    let age_days = age_in_days(rng, ward.kind, &department);
    let dob_date = as_of.checked_sub_days(Days::new(age_days)).unwrap_or(as_of);
    let (family, family_kana) = *pick(rng, SURNAMES);
    let newborn_unnamed = ward.kind == Kind::Nicu && rng.f64() < 0.4;
    let (given, given_kana) = if newborn_unnamed {
        ("ベビー", "ベビー")
    } else if sex == Sex::Male {
        *pick(rng, MALE_NAMES)
    } else {
        *pick(rng, FEMALE_NAMES)
    };
    let unknown_share = if ward.kind == Kind::Nicu { 0.5 } else { 0.06 };
    let blood = if rng.f64() < unknown_share {
        BloodType::UNKNOWN
    } else {
        let r = rng.f64();
        let abo = if r < 0.38 {
            Abo::A
        } else if r < 0.69 {
            Abo::O
        } else if r < 0.91 {
            Abo::B
        } else {
            Abo::AB
        };
        let rh = if rng.f64() < 0.005 { Rh::Negative } else { Rh::Positive };
        BloodType { abo: Some(abo), rh: Some(rh) }
    };
    let allergies = match rng.f64() {
        r if r < 0.03 => vec![pick(rng, ALLERGIES).to_string(), pick(rng, ALLERGIES).to_string()],
        r if r < 0.15 => vec![pick(rng, ALLERGIES).to_string()],
        _ => Vec::new(),
    };
    let mut allergies = allergies;
    allergies.dedup();
    // Eight-digit MRNs, increasing with random gaps, as an EHR hands them out over years.
    let id = 10_000_000 + serial * 13 + rng.u32(0..13);
    Patient {
        id: PatientId::parse(&id.to_string()).expect("digits are a valid ID"),
        name: KanjiName::parse(&format!("{family}\u{3000}{given}")).expect("table names are valid"),
        kana: KanaName::parse(&format!("{family_kana}\u{3000}{given_kana}")).expect("table kana are valid"),
        dob: DateOfBirth::new(dob_date, as_of).expect("generated DOBs are in the past"),
        sex,
        blood,
        location: Location { ward: ward.code.clone(), room, bed },
        department,
        allergies,
    }
}

/// Ages skewed old, as a Japanese acute hospital's census is; children on the paediatric ward,
/// newborns on the NICU, mothers on obstetrics.
fn age_in_days(rng: &mut fastrand::Rng, kind: Kind, department: &str) -> u64 {
    let years = |rng: &mut fastrand::Rng, lo: u64, hi: u64| rng.u64(lo * 365..hi * 365);
    match (kind, department) {
        (Kind::Nicu, _) => rng.u64(0..60),
        (_, "小児科") => years(rng, 0, 16),
        (_, "産婦人科") => years(rng, 20, 46),
        _ => match rng.f64() {
            r if r < 0.10 => years(rng, 18, 40),
            r if r < 0.30 => years(rng, 40, 60),
            r if r < 0.60 => years(rng, 60, 75),
            r if r < 0.92 => years(rng, 75, 90),
            _ => years(rng, 90, 103),
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database already holds a census imported from a file; the demo would mix synthetic and real patients (use another --db)"
    )]
    RealCensusPresent,
    #[error("--beds must be between 1 and 200000 (got {0})")]
    Beds(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Fills the store with the demo hospital, as a census import would, and marks it a demo.
pub fn load_demo(
    store: &mut Store,
    actor: &Actor,
    options: &DemoOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ApplyCounts, DemoError> {
    if !(1..=200_000).contains(&options.beds) {
        return Err(DemoError::Beds(options.beds));
    }
    if store.has_real_census()? {
        return Err(DemoError::RealCensusPresent);
    }
    let patients = generate(options);
    if store.meta("setting.hospital.name")?.is_none() {
        store.set_setting(actor, "hospital.name", DEMO_HOSPITAL)?;
    }
    // The demo hospital's made-up codes, so its hand-off runs as a configured hospital's would.
    if store.meta("setting.hospital.code")?.is_none() {
        store.set_setting(actor, "hospital.code", DEMO_HOSPITAL_CODE)?;
    }
    if store.meta("setting.handoff.fhir_base")?.is_none() {
        store.set_setting(actor, "handoff.fhir_base", DEMO_FHIR_BASE)?;
    }
    super::ensure_station(store, actor)?;
    let file = format!("demo --beds {} --seed {} --as-of {}", options.beds, options.seed, options.as_of);
    let apply = CensusApply {
        file: &file,
        encoding: "demo",
        rows: patients.len(),
        skipped: 0,
        discharge_missing: true,
        keep: None,
        mark_demo: true,
    };
    Ok(store.apply_census(actor, &patients, &apply, progress)?.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(beds: u32, seed: u64) -> DemoOptions {
        DemoOptions { beds, seed, as_of: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap() }
    }

    #[test]
    fn the_default_hospital_has_special_units_and_wards_of_about_45_beds() {
        let plan = plan_wards(DEFAULT_BEDS);
        assert_eq!(plan.iter().map(|w| w.beds).sum::<u32>(), DEFAULT_BEDS);
        let codes: Vec<&str> = plan.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(&codes[..4], ["ICU", "HCU", "NICU", "3E"]);
        assert!(plan.iter().filter(|w| w.kind == Kind::General).all(|w| (40..=50).contains(&w.beds)));
    }

    #[test]
    fn about_three_quarters_of_beds_are_occupied() {
        let n = generate(&options(DEFAULT_BEDS, DEFAULT_SEED)).len();
        assert!((600..=700).contains(&n), "{n}");
    }

    #[test]
    fn the_same_seed_gives_the_same_hospital_and_another_seed_another() {
        assert_eq!(generate(&options(200, 7)), generate(&options(200, 7)));
        assert_ne!(generate(&options(200, 7)), generate(&options(200, 8)));
    }

    #[test]
    fn ids_and_beds_are_unique_and_some_blood_types_unknown() {
        let patients = generate(&options(DEFAULT_BEDS, DEFAULT_SEED));
        let ids: std::collections::HashSet<_> = patients.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), patients.len());
        let beds: std::collections::HashSet<_> =
            patients.iter().map(|p| (p.location.ward.clone(), p.location.bed.clone())).collect();
        assert_eq!(beds.len(), patients.len());
        assert!(patients.iter().any(|p| p.blood.is_unknown()));
        assert!(patients.iter().any(|p| !p.allergies.is_empty()));
        assert!(patients.iter().all(|p| p.location.ward != "NICU" || p.dob.age_on(options(1, 1).as_of) == 0));
    }
}
