//! Back-entry keyings, the charge lines and records they make, and the worklist's raw rows.
//!
//! A paper page is an *item*, known by its printed serial or (filed by hand without one) by its
//! scanned page. Each save is one immediate transaction that first checks the item's keyings
//! are still what the clerk's screen assumed: two stations keying the same slip cannot both
//! become "the first keying".

use std::collections::{BTreeMap, HashMap};

use super::db::{OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::double_entry::{self, EntryState, Keying, LiveKeying};
use crate::domain::{ChargeLine, PaperRecord, Serial};

/// Which paper page a keying is of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKey {
    Serial(Serial),
    /// A scanned page filed by hand without a serial.
    Page(i64),
}

impl serde::Serialize for ItemKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.describe())
    }
}

impl ItemKey {
    pub fn describe(&self) -> String {
        match self {
            ItemKey::Serial(s) => s.to_string(),
            ItemKey::Page(id) => format!("page {id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EntryRecord {
    pub id: i64,
    pub form_id: String,
    pub form_code: String,
    pub patient_id: String,
    pub item: ItemKey,
    /// The scanned page keyed beside, when the keying was made from the image.
    pub scanned_page: Option<i64>,
    pub pass: u8,
    pub state: EntryState,
    pub values: BTreeMap<String, Value>,
    pub event_at: Option<String>,
    pub entered_at: String,
    pub entered_by: String,
    pub verified_at: Option<String>,
    pub verified_by: Option<String>,
}

pub struct NewEntry<'a> {
    pub form_id: &'a str,
    pub form_code: &'a str,
    pub patient_id: &'a str,
    pub item: &'a ItemKey,
    pub scanned_page: Option<i64>,
    pub values: &'a BTreeMap<String, Value>,
    pub event_at: Option<&'a str>,
    pub lines: &'a [ChargeLine],
    pub records: &'a [PaperRecord],
    /// (master, code) of every code keyed, to rank the masters' search by use.
    pub codes_used: &'a [(String, String)],
    /// The form makes charge lines: under the double-entry setting it is keyed twice.
    pub charges: bool,
    /// What the scan's tick boxes read and whether the clerk confirmed them, for the audit.
    pub tick_reading: Option<Value>,
}

const COLUMNS: &str = "id, form_id, form_code, patient_id, station, number, scanned_page, pass, state, \
                       values_json, event_at, entered_at, entered_by, verified_at, verified_by";

fn read_entry(r: &Row<'_>) -> rusqlite::Result<(EntryRecord, String, String)> {
    let station: Option<String> = r.get(4)?;
    let number: Option<i64> = r.get(5)?;
    let page: Option<i64> = r.get(6)?;
    let item = match (station, number) {
        (Some(station), Some(number)) => ItemKey::Serial(Serial { station, number: number as u64 }),
        _ => ItemKey::Page(page.unwrap_or(0)),
    };
    Ok((
        EntryRecord {
            id: r.get(0)?,
            form_id: r.get(1)?,
            form_code: r.get(2)?,
            patient_id: r.get(3)?,
            item,
            scanned_page: page,
            pass: r.get::<_, i64>(7)? as u8,
            state: EntryState::Pending,
            values: BTreeMap::new(),
            event_at: r.get(10)?,
            entered_at: r.get(11)?,
            entered_by: r.get(12)?,
            verified_at: r.get(13)?,
            verified_by: r.get(14)?,
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish(raw: (EntryRecord, String, String)) -> Result<EntryRecord> {
    let (mut e, state, values) = raw;
    let corrupt = |field, message: String| StoreError::Corrupt {
        entity: "entry",
        id: e.id.to_string(),
        field,
        message,
    };
    e.state =
        EntryState::from_code(&state).ok_or_else(|| corrupt("state", format!("unknown state '{state}'")))?;
    e.values = serde_json::from_str(&values).map_err(|err| corrupt("values_json", err.to_string()))?;
    Ok(e)
}

fn item_clause(item: &ItemKey) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    match item {
        ItemKey::Serial(s) => (
            "station = ? AND number = ?".into(),
            vec![V::Text(s.station.clone()), V::Integer(s.number as i64)],
        ),
        ItemKey::Page(id) => ("number IS NULL AND scanned_page = ?".into(), vec![V::Integer(*id)]),
    }
}

fn live_entries_tx(tx: &super::db::Connection, item: &ItemKey) -> Result<Vec<EntryRecord>> {
    let (clause, args) = item_clause(item);
    let mut stmt = tx.prepare(&format!(
        "SELECT {COLUMNS} FROM entries WHERE {clause} AND state <> 'superseded' ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(super::db::params_from_iter(args), read_entry)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(finish).collect()
}

impl Store {
    /// The keyings of a page that still count (not superseded), oldest first.
    pub fn live_entries(&self, item: &ItemKey) -> Result<Vec<EntryRecord>> {
        live_entries_tx(&self.conn, item)
    }

    pub fn entry(&self, id: i64) -> Result<Option<EntryRecord>> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM entries WHERE id = ?1"), [id], read_entry)
            .optional()?
            .map(finish)
            .transpose()
    }

    /// Every keying that still counts, for the worklist.
    pub fn live_entries_all(&self) -> Result<Vec<EntryRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM entries WHERE state <> 'superseded' ORDER BY id"))?;
        let rows = stmt.query_map([], read_entry)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish).collect()
    }

    /// Saves one keying with its charge lines and records, in one transaction with its audit.
    /// Refused when the page's keyings changed since the clerk's screen read them, or when the
    /// double-entry rules are broken (the same person keying twice, or resolving their own).
    pub fn save_entry(&mut self, actor: &Actor, new: &NewEntry<'_>, keying: Keying) -> Result<EntryRecord> {
        let tx = self.begin()?;
        let live = live_entries_tx(&tx, new.item)?;
        // The setting as it is now, not as the screen read it when it opened.
        let double_on: bool = super::meta::read(&tx, tx.key(), "setting.entry.double_entry_charges")?
            .is_some_and(|v| matches!(v.trim().to_lowercase().as_str(), "on" | "true" | "yes" | "1"));
        let seen: Vec<LiveKeying<'_>> =
            live.iter().map(|e| LiveKeying { id: e.id, state: e.state, entered_by: &e.entered_by }).collect();
        let decision =
            double_entry::decide(&new.item.describe(), &seen, keying, double_on, new.charges, &actor.0)
                .map_err(|refusal| StoreError::Refused(refusal.to_string()))?;
        let (pass, state, supersede) = (decision.pass, decision.state, decision.supersede.clone());
        let now = now_text();
        let (station, number) = match new.item {
            ItemKey::Serial(s) => (Some(s.station.clone()), Some(s.number as i64)),
            ItemKey::Page(_) => (None, None),
        };
        let scanned_page = match new.item {
            ItemKey::Page(id) => Some(*id),
            ItemKey::Serial(_) => new.scanned_page,
        };
        let values_json = serde_json::to_string(new.values).expect("JSON values serialise");
        let verified = (state == EntryState::Verified).then(|| (now.clone(), actor.0.clone()));
        tx.execute(
            &format!("INSERT INTO entries ({}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)", COLUMNS),
            params![
                new.form_id,
                new.form_code,
                new.patient_id,
                station,
                number,
                scanned_page,
                pass,
                state.code(),
                values_json,
                new.event_at,
                now,
                actor.0,
                verified.as_ref().map(|v| &v.0),
                verified.as_ref().map(|v| &v.1),
            ],
        )?;
        let id = tx.last_insert_rowid();
        for old in &supersede {
            tx.execute(
                "UPDATE entries SET state = 'superseded', superseded_by = ?2 WHERE id = ?1",
                params![old, id],
            )?;
        }
        // Billing receives lines of accepted keyings only: a keying waiting for its second, or
        // one that disagrees, has none.
        let lines: &[ChargeLine] = if state.accepted() { new.lines } else { &[] };
        for (i, line) in lines.iter().enumerate() {
            tx.execute(
                "INSERT INTO charge_lines (entry_id, line_no, patient_id, service_date, code, name, quantity,
                                           department, doctor, origin, service_time, insurance)
                 VALUES (?1, ?2, ?3, ?4, ?5,
                         (SELECT name FROM master_items WHERE master = 'charges' AND code = ?5),
                         ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    i as i64 + 1,
                    new.patient_id,
                    line.service_date,
                    line.code,
                    line.quantity,
                    line.department,
                    line.doctor,
                    line.origin.code(),
                    line.service_time,
                    line.insurance
                ],
            )?;
        }
        for record in new.records {
            tx.execute(
                "INSERT INTO clinical_records (entry_id, patient_id, kind, row_label, event_at, values_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    new.patient_id,
                    record.kind.code(),
                    record.row,
                    record.event_at,
                    Value::Object(record.values.clone()).to_string()
                ],
            )?;
        }
        // A code counts as used once the keying is accepted, not per attempt of a double entry.
        if decision.counts_codes {
            for (master, code) in new.codes_used {
                super::masters::count_master_uses(&tx, master, &[code.as_str()])?;
            }
        }
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            keying.action(),
            "entry",
            &id.to_string(),
            None,
            Some(&json!({
                "item": new.item.describe(),
                "form": new.form_id,
                "patient": new.patient_id,
                "state": state.code(),
                "supersedes": supersede,
                "values": new.values,
                "lines": lines.len(),
                "records": new.records.len(),
                "tick_reading": new.tick_reading,
            })),
        )?;
        tx.commit()?;
        self.entry(id)?.ok_or_else(|| StoreError::Refused(format!("entry {id} vanished after saving")))
    }

    /// A second person confirms a keying against the paper.
    pub fn verify_entry(&mut self, actor: &Actor, id: i64) -> Result<EntryRecord> {
        let tx = self.begin()?;
        let (state, by): (String, String) = tx
            .query_row("SELECT state, entered_by FROM entries WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::Refused(format!("there is no keying {id}")))?;
        let current = EntryState::from_code(&state).ok_or_else(|| StoreError::Corrupt {
            entity: "entry",
            id: id.to_string(),
            field: "state",
            message: format!("'{state}' is not a state"),
        })?;
        double_entry::may_verify(id, current, &by, &actor.0)
            .map_err(|r| StoreError::Refused(r.to_string()))?;
        let now = now_text();
        tx.execute(
            "UPDATE entries SET state = 'verified', verified_at = ?2, verified_by = ?3 WHERE id = ?1",
            params![id, now, actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "entry.verify",
            "entry",
            &id.to_string(),
            Some(&json!({"state": state})),
            Some(&json!({"state": "verified"})),
        )?;
        tx.commit()?;
        self.entry(id)?.ok_or_else(|| StoreError::Refused(format!("entry {id} vanished")))
    }

    /// The charge lines of one keying, with their master names.
    pub fn charge_lines_of(&self, entry_id: i64) -> Result<Vec<(ChargeLine, Option<String>)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINE_COLUMNS} FROM charge_lines WHERE entry_id = ?1 ORDER BY line_no"
        ))?;
        let rows = stmt.query_map([entry_id], read_line)?;
        Ok(rows.map(|r| r.map(|(_, line, name)| (line, name))).collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The charge lines of every keying that still counts, by keying: one query for the
    /// hand-off, which reads them all.
    pub fn live_charge_lines(&self) -> Result<HashMap<i64, Vec<NamedLine>>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {LINE_COLUMNS} FROM charge_lines
             WHERE entry_id IN (SELECT id FROM entries WHERE state <> 'superseded')
             ORDER BY entry_id, line_no"
        ))?;
        let mut by_entry: HashMap<i64, Vec<NamedLine>> = HashMap::new();
        for row in stmt.query_map([], read_line)? {
            let (entry, line, name) = row?;
            by_entry.entry(entry).or_default().push((line, name));
        }
        Ok(by_entry)
    }

    /// The records of one keying.
    pub fn records_of(&self, entry_id: i64) -> Result<Vec<PaperRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM clinical_records WHERE entry_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([entry_id], read_record_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish_record).map(|r| r.map(|(_, rec)| rec)).collect()
    }

    /// The records of every keying that still counts, by keying.
    pub fn live_records(&self) -> Result<HashMap<i64, Vec<PaperRecord>>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM clinical_records
             WHERE entry_id IN (SELECT id FROM entries WHERE state <> 'superseded')
             ORDER BY entry_id, id"
        ))?;
        let rows = stmt.query_map([], read_record_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut by_entry: HashMap<i64, Vec<PaperRecord>> = HashMap::new();
        for row in rows {
            let (entry, record) = finish_record(row)?;
            by_entry.entry(entry).or_default().push(record);
        }
        Ok(by_entry)
    }
}

