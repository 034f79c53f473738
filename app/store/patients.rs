//! Patients: the census snapshot the kit prints from.

use std::collections::{HashMap, HashSet};

use chrono::Local;
use rusqlite::{Row, Transaction, params};

use super::audit::AuditWriter;
use super::meta::{KEY_DEMO, set_meta};
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::{
    BloodType, DateOfBirth, KanaName, KanjiName, Location, Patient, PatientId, PatientStatus, Sex,
    kana::search_key, natural_cmp,
};

const SOURCE_CENSUS: &str = "census";
/// A patient registered during downtime under a downtime ID.
pub(super) const SOURCE_DOWNTIME: &str = "downtime";

/// A stored patient with the state the census gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    pub patient: Patient,
    pub status: PatientStatus,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WardSummary {
    pub ward: String,
    pub admitted: usize,
}

/// What one census import (or demo) asks of the store, besides the patients themselves.
#[derive(Debug, Clone, Default)]
pub struct CensusApply<'a> {
    /// The file's name, for the import log.
    pub file: &'a str,
    pub encoding: &'a str,
    /// Data rows in the file, valid or not.
    pub rows: usize,
    pub skipped: usize,
    /// Mark census patients absent from this import as discharged.
    pub discharge_missing: bool,
    /// IDs whose rows were skipped as invalid: they are still in the EHR's census, so they are
    /// never discharged because of this import.
    pub keep: Option<&'a HashSet<String>>,
    /// This import is the synthetic demo hospital.
    pub mark_demo: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyCounts {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub readmitted: usize,
    pub discharged: usize,
}

pub(super) const COLUMNS: &str = "id, name, kana, dob, sex, blood_type, ward, room, bed, department, allergies, \
                       status, updated_at, updated_by";

impl Store {
    /// Writes a census in one transaction: new patients inserted, changed ones updated, returning
    /// ones re-admitted, absent ones discharged (if asked), every change audited with its before
    /// and after. `progress(done, total)` is called as rows are written.
    pub fn apply_census(
        &mut self,
        actor: &Actor,
        patients: &[Patient],
        apply: &CensusApply<'_>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ApplyCounts> {
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        let existing = load_all(&tx)?;
        let now = now_text();
        let mut counts = ApplyCounts::default();
        let total = patients.len();
        for (i, p) in patients.iter().enumerate() {
            match existing.get(p.id.as_str()) {
                None => {
                    upsert(&tx, p, SOURCE_CENSUS, &now, actor)?;
                    audit.append(&tx, actor, "insert", "patient", p.id.as_str(), None, Some(&json(p)))?;
                    counts.inserted += 1;
                }
                Some((old, status, _)) => {
                    let readmit = *status == PatientStatus::Discharged;
                    if old == p && !readmit {
                        counts.unchanged += 1;
                    } else {
                        upsert(&tx, p, SOURCE_CENSUS, &now, actor)?;
                        let action = if readmit { "readmit" } else { "update" };
                        audit.append(
                            &tx,
                            actor,
                            action,
                            "patient",
                            p.id.as_str(),
                            Some(&json(old)),
                            Some(&json(p)),
                        )?;
                        if readmit {
                            counts.readmitted += 1;
                        } else {
                            counts.updated += 1;
                        }
                    }
                }
            }
            if i % 256 == 0 || i + 1 == total {
                progress(i + 1, total);
            }
        }
        if apply.discharge_missing {
            let present: HashSet<&str> = patients.iter().map(|p| p.id.as_str()).collect();
            let mut gone: Vec<&String> = existing
                .iter()
                .filter(|(id, (_, status, source))| {
                    *status == PatientStatus::Admitted
                        && source == SOURCE_CENSUS
                        && !present.contains(id.as_str())
                        && !apply.keep.is_some_and(|k| k.contains(id.as_str()))
                })
                .map(|(id, _)| id)
                .collect();
            gone.sort();
            for id in gone {
                tx.execute(
                    "UPDATE patients SET status = 'discharged', discharged_at = ?2, updated_at = ?2,
                     updated_by = ?3 WHERE id = ?1",
                    params![id, now, actor.0],
                )?;
                audit.append(&tx, actor, "discharge", "patient", id, None, None)?;
                counts.discharged += 1;
            }
        }
        tx.execute(
            "INSERT INTO census_imports (file, encoding, rows, inserted, updated, unchanged,
             readmitted, discharged, skipped, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                apply.file,
                apply.encoding,
                apply.rows as i64,
                counts.inserted as i64,
                counts.updated as i64,
                counts.unchanged as i64,
                counts.readmitted as i64,
                counts.discharged as i64,
                apply.skipped as i64,
                now,
                actor.0
            ],
        )?;
        if apply.mark_demo {
            set_meta(&tx, &mut audit, actor, KEY_DEMO, "true")?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// Patients in natural ward and bed order; only admitted ones unless asked.
    pub fn patients(&self, ward: Option<&str>, include_discharged: bool) -> Result<Vec<PatientRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM patients
             WHERE (?1 IS NULL OR ward = ?1) AND (?2 OR status = 'admitted')
"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params![ward, include_discharged])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_record(row)?);
        }
        out.sort_by(|a, b| {
            let (p, q) = (&a.patient.location, &b.patient.location);
            natural_cmp(&p.ward, &q.ward)
                .then_with(|| natural_cmp(&p.bed, &q.bed))
                .then_with(|| a.patient.id.cmp(&b.patient.id))
        });
        Ok(out)
    }

    /// One patient by ID, admitted or not.
    pub fn patient(&self, id: &PatientId) -> Result<Option<PatientRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM patients WHERE id = ?1"))?;
        let mut rows = stmt.query([id.as_str()])?;
        match rows.next()? {
            Some(row) => Ok(Some(read_record(row)?)),
            None => Ok(None),
        }
    }

    /// Wards with at least one admitted patient, in natural order (3E before 10E).
    pub fn wards(&self) -> Result<Vec<WardSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT ward, COUNT(*) FROM patients WHERE status = 'admitted' GROUP BY ward ORDER BY ward",
        )?;
        let rows = stmt
            .query_map([], |r| Ok(WardSummary { ward: r.get(0)?, admitted: r.get::<_, i64>(1)? as usize }))?;
        let mut wards: Vec<WardSummary> = rows.collect::<rusqlite::Result<_>>()?;
        wards.sort_by(|a, b| natural_cmp(&a.ward, &b.ward));
        Ok(wards)
    }

    /// Every patient ever stored, admitted or not.
    pub fn patient_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// True once a census not produced by `demo` has been imported.
    pub fn has_real_census(&self) -> Result<bool> {
        let n: i64 =
            self.conn.query_row("SELECT COUNT(*) FROM census_imports WHERE encoding <> 'demo'", [], |r| {
                r.get(0)
            })?;
        Ok(n > 0)
    }
}

