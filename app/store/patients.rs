//! Patients: the census snapshot the kit prints from.

use std::collections::{HashMap, HashSet};

use super::db::{Row, Transaction, params};
use chrono::Local;

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
/// An outpatient with an EHR ID written for a day's outpatient kit (`kit --outpatients`).
const SOURCE_OUTPATIENT: &str = "outpatient";

/// What writing a day's outpatients did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutpatientsAdded {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Outpatients of an earlier list, discharged from the outpatient ward.
    pub discharged: usize,
    /// Admitted by the census or registered during downtime: left as they are.
    pub admitted: Vec<String>,
}

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
/// How many columns `COLUMNS` names: `source` follows them where a query reads it.
const COLUMN_COUNT: usize = 14;

/// What a census import changed, and the demo's accounts it switched off (real data is here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CensusApplied {
    pub counts: ApplyCounts,
    pub demo_accounts_disabled: Vec<String>,
}

/// Rows staged per transaction: each batch holds the write lock for a few milliseconds.
const STAGE_BATCH: usize = 2_000;

/// One change an import makes, decided before any lock is taken.
struct Change<'a> {
    id: &'a str,
    action: &'static str,
    expected_updated_at: Option<&'a str>,
    patient: Option<&'a Patient>,
    before: Option<serde_json::Value>,
}

