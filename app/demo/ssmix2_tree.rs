//! A synthetic SS-MIX2 standardized storage: the demo hospital as an EHR's storage would hold it
//! — every patient's basic information and allergies (ADT-00), admissions and moves (ADT-22,
//! ADT-42, ADT-52), outpatient visits (ADT-12), problems (PPR-01), prescriptions and injections
//! (OMP-01/02, some ended, some cancelled), lab results (OML-11) and diet (OMD), in ISO-2022-JP,
//! one message per file, named and filed by the storage's rules. What `demo --ssmix2` builds
//! its hospital from, and what the snapshot benchmark reads. No real patient: names are drawn
//! from the demo's tables, codes from the synthetic masters.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};

use super::names::{ALLERGIES, FEMALE_NAMES, MALE_NAMES, SURNAMES};
use crate::domain::{MasterItem, MasterKind, Patient};
use crate::handoff::hl7::charset::{Charset, encode};
use crate::handoff::hl7::er7::esc;

/// What to write.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// The admitted patients (the demo census): each gets an admission to their bed.
    pub inpatients: Vec<Patient>,
    /// Patients with an ID besides them: outpatients and people discharged earlier.
    pub others: usize,
    /// Messages per patient, on average (ADT-00 included).
    pub messages_per_patient: usize,
    pub today: NaiveDate,
    pub seed: u64,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeCounts {
    pub patients: usize,
    pub files: usize,
    pub admitted: usize,
}

/// The synthetic masters' codes the messages use.
struct Codes {
    departments: Vec<(String, String)>,
    oral: Vec<MasterItem>,
    injections: Vec<MasterItem>,
    usages: Vec<MasterItem>,
    tests: Vec<MasterItem>,
}

impl Codes {
    fn load() -> Self {
        let items = |kind: MasterKind| {
            let (name, bytes) = crate::entry::masters::sample(kind);
            crate::entry::masters::parse_master_csv(kind, bytes, name).expect("the shipped samples read")
        };
        let drugs = items(MasterKind::Drugs);
        Codes {
            departments: items(MasterKind::Departments).into_iter().map(|d| (d.code, d.name)).collect(),
            oral: drugs.iter().filter(|d| d.detail("form") == Some("内用")).cloned().collect(),
            injections: drugs.iter().filter(|d| d.detail("form") == Some("注射")).cloned().collect(),
            usages: items(MasterKind::Usages).into_iter().filter(|u| u.detail("jami").is_some()).collect(),
            tests: items(MasterKind::LabTests).into_iter().filter(|t| t.detail("jlac10").is_some()).collect(),
        }
    }

    fn department_code(&self, name: &str) -> String {
        self.departments.iter().find(|(_, n)| n == name).map_or_else(|| "01".to_string(), |(c, _)| c.clone())
    }
}

