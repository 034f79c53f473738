//! The clinical snapshot read from the SS-MIX2 storage (`crate::snapshot`): runs, the folders
//! read, the patient master, one row per order, and each patient's current stay. A batch of
//! folders is one transaction (its records, the stays they change and the folders' times), so
//! a killed import resumes at the first folder not written.

use std::collections::{BTreeSet, HashMap};

use super::db::{OptionalExtension, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::kana::search_key;
use crate::domain::snapshot::{Movement, Record, SnapshotPatient, Stay, current_stay};
use crate::domain::ssmix2_name::{ConditionFlag, StorageName};

/// One file read, ready to be kept.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub name: StorageName,
    /// Relative to the storage root.
    pub path: String,
    pub record: Record,
}

/// A batch of folders read, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SnapshotBatch {
    pub files: Vec<SnapshotFile>,
    /// Folders (relative) whose every file is in `files`, with the time they had when read.
    pub dirs: Vec<(String, i64)>,
}

/// The last finished run: when the snapshot was taken and from where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SnapshotRun {
    pub id: i64,
    pub root: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub counts: serde_json::Value,
}

/// A patient of the snapshot with where they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotPerson {
    pub patient: SnapshotPatient,
    pub stay: Option<Stay>,
}

/// One kept record of a patient.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub data_type: String,
    pub order_no: String,
    pub day: String,
    pub ts: String,
    pub deleted: bool,
    pub department: Option<String>,
    pub record: Record,
}

fn corrupt(id: &str, field: &'static str, message: String) -> StoreError {
    StoreError::Corrupt { entity: "snapshot", id: id.to_string(), field, message }
}

impl Store {
    /// Starts a run (audited): its id names the run in the report and in `finish_snapshot_run`.
    pub fn start_snapshot_run(&mut self, actor: &Actor, root: &str) -> Result<i64> {
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO snapshot_runs (root, started_at, started_by) VALUES (?1, ?2, ?3)",
            params![root, now_text(), actor.0],
        )?;
        let id = tx.last_insert_rowid();
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "start",
            "snapshot_run",
            &id.to_string(),
            None,
            Some(&json!({ "root": root })),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Ends a run with what it did (audited): from now on the snapshot is as old as this run.
    pub fn finish_snapshot_run(&mut self, actor: &Actor, run: i64, counts: &serde_json::Value) -> Result<()> {
        let tx = self.begin()?;
        tx.execute(
            "UPDATE snapshot_runs SET finished_at = ?2, counts_json = ?3 WHERE id = ?1",
            params![run, now_text(), counts.to_string()],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "finish", "snapshot_run", &run.to_string(), None, Some(counts))?;
        tx.commit()?;
        Ok(())
    }