impl Store {
    /// Applies a census: new patients inserted, changed ones updated, returning ones re-admitted,
    /// absent ones discharged (if asked), every change audited with its before and after.
    ///
    /// The comparison runs without the write lock; the changes are staged in short batches; then
    /// one short transaction swaps them in, checking that no patient it changes was changed by
    /// someone else meanwhile (else nothing is changed and the import says to run again). So a
    /// reader sees the census before or after, never half, and a registration waits at most for
    /// one batch. `progress(done, total)` follows the staging.
    pub fn apply_census(
        &mut self,
        actor: &Actor,
        patients: &[Patient],
        apply: &CensusApply<'_>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<CensusApplied> {
        let (existing, imports_before) = {
            let read = self.conn.unchecked_transaction()?;
            let existing = load_all(&read)?;
            let imports: i64 = read.query_row("SELECT COUNT(*) FROM census_imports", [], |r| r.get(0))?;
            (existing, imports)
        };
        let mut counts = ApplyCounts::default();
        let mut changes: Vec<Change<'_>> = Vec::new();
        for p in patients {
            match existing.get(p.id.as_str()) {
                None => {
                    changes.push(Change {
                        id: p.id.as_str(),
                        action: "insert",
                        expected_updated_at: None,
                        patient: Some(p),
                        before: None,
                    });
                    counts.inserted += 1;
                }
                Some(old) => {
                    let readmit = old.status == PatientStatus::Discharged;
                    if old.patient == *p && !readmit {
                        counts.unchanged += 1;
                        continue;
                    }
                    changes.push(Change {
                        id: p.id.as_str(),
                        action: if readmit { "readmit" } else { "update" },
                        expected_updated_at: Some(&old.updated_at),
                        patient: Some(p),
                        before: Some(json(&old.patient)),
                    });
                    if readmit {
                        counts.readmitted += 1;
                    } else {
                        counts.updated += 1;
                    }
                }
            }
        }
        if apply.discharge_missing {
            let present: HashSet<&str> = patients.iter().map(|p| p.id.as_str()).collect();
            let mut gone: Vec<(&String, &ExistingRow)> = existing
                .iter()
                .filter(|(id, old)| {
                    old.status == PatientStatus::Admitted
                        && old.source == SOURCE_CENSUS
                        && !present.contains(id.as_str())
                        && !apply.keep.is_some_and(|k| k.contains(id.as_str()))
                })
                .collect();
            gone.sort_by(|a, b| a.0.cmp(b.0));
            for (id, old) in gone {
                changes.push(Change {
                    id,
                    action: "discharge",
                    expected_updated_at: Some(&old.updated_at),
                    patient: None,
                    before: None,
                });
                counts.discharged += 1;
            }
        }

        let token = format!("{}-{}", now_text(), std::process::id());
        let now = now_text();
        let total = changes.len();
        progress(0, total);
        for (batch, chunk) in changes.chunks(STAGE_BATCH).enumerate() {
            let tx = self.begin()?;
            if batch == 0 {
                // An import killed earlier left its rows; one running now is younger than an hour.
                tx.execute(
                    "DELETE FROM census_staging WHERE import <> ?1 AND staged_at < ?2",
                    params![token, (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339()],
                )?;
            }
            let mut stmt = tx.prepare_cached(
                "INSERT INTO census_staging (import, seq, staged_at, id, action, expected_updated_at, name, kana,
                 kana_key, dob, sex, blood_type, ward, room, bed, department, allergies)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            for (i, c) in chunk.iter().enumerate() {
                let p = c.patient;
                stmt.execute(params![
                    token,
                    (batch * STAGE_BATCH + i) as i64,
                    now,
                    c.id,
                    c.action,
                    c.expected_updated_at,
                    p.map(|p| p.name.as_str()),
                    p.map(|p| p.kana.as_str()),
                    p.map(|p| search_key(p.kana.as_str())),
                    p.map(|p| p.dob.iso()),
                    p.map(|p| p.sex.code()),
                    p.map(|p| p.blood.code()),
                    p.map(|p| p.location.ward.as_str()),
                    p.map(|p| p.location.room.as_str()),
                    p.map(|p| p.location.bed.as_str()),
                    p.map(|p| p.department.as_str()),
                    p.map(|p| serde_json::to_string(&p.allergies).unwrap_or_else(|_| "[]".into())),
                ])?;
            }
            drop(stmt);
            tx.commit()?;
            progress((batch * STAGE_BATCH + chunk.len()).min(total), total);
        }

        let tx = self.begin()?;
        let swap = swap_in_staged(&tx, &token, imports_before, total, &now, actor);
        if let Err(e) = swap {
            drop(tx);
            let clean = self.begin()?;
            clean.execute("DELETE FROM census_staging WHERE import = ?1", [&token])?;
            clean.commit()?;
            return Err(e);
        }
        let mut audit = AuditWriter::start(&tx)?;
        for c in &changes {
            let after = c.patient.map(json);
            audit.append(&tx, actor, c.action, "patient", c.id, c.before.as_ref(), after.as_ref())?;
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
        let demo_accounts_disabled = if apply.mark_demo {
            set_meta(&tx, &mut audit, actor, KEY_DEMO, "true")?;
            Vec::new()
        } else {
            super::users::disable_demo_accounts(&tx, &mut audit, actor, "a real census was imported")?
                .into_iter()
                .map(|n| n.to_string())
                .collect()
        };
        tx.execute("DELETE FROM census_staging WHERE import = ?1", [&token])?;
        tx.commit()?;
        Ok(CensusApplied { counts, demo_accounts_disabled })
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
            out.push(read_record(&row)?);
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
            Some(row) => Ok(Some(read_record(&row)?)),
            None => Ok(None),
        }
    }

    /// Writes a day's outpatients (read from the SS-MIX2 snapshot or an appointment list) as
    /// patients of the outpatient ward, so their paper is printed, filed and handed over like
    /// anyone's. Someone the census admits or a registration made is left as they are. One
    /// transaction, every insert and change audited.
    pub fn add_outpatients(&mut self, actor: &Actor, patients: &[Patient]) -> Result<OutpatientsAdded> {
        let tx = self.begin()?;
        let now = now_text();
        let mut audit = AuditWriter::start(&tx)?;
        let mut out = OutpatientsAdded::default();
        for p in patients {
            let old: Option<(String, String, PatientRecord)> = {
                let mut stmt =
                    tx.prepare_cached(&format!("SELECT {COLUMNS}, source FROM patients WHERE id = ?1"))?;
                let mut rows = stmt.query([p.id.as_str()])?;
                match rows.next()? {
                    Some(row) => {
                        let record = read_record(&row)?;
                        let source: String = row.get(COLUMN_COUNT)?;
                        Some((source, record.status.code().to_string(), record))
                    }
                    None => None,
                }
            };
            let before = match old {
                Some((source, status, _)) if source != SOURCE_OUTPATIENT && status == "admitted" => {
                    out.admitted.push(p.id.to_string());
                    continue;
                }
                Some((_, status, old)) if old.patient == *p && status == "admitted" => {
                    out.unchanged += 1;
                    continue;
                }
                Some((_, _, old)) => Some(json(&old.patient)),
                None => None,
            };
            upsert(&tx, p, SOURCE_OUTPATIENT, &now, actor)?;
            let action = if before.is_some() { "update" } else { "insert" };
            let mut after = json(p);
            if before.is_none() {
                after["source"] = serde_json::json!(SOURCE_OUTPATIENT);
            }
            audit.append(&tx, actor, action, "patient", p.id.as_str(), before.as_ref(), Some(&after))?;
            if before.is_some() {
                out.updated += 1;
            } else {
                out.inserted += 1;
            }
        }
        // The outpatient ward holds one day's list: those of an earlier list are discharged
        // (kept, as every patient is, for their paper coming back).
        let listed: HashSet<&str> = patients.iter().map(|p| p.id.as_str()).collect();
        let earlier: Vec<String> = {
            let mut stmt =
                tx.prepare("SELECT id FROM patients WHERE source = ?1 AND status = 'admitted' ORDER BY id")?;
            let ids = stmt.query_map([SOURCE_OUTPATIENT], |r| r.get::<_, String>(0))?;
            ids.collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|id| !listed.contains(id.as_str()))
                .collect()
        };
        for id in &earlier {
            tx.execute(
                "UPDATE patients SET status = 'discharged', discharged_at = ?2, updated_at = ?2, updated_by = ?3
                 WHERE id = ?1",
                params![id, now, actor.0],
            )?;
            let why = serde_json::json!({ "reason": "not on this day's outpatient list" });
            audit.append(&tx, actor, "discharge", "patient", id, None, Some(&why))?;
        }
        out.discharged = earlier.len();
        tx.commit()?;
        Ok(out)
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

/// The census columns of a patient, in the order both upserts give them.
const INSERT_PATIENT: &str = "INSERT INTO patients (id, name, kana, kana_key, dob, sex, blood_type,
     ward, room, bed, department, allergies, status, source, created_at, created_by, updated_at,
     updated_by)";

/// A patient already there takes the census's values and is admitted again; `created_*` stay as
/// first written.
const READMIT_ON_CONFLICT: &str = "ON CONFLICT (id) DO UPDATE SET name = excluded.name,
     kana = excluded.kana, kana_key = excluded.kana_key, dob = excluded.dob, sex = excluded.sex,
     blood_type = excluded.blood_type, ward = excluded.ward, room = excluded.room,
     bed = excluded.bed, department = excluded.department, allergies = excluded.allergies,
     status = 'admitted', discharged_at = NULL, updated_at = excluded.updated_at,
     updated_by = excluded.updated_by";

/// Inserts a new census patient, or updates (and re-admits) an existing one; `created_*` stay
/// as first written.
pub(super) fn upsert(
    tx: &Transaction<'_>,
    p: &Patient,
    source: &str,
    now: &str,
    actor: &Actor,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "{INSERT_PATIENT} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'admitted', ?13, ?14, ?15, ?14, ?15) {READMIT_ON_CONFLICT}"
    ))?;
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

