//! The hand-off's own records: versions of what was prepared for the EHR (with their HL7
//! messages, kept in the outbox: `outbox.rs`), and which run wrote or sent what. Preparing a run and recording what it
//! delivered are each one transaction, so a killed export or send leaves the outbox as it was
//! before the message in flight.

use std::collections::HashMap;

use super::db::{OptionalExtension, params};
use serde_json::json;

use super::audit::AuditWriter;
pub use super::outbox::{OutboxMessage, OutboxState};
use super::{Actor, Result, Store, StoreError, now_text};

/// The current (not superseded) version of a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentItem {
    pub id: i64,
    pub version: u32,
    pub content_sha256: String,
    /// The latest version the EHR may have as HL7 (written to files, acknowledged, or sent with
    /// no answer yet): a new version updates that one. A version it refused does not count.
    pub hl7_base: Option<i64>,
}

/// A message made for a new version.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedMessage {
    pub control_id: String,
    pub message_type: String,
    pub body: String,
}

/// What a version says (its `HandoffItem` as JSON), DEFLATE-compressed as it is kept: the
/// versions of 100,000 charge lines are 32 MB of JSON, whose writing was a quarter of the first
/// export's time; compressed they are 11 MB. Packed by whoever makes the version, so
/// the work is spread over the threads that make the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedContent(Vec<u8>);

impl PackedContent {
    pub fn pack(json: &str) -> Self {
        use std::io::Write;
        let mut encoder = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(json.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(json.as_bytes());
        PackedContent(encoder.finish().unwrap_or_default())
    }

    fn unpack(bytes: &[u8]) -> std::result::Result<String, String> {
        use std::io::Read;
        let mut json = String::new();
        flate2::read::DeflateDecoder::new(bytes).read_to_string(&mut json).map_err(|e| e.to_string())?;
        Ok(json)
    }
}

/// A new version of a subject, with its HL7 messages.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedItem {
    pub subject: String,
    /// 1 for a new subject, else the current version + 1.
    pub version: u32,
    pub kind: &'static str,
    pub patient_id: String,
    pub item: Option<String>,
    /// The keying a keyed page's version was made from.
    pub entry_id: Option<i64>,
    pub content_sha256: String,
    pub content: PackedContent,
    /// The delivered version this one updates (`CurrentItem::hl7_base` as read), checked again
    /// inside the save: a send or export in between refuses the preparation.
    pub base: Option<i64>,
    pub messages: Vec<StagedMessage>,
}

/// A version of a subject that is current, as the exports read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRecord {
    pub id: i64,
    pub subject: String,
    pub version: u32,
    pub kind: String,
    pub patient_id: String,
    pub item: Option<String>,
    pub created_at: String,
    /// The subject's own number (its first version's row): stable for good, so it serves as
    /// the order number in SS-MIX2 file names.
    pub subject_number: i64,
    /// Formats that delivered this version.
    pub delivered: Vec<String>,
}

/// An export or sending run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HandoffRun {
    pub id: i64,
    pub format: String,
    pub target: String,
    pub episode_id: Option<i64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub started_by: String,
    pub counts: Option<serde_json::Value>,
}

/// How a worklist item stands in the hand-off (its current keyed version).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemHandoff {
    /// Written to a file or sent in any format.
    pub exported: bool,
    /// Every HL7 message of it acknowledged with AA.
    pub acknowledged: bool,
    /// A message of it was rejected (AR) or failed (AE).
    pub refused: bool,
    /// The keying the handed-off version was made from: a later correction is not handed off
    /// until it is exported again.
    pub entry_id: Option<i64>,
}

/// The delivery format of what ORCA's API accepted (`send orca`), apart from `orca`, the request
/// files `export orca` wrote: ORCA's answer acknowledges what it took.
pub const ORCA_ACCEPTED: &str = "orca_accepted";

