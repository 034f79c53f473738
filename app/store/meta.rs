//! Small settings of this database (`demo`, the hospital's name, …), audited like any change.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Actor, Result, Store, audit::AuditWriter, now_text};

pub const KEY_DEMO: &str = "demo";

impl Store {
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// True when this database was filled by `kamikarte demo`: the app says so in its title.
    pub fn is_demo(&self) -> Result<bool> {
        Ok(self.meta(KEY_DEMO)?.as_deref() == Some("true"))
    }
}

pub(super) fn set_meta(
    tx: &Transaction<'_>,
    audit: &mut AuditWriter,
    actor: &Actor,
    key: &str,
    value: &str,
) -> Result<()> {
    let before: Option<String> =
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
    if before.as_deref() == Some(value) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO meta (key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3, updated_by = ?4",
        params![key, value, now_text(), actor.0],
    )?;
    audit.append(
        tx,
        actor,
        "set",
        "meta",
        key,
        before.map(serde_json::Value::String).as_ref(),
        Some(&serde_json::Value::String(value.to_string())),
    )
}
