//! What the demo's clerks type: values for every field of a form, each checked by the entry
//! screen's own `fields::check_typed`.

use super::DemoError;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::Value;

use crate::domain::{DosageForm, MasterItem, MasterKind, Patient, RecordKind};
use crate::entry::fields::{self, Values};
use crate::entry::keying::MasterSet;
use crate::form::FormKind;
use crate::form::keys;
use crate::form::view::row_of;
use crate::form::{FieldDef, FieldType, FormDefinition};
use crate::store::Store;

/// Typed values for a form's fields, each checked by the same `fields::check_typed` the entry
/// screen uses, so a demo keying is one a clerk could have typed.
pub(super) struct ValueMaker {
    masters: MasterSet,
    /// Codes of each master, most used first.
    codes: HashMap<String, Vec<String>>,
    today: NaiveDate,
}

/// Vital-sign rounds, as the wards take them.
const ROUNDS: [&str; 6] = ["06:00", "10:00", "14:00", "18:00", "22:00", "02:00"];
/// Staff who sign the paper: common surnames, as the demo census combines them (no real person).
const STAFF: [&str; 10] = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"];
const DEPARTMENTS: [&str; 6] = ["内科", "外科", "整形外科", "循環器内科", "呼吸器内科", "消化器内科"];

impl ValueMaker {
    pub(super) fn load(store: &Store, today: NaiveDate) -> Result<Self, DemoError> {
        let mut codes = HashMap::new();
        for kind in MasterKind::ALL {
            let mut items = store.master_items(kind.code())?;
            items.sort_by(|a, b| b.uses.cmp(&a.uses).then_with(|| a.code.cmp(&b.code)));
            codes.insert(kind.code().to_string(), items.into_iter().map(|i| i.code).collect());
        }
        Ok(Self { masters: MasterSet::load(store)?, codes, today })
    }

    /// The most charge lines one slip of `form` can hold for `patient` (the boxes the master
    /// allows where the patient is, and every code line).
    pub(super) fn most_lines(&self, form: &FormDefinition, patient: &Patient) -> usize {
        form.fields_with(&keys::CHARGE_CODE)
            .map(|f| match &f.kind {
                FieldType::Ticks { options, .. } => {
                    options.iter().filter(|o| self.fits_patient(&o.code, patient)).count()
                }
                _ => 1,
            })
            .sum()
    }

