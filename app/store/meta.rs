//! Small settings of this database (`demo`, the hospital's name, every `config set`), each row
//! sealed under the audit key and every change audited.

use super::db::{Connection, OptionalExtension, params};

use super::seals::meta_seal;
use super::trust::AuditKey;
use super::{Actor, Result, Store, StoreError, Tx, audit::AuditWriter, now_text};

pub const KEY_DEMO: &str = "demo";

impl Store {
    /// A value, refused (`Corrupt`) when its seal shows it was changed outside kamikarte.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        read(&self.conn, &self.trust.key, key)
    }

    /// True when this database was filled by `kamikarte demo`: the app says so in its title.
    pub fn is_demo(&self) -> Result<bool> {
        Ok(self.meta(KEY_DEMO)?.as_deref() == Some("true"))
    }
}

/// Reads a value and checks its seal.
pub(super) fn read(conn: &Connection, key: &AuditKey, name: &str) -> Result<Option<String>> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT value, seal FROM meta WHERE key = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((value, seal)) if seal.as_deref() == Some(meta_seal(key, name, &value).as_str()) => {
            Ok(Some(value))
        }
        Some((value, _)) => Err(StoreError::Corrupt {
            entity: "setting",
            id: name.to_string(),
            field: "value",
            message: format!(
                "'{value}' was written outside kamikarte (its seal does not match); an administrator can set it again with `kamikarte config set`"
            ),
        }),
    }
}

pub(super) fn set_meta(
    tx: &Tx<'_>,
    audit: &mut AuditWriter,
    actor: &Actor,
    key: &str,
    value: &str,
) -> Result<()> {
    let before: Option<(String, Option<String>)> = tx
        .query_row("SELECT value, seal FROM meta WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let seal = meta_seal(tx.key(), key, value);
    if before.as_ref().is_some_and(|(v, s)| v == value && s.as_deref() == Some(seal.as_str())) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO meta (key, value, updated_at, updated_by, seal) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3, updated_by = ?4, seal = ?5",
        params![key, value, now_text(), actor.0, seal],
    )?;
    audit.append(
        tx,
        actor,
        "set",
        "meta",
        key,
        before.map(|(v, _)| serde_json::Value::String(v)).as_ref(),
        Some(&serde_json::Value::String(value.to_string())),
    )
}