    /// The latest run that finished, if any.
    pub fn last_snapshot_run(&self) -> Result<Option<SnapshotRun>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, root, started_at, finished_at, counts_json FROM snapshot_runs
                 WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(SnapshotRun {
                        id: r.get(0)?,
                        root: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        counts: r
                            .get::<_, Option<String>>(4)?
                            .and_then(|c| serde_json::from_str(&c).ok())
                            .unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    /// The time each folder had when it was last read: every folder, or (`since` a day
    /// `YYYYMMDD`) patient folders and the folders of days from `since` on and of `-`.
    pub fn snapshot_dir_times(&self, since: Option<&str>) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT dir, mtime_ns FROM snapshot_dirs
             WHERE ?1 IS NULL OR day IS NULL OR day = '-' OR day >= ?1",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a full run (every folder looked at) finished since `after` (RFC 3339).
    pub fn full_snapshot_run_since(&self, after: &str) -> Result<bool> {
        // The flag is read here, not by SQL: the two engines name their JSON functions differently.
        let mut stmt =
            self.conn.prepare_cached("SELECT counts_json FROM snapshot_runs WHERE finished_at >= ?1")?;
        let runs =
            stmt.query_map([after], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(runs.iter().any(|counts| {
            serde_json::from_str::<serde_json::Value>(counts)
                .ok()
                .and_then(|c| c.get("full").map(|f| f.as_bool().unwrap_or(false) || f.as_i64() == Some(1)))
                == Some(true)
        }))
    }

    /// Writes a batch in one transaction: patients and records (a file older than what is kept
    /// changes nothing), the stays of the patients whose movements it touched, and the folders'
    /// times. Returns the files that changed something.
    pub fn write_snapshot_batch(&mut self, batch: &SnapshotBatch) -> Result<usize> {
        let tx = self.begin()?;
        let mut changed = 0;
        let mut moved: BTreeSet<&str> = BTreeSet::new();
        {
            let mut patient = tx.prepare_cached(
                "INSERT INTO snapshot_patients (id, name, kana, kana_key, name_key, dob, sex, blood_type, allergies, ts, file)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET name = ?2, kana = ?3, kana_key = ?4, name_key = ?5, dob = ?6,
                     sex = ?7, blood_type = ?8, allergies = ?9, ts = ?10, file = ?11
                 WHERE excluded.ts >= snapshot_patients.ts",
            )?;
            let mut record = tx.prepare_cached(
                "INSERT INTO snapshot_records (patient_id, data_type, order_key, order_no, day, ts, flag, department, payload, file)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (patient_id, data_type, order_key) DO UPDATE SET order_no = ?4, day = ?5, ts = ?6,
                     flag = ?7, department = ?8, payload = ?9, file = ?10
                 WHERE excluded.ts >= snapshot_records.ts",
            )?;
            for f in &batch.files {
                let n = &f.name;
                let flag = match n.flag {
                    ConditionFlag::Valid => "valid",
                    ConditionFlag::Deleted => "deleted",
                    // A past version never wins over the file that superseded it.
                    ConditionFlag::Superseded => continue,
                };
                changed += match &f.record {
                    Record::Patient(p) if n.flag == ConditionFlag::Valid => patient.execute(params![
                        p.id,
                        p.name,
                        p.kana,
                        search_key(&p.kana),
                        search_key(&p.name),
                        p.dob.map(|d| d.to_string()),
                        p.sex,
                        p.blood_type,
                        serde_json::to_string(&p.allergies).unwrap_or_else(|_| "[]".into()),
                        n.timestamp,
                        f.path
                    ])?,
                    Record::Patient(_) => 0,
                    other => {
                        if matches!(other, Record::Movement(_)) {
                            moved.insert(n.patient_id.as_str());
                        }
                        let payload = serde_json::to_string(other)
                            .map_err(|e| corrupt(&f.path, "payload", e.to_string()))?;
                        record.execute(params![
                            n.patient_id,
                            n.data_type,
                            n.order_key(),
                            n.order_no,
                            n.day_text(),
                            n.timestamp,
                            flag,
                            n.department,
                            payload,
                            f.path
                        ])?
                    }
                };
            }
        }
        for patient in moved {
            refresh_stay(&tx, patient)?;
        }
        {
            let mut dir = tx.prepare_cached(
                "INSERT INTO snapshot_dirs (dir, day, mtime_ns) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dir) DO UPDATE SET mtime_ns = ?3",
            )?;
            for (path, mtime) in &batch.dirs {
                // `a/b/ID/day[/type]`: the day folder's name, none for a patient folder.
                let day = path.split('/').nth(3);
                dir.execute(params![path, day, mtime])?;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Everyone in the patient master (ADT-00), with their stay.
    pub fn snapshot_person(&self, id: &str) -> Result<Option<SnapshotPerson>> {
        let patient = self
            .conn
            .query_row(
                &format!("SELECT {PATIENT_COLUMNS} FROM snapshot_patients p WHERE p.id = ?1"),
                [id],
                read_patient,
            )
            .optional()?
            .transpose()?;
        let Some(patient) = patient else { return Ok(None) };
        let stay = self.snapshot_stay(id)?;
        Ok(Some(SnapshotPerson { patient, stay }))
    }

    fn snapshot_stay(&self, id: &str) -> Result<Option<Stay>> {
        Ok(self
            .conn
            .query_row(
                "SELECT status, ward, room, bed, department, since FROM snapshot_stays WHERE patient_id = ?1",
                [id],
                read_stay,
            )
            .optional()?)
    }

    /// Patients admitted now, by the snapshot, with where they lie.
    pub fn snapshot_inpatients(&self) -> Result<Vec<SnapshotPerson>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PATIENT_COLUMNS}, s.status, s.ward, s.room, s.bed, s.department, s.since
             FROM snapshot_stays s JOIN snapshot_patients p ON p.id = s.patient_id
             WHERE s.status = 'admitted' ORDER BY s.ward, s.room, s.bed, p.id"
        ))?;
        let rows = stmt.query_map([], |r| {
            let stay = read_stay_at(r, 9)?;
            Ok((read_patient(r)?, stay))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (patient, stay) = row?;
            out.push(SnapshotPerson { patient: patient?, stay: Some(stay) });
        }
        Ok(out)
    }

    /// How many patients the master holds.
    pub fn snapshot_patient_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM snapshot_patients", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Every kept record of a patient (deleted orders included, marked), oldest first.
    pub fn snapshot_records(&self, patient_id: &str) -> Result<Vec<StoredRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data_type, order_no, day, ts, flag, department, payload, file FROM snapshot_records
             WHERE patient_id = ?1 ORDER BY ts, data_type, order_no",
        )?;
        let rows = stmt.query_map([patient_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (data_type, order_no, day, ts, flag, department, payload, file) = row?;
            let record: Record =
                serde_json::from_str(&payload).map_err(|e| corrupt(&file, "payload", e.to_string()))?;
            out.push(StoredRecord {
                data_type,
                order_no,
                day,
                ts,
                deleted: flag == "deleted",
                department,
                record,
            });
        }
        Ok(out)
    }

    /// The outpatient visits (ADT-12) the storage files under `day` (`YYYY-MM-DD`), cancelled ones
    /// left out: (patient, the visit), by patient.
    pub fn snapshot_visits_on(&self, day: &str) -> Result<Vec<(String, Movement)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT patient_id, payload, file FROM snapshot_records
             WHERE data_type = 'ADT-12' AND day = ?1 AND flag = 'valid' ORDER BY patient_id, ts",
        )?;
        let rows = stmt.query_map([day], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (patient, payload, file) = row?;
            match serde_json::from_str::<Record>(&payload) {
                Ok(Record::Movement(m)) => out.push((patient, m)),
                Ok(_) => return Err(corrupt(&file, "payload", "an ADT-12 record that is no visit".into())),
                Err(e) => return Err(corrupt(&file, "payload", e.to_string())),
            }
        }
        Ok(out)
    }