    /// One keyed page of `form` for `patient`, written on `day`; a charge slip with `lines`
    /// charge lines when given.
    pub(super) fn page(
        &self,
        form: &FormDefinition,
        patient: &Patient,
        day: NaiveDate,
        lines: Option<usize>,
        rng: &mut fastrand::Rng,
    ) -> Result<Values, DemoError> {
        let rows = form.fields.iter().filter_map(|f| row_of(&f.key).parse::<usize>().ok()).max();
        let rows_filled = rows.map_or(0, |n| {
            // A vital-sign sheet has most of the day's rounds; order slips a few lines.
            let least = if form.kind.record_kind() == RecordKind::Observation { 3 } else { 1 };
            rng.usize(least.min(n)..=(n * 2 / 3).max(least.min(n)))
        });
        let charges = form.makes_charges();
        let (ticked, code_rows) = if charges {
            let most = self.most_lines(form, patient);
            let code_fields = form
                .fields_with(&keys::CHARGE_CODE)
                .filter(|f| matches!(f.kind, FieldType::Code { .. }))
                .count();
            let lines = lines.unwrap_or_else(|| rng.usize(2..=8)).clamp(1, most.max(1));
            let boxes = most - code_fields;
            let mut typed = rng.usize(0..=code_fields.min(lines).min(3));
            typed = typed.max(lines.saturating_sub(boxes)).min(code_fields);
            (lines - typed, typed)
        } else {
            (0, 0)
        };
        let mut values = Values::new();
        // The drug of each row, so its dose and usage fit it (no 500 mL of a tablet).
        let mut row_drugs: HashMap<String, String> = HashMap::new();
        let mut code_rows_done = 0;
        let mut rows_with_code = HashSet::new();
        for field in &form.fields {
            let row = row_of(&field.key);
            let export = field.export.as_ref();
            if charges && export == Some(&keys::CHARGE_CODE) {
                match &field.kind {
                    FieldType::Ticks { options, .. } => {
                        // Only what the master allows for this patient (no 入院基本料 for an
                        // outpatient): the demo's reconciliation shows no in/out conflict.
                        let mut codes: Vec<&str> = options
                            .iter()
                            .map(|o| o.code.as_str())
                            .filter(|c| self.fits_patient(c, patient))
                            .collect();
                        rng.shuffle(&mut codes);
                        codes.truncate(ticked);
                        // In the slip's order, as the boxes are read down the columns.
                        codes.sort_by_key(|c| options.iter().position(|o| o.code == *c));
                        if !codes.is_empty() {
                            values.insert(field.key.clone(), Value::from(codes));
                        }
                    }
                    FieldType::Code { master } if code_rows_done < code_rows => {
                        let mut code = self.code(master, rng)?;
                        for _ in 0..50 {
                            if self.fits_patient(&code, patient) {
                                break;
                            }
                            code = self.code(master, rng)?;
                        }
                        self.put(&mut values, field, &code)?;
                        code_rows_done += 1;
                        rows_with_code.insert(row.to_string());
                    }
                    _ => {}
                }
                continue;
            }
            if charges && export == Some(&keys::CHARGE_QUANTITY) {
                if rows_with_code.contains(row) {
                    self.put(&mut values, field, &rng.u32(1..=3).to_string())?;
                }
                continue;
            }
            if !row.is_empty() && row.parse::<usize>().is_ok_and(|n| n > rows_filled) {
                continue;
            }
            let optional = !field.required;
            match &field.kind {
                FieldType::Tick => {
                    if self.ticked(field, patient, rng) {
                        values.insert(field.key.clone(), Value::Bool(true));
                    }
                }
                FieldType::Ticks { options, .. } => {
                    let n = match base_key(&field.key) {
                        "tests" => rng.usize(3..=7),
                        _ => 1,
                    }
                    .min(options.len());
                    // What a slip orders is never left blank: a lab slip orders something.
                    let skippable = optional && export != Some(&keys::SERVICE);
                    if n == 0 || (skippable && rng.u8(0..5) == 0) {
                        continue;
                    }
                    let mut picked: Vec<&str> = options.iter().map(|o| o.code.as_str()).collect();
                    rng.shuffle(&mut picked);
                    picked.truncate(n);
                    picked.sort_by_key(|c| options.iter().position(|o| o.code == *c));
                    values.insert(field.key.clone(), Value::from(picked));
                }
                _ => {
                    // Header fields a clerk sometimes leaves empty; in a row, only remarks.
                    // A slip's time of service is always written: surcharges depend on it.
                    // And a slip's doctor: the billing system files the charge under them.
                    let timed = charges
                        && matches!(export, Some(k) if *k == keys::CHARGE_DATE || *k == keys::CHARGE_DOCTOR);
                    let skip = match row {
                        "" => optional && !timed && rng.u8(0..5) == 0,
                        _ => matches!(base_key(&field.key), "comment" | "memo") && rng.u8(0..3) > 0,
                    };
                    if skip {
                        continue;
                    }
                    let drug = row_drugs.get(row).and_then(|c| self.drug(c));
                    let text = match (export, &field.kind, drug) {
                        (Some(k), FieldType::Code { .. }, _)
                            if *k == keys::DRUG || *k == keys::GIVEN_DRUG =>
                        {
                            let code = self.drug_for(form.kind, rng)?;
                            row_drugs.insert(row.to_string(), code.clone());
                            code
                        }
                        (Some(k), _, Some(drug)) if *k == keys::DOSE || *k == keys::GIVEN_AMOUNT => {
                            dose_of(drug, rng)
                        }
                        (Some(k), _, Some(drug)) if *k == keys::FREQUENCY => usage_of(drug, rng),
                        (Some(k), _, Some(drug)) if *k == keys::ROUTE => route_of(drug, rng),
                        // A charge slip names a doctor of the doctors master in full, as billing
                        // must find them; other paper says "佐藤医師" and may name anyone.
                        (Some(k), _, _) if charges && *k == keys::CHARGE_DOCTOR => self.doctor(rng)?,
                        _ => self.typed_text(field, patient, day, row, rng)?,
                    };
                    self.put(&mut values, field, &text)?;
                }
            }
        }
        Ok(values)
    }

