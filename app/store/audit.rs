//! The audit trail: append-only (triggers refuse UPDATE and DELETE) and chained, so that an entry
//! edited or removed behind the program's back is detected by `verify`.
//!
//! mac(n) = HMAC-SHA-256 under the audit key (trust.rs) over the fields of entry n and mac(n-1),
//! each followed by a 0x1F separator; the first entry's previous value is 64 zeros. Entries written
//! before the key existed (`seq < keyed_from`) keep the unkeyed SHA-256 of the same fields. The
//! anchor file beside the database records the newest entry, so entries removed from the end
//! are reported too.

use std::path::Path;

use super::db::{OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::trust::{Anchor, AuditKey};
use super::{Actor, Result, Store, Tx, now_text};

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
    /// The first entry whose MAC, link or sequence does not match, or the first entry missing from
    /// the end (the anchor's), with the reason.
    pub first_broken: Option<(i64, String)>,
    /// Accounts and settings whose seal does not match: changed outside kamikarte.
    pub broken_seals: Vec<String>,
}

impl AuditVerification {
    pub fn ok(&self) -> bool {
        self.first_broken.is_none() && self.broken_seals.is_empty()
    }

    /// Every problem, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .first_broken
            .iter()
            .map(|(seq, why)| format!("audit trail broken at entry {seq}: {why}"))
            .collect();
        out.extend(self.broken_seals.iter().cloned());
        out
    }
}

/// Appends entries inside one transaction, carrying the chain's head from one to the next.
pub(super) struct AuditWriter {
    key: AuditKey,
    prev_hash: String,
    next_seq: i64,
}

impl AuditWriter {
    pub fn start(tx: &Tx<'_>) -> Result<Self> {
        let (last_seq, prev_hash) = head(tx)?.unwrap_or((0, GENESIS.to_string()));
        Ok(Self { key: tx.key().clone(), prev_hash, next_seq: last_seq + 1 })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        tx: &super::db::Transaction<'_>,
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
        let hash = link(&self.key, &self.prev_hash, &entry);
        tx.prepare_cached(
            "INSERT INTO audit (seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
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
        ])?;
        self.prev_hash = hash;
        self.next_seq += 1;
        Ok(())
    }
}