    /// Patients of the master whose ID, reading (katakana, spaces dropped) or name begins with
    /// the folded `query`, in reading order: at most `limit`, and whether more matched. Each of the
    /// three is a range scan of its own index, so a one-letter query on half a million patients
    /// reads `limit` rows per index, not every match.
    pub fn search_snapshot_patients(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<SnapshotPatient>, bool)> {
        let key = search_key(query);
        if key.is_empty() || limit == 0 {
            return Ok((Vec::new(), false));
        }
        // Text compares by its UTF-8 bytes: every key beginning with `key` sorts below this.
        let upper = format!("{key}\u{10FFFF}");
        let mut found: Vec<(String, SnapshotPatient)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut more = false;
        for column in ["p.id", "p.kana_key", "p.name_key"] {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {PATIENT_COLUMNS}, p.kana_key FROM snapshot_patients p
                 WHERE {column} >= ?1 AND {column} < ?2 ORDER BY {column} LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![key, upper, limit as i64 + 1], |r| {
                Ok((read_patient(r)?, r.get::<_, String>(9)?))
            })?;
            let mut n = 0;
            for row in rows {
                let (patient, kana_key) = row?;
                let patient = patient?;
                n += 1;
                if seen.insert(patient.id.clone()) {
                    found.push((kana_key, patient));
                }
            }
            more |= n > limit;
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        more |= found.len() > limit;
        found.truncate(limit);
        Ok((found.into_iter().map(|(_, p)| p).collect(), more))
    }
}

const PATIENT_COLUMNS: &str = "p.id, p.name, p.kana, p.dob, p.sex, p.blood_type, p.allergies, p.ts, p.file";

fn read_patient(r: &super::db::Row<'_>) -> rusqlite::Result<Result<SnapshotPatient>> {
    let id: String = r.get(0)?;
    let dob: Option<String> = r.get(3)?;
    let allergies: String = r.get(6)?;
    let parsed = (|| {
        let dob = match dob {
            Some(d) => Some(d.parse().map_err(|_| corrupt(&id, "dob", format!("'{d}' is no date")))?),
            None => None,
        };
        let allergies =
            serde_json::from_str(&allergies).map_err(|e| corrupt(&id, "allergies", e.to_string()))?;
        Ok((dob, allergies))
    })();
    Ok(match parsed {
        Ok((dob, allergies)) => Ok(SnapshotPatient {
            id: id.clone(),
            name: r.get(1)?,
            kana: r.get(2)?,
            dob,
            sex: r.get(4)?,
            blood_type: r.get(5)?,
            allergies,
        }),
        Err(e) => Err(e),
    })
}

fn read_stay(r: &super::db::Row<'_>) -> rusqlite::Result<Stay> {
    read_stay_at(r, 0)
}