/// A charge line with the name the master gave its code when it was keyed.
pub type NamedLine = (ChargeLine, Option<String>);

const LINE_COLUMNS: &str =
    "entry_id, service_date, code, quantity, department, doctor, origin, name, service_time, insurance";

fn read_line(r: &Row<'_>) -> rusqlite::Result<(i64, ChargeLine, Option<String>)> {
    let origin: String = r.get(6)?;
    Ok((
        r.get(0)?,
        ChargeLine {
            service_date: r.get(1)?,
            service_time: r.get(8)?,
            insurance: r.get(9)?,
            code: r.get(2)?,
            quantity: r.get(3)?,
            department: r.get(4)?,
            doctor: r.get(5)?,
            origin: if origin == "tick" {
                crate::domain::LineOrigin::Tick
            } else {
                crate::domain::LineOrigin::Typed
            },
        },
        r.get(7)?,
    ))
}

const RECORD_COLUMNS: &str = "entry_id, kind, row_label, event_at, values_json";

type RecordRow = (i64, String, String, Option<String>, String);

fn read_record_row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// A record row re-validated: a row edited outside the program is reported, never half-read.
fn finish_record((entry_id, kind, row, event_at, values): RecordRow) -> Result<(i64, PaperRecord)> {
    let corrupt = |field, message: String| StoreError::Corrupt {
        entity: "clinical record",
        id: format!("{entry_id}/{row}"),
        field,
        message,
    };
    let kind = crate::domain::RecordKind::from_code(&kind)
        .ok_or_else(|| corrupt("kind", format!("unknown kind '{kind}'")))?;
    let values = serde_json::from_str(&values).map_err(|e| corrupt("values_json", e.to_string()))?;
    Ok((entry_id, PaperRecord { kind, row, event_at, values }))
}
