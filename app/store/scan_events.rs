//! What the scan station recorded, and the paper-order counts of the volume monitor.

use super::db::{OptionalExtension, Row, params};
use serde_json::json;

use chrono::{DateTime, SecondsFormat, Utc};

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A wristband (or label) scanned to start with a patient.
    Identify,
    /// A page or slip scanned for the active patient.
    Item,
    /// An item of another patient scanned while one was active: the hard stop.
    WrongPatient,
}

impl ScanKind {
    fn code(self) -> &'static str {
        match self {
            ScanKind::Identify => "identify",
            ScanKind::Item => "item",
            ScanKind::WrongPatient => "wrong_patient",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "identify" => Some(ScanKind::Identify),
            "item" => Some(ScanKind::Item),
            "wrong_patient" => Some(ScanKind::WrongPatient),
            _ => None,
        }
    }
}

/// What was scanned, for whom and what it means: the same for a scan about to be recorded and
/// one read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanFacts {
    pub station: String,
    pub kind: ScanKind,
    pub action: String,
    pub payload: String,
    pub patient_id: Option<String>,
    /// On a wrong-patient stop: whose item it was.
    pub other_patient_id: Option<String>,
    pub form_code: Option<String>,
    pub serial: Option<String>,
    /// The volume-monitor category of a paper order.
    pub volume: Option<String>,
}

/// A scan to record: `at` is when it was scanned, `day` the station's local date of it (the
/// volume monitor counts by day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScanEvent {
    pub episode_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub day: String,
    pub facts: ScanFacts,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanEventRecord {
    pub id: i64,
    pub at: String,
    pub day: String,
    pub user: String,
    #[serde(flatten)]
    pub facts: ScanFacts,
    pub dismissed_at: Option<String>,
    pub dismissed_by: Option<String>,
}

const COLUMNS: &str = "id, at, day, station, user, kind, action, payload, patient_id, other_patient_id, \
                       form_code, serial, volume, dismissed_at, dismissed_by";

/// A row with its kind still as text (checked by `with_kind`).
fn read(r: &Row<'_>) -> rusqlite::Result<(ScanEventRecord, String)> {
    let facts = ScanFacts {
        station: r.get(3)?,
        kind: ScanKind::Item,
        action: r.get(6)?,
        payload: r.get(7)?,
        patient_id: r.get(8)?,
        other_patient_id: r.get(9)?,
        form_code: r.get(10)?,
        serial: r.get(11)?,
        volume: r.get(12)?,
    };
    let record = ScanEventRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        day: r.get(2)?,
        user: r.get(4)?,
        facts,
        dismissed_at: r.get(13)?,
        dismissed_by: r.get(14)?,
    };
    Ok((record, r.get(5)?))
}

fn with_kind((mut e, kind): (ScanEventRecord, String)) -> Result<ScanEventRecord> {
    e.facts.kind = ScanKind::from_code(&kind).ok_or_else(|| StoreError::Corrupt {
        entity: "scan event",
        id: e.id.to_string(),
        field: "kind",
        message: format!("unknown kind '{kind}'"),
    })?;
    Ok(e)
}

/// Paper orders of one day and category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VolumeCount {
    pub day: String,
    pub category: String,
    pub count: u32,
}

impl Store {
    /// Records one scan with its audit entry; returns the stored event.
    pub fn record_scan(&mut self, actor: &Actor, event: &NewScanEvent) -> Result<ScanEventRecord> {
        let tx = self.begin()?;
        let now = event.at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let f = &event.facts;
        tx.execute(
            "INSERT INTO scan_events (episode_id, at, day, station, user, kind, action, payload, patient_id,
             other_patient_id, form_code, serial, volume) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                event.episode_id,
                now,
                event.day,
                f.station,
                actor.0,
                f.kind.code(),
                f.action,
                f.payload,
                f.patient_id,
                f.other_patient_id,
                f.form_code,
                f.serial,
                f.volume
            ],
        )?;
        let id = tx.last_insert_rowid();
        let mut audit = AuditWriter::start(&tx)?;
        let after = json!({
            "kind": f.kind.code(), "action": f.action, "payload": f.payload,
            "patient": f.patient_id, "other_patient": f.other_patient_id, "station": f.station,
        });
        audit.append(&tx, actor, "scan", "scan_event", &id.to_string(), None, Some(&after))?;
        tx.commit()?;
        self.scan_event(id)?.ok_or_else(|| StoreError::Refused("the scan just recorded is gone".into()))
    }

    pub fn scan_event(&self, id: i64) -> Result<Option<ScanEventRecord>> {
        let row = self
            .conn
            .query_row(&format!("SELECT {COLUMNS} FROM scan_events WHERE id = ?1"), [id], read)
            .optional()?;
        row.map(with_kind).transpose()
    }

    /// The latest recorded scan (identify or item) of the same text since `since` (RFC 3339):
    /// the same wristband or slip scanned again within the duplicate window.
    pub fn last_scan_of(&self, payload: &str, since: &str) -> Result<Option<ScanEventRecord>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM scan_events WHERE payload = ?1 AND at >= ?2 AND kind <> 'wrong_patient'
                     ORDER BY at DESC, id DESC LIMIT 1"
                ),
                params![payload, since],
                read,
            )
            .optional()?;
        row.map(with_kind).transpose()
    }

    /// The latest item recorded with this text, at any time.
    pub fn last_item_of(&self, payload: &str) -> Result<Option<ScanEventRecord>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM scan_events WHERE payload = ?1 AND kind = 'item' ORDER BY id DESC LIMIT 1"
                ),
                [payload],
                read,
            )
            .optional()?;
        row.map(with_kind).transpose()
    }

    /// The newest scans first.
    pub fn recent_scans(&self, limit: usize) -> Result<Vec<ScanEventRecord>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {COLUMNS} FROM scan_events ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map([limit as i64], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(with_kind).collect()
    }

    /// Records that a nurse looked at a wrong-patient stop and dismissed it.
    pub fn dismiss_scan(&mut self, actor: &Actor, id: i64) -> Result<()> {
        let tx = self.begin()?;
        let changed = tx.execute(
            "UPDATE scan_events SET dismissed_at = ?2, dismissed_by = ?3
             WHERE id = ?1 AND kind = 'wrong_patient' AND dismissed_at IS NULL",
            params![id, super::now_text(), actor.0],
        )?;
        if changed != 1 {
            return Err(StoreError::Refused(format!("scan {id} is no open wrong-patient stop")));
        }
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "dismiss", "scan_event", &id.to_string(), None, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Wrong-patient stops nobody dismissed yet (the station shows them again after a restart).
    pub fn open_stops(&self, station: &str) -> Result<Vec<ScanEventRecord>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM scan_events WHERE kind = 'wrong_patient' AND dismissed_at IS NULL
             AND station = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([station], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(with_kind).collect()
    }

    /// Paper orders per day and category from `first_day` (YYYY-MM-DD) on.
    pub fn volume_counts(&self, first_day: &str) -> Result<Vec<VolumeCount>> {
        let mut stmt = self.conn.prepare(
            "SELECT day, volume, COUNT(*) FROM scan_events WHERE volume IS NOT NULL AND kind = 'item' AND day >= ?1
             GROUP BY day, volume ORDER BY day, volume",
        )?;
        let rows = stmt.query_map([first_day], |r| {
            Ok(VolumeCount { day: r.get(0)?, category: r.get(1)?, count: r.get::<_, i64>(2)? as u32 })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