fn read_stay_at(r: &super::db::Row<'_>, at: usize) -> rusqlite::Result<Stay> {
    let status: String = r.get(at)?;
    let since: String = r.get(at + 5)?;
    Ok(Stay {
        admitted: status == "admitted",
        since: since.clone(),
        place: Movement {
            kind: crate::domain::snapshot::MovementKind::Admit,
            ward: r.get(at + 1)?,
            room: r.get(at + 2)?,
            bed: r.get(at + 3)?,
            department: r.get(at + 4)?,
            at: since,
        },
    })
}

/// Works out a patient's stay again from their movements (within the batch's transaction).
fn refresh_stay(tx: &super::db::Transaction<'_>, patient: &str) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT payload, ts FROM snapshot_records
         WHERE patient_id = ?1 AND flag = 'valid' AND data_type IN ('ADT-22', 'ADT-42', 'ADT-52')
         ORDER BY ts",
    )?;
    let mut movements: Vec<(Movement, String)> = Vec::new();
    for row in stmt.query_map([patient], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (payload, ts) = row?;
        match serde_json::from_str::<Record>(&payload) {
            Ok(Record::Movement(m)) => movements.push((m, ts)),
            Ok(_) => return Err(corrupt(patient, "payload", "an ADT record that is no movement".into())),
            Err(e) => return Err(corrupt(patient, "payload", e.to_string())),
        }
    }
    let refs: Vec<&Movement> = movements.iter().map(|(m, _)| m).collect();
    match current_stay(&refs) {
        Some(stay) => {
            let ts = movements.last().map(|(_, ts)| ts.as_str()).unwrap_or_default();
            tx.execute(
                "INSERT INTO snapshot_stays (patient_id, status, ward, room, bed, department, since, ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (patient_id) DO UPDATE SET status = ?2, ward = ?3, room = ?4, bed = ?5,
                     department = ?6, since = ?7, ts = ?8",
                params![
                    patient,
                    if stay.admitted { "admitted" } else { "discharged" },
                    stay.place.ward,
                    stay.place.room,
                    stay.place.bed,
                    stay.place.department,
                    stay.since,
                    ts
                ],
            )?;
        }
        None => {
            tx.execute("DELETE FROM snapshot_stays WHERE patient_id = ?1", [patient])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(store: &mut Store, people: &[(&str, &str, &str)]) {
        let files = people
            .iter()
            .map(|(id, name, kana)| {
                let file = format!("{id}_-_ADT-00_999999999999999_20261120093000123_-_1");
                SnapshotFile {
                    name: StorageName::parse(&file).unwrap(),
                    path: file,
                    record: Record::Patient(SnapshotPatient {
                        id: id.to_string(),
                        name: name.to_string(),
                        kana: kana.to_string(),
                        dob: None,
                        sex: "F".into(),
                        blood_type: String::new(),
                        allergies: Vec::new(),
                    }),
                }
            })
            .collect();
        store.write_snapshot_batch(&SnapshotBatch { files, dirs: Vec::new() }).unwrap();
    }

    #[test]
    fn the_master_is_searched_by_the_start_of_id_reading_or_name_in_reading_order_with_a_limit() {
        let mut store = Store::open_in_memory().unwrap();
        master(
            &mut store,
            &[
                ("0003", "山田 花子", "ヤマダ ハナコ"),
                ("0001", "山本 一郎", "ヤマモト イチロウ"),
                ("0002", "田中 花子", "タナカ ハナコ"),
                ("1000", "山田 次郎", "ヤマダ ジロウ"),
            ],
        );
        let ids = |q: &str, limit: usize| {
            let (found, more) = store.search_snapshot_patients(q, limit).unwrap();
            (found.into_iter().map(|p| p.id).collect::<Vec<_>>(), more)
        };
        // Hiragana, spaces and half-width kana fold to the reading; reading order, then ID.
        assert_eq!(ids("やまだ", 10), (vec!["1000".into(), "0003".into()], false));
        assert_eq!(ids("ﾔﾏﾀﾞ ﾊ", 10), (vec!["0003".into()], false));
        assert_eq!(ids("山", 10).0, ["1000", "0003", "0001"], "kanji by the name's start");
        assert_eq!(ids("000", 10).0, ["0002", "0003", "0001"], "an ID's start, listed by reading");
        assert_eq!(ids("ヤ", 2), (vec!["1000".into(), "0003".into()], true), "cut at the limit, more said");
        assert_eq!(ids("ハナコ", 10).0, Vec::<String>::new(), "a given name alone is no reading's start");
        assert_eq!(ids(" ", 10), (Vec::new(), false));
    }
}