/// The newest entry's sequence number and MAC.
pub(super) fn head(conn: &super::db::Connection) -> Result<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Reads the first eight columns: seq, at, actor, action, entity, entity_id, before, after.
fn read_entry(r: &super::db::Row<'_>) -> rusqlite::Result<AuditEntry> {
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

/// The value that chains entry `e` to the one before it: keyed from the key's first entry on.
fn link(key: &AuditKey, prev_hash: &str, e: &AuditEntry) -> String {
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
    if e.seq >= key.keyed_from() {
        return key.mac("audit", &fields);
    }
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// Recomputes the chain of the audit table behind `conn` (the live database or a backup) under
/// `key`, compares its end with the anchor at `anchor` (none for a database in memory), and checks
/// the seals of accounts and settings.
pub(super) fn verify(
    conn: &super::db::Connection,
    key: &AuditKey,
    anchor: Option<&Path>,
) -> Result<AuditVerification> {
    let anchored = match anchor.map(Anchor::read) {
        None => Ok(None),
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(e),
    };
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash
             FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut entries = 0;
    let mut first_broken = None;
    let mut anchored_hash = None;
    while let Some(r) = rows.next()? {
        let entry = read_entry(&r)?;
        let prev_hash: String = r.get(8)?;
        let hash: String = r.get(9)?;
        entries += 1;
        let broken = if entry.seq != expected_seq {
            Some(format!("entry {expected_seq} is missing (next is {})", entry.seq))
        } else if prev_hash != expected_prev {
            Some("its link to the previous entry does not match".to_string())
        } else if link(key, &prev_hash, &entry) != hash {
            Some("its content does not match its MAC (edited, or chained without this key)".to_string())
        } else {
            None
        };
        if let Some(reason) = broken {
            first_broken = Some((expected_seq, reason));
            break;
        }
        if let Ok(Some(a)) = &anchored
            && a.seq == entry.seq
        {
            anchored_hash = Some(hash.clone());
        }
        expected_prev = hash;
        expected_seq += 1;
    }
    drop(rows);
    let last = expected_seq - 1;
    if first_broken.is_none()
        && let Some(path) = anchor
    {
        first_broken = match anchored {
            Err(e) => Some((last + 1, format!("the anchor file cannot be read ({e})"))),
            Ok(None) => Some((
                last,
                format!(
                    "the anchor file {} is missing, so entries removed from the end would not show",
                    path.display()
                ),
            )),
            Ok(Some(a)) if a.key_id != key.id() => Some((
                last,
                format!("the anchor file {} was written under another key ({})", path.display(), a.key_id),
            )),
            Ok(Some(a)) if a.seq > last => Some((
                last + 1,
                format!(
                    "entries {} to {} are missing: the anchor file {} records entry {} but the trail ends at {last} (the newest entries were deleted)",
                    last + 1,
                    a.seq,
                    path.display(),
                    a.seq
                ),
            )),
            Ok(Some(a)) if a.seq > 0 && anchored_hash.as_deref() != Some(a.mac.as_str()) => Some((
                a.seq,
                format!("it differs from the anchor file {} (the trail was rewritten)", path.display()),
            )),
            Ok(Some(_)) => None,
        };
    }
    let broken_seals = super::seals::broken(conn, key)?;
    Ok(AuditVerification { entries, first_broken, broken_seals })
}

impl Store {
    /// Recomputes the whole chain, compares its end with the anchor and checks the seals of
    /// accounts and settings; names the first entry that does not fit and every broken seal.
    pub fn verify_audit(&self) -> Result<AuditVerification> {
        verify(&self.conn, &self.trust.key, self.trust.anchor.as_deref())
    }

    /// Every entry as one text, for tests that look for what must never be in it.
    #[cfg(test)]
    pub(crate) fn audit_all_text(&self) -> Result<String> {
        let mut stmt =
            self.conn.prepare("SELECT actor, action, entity, entity_id, before, after FROM audit")?;
        let rows = stmt.query_map([], |r| {
            let parts: [Option<String>; 6] =
                [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?];
            Ok(parts.into_iter().flatten().collect::<Vec<_>>().join("|"))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("\n"))
    }

    /// Runs SQL straight on the file, as someone editing it behind the program's back would.
    #[cfg(test)]
    pub(crate) fn raw_execute(&self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
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
        let tx = store.begin().unwrap();
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
        assert_eq!(v, AuditVerification { entries: 5, first_broken: None, broken_seals: vec![] });
    }

    #[test]
    fn updates_and_deletes_are_refused_by_the_database() {
        let store = store_with_entries(2);
        let err = store.conn.execute("UPDATE audit SET actor = 'x' WHERE seq = 1", []).unwrap_err();
        assert!(err.to_string().contains("append-only"));
        assert!(store.conn.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    }

    /// What someone with the database's password could do (SQLite names a trigger alone).
    fn drop_trigger(store: &Store, name: &str) {
        let sql = match store.conn.engine() {
            super::super::db::Engine::Sqlite => format!("DROP TRIGGER {name}"),
            super::super::db::Engine::Postgres => format!("DROP TRIGGER {name} ON audit"),
        };
        store.conn.execute_batch(&sql).unwrap();
    }

    #[test]
    fn an_edited_entry_is_named_by_verify() {
        let store = store_with_entries(4);
        drop_trigger(&store, "audit_is_append_only_update");
        store.conn.execute_batch("UPDATE audit SET after = '\"forged\"' WHERE seq = 3;").unwrap();
        let v = store.verify_audit().unwrap();
        assert_eq!(v.first_broken.unwrap().0, 3);
    }

    #[test]
    fn a_removed_entry_is_named_by_verify() {
        let store = store_with_entries(4);
        drop_trigger(&store, "audit_is_append_only_delete");
        store.conn.execute_batch("DELETE FROM audit WHERE seq = 2;").unwrap();
        let (seq, reason) = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(seq, 2);
        assert!(reason.contains("missing"), "{reason}");
    }
}