/// Writes the storage under `root/standard` (threads by patient). `progress(done, total)`
/// follows the patients.
pub fn write_tree(
    root: &Path,
    options: &TreeOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> io::Result<TreeCounts> {
    let codes = Codes::load();
    let total = options.inpatients.len() + options.others;
    let standard = root.join("standard");
    let indexes: Vec<usize> = (0..total).collect();
    let threads = crate::parallel::threads_at_least(2);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results = crate::parallel::map_in_chunks(&indexes, threads, |&i| {
        let r = write_patient(&standard, options, &codes, i);
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n.is_multiple_of(1000) || n == total {
            progress(n, total);
        }
        r
    });
    let mut counts = TreeCounts { patients: total, admitted: options.inpatients.len(), files: 0 };
    for r in results {
        counts.files += r?;
    }
    Ok(counts)
}

/// Adds one lab result message (OML-11, dated `options.today`) for each of `count` patients
/// spread over the tree: what a day of the EHR adds between two snapshot runs.
pub fn add_results(root: &Path, options: &TreeOptions, count: usize) -> io::Result<usize> {
    let codes = Codes::load();
    let total = options.inpatients.len() + options.others;
    let standard = root.join("standard");
    let mut files = 0;
    for n in 0..count {
        let index = n * total.max(1) / count.max(1);
        let (mut rng, person) = person_at(options, &codes, index);
        let mut w = Writer {
            standard: &standard,
            person: &person,
            codes: &codes,
            files: 0,
            clock: 10_000,
            today: options.today,
        };
        w.results_on(&mut rng, 900 + n, options.today)?;
        files += w.files;
    }
    Ok(files)
}

/// The patient at `index` (the same person every time) and their random stream.
fn person_at(options: &TreeOptions, codes: &Codes, index: usize) -> (fastrand::Rng, Person) {
    let mut rng = fastrand::Rng::with_seed(options.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let person = match options.inpatients.get(index) {
        Some(p) => Person::of(p, codes),
        None => Person::made_up(&mut rng, 20_000_000 + index as u32 * 7, codes, options.today),
    };
    (rng, person)
}

/// One patient: an inpatient of the census, or an outpatient made up from `index`.
fn write_patient(standard: &Path, options: &TreeOptions, codes: &Codes, index: usize) -> io::Result<usize> {
    let today = options.today;
    let (mut rng, person) = person_at(options, codes, index);
    let mut w = Writer { standard, person: &person, codes, files: 0, clock: 0, today };
    w.adt00(&mut rng)?;
    let mut budget = options.messages_per_patient.saturating_sub(1).max(1);
    if let Some(bed) = &person.bed {
        let admitted = today - Days::new(rng.u64(1..30));
        w.stay(MovementKind::Admit, admitted, bed)?;
        budget = budget.saturating_sub(1);
        if rng.u8(0..5) == 0 {
            // Came up from the ICU the day after.
            w.stay(MovementKind::Transfer, admitted + Days::new(1), bed)?;
            budget = budget.saturating_sub(1);
        }
        w.diet(&mut rng, admitted)?;
        budget = budget.saturating_sub(1);
    } else {
        // Outpatients: visits; every tenth was admitted once and discharged.
        for _ in 0..rng.usize(1..=3) {
            w.visit(today - Days::new(rng.u64(0..120)))?;
            budget = budget.saturating_sub(1);
        }
        if index.is_multiple_of(10) {
            let admitted = today - Days::new(rng.u64(60..200));
            let bed = ("5E".to_string(), "501".to_string(), "501-1".to_string());
            w.stay(MovementKind::Admit, admitted, &bed)?;
            w.stay(MovementKind::Discharge, admitted + Days::new(rng.u64(3..20)), &bed)?;
            budget = budget.saturating_sub(2);
        }
    }
    w.problems(&mut rng)?;
    budget = budget.saturating_sub(1);
    // Prescriptions, injections for inpatients, then results with what is left.
    let orders = (budget / 3).max(1);
    for n in 0..orders {
        let injection = person.bed.is_some() && n % 2 == 1;
        w.medication(&mut rng, n, injection)?;
    }
    for n in 0..budget.saturating_sub(orders) {
        w.results(&mut rng, n)?;
    }
    Ok(w.files)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MovementKind {
    Admit,
    Transfer,
    Discharge,
}

/// The facts every message of a patient repeats.
struct Person {
    id: String,
    family: String,
    given: String,
    family_kana: String,
    given_kana: String,
    dob: String,
    sex: &'static str,
    abo: Option<String>,
    rh: Option<&'static str>,
    allergies: Vec<String>,
    department: String,
    /// Ward, room, bed, for the admitted.
    bed: Option<(String, String, String)>,
}

impl Person {
    fn of(p: &Patient, codes: &Codes) -> Person {
        let (family, given) = crate::domain::staff::split_name(p.name.as_str());
        let (family_kana, given_kana) = crate::domain::staff::split_name(p.kana.as_str());
        Person {
            id: p.id.as_str().to_string(),
            family: family.to_string(),
            given: given.to_string(),
            family_kana: family_kana.to_string(),
            given_kana: given_kana.to_string(),
            dob: p.dob.date().format("%Y%m%d").to_string(),
            sex: p.sex.code(),
            abo: p.blood.abo.map(|a| {
                match a {
                    crate::domain::Abo::A => "A",
                    crate::domain::Abo::B => "B",
                    crate::domain::Abo::O => "O",
                    crate::domain::Abo::AB => "AB",
                }
                .to_string()
            }),
            rh: p.blood.rh.map(|r| if r == crate::domain::Rh::Negative { "-" } else { "+" }),
            allergies: p.allergies.clone(),
            department: codes.department_code(&p.department),
            bed: Some((p.location.ward.clone(), p.location.room.clone(), p.location.bed.clone())),
        }
    }

    fn made_up(rng: &mut fastrand::Rng, id: u32, codes: &Codes, today: NaiveDate) -> Person {
        let (family, family_kana) = SURNAMES[rng.usize(..SURNAMES.len())];
        let male = rng.bool();
        let names = if male { MALE_NAMES } else { FEMALE_NAMES };
        let (given, given_kana) = names[rng.usize(..names.len())];
        let dob = today - Days::new(rng.u64(365..365 * 95));
        let allergies = if rng.u8(0..8) == 0 {
            vec![ALLERGIES[rng.usize(..ALLERGIES.len())].to_string()]
        } else {
            Vec::new()
        };
        Person {
            id: id.to_string(),
            family: family.into(),
            given: given.into(),
            family_kana: family_kana.into(),
            given_kana: given_kana.into(),
            dob: dob.format("%Y%m%d").to_string(),
            sex: if male { "M" } else { "F" },
            abo: (rng.u8(0..10) > 0).then(|| ["A", "O", "B", "AB"][rng.usize(..4)].to_string()),
            rh: Some("+"),
            allergies,
            department: codes.departments[rng.usize(..codes.departments.len().min(12))].0.clone(),
            bed: None,
        }
    }
}

const NO_ORDER: &str = "999999999999999";
const SENDER: &str = "MSH|^~\\&|HIS|1312345678|SSMIX2|1312345678";

struct Writer<'a> {
    standard: &'a Path,
    person: &'a Person,
    codes: &'a Codes,
    files: usize,
    /// Milliseconds added to each message's time, so two messages never share a timestamp.
    clock: u64,
    today: NaiveDate,
}

impl Writer<'_> {
    fn stamp(&mut self, day: NaiveDate) -> String {
        self.clock += 1;
        let ms = 8 * 3_600_000 + self.clock * 61_001;
        format!(
            "{}{:02}{:02}{:02}{:03}",
            day.format("%Y%m%d"),
            (ms / 3_600_000) % 24,
            (ms / 60_000) % 60,
            (ms / 1000) % 60,
            ms % 1000
        )
    }

    fn pid(&self) -> String {
        let p = self.person;
        format!(
            "PID|0001||{}^^^^PI||{}^{}^^^^^L^I~{}^{}^^^^^L^P||{}|{}",
            p.id,
            esc(&p.family),
            esc(&p.given),
            esc(&p.family_kana),
            esc(&p.given_kana),
            p.dob,
            p.sex
        )
    }

    /// Writes one message as the storage files it: `day` `None` for the basic information.
    fn write(
        &mut self,
        data_type: &str,
        day: Option<NaiveDate>,
        order: &str,
        ts: &str,
        segments: &[String],
    ) -> io::Result<()> {
        let p = self.person;
        let day_text = day.map_or_else(|| "-".to_string(), |d| d.format("%Y%m%d").to_string());
        let padded = format!("{:0>6}", p.id);
        let folder: PathBuf =
            self.standard.join(&padded[..3]).join(&padded[3..6]).join(&p.id).join(&day_text).join(data_type);
        std::fs::create_dir_all(&folder)?;
        let name = format!("{}_{day_text}_{data_type}_{order:0>15}_{ts}_{}_1", p.id, p.department);
        let (bytes, _) = encode(&segments.join("\r"), Charset::Iso2022Jp);
        std::fs::write(folder.join(name), bytes)?;
        self.files += 1;
        Ok(())
    }

    fn msh(&self, ts: &str, kind: &str, n: usize) -> String {
        format!(
            "{SENDER}|{}.{}||{kind}|{}{n:04}|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO",
            &ts[..14],
            &ts[14..],
            &ts[..14]
        )
    }

    fn adt00(&mut self, rng: &mut fastrand::Rng) -> io::Result<()> {
        let day = self.today - Days::new(rng.u64(200..2000));
        let ts = self.stamp(day);
        let p = self.person;
        let mut segs = vec![
            self.msh(&ts, "ADT^A08^ADT_A01", 0),
            format!("EVN||{}", &ts[..14]),
            self.pid(),
            "PV1|0001|N".to_string(),
        ];
        let mut set = 0;
        if let Some(abo) = &p.abo {
            set += 1;
            segs.push(format!("OBX|{set}|CWE|ABO^ABO式血液型^99ZZZ||{abo}^{abo}型^99ZZZ||||||F"));
        }
        if let (Some(rh), Some(_)) = (p.rh, &p.abo) {
            set += 1;
            segs.push(format!("OBX|{set}|CWE|RH^Rh式血液型^99ZZZ||{rh}^Rh{rh}^99ZZZ||||||F"));
        }
        for (i, a) in p.allergies.iter().enumerate() {
            let kind = if a.contains("卵") || a.contains("そば") || a.contains("小麦") {
                "FA^食物アレルギー"
            } else {
                "DA^薬剤アレルギー"
            };
            segs.push(format!("AL1|{}|{kind}^HL70127|^{}^99XYZ|SV^重度^HL70128", i + 1, esc(a)));
        }
        self.write("ADT-00", None, NO_ORDER, &ts, &segs)
    }

    fn pv1(
        &self,
        class: &str,
        bed: Option<&(String, String, String)>,
        admitted: Option<&str>,
        discharged: Option<&str>,
    ) -> String {
        let location = bed.map_or_else(String::new, |(w, r, b)| format!("{}^{}^{}", esc(w), esc(r), esc(b)));
        let mut fields = vec![String::new(); 46];
        fields[0] = "PV1".into();
        fields[1] = "0001".into();
        fields[2] = class.into();
        fields[3] = location;
        fields[10] = self.person.department.clone();
        fields[44] = admitted.unwrap_or_default().to_string();
        fields[45] = discharged.unwrap_or_default().to_string();
        fields.join("|")
    }

    fn stay(&mut self, kind: MovementKind, day: NaiveDate, bed: &(String, String, String)) -> io::Result<()> {
        let ts = self.stamp(day);
        let (trigger, data_type) = match kind {
            MovementKind::Admit => ("A01", "ADT-22"),
            MovementKind::Transfer => ("A02", "ADT-42"),
            MovementKind::Discharge => ("A03", "ADT-52"),
        };
        let at = &ts[..12];
        let pv1 = match kind {
            MovementKind::Discharge => self.pv1("I", Some(bed), None, Some(at)),
            _ => self.pv1("I", Some(bed), Some(at), None),
        };
        let segs = vec![
            self.msh(&ts, &format!("ADT^{trigger}^ADT_A01"), 1),
            format!("EVN||{}|||||{}", &ts[..14], &ts[..14]),
            self.pid(),
            pv1,
        ];
        self.write(data_type, Some(day), NO_ORDER, &ts, &segs)
    }

    fn visit(&mut self, day: NaiveDate) -> io::Result<()> {
        let ts = self.stamp(day);
        let segs = vec![
            self.msh(&ts, "ADT^A04^ADT_A01", 2),
            format!("EVN||{}", &ts[..14]),
            self.pid(),
            self.pv1("O", None, Some(&ts[..12]), None),
        ];
        self.write("ADT-12", Some(day), NO_ORDER, &ts, &segs)
    }

    fn problems(&mut self, rng: &mut fastrand::Rng) -> io::Result<()> {
        const PROBLEMS: [(&str, &str); 6] = [
            ("20053708", "高血圧症"),
            ("20068089", "2型糖尿病"),
            ("20062930", "脂質異常症"),
            ("20061290", "肺炎"),
            ("20087480", "心不全"),
            ("20057397", "慢性腎臓病"),
        ];
        let day = self.today - Days::new(rng.u64(30..1500));
        let ts = self.stamp(day);
        let mut segs = vec![self.msh(&ts, "PPR^ZD1^PPR_ZD1", 3), self.pid(), self.pv1("O", None, None, None)];
        let first = rng.usize(..PROBLEMS.len());
        for i in 0..rng.usize(1..=3) {
            let (code, name) = PROBLEMS[(first + i) % PROBLEMS.len()];
            let mut prb = vec![String::new(); 17];
            prb[0] = "PRB".into();
            prb[1] = "AD".into();
            prb[2] = ts[..14].to_string();
            prb[3] = format!("{code}^{name}^MDCDX2");
            prb[4] = format!("{}{i}", &ts[..8]);
            prb[7] = day.format("%Y%m%d").to_string();
            prb[16] = day.format("%Y%m%d").to_string();
            segs.push(prb.join("|"));
        }
        self.write("PPR-01", Some(day), &format!("{}{}", &ts[2..8], 1), &ts, &segs)
    }

    fn medication(&mut self, rng: &mut fastrand::Rng, n: usize, injection: bool) -> io::Result<()> {
        let codes = self.codes;
        let start = self.today - Days::new(rng.u64(0..45));
        let days = [3u64, 5, 7, 14, 28][rng.usize(..5)];
        let ts = self.stamp(start);
        let order = format!("{}{:03}{n:02}", &ts[2..8], rng.u32(0..1000));
        let data_type = if injection { "OMP-02" } else { "OMP-01" };
        let mut segs = vec![
            self.msh(&ts, "RDE^O11^RDE_O11", 4),
            self.pid(),
            self.pv1(if self.person.bed.is_some() { "I" } else { "O" }, self.person.bed.as_ref(), None, None),
        ];
        // One in twenty orders was cancelled after it was written.
        let control = if rng.u8(0..20) == 0 { "CA" } else { "NW" };
        for line in 0..rng.usize(1..=3) {
            let drug = if injection {
                &codes.injections[rng.usize(..codes.injections.len())]
            } else {
                &codes.oral[rng.usize(..codes.oral.len())]
            };
            let unit = drug.unit.clone().unwrap_or_default();
            segs.push(format!(
                "ORC|{control}|{order}_{line}^HIS|||||||{}|||||||{}",
                start.format("%Y%m%d"),
                self.person.department
            ));
            segs.push(format!(
                "RXE||{}^{}^99XYZ|{}||{unit}^{unit}^99XYZ",
                drug.code,
                esc(&drug.name),
                rng.usize(1..=2)
            ));
            let end = start + Days::new(days - 1);
            if injection {
                segs.push(format!("TQ1|||||||{}|{}", start.format("%Y%m%d"), end.format("%Y%m%d")));
                segs.push("RXR|IV^静脈内^HL70162".to_string());
            } else {
                let usage = &codes.usages[rng.usize(..codes.usages.len())];
                segs.push(format!(
                    "TQ1|||{}&{}&JAMISDP01|||{days}^d&日&UCUM|{}|{}",
                    usage.detail("jami").unwrap_or_default(),
                    esc(&usage.name),
                    start.format("%Y%m%d"),
                    end.format("%Y%m%d")
                ));
                segs.push("RXR|PO^経口^HL70162".to_string());
            }
        }
        self.write(data_type, Some(start), &order, &ts, &segs)
    }

    fn results(&mut self, rng: &mut fastrand::Rng, n: usize) -> io::Result<()> {
        let day = self.today - Days::new(rng.u64(0..90));
        self.results_on(rng, n, day)
    }

    fn results_on(&mut self, rng: &mut fastrand::Rng, n: usize, day: NaiveDate) -> io::Result<()> {
        let codes = self.codes;
        let ts = self.stamp(day);
        let order = format!("{}{:04}{n:03}", &ts[2..8], rng.u32(0..10_000));
        let mut segs = vec![
            self.msh(&ts, "OUL^R22^OUL_R22", 5),
            self.pid(),
            self.pv1(if self.person.bed.is_some() { "I" } else { "O" }, self.person.bed.as_ref(), None, None),
            format!("SPM|1|||023^血清^JC10|||||||||||||{}", &ts[..12]),
            format!("OBR|1|{order}^HIS||||||{}", &ts[..12]),
        ];
        for set in 1..=rng.usize(3..=8) {
            let test = &codes.tests[rng.usize(..codes.tests.len())];
            let (unit, low, high, decimals) = lab_range(&test.code);
            // Mostly within the reference range, one in four outside it.
            let span = high - low;
            let value = match rng.u8(0..8) {
                0 => low - span * 0.3 * rng.f64(),
                1 => high + span * rng.f64(),
                _ => low + span * rng.f64(),
            }
            .max(0.0);
            let flag = if value > high {
                "H"
            } else if value < low {
                "L"
            } else {
                ""
            };
            segs.push(format!(
                "OBX|{set}|NM|{}^{}^JC10||{value:.decimals$}|{unit}^{unit}^ISO+|{low}-{high}|{flag}|||F|||{}",
                test.detail("jlac10").unwrap_or_default(),
                esc(&test.name),
                &ts[..12]
            ));
        }
        self.write("OML-11", Some(day), &order, &ts, &segs)
    }

    fn diet(&mut self, rng: &mut fastrand::Rng, start: NaiveDate) -> io::Result<()> {
        const DIETS: [&str; 4] = ["常食", "軟菜食", "糖尿病食 1600kcal", "減塩食 6g"];
        let ts = self.stamp(start);
        let diet = DIETS[rng.usize(..DIETS.len())];
        let segs = vec![
            self.msh(&ts, "OMD^O03^OMD_O03", 6),
            self.pid(),
            self.pv1("I", self.person.bed.as_ref(), None, None),
            format!("ORC|NW|{}D^HIS", &ts[2..14]),
            format!("TQ1|||||||{}", start.format("%Y%m%d")),
            format!("ODS|D||^{diet}^99XYZ"),
        ];
        self.write("OMD", Some(start), &format!("{}D", &ts[2..14]), &ts, &segs)
    }
}

/// A synthetic test's unit, reference range and decimals (typical adult ranges, for realism only).
fn lab_range(code: &str) -> (&'static str, f64, f64, usize) {
    match code {
        "CRP" => ("mg/dL", 0.0, 0.3, 2),
        "AST" => ("U/L", 13.0, 30.0, 0),
        "ALT" => ("U/L", 7.0, 30.0, 0),
        "LDH" => ("U/L", 124.0, 222.0, 0),
        "ALP" => ("U/L", 38.0, 113.0, 0),
        "GGT" => ("U/L", 9.0, 64.0, 0),
        "TBIL" => ("mg/dL", 0.4, 1.5, 1),
        "TP" => ("g/dL", 6.6, 8.1, 1),
        "ALB" => ("g/dL", 4.1, 5.1, 1),
        "BUN" => ("mg/dL", 8.0, 20.0, 1),
        "CRE" => ("mg/dL", 0.46, 1.07, 2),
        "NA" => ("mmol/L", 138.0, 145.0, 0),
        "K" => ("mmol/L", 3.6, 4.8, 1),
        "CL" => ("mmol/L", 101.0, 108.0, 0),
        "CA" => ("mg/dL", 8.8, 10.1, 1),
        "GLU" => ("mg/dL", 73.0, 109.0, 0),
        "HBA1C" => ("%", 4.9, 6.0, 1),
        "CK" => ("U/L", 41.0, 153.0, 0),
        "AMY" => ("U/L", 44.0, 132.0, 0),
        "PT" => ("INR", 0.85, 1.15, 2),
        "APTT" => ("s", 24.0, 34.0, 1),
        "DDIM" => ("ug/mL", 0.0, 1.0, 1),
        "BNP" => ("pg/mL", 0.0, 18.4, 1),
        "TCHO" => ("mg/dL", 142.0, 248.0, 0),
        "TG" => ("mg/dL", 40.0, 149.0, 0),
        "HDL" => ("mg/dL", 40.0, 90.0, 0),
        "LDL" => ("mg/dL", 65.0, 139.0, 0),
        "URIC" => ("mg/dL", 2.6, 7.0, 1),
        _ => ("COI", 0.0, 1.0, 2),
    }
}