/// Counts as "the EHR may have it" for HL7: written as HL7 or SS-MIX2 files, acknowledged, or
/// sent without an answer yet.
const HL7_DELIVERED: &str = "(EXISTS (SELECT 1 FROM deliveries d WHERE d.handoff_item = h.id
                              AND d.format IN ('hl7', 'ssmix2', 'mllp'))
     OR EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id
                AND (o.state = 'acknowledged' OR (o.state = 'pending' AND o.attempts > 0))))";

fn hl7_bases(conn: &super::db::Connection) -> Result<HashMap<String, i64>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT h.subject, h.id FROM handoff_items h WHERE {HL7_DELIVERED} ORDER BY h.version"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
}

fn hl7_base_of(conn: &super::db::Connection, subject: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT h.id FROM handoff_items h WHERE h.subject = ?1 AND {HL7_DELIVERED}
                 ORDER BY h.version DESC LIMIT 1"
            ),
            [subject],
            |r| r.get(0),
        )
        .optional()?)
}

/// Whether anything of `subject` may have reached the EHR (any format): a mapping or a merge
/// the EHR has cannot simply be taken back here.
pub(super) fn subject_delivered(conn: &super::db::Connection, subject: &str) -> Result<bool> {
    delivered_where(conn, "h.subject = ?1", subject)
}

/// Whether anything was handed to the EHR under `patient_id` (as sent: the record number once
/// mapped).
pub(super) fn patient_delivered(conn: &super::db::Connection, patient_id: &str) -> Result<bool> {
    delivered_where(conn, "h.patient_id = ?1", patient_id)
}

/// Whether a version matching `condition` (a fixed SQL test of `h`, never user text) was
/// written by an export or tried by a sender.
fn delivered_where(conn: &super::db::Connection, condition: &'static str, value: &str) -> Result<bool> {
    Ok(conn.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM handoff_items h WHERE {condition} AND
                (EXISTS (SELECT 1 FROM deliveries d WHERE d.handoff_item = h.id)
                 OR EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id AND o.attempts > 0)))"
        ),
        [value],
        |r| r.get(0),
    )?)
}