    /// Checks `text` as the entry screen does and keeps what it stores.
    fn put(&self, values: &mut Values, field: &FieldDef, text: &str) -> Result<(), DemoError> {
        match fields::check_typed(field, text, self.today, &self.masters) {
            Ok(Some(checked)) => {
                values.insert(field.key.clone(), checked.value);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(DemoError::Refused(format!("demo value '{text}' for {}: {e}", field.key))),
        }
    }

    fn drug(&self, code: &str) -> Option<&MasterItem> {
        self.masters.get(MasterKind::Drugs.code())?.get(code)
    }

    /// A drug a form of this kind orders: injections on an injection slip, drugs taken or
    /// applied on a prescription; the most used most often.
    fn drug_for(&self, kind: FormKind, rng: &mut fastrand::Rng) -> Result<String, DemoError> {
        let fits = |code: &String| {
            let form = self.drug(code).and_then(|d| d.detail("form")).and_then(DosageForm::parse);
            match kind {
                FormKind::Injection => form == Some(DosageForm::Injection),
                FormKind::Prescription => form != Some(DosageForm::Injection),
                _ => true,
            }
        };
        let codes: Vec<String> = self
            .codes
            .get(MasterKind::Drugs.code())
            .into_iter()
            .flatten()
            .filter(|c| fits(c))
            .cloned()
            .collect();
        if codes.is_empty() {
            return Err(DemoError::Refused(
                "the drugs master has no drug for this form: load the sample masters first".into(),
            ));
        }
        let top = codes.len().min(8);
        Ok(if rng.u8(0..4) > 0 { &codes[rng.usize(0..top)] } else { &codes[rng.usize(0..codes.len())] }
            .clone())
    }

    fn code(&self, master: &str, rng: &mut fastrand::Rng) -> Result<String, DemoError> {
        let codes = self.codes.get(master).filter(|c| !c.is_empty()).ok_or_else(|| {
            DemoError::Refused(format!("the {master} master is empty: load the sample masters first"))
        })?;
        // The most used codes most often, as on a real ward.
        let top = codes.len().min(20);
        Ok(if rng.u8(0..4) > 0 { &codes[rng.usize(0..top)] } else { &codes[rng.usize(0..codes.len())] }
            .clone())
    }

    /// Whether the charges master allows `code` for where `patient` is (入外適用区分).
    fn fits_patient(&self, code: &str, patient: &Patient) -> bool {
        let outpatient = patient.location.ward == crate::downtime::OUTPATIENT_WARD;
        let inout = self
            .masters
            .get(MasterKind::Charges.code())
            .and_then(|m| m.get(code))
            .and_then(|i| i.detail("inout"));
        crate::domain::billing::inout_conflict(inout, !outpatient).is_none()
    }

    /// A doctor of the doctors master by full name.
    fn doctor(&self, rng: &mut fastrand::Rng) -> Result<String, DemoError> {
        let code = self.code(MasterKind::Doctors.code(), rng)?;
        Ok(self
            .masters
            .get(MasterKind::Doctors.code())
            .and_then(|m| m.get(&code))
            .map_or(code, |d| d.name.clone()))
    }

    fn ticked(&self, field: &FieldDef, patient: &Patient, rng: &mut fastrand::Rng) -> bool {
        match base_key(&field.key) {
            "done" | "given" => rng.u8(0..10) > 0,
            "outpatient" => patient.location.ward == crate::downtime::OUTPATIENT_WARD,
            "contrast" | "allergy_checked" => rng.u8(0..4) == 0,
            _ => rng.u8(0..6) == 0,
        }
    }

    /// What a clerk types into a text-like field; checked afterwards by `put`.
    fn typed_text(
        &self,
        field: &FieldDef,
        patient: &Patient,
        day: NaiveDate,
        row: &str,
        rng: &mut fastrand::Rng,
    ) -> Result<String, DemoError> {
        let pick = |rng: &mut fastrand::Rng, items: &[&str]| items[rng.usize(0..items.len())].to_string();
        let staff = |rng: &mut fastrand::Rng| STAFF[rng.usize(0..STAFF.len())].to_string();
        let key = base_key(&field.key);
        Ok(match &field.kind {
            FieldType::Date => day.format("%Y-%m-%d").to_string(),
            FieldType::Time => match row.parse::<usize>() {
                Ok(n) if key == "time" && n >= 1 => ROUNDS[(n - 1) % ROUNDS.len()].to_string(),
                _ => format!("{:02}:{:02}", rng.u32(8..20), rng.u32(0..12) * 5),
            },
            FieldType::Code { master } => self.code(master, rng)?,
            FieldType::Number { min, max, decimals, .. } => {
                let (lo, hi) = match key {
                    "temp" => (36.0, 38.4),
                    "pulse" => (58.0, 108.0),
                    "bp_sys" => (98.0, 162.0),
                    "bp_dia" => (55.0, 95.0),
                    "resp" => (12.0, 24.0),
                    "spo2" => (92.0, 100.0),
                    "days" => (3.0, 14.0),
                    "qty" => (1.0, 3.0),
                    "energy_kcal" => (1200.0, 2000.0),
                    "salt_g" => (5.0, 7.0),
                    "protein_g" => (40.0, 70.0),
                    "creatinine" => (0.5, 1.4),
                    _ => {
                        let lo = min.unwrap_or(0.0);
                        let hi = max.unwrap_or(lo + 10.0);
                        (lo, lo + (hi - lo) / 4.0)
                    }
                };
                let (lo, hi) = (lo.max(min.unwrap_or(f64::MIN)), hi.min(max.unwrap_or(f64::MAX)));
                let value = lo + rng.f64() * (hi - lo).max(0.0);
                format!("{value:.*}", *decimals as usize)
            }
            FieldType::Area { .. } => match key {
                "note" => pick(
                    rng,
                    &[
                        "S) 夜間よく眠れた。疼痛の訴えなし。\nO) 体温36.8℃、創部発赤なし。\nA) 経過良好。\nP) 現治療継続。",
                        "S) 食後に軽い嘔気あり。\nO) 腹部平坦・軟、圧痛なし。\nA) 一過性と考える。\nP) 経過観察、症状続けば医師へ報告。",
                        "S) 歩行時に右膝の痛み。\nO) 腫脹軽度、熱感なし。\nA) 術後経過として妥当。\nP) リハビリ継続、鎮痛薬頓用。",
                    ],
                ),
                "clinical_info" => pick(rng, &["発熱精査", "肺炎疑い", "術前検査", "経過観察", "胸痛精査"]),
                "food_allergy" => pick(rng, &["なし", "卵", "そば"]),
                "comment" => pick(rng, &["特になし", "刻み食", "とろみ付き"]),
                _ => "デモ記入 (synthetic)".to_string(),
            },
            FieldType::Text { max_chars } => {
                let text = match key {
                    "department" if !patient.department.is_empty() => patient.department.clone(),
                    "department" => pick(rng, &DEPARTMENTS),
                    // The synthetic 医事 numbers every demo patient's main combination 0001.
                    "insurance" => "0001".to_string(),
                    "doctor" => format!("{}医師", staff(rng)),
                    "author" | "signature" | "done_by" | "initials" | "clerk" => staff(rng),
                    "profession" => pick(rng, &["医師", "看護師"]),
                    "dose" => pick(rng, &["1錠", "2錠", "1包", "1A", "500mL", "5mL"]),
                    "frequency" => {
                        pick(rng, &["1日3回 毎食後", "1日2回 朝夕食後", "1日1回 朝食後", "疼痛時 頓用"])
                    }
                    "route" => pick(rng, &["PO", "IV", "DIV", "SC", "IM"]),
                    "rate" => pick(rng, &["60mL/h", "80mL/h", "100mL/h"]),
                    "comment" => pick(rng, &["一包化", "粉砕"]),
                    "specimen" => pick(rng, &["血液", "血清", "尿"]),
                    "region" => pick(rng, &["胸部正面", "腹部", "右膝関節", "頭部"]),
                    "memo" => pick(rng, &["発熱あり", "疼痛の訴えあり", "入眠中"]),
                    "intake_output" => format!("IN {} / OUT {}", rng.u32(12..20) * 100, rng.u32(9..16) * 100),
                    _ => "デモ".to_string(),
                };
                match max_chars {
                    Some(max) => text.chars().take(*max as usize).collect(),
                    None => text,
                }
            }
            FieldType::Tick | FieldType::Ticks { .. } => String::new(),
        })
    }
}

/// The field's name without its paper row: `temp_3` → `temp`.
pub(super) fn base_key(key: &str) -> &str {
    match row_of(key) {
        "" => key,
        row => key.strip_suffix(row).and_then(|k| k.strip_suffix('_')).unwrap_or(key),
    }
}

/// A dose of `drug` in its master's unit, as a ward writes it.
fn dose_of(drug: &MasterItem, rng: &mut fastrand::Rng) -> String {
    let unit = drug.unit.as_deref().unwrap_or("");
    let amount = match unit {
        "錠" | "カプセル" | "包" => rng.u32(1..=2).to_string(),
        "mL" if drug.name.contains("500mL") => "500".to_string(),
        "mL" if drug.name.contains("100mL") => "100".to_string(),
        "mL" if drug.name.contains("単位") => rng.u32(2..=10).to_string(),
        "mL" => "5".to_string(),
        "g" => "10".to_string(),
        _ => "1".to_string(),
    };
    format!("{amount}{unit}")
}

/// A usage as the usages master names it: a drug applied four times a day, one taken after
/// meals, at bedtime or when needed.
fn usage_of(drug: &MasterItem, rng: &mut fastrand::Rng) -> String {
    let usages: &[&str] = match drug.detail("form").and_then(DosageForm::parse) {
        Some(DosageForm::External) => &["1日4回 塗布"],
        _ => &["1日3回 毎食後", "1日2回 朝夕食後", "1日1回 朝食後", "1日1回 就寝前", "疼痛時 頓用"],
    };
    usages[rng.usize(0..usages.len())].to_string()
}

/// A route that fits the drug: an injection's, or by mouth.
fn route_of(drug: &MasterItem, rng: &mut fastrand::Rng) -> String {
    let routes: &[&str] = match drug.detail("form").and_then(DosageForm::parse) {
        Some(DosageForm::Injection) if drug.name.contains("500mL") => &["DIV"],
        Some(DosageForm::Injection) if drug.name.contains("インスリン") || drug.name.contains("ヘパリン") => {
            &["SC"]
        }
        Some(DosageForm::Injection) => &["IV", "DIV"],
        Some(DosageForm::External) => &["外用"],
        _ => &["PO"],
    };
    routes[rng.usize(0..routes.len())].to_string()
}
