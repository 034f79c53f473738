//! The HL7 outbox: every message prepared for the EHR, in sending order, with each try and the
//! receiver's acknowledgement. The versions the messages belong to are kept in `handoff.rs`.

use super::db::{OptionalExtension, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError, now_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Acknowledged,
    Rejected,
    Error,
    Withdrawn,
}

impl OutboxState {
    pub fn code(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Acknowledged => "acknowledged",
            OutboxState::Rejected => "rejected",
            OutboxState::Error => "error",
            OutboxState::Withdrawn => "withdrawn",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::Pending, Self::Acknowledged, Self::Rejected, Self::Error, Self::Withdrawn]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

impl serde::Serialize for OutboxState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One HL7 message of the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub handoff_item: i64,
    pub subject: String,
    pub version: u32,
    pub seq: u32,
    pub kind: String,
    pub patient_id: String,
    pub item: Option<String>,
    pub control_id: String,
    pub message_type: String,
    #[serde(skip)]
    pub body: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub last_sent_at: Option<String>,
    pub ack_code: Option<String>,
    pub ack_text: Option<String>,
    pub ack_at: Option<String>,
    pub last_error: Option<String>,
    /// A later version of the subject exists.
    pub superseded: bool,
    /// (format, run) of every run that wrote or sent its item.
    pub delivered: Vec<String>,
}

pub(super) const OUTBOX_COLUMNS: &str = "o.id, o.handoff_item, h.subject, h.version, o.seq, h.kind, h.patient_id, \
     h.item, o.control_id, o.message_type, o.body, o.state, o.attempts, o.last_sent_at, o.ack_code, \
     o.ack_text, o.ack_at, o.last_error, h.superseded_by IS NOT NULL, \
     (SELECT string_agg(format, ',') FROM deliveries d WHERE d.handoff_item = h.id)";

pub(super) fn read_outbox(r: &super::db::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let state: String = r.get(11)?;
    let delivered: Option<String> = r.get(19)?;
    Ok(OutboxMessage {
        id: r.get(0)?,
        handoff_item: r.get(1)?,
        subject: r.get(2)?,
        version: r.get(3)?,
        seq: r.get(4)?,
        kind: r.get(5)?,
        patient_id: r.get(6)?,
        item: r.get(7)?,
        control_id: r.get(8)?,
        message_type: r.get(9)?,
        body: r.get(10)?,
        state: OutboxState::from_code(&state).unwrap_or(OutboxState::Pending),
        attempts: r.get(12)?,
        last_sent_at: r.get(13)?,
        ack_code: r.get(14)?,
        ack_text: r.get(15)?,
        ack_at: r.get(16)?,
        last_error: r.get(17)?,
        superseded: r.get(18)?,
        delivered: delivered.map(|d| d.split(',').map(str::to_string).collect()).unwrap_or_default(),
    })
}

impl Store {
    /// Withdraws an unacknowledged message by hand (the receiver refuses it for good and the
    /// hospital settles it another way), with the reason, audited: sending goes on past it.
    pub fn withdraw_message(&mut self, actor: &Actor, control_id: &str, reason: &str) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(StoreError::Refused("give the reason for withdrawing the message".into()));
        }
        let tx = self.begin()?;
        let state: Option<String> = tx
            .query_row("SELECT state FROM outbox WHERE control_id = ?1", [control_id], |r| r.get(0))
            .optional()?;
        match state.as_deref() {
            None => return Err(StoreError::Refused(format!("no message has control ID {control_id}"))),
            Some("acknowledged") => {
                return Err(StoreError::Refused(format!(
                    "{control_id} was acknowledged; there is nothing to withdraw"
                )));
            }
            Some("withdrawn") => {
                return Err(StoreError::Refused(format!("{control_id} is withdrawn already")));
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE outbox SET state = 'withdrawn', last_error = ?2 WHERE control_id = ?1",
            params![control_id, format!("withdrawn by hand: {}", reason.trim())],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "handoff.withdraw",
            "message",
            control_id,
            Some(&json!({"state": state})),
            Some(&json!({"state": "withdrawn", "reason": reason.trim()})),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The messages of the outbox in sending order; `unsettled` keeps only those still to send
    /// (pending, rejected or failed; not withdrawn) whose version is current or was sent before.
    pub fn outbox(&self, unsettled: bool) -> Result<Vec<OutboxMessage>> {
        let filter = if unsettled { "WHERE o.state IN ('pending', 'rejected', 'error')" } else { "" };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox o JOIN handoff_items h ON h.id = o.handoff_item {filter}
             ORDER BY o.id"
        ))?;
        let rows = stmt.query_map([], read_outbox)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn outbox_message(&self, control_id: &str) -> Result<Option<OutboxMessage>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox o JOIN handoff_items h ON h.id = o.handoff_item
                     WHERE o.control_id = ?1"
                ),
                [control_id],
                read_outbox,
            )
            .optional()?)
    }

    /// Records that a message is about to go on the wire (so a crash right after is known to
    /// have possibly delivered it; the receiver drops the repeat by its control ID).
    /// Refused when the message was settled meanwhile (withdrawn by a new version or by hand,
    /// or acknowledged by another run): it must not go out.
    pub fn record_send_attempt(&mut self, id: i64) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_sent_at = ?2
             WHERE id = ?1 AND state IN ('pending', 'rejected', 'error')",
            params![id, now_text()],
        )?;
        if changed == 0 {
            return Err(StoreError::Refused(format!(
                "message {id} was settled by another run (withdrawn or acknowledged) while this one was sending; send again"
            )));
        }
        Ok(())
    }

    /// Records the receiver's answer (MSA-1 and its text) and, for an acceptance, the delivery
    /// of the message's item over MLLP — one transaction.
    pub fn record_ack(
        &mut self,
        run_id: i64,
        id: i64,
        code: &str,
        text: Option<&str>,
    ) -> Result<OutboxState> {
        let state = match code {
            "AA" | "CA" => OutboxState::Acknowledged,
            "AR" | "CR" => OutboxState::Rejected,
            _ => OutboxState::Error,
        };
        let tx = self.begin()?;
        let now = now_text();
        tx.execute(
            "UPDATE outbox SET state = ?2, ack_code = ?3, ack_text = ?4, ack_at = ?5, last_error = NULL
             WHERE id = ?1",
            params![id, state.code(), code, text, now],
        )?;
        if state == OutboxState::Acknowledged {
            tx.execute(
                "INSERT INTO deliveries (handoff_item, format, run_id, at)
                 SELECT handoff_item, 'mllp', ?2, ?3 FROM outbox WHERE id = ?1
                 ON CONFLICT (handoff_item, format) DO UPDATE SET run_id = excluded.run_id, at = excluded.at",
                params![id, run_id, now],
            )?;
        }
        tx.commit()?;
        Ok(state)
    }

    /// Records a failed attempt (no answer, a dropped connection) without changing the state.
    pub fn record_send_error(&mut self, id: i64, error: &str) -> Result<()> {
        self.conn.execute("UPDATE outbox SET last_error = ?2 WHERE id = ?1", params![id, error])?;
        Ok(())
    }
}