impl Store {
    /// The current version of every subject handed off so far.
    pub fn current_handoff(&self) -> Result<HashMap<String, CurrentItem>> {
        let bases = hl7_bases(&self.conn)?;
        let mut stmt = self.conn.prepare(
            "SELECT h.id, h.subject, h.version, h.content_sha256
             FROM handoff_items h WHERE h.superseded_by IS NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            let subject: String = r.get(1)?;
            let hl7_base = bases.get(&subject).copied();
            Ok((
                subject,
                CurrentItem { id: r.get(0)?, version: r.get(2)?, content_sha256: r.get(3)?, hl7_base },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    /// The latest version of each subject a format delivered (`csv`, …): what a correction in
    /// that format must take back.
    pub fn delivered_versions(&self, format: &str) -> Result<HashMap<String, (i64, u32)>> {
        let mut stmt = self.conn.prepare(
            "SELECT h.subject, h.id, h.version FROM handoff_items h JOIN deliveries d ON d.handoff_item = h.id
             WHERE d.format = ?1 ORDER BY h.version",
        )?;
        let rows =
            stmt.query_map([format], |r| Ok((r.get::<_, String>(0)?, (r.get::<_, i64>(1)?, r.get(2)?))))?;
        // Ordered by version: the last one per subject wins.
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    /// What a version said (`HandoffItem` as JSON), read when a later version must update it.
    pub fn handoff_content(&self, id: i64) -> Result<Option<String>> {
        let packed: Option<(String, Vec<u8>)> = self
            .conn
            .query_row("SELECT subject, content FROM handoff_items WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        packed
            .map(|(subject, bytes)| {
                PackedContent::unpack(&bytes).map_err(|message| StoreError::Corrupt {
                    entity: "hand-off version",
                    id: format!("{subject} (row {id})"),
                    field: "content",
                    message,
                })
            })
            .transpose()
    }

    /// Saves new versions and their messages in one transaction, in the order given (which is
    /// the sending order). An earlier version is superseded; its messages that were never sent
    /// nor written are withdrawn. Refused, with nothing saved, when another run made a version
    /// of one of the subjects since `current_handoff` was read.
    pub fn save_handoff(&mut self, actor: &Actor, items: &[StagedItem]) -> Result<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        let tx = self.begin()?;
        let now = now_text();
        {
            let mut current = tx.prepare_cached(
                "SELECT id, version FROM handoff_items WHERE subject = ?1 AND superseded_by IS NULL",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO handoff_items (subject, version, kind, patient_id, item, entry_id,
                     content_sha256, content, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut supersede =
                tx.prepare_cached("UPDATE handoff_items SET superseded_by = ?2 WHERE id = ?1")?;
            // What the EHR never took — never sent nor written, or refused — is replaced by the
            // new version; what it may have (sent without an answer yet) stays, to be settled.
            let mut withdraw = tx.prepare_cached(
                "UPDATE outbox SET state = 'withdrawn'
                 WHERE handoff_item = ?1
                   AND (state IN ('rejected', 'error')
                        OR (state = 'pending' AND attempts = 0
                            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.handoff_item = ?1)))",
            )?;
            let mut message = tx.prepare_cached(
                "INSERT INTO outbox (handoff_item, seq, control_id, message_type, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for item in items {
                let previous: Option<(i64, u32)> =
                    current.query_row([&item.subject], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
                let expected = previous.map_or(1, |(_, v)| v + 1);
                if item.version != expected
                    || (item.version > 1 && hl7_base_of(&tx, &item.subject)? != item.base)
                {
                    return Err(StoreError::Refused(format!(
                        "{} changed while this export was being prepared (another export ran); run it again",
                        item.subject
                    )));
                }
                insert.execute(params![
                    item.subject,
                    item.version,
                    item.kind,
                    item.patient_id,
                    item.item,
                    item.entry_id,
                    item.content_sha256,
                    item.content.0,
                    now,
                    actor.0
                ])?;
                let id = tx.last_insert_rowid();
                if let Some((old, _)) = previous {
                    supersede.execute(params![old, id])?;
                    withdraw.execute([old])?;
                }
                for (seq, m) in item.messages.iter().enumerate() {
                    message.execute(params![id, seq as i64, m.control_id, m.message_type, m.body]).map_err(
                        |e| match e {
                            e if e.is_constraint() => StoreError::Refused(format!(
                                "message control ID {} of {} is already used by another message",
                                m.control_id, item.subject
                            )),
                            other => StoreError::Sql(other),
                        },
                    )?;
                }
            }
        }
        // One audit entry per preparation: the outbox itself is the detailed record.
        let mut audit = AuditWriter::start(&tx)?;
        let messages: usize = items.iter().map(|i| i.messages.len()).sum();
        audit.append(
            &tx,
            actor,
            "prepare",
            "handoff",
            &items.len().to_string(),
            None,
            Some(&json!({
                "versions": items.len(),
                "messages": messages,
                "new": items.iter().filter(|i| i.version == 1).count(),
                "updated": items.iter().filter(|i| i.version > 1).count(),
            })),
        )?;
        tx.commit()?;
        Ok(items.len())
    }

    /// Current versions (not superseded), in the order they were made.
    pub fn handoff_records(&self) -> Result<Vec<HandoffRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT h.id, h.subject, h.version, h.kind, h.patient_id, h.item, h.created_at,
                    (SELECT string_agg(format, ',') FROM deliveries d WHERE d.handoff_item = h.id),
                    (SELECT min(f.id) FROM handoff_items f WHERE f.subject = h.subject)
             FROM handoff_items h WHERE h.superseded_by IS NULL ORDER BY h.id",
        )?;
        let rows = stmt.query_map([], |r| {
            let delivered: Option<String> = r.get(7)?;
            Ok(HandoffRecord {
                id: r.get(0)?,
                subject: r.get(1)?,
                version: r.get(2)?,
                kind: r.get(3)?,
                patient_id: r.get(4)?,
                item: r.get(5)?,
                created_at: r.get(6)?,
                subject_number: r.get(8)?,
                delivered: delivered.map(|d| d.split(',').map(str::to_string).collect()).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Starts a run (its row says what was attempted even if the process dies during it).
    pub fn start_handoff_run(
        &mut self,
        actor: &Actor,
        format: &str,
        target: &str,
        episode_id: Option<i64>,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO handoff_runs (format, target, episode_id, started_at, started_by)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![format, target, episode_id, now_text(), actor.0],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that a run wrote these versions (after the files are safely on disk), and ends
    /// the run with its counts — one transaction with its audit entry.
    pub fn finish_handoff_run(
        &mut self,
        actor: &Actor,
        run_id: i64,
        delivered: &[i64],
        counts: &serde_json::Value,
    ) -> Result<()> {
        self.finish_run_delivering(actor, run_id, delivered, counts, None)
    }

    /// Ends a `send orca` run: what ORCA's API accepted is recorded apart from the request files
    /// `export orca` wrote (ORCA's answer is the acknowledgement a file never has).
    pub fn finish_orca_send(
        &mut self,
        actor: &Actor,
        run_id: i64,
        accepted: &[i64],
        counts: &serde_json::Value,
    ) -> Result<()> {
        self.finish_run_delivering(actor, run_id, accepted, counts, Some(ORCA_ACCEPTED))
    }

    fn finish_run_delivering(
        &mut self,
        actor: &Actor,
        run_id: i64,
        delivered: &[i64],
        counts: &serde_json::Value,
        delivered_as: Option<&str>,
    ) -> Result<()> {
        let tx = self.begin()?;
        let now = now_text();
        let format: String = match delivered_as {
            Some(format) => format.to_string(),
            None => tx.query_row("SELECT format FROM handoff_runs WHERE id = ?1", [run_id], |r| r.get(0))?,
        };
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO deliveries (handoff_item, format, run_id, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (handoff_item, format) DO UPDATE SET run_id = excluded.run_id, at = excluded.at",
            )?;
            for id in delivered {
                stmt.execute(params![id, format, run_id, now])?;
            }
        }
        tx.execute(
            "UPDATE handoff_runs SET finished_at = ?2, counts_json = ?3 WHERE id = ?1",
            params![run_id, now, counts.to_string()],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "export", "handoff_run", &run_id.to_string(), None, Some(counts))?;
        tx.commit()?;
        Ok(())
    }

    pub fn handoff_runs(&self) -> Result<Vec<HandoffRun>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, format, target, episode_id, started_at, finished_at, started_by, counts_json
             FROM handoff_runs ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let counts: Option<String> = r.get(7)?;
            Ok(HandoffRun {
                id: r.get(0)?,
                format: r.get(1)?,
                target: r.get(2)?,
                episode_id: r.get(3)?,
                started_at: r.get(4)?,
                finished_at: r.get(5)?,
                started_by: r.get(6)?,
                counts: counts.and_then(|c| serde_json::from_str(&c).ok()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Hand-off state of every worklist item with a current keyed version.
    pub fn item_handoffs(&self) -> Result<HashMap<String, ItemHandoff>> {
        let mut stmt = self.conn.prepare(
            "SELECT h.item,
                    EXISTS (SELECT 1 FROM deliveries d WHERE d.handoff_item = h.id)
                      OR EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id AND o.attempts > 0),
                    (NOT EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id
                                 AND o.state <> 'acknowledged')
                       AND EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id))
                      OR EXISTS (SELECT 1 FROM deliveries d WHERE d.handoff_item = h.id
                                 AND d.format = ?1),
                    EXISTS (SELECT 1 FROM outbox o WHERE o.handoff_item = h.id
                            AND o.state IN ('rejected', 'error')),
                    h.entry_id
             FROM handoff_items h
             WHERE h.superseded_by IS NULL AND h.kind = 'keyed' AND h.item IS NOT NULL",
        )?;
        let rows = stmt.query_map([ORCA_ACCEPTED], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ItemHandoff {
                    exported: r.get(1)?,
                    acknowledged: r.get(2)?,
                    refused: r.get(3)?,
                    entry_id: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(subject: &str, version: u32, sha: &str) -> StagedItem {
        StagedItem {
            subject: subject.to_string(),
            version,
            kind: "keyed",
            patient_id: "P1".to_string(),
            item: Some("A-000001".to_string()),
            entry_id: None,
            content_sha256: sha.to_string(),
            content: PackedContent::pack("{}"),
            base: None,
            messages: vec![StagedMessage {
                control_id: format!("C{subject}{version}"),
                message_type: "DFT^P03".to_string(),
                body: "MSH|^~\\&|".to_string(),
            }],
        }
    }

    #[test]
    fn a_new_version_supersedes_and_withdraws_what_was_never_sent() {
        let mut store = Store::open_in_memory().unwrap();
        let actor = Actor("test".into());
        store.save_handoff(&actor, &[staged("keyed:A", 1, "x")]).unwrap();
        assert_eq!(store.outbox(true).unwrap().len(), 1);
        store.save_handoff(&actor, &[staged("keyed:A", 2, "y")]).unwrap();
        let all = store.outbox(false).unwrap();
        assert_eq!(all[0].state, OutboxState::Withdrawn);
        assert!(all[0].superseded);
        assert_eq!(store.outbox(true).unwrap().len(), 1);
        let current = store.current_handoff().unwrap();
        assert_eq!(current["keyed:A"].version, 2);
        // A stale preparation (made from version 1) is refused whole.
        let err =
            store.save_handoff(&actor, &[staged("keyed:B", 1, "z"), staged("keyed:A", 2, "w")]).unwrap_err();
        assert!(err.to_string().contains("keyed:A"), "{err}");
        assert!(!store.current_handoff().unwrap().contains_key("keyed:B"), "nothing half-saved");
    }

    #[test]
    fn acknowledgements_mark_delivery_and_item_state() {
        let mut store = Store::open_in_memory().unwrap();
        let actor = Actor("test".into());
        store.save_handoff(&actor, &[staged("keyed:A", 1, "x")]).unwrap();
        let run = store.start_handoff_run(&actor, "mllp", "127.0.0.1:1", None).unwrap();
        let m = &store.outbox(true).unwrap()[0];
        store.record_send_attempt(m.id).unwrap();
        assert_eq!(
            store.record_ack(run, m.id, "AR", Some("unknown patient")).unwrap(),
            OutboxState::Rejected
        );
        let states = store.item_handoffs().unwrap();
        assert!(
            states["A-000001"].exported && states["A-000001"].refused && !states["A-000001"].acknowledged
        );
        assert_eq!(store.record_ack(run, m.id, "AA", None).unwrap(), OutboxState::Acknowledged);
        assert!(store.outbox(true).unwrap().is_empty());
        assert!(store.item_handoffs().unwrap()["A-000001"].acknowledged);
    }

    #[test]
    fn a_version_reads_back_what_was_packed_and_a_damaged_one_is_named() {
        let mut store = Store::open_in_memory().unwrap();
        let actor = Actor("test".into());
        let json = r#"{"subject":"keyed:A","patient":{"name":"山田　太郎","kana":"ヤマダ　タロウ"}}"#;
        let mut item = staged("keyed:A", 1, "x");
        item.content = PackedContent::pack(json);
        store.save_handoff(&actor, &[item]).unwrap();
        let id = store.current_handoff().unwrap()["keyed:A"].id;
        assert_eq!(store.handoff_content(id).unwrap().as_deref(), Some(json));
        assert_eq!(store.handoff_content(id + 1).unwrap(), None);
        store
            .conn
            .execute("UPDATE handoff_items SET content = ?2 WHERE id = ?1", params![id, vec![0u8, 0xff]])
            .unwrap();
        let err = store.handoff_content(id).unwrap_err().to_string();
        assert!(err.contains("keyed:A") && err.contains("content"), "{err}");
    }
}