pub(super) fn json(p: &Patient) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or(serde_json::Value::Null)
}

/// Inserts a new census patient, or updates (and re-admits) an existing one; `created_*` stay
/// as first written.
pub(super) fn upsert(
    tx: &Transaction<'_>,
    p: &Patient,
    source: &str,
    now: &str,
    actor: &Actor,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO patients (id, name, kana, kana_key, dob, sex, blood_type, ward, room, bed,
         department, allergies, status, source, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'admitted', ?13, ?14, ?15, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kana = excluded.kana,
         kana_key = excluded.kana_key, dob = excluded.dob, sex = excluded.sex,
         blood_type = excluded.blood_type, ward = excluded.ward, room = excluded.room,
         bed = excluded.bed, department = excluded.department, allergies = excluded.allergies,
         status = 'admitted', discharged_at = NULL, updated_at = excluded.updated_at,
         updated_by = excluded.updated_by",
    )?;
    stmt.execute(params![
        p.id.as_str(),
        p.name.as_str(),
        p.kana.as_str(),
        search_key(p.kana.as_str()),
        p.dob.iso(),
        p.sex.code(),
        p.blood.code(),
        p.location.ward,
        p.location.room,
        p.location.bed,
        p.department,
        serde_json::to_string(&p.allergies).unwrap_or_else(|_| "[]".into()),
        source,
        now,
        actor.0
    ])?;
    Ok(())
}

type Existing = HashMap<String, (Patient, PatientStatus, String)>;

fn load_all(tx: &Transaction<'_>) -> Result<Existing> {
    let mut stmt = tx.prepare(&format!("SELECT {COLUMNS}, source FROM patients"))?;
    let mut rows = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let rec = read_record(row)?;
        let source: String = row.get(14)?;
        out.insert(rec.patient.id.as_str().to_string(), (rec.patient, rec.status, source));
    }
    Ok(out)
}

/// Reads a row back through the same validation that let it in, so a row edited outside the
/// program is reported, never shown half-understood.
pub(super) fn read_record(row: &Row<'_>) -> Result<PatientRecord> {
    let id: String = row.get(0)?;
    let corrupt = |field: &'static str, message: String| StoreError::Corrupt {
        entity: "patient",
        id: id.clone(),
        field,
        message,
    };
    let today = Local::now().date_naive();
    let text = |i: usize| -> Result<String> { Ok(row.get::<_, String>(i)?) };
    let allergies: Vec<String> =
        serde_json::from_str(&text(10)?).map_err(|e| corrupt("allergies", e.to_string()))?;
    let status =
        PatientStatus::from_code(&text(11)?).ok_or_else(|| corrupt("status", "unknown status".into()))?;
    let patient = Patient {
        id: PatientId::parse(&id).map_err(|e| corrupt("id", e.message))?,
        name: KanjiName::parse(&text(1)?).map_err(|e| corrupt("name", e.message))?,
        kana: KanaName::parse(&text(2)?).map_err(|e| corrupt("kana", e.message))?,
        dob: DateOfBirth::parse(&text(3)?, today).map_err(|e| corrupt("dob", e.message))?,
        sex: Sex::parse(&text(4)?).map_err(|e| corrupt("sex", e.message))?,
        blood: BloodType::parse(&text(5)?).map_err(|e| corrupt("blood_type", e.message))?,
        location: Location { ward: text(6)?, room: text(7)?, bed: text(8)? },
        department: text(9)?,
        allergies,
    };
    Ok(PatientRecord { patient, status, updated_at: text(12)?, updated_by: text(13)? })
}
