//! Seals on the rows that grant power: an account's role, secrets and state, and every setting.
//! A seal is an HMAC under the audit key over the row's meaningful columns, so a row written
//! straight into the file (a role raised, a password hash swapped, a lockout relaxed) no longer
//! matches and is refused where it is read. Lock state and failed-login counts are not sealed:
//! they change on every login attempt, and clearing them grants nothing a guesser lacks.

use super::db::{Connection, params};

use super::Result;
use super::trust::AuditKey;

/// The columns of a users row that a seal covers.
pub(super) struct SealedUser<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub card_id: Option<&'a str>,
    pub pin_hash: Option<&'a str>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub demo: bool,
}

impl SealedUser<'_> {
    pub fn seal(&self, key: &AuditKey) -> String {
        let flag = |b: bool| if b { "1" } else { "0" };
        key.mac(
            "user",
            &[
                self.name,
                self.role,
                self.password_hash,
                self.card_id.unwrap_or("\u{0}"),
                self.pin_hash.unwrap_or("\u{0}"),
                flag(self.disabled),
                flag(self.must_change_password),
                flag(self.demo),
            ],
        )
    }
}

pub(super) fn meta_seal(key: &AuditKey, name: &str, value: &str) -> String {
    key.mac("meta", &[name, value])
}

/// The sealed columns of `users` and the seal, in the order `UserRow::read` takes them.
pub(super) const USER_SEALED_COLUMNS: &str =
    "name, role, password_hash, card_id, pin_hash, disabled, must_change_password, demo, seal";

/// A users row as stored, before validation: what its seal covers, and the seal.
pub(super) struct UserRow {
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub card_id: Option<String>,
    pub pin_hash: Option<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub demo: bool,
    pub seal: Option<String>,
}

impl UserRow {
    /// Reads the columns of `USER_SEALED_COLUMNS`, in that order, from the start of `r`.
    pub(super) fn read(r: &super::db::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            name: r.get(0)?,
            role: r.get(1)?,
            password_hash: r.get(2)?,
            card_id: r.get(3)?,
            pin_hash: r.get(4)?,
            disabled: r.get(5)?,
            must_change_password: r.get(6)?,
            demo: r.get(7)?,
            seal: r.get(8)?,
        })
    }

    /// Whether the row's seal is the one `key` makes of it.
    pub(super) fn seal_holds(&self, key: &AuditKey) -> bool {
        self.seal.as_deref() == Some(self.sealed().seal(key).as_str())
    }

    fn sealed(&self) -> SealedUser<'_> {
        SealedUser {
            name: &self.name,
            role: &self.role,
            password_hash: &self.password_hash,
            card_id: self.card_id.as_deref(),
            pin_hash: self.pin_hash.as_deref(),
            disabled: self.disabled,
            must_change_password: self.must_change_password,
            demo: self.demo,
        }
    }
}

fn user_rows(conn: &Connection) -> Result<Vec<UserRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {USER_SEALED_COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], UserRow::read)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn meta_rows(conn: &Connection) -> Result<Vec<(String, String, Option<String>)>> {
    let mut stmt = conn.prepare("SELECT key, value, seal FROM meta ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every account and setting whose seal does not match, as a sentence naming it.
pub(super) fn broken(conn: &Connection, key: &AuditKey) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for u in user_rows(conn)? {
        if !u.seal_holds(key) {
            out.push(format!(
                "account '{}' (role {}) was changed outside kamikarte: its seal does not match",
                u.name, u.role
            ));
        }
    }
    for (name, value, seal) in meta_rows(conn)? {
        if seal.as_deref() != Some(meta_seal(key, &name, &value).as_str()) {
            out.push(format!(
                "setting '{name}' = '{value}' was changed outside kamikarte: its seal does not match"
            ));
        }
    }
    Ok(out)
}

/// Seals every row that has no seal yet: once, when a database made before seals existed is
/// first opened with its new key. Returns how many accounts and settings were sealed.
pub(super) fn seal_unsealed(conn: &Connection, key: &AuditKey) -> Result<(usize, usize)> {
    let mut users = 0;
    for u in user_rows(conn)?.into_iter().filter(|u| u.seal.is_none()) {
        conn.execute("UPDATE users SET seal = ?2 WHERE name = ?1", params![u.name, u.sealed().seal(key)])?;
        users += 1;
    }
    let mut settings = 0;
    for (name, value, seal) in meta_rows(conn)? {
        if seal.is_none() {
            conn.execute(
                "UPDATE meta SET seal = ?2 WHERE key = ?1",
                params![name, meta_seal(key, &name, &value)],
            )?;
            settings += 1;
        }
    }
    Ok((users, settings))
}