/// A stored patient as an import compares it.
struct ExistingRow {
    patient: Patient,
    status: PatientStatus,
    source: String,
    updated_at: String,
}

fn load_all(conn: &super::db::Connection) -> Result<HashMap<String, ExistingRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS}, source FROM patients"))?;
    let mut rows = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(row) = rows.next()? {
        let rec = read_record(&row)?;
        let source: String = row.get(COLUMN_COUNT)?;
        out.insert(
            rec.patient.id.as_str().to_string(),
            ExistingRow { patient: rec.patient, status: rec.status, source, updated_at: rec.updated_at },
        );
    }
    Ok(out)
}

/// Moves an import's staged rows into `patients`, after checking that the census is still as the
/// import compared it: no other import committed, and no staged patient changed meanwhile.
fn swap_in_staged(
    tx: &Transaction<'_>,
    token: &str,
    imports_before: i64,
    staged: usize,
    now: &str,
    actor: &Actor,
) -> Result<()> {
    let imports: i64 = tx.query_row("SELECT COUNT(*) FROM census_imports", [], |r| r.get(0))?;
    let (rows, moved): (i64, i64) = tx.query_row(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN p.updated_at IS DISTINCT FROM s.expected_updated_at THEN 1 ELSE 0 END), 0)
         FROM census_staging s LEFT JOIN patients p ON p.id = s.id WHERE s.import = ?1",
        [token],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if imports != imports_before || rows != staged as i64 || moved > 0 {
        return Err(StoreError::Refused(format!(
            "the census changed while this import was being prepared ({}); nothing was changed: run the import again",
            if imports != imports_before {
                "another census import finished meanwhile".to_string()
            } else {
                format!("{moved} of its patients were changed by someone else")
            }
        )));
    }
    tx.execute(
        &format!(
            "{INSERT_PATIENT}
             SELECT id, name, kana, kana_key, dob, sex, blood_type, ward, room, bed, department,
                    allergies, 'admitted', ?2, ?3, ?4, ?3, ?4
               FROM census_staging WHERE import = ?1 AND action <> 'discharge' ORDER BY seq
             {READMIT_ON_CONFLICT}"
        ),
        params![token, SOURCE_CENSUS, now, actor.0],
    )?;
    tx.execute(
        "UPDATE patients SET status = 'discharged', discharged_at = ?2, updated_at = ?2, updated_by = ?3
         WHERE id IN (SELECT id FROM census_staging WHERE import = ?1 AND action = 'discharge')",
        params![token, now, actor.0],
    )?;
    Ok(())
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
