//! The audit trail: append-only (triggers refuse UPDATE and DELETE) and chained by hash, so that
//! an entry edited or removed behind the program's back is detected by `verify`.
//!
//! hash(n) = SHA-256 over the fields of entry n and hash(n-1), each followed by a 0x1F separator;
//! the first entry's previous hash is 64 zeros. Removing the *newest* entries cannot be seen from
//! the chain alone; backups (issue 3) carry the head hash to close that gap.

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Actor, Result, Store, now_text};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditVerification {
    pub entries: u64,
    /// The first entry whose hash or sequence does not match, with the reason.
    pub first_broken: Option<(i64, String)>,
}

/// Appends entries inside one transaction, carrying the chain's head from one to the next.
pub(super) struct AuditWriter {
    prev_hash: String,
    next_seq: i64,
}

impl AuditWriter {
    pub fn start(tx: &Transaction<'_>) -> Result<Self> {
        let head: Option<(i64, String)> = tx
            .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (last_seq, prev_hash) = head.unwrap_or((0, GENESIS.to_string()));
        Ok(Self { prev_hash, next_seq: last_seq + 1 })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        tx: &Transaction<'_>,
        actor: &Actor,
        action: &str,
        entity: &str,
        entity_id: &str,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Result<()> {
        let entry = AuditEntry {
            seq: self.next_seq,
            at: now_text(),
            actor: actor.0.clone(),
            action: action.to_string(),
            entity: entity.to_string(),
            entity_id: entity_id.to_string(),
            before: before.map(Value::to_string),
            after: after.map(Value::to_string),
        };
        let hash = chain_hash(&self.prev_hash, &entry);
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                entry.seq,
                entry.at,
                entry.actor,
                entry.action,
                entry.entity,
                entry.entity_id,
                entry.before,
                entry.after,
                self.prev_hash,
                hash
            ],
        )?;
        self.prev_hash = hash;
        self.next_seq += 1;
        Ok(())
    }
}

/// Reads the first eight columns: seq, at, actor, action, entity, entity_id, before, after.
fn read_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        entity: r.get(4)?,
        entity_id: r.get(5)?,
        before: r.get(6)?,
        after: r.get(7)?,
    })
}

fn chain_hash(prev_hash: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let seq = e.seq.to_string();
    let fields: [&str; 9] = [
        prev_hash,
        &seq,
        &e.at,
        &e.actor,
        &e.action,
        &e.entity,
        &e.entity_id,
        e.before.as_deref().unwrap_or("\u{0}null"),
        e.after.as_deref().unwrap_or("\u{0}null"),
    ];
    for f in fields {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Recomputes the chain of the audit table behind `conn` (the live database or a backup).
pub(super) fn verify_chain(conn: &rusqlite::Connection) -> Result<AuditVerification> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash
             FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut entries = 0;
    while let Some(r) = rows.next()? {
        let entry = read_entry(r)?;
        let prev_hash: String = r.get(8)?;
        let hash: String = r.get(9)?;
        entries += 1;
        let broken = if entry.seq != expected_seq {
            Some(format!("entry {expected_seq} is missing (next is {})", entry.seq))
        } else if prev_hash != expected_prev {
            Some("its link to the previous entry does not match".to_string())
        } else if chain_hash(&prev_hash, &entry) != hash {
            Some("its content does not match its hash (edited)".to_string())
        } else {
            None
        };
        if let Some(reason) = broken {
            return Ok(AuditVerification { entries, first_broken: Some((expected_seq, reason)) });
        }
        expected_prev = hash;
        expected_seq += 1;
    }
    Ok(AuditVerification { entries, first_broken: None })
}

impl Store {
    /// Recomputes the whole chain and names the first entry that does not fit.
    pub fn verify_audit(&self) -> Result<AuditVerification> {
        verify_chain(&self.conn)
    }

    /// The newest `limit` entries about one entity, newest first.
    pub fn audit_of(&self, entity: &str, entity_id: &str, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, actor, action, entity, entity_id, before, after FROM audit
             WHERE entity = ?1 AND entity_id = ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![entity, entity_id, limit as i64], read_entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_entries(n: usize) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.conn.transaction().unwrap();
        let mut w = AuditWriter::start(&tx).unwrap();
        for i in 0..n {
            let v = Value::String(format!("v{i}"));
            w.append(&tx, &Actor("t".into()), "set", "meta", "k", None, Some(&v)).unwrap();
        }
        tx.commit().unwrap();
        store
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let v = store_with_entries(5).verify_audit().unwrap();
        assert_eq!(v, AuditVerification { entries: 5, first_broken: None });
    }

    #[test]
    fn updates_and_deletes_are_refused_by_the_database() {
        let store = store_with_entries(2);
        let err = store.conn.execute("UPDATE audit SET actor = 'x' WHERE seq = 1", []).unwrap_err();
        assert!(err.to_string().contains("append-only"));
        assert!(store.conn.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    }

    #[test]
    fn an_edited_entry_is_named_by_verify() {
        let store = store_with_entries(4);
        store
            .conn
            .execute_batch(
                "DROP TRIGGER audit_is_append_only_update;
                 UPDATE audit SET after = '\"forged\"' WHERE seq = 3;",
            )
            .unwrap();
        let v = store.verify_audit().unwrap();
        assert_eq!(v.first_broken.unwrap().0, 3);
    }

    #[test]
    fn a_removed_entry_is_named_by_verify() {
        let store = store_with_entries(4);
        store
            .conn
            .execute_batch("DROP TRIGGER audit_is_append_only_delete; DELETE FROM audit WHERE seq = 2;")
            .unwrap();
        let (seq, reason) = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(seq, 2);
        assert!(reason.contains("missing"), "{reason}");
    }
}
