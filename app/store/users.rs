//! User accounts and the login bookkeeping behind lockout. Hashes are made and checked in `auth`;
//! this module only stores them.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::{LockoutPolicy, Role, UserName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: UserName,
    pub role: Role,
    pub password_hash: String,
    pub card_id: Option<String>,
    pub pin_hash: Option<String>,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A new account, its secrets already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserName,
    pub role: Role,
    pub password_hash: String,
    pub card_id: Option<String>,
    pub pin_hash: Option<String>,
}

const USER_COLUMNS: &str = "name, role, password_hash, card_id, pin_hash, disabled, locked_until";

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A users row as stored, before validation.
struct RawUser {
    name: String,
    role: String,
    password_hash: String,
    card_id: Option<String>,
    pin_hash: Option<String>,
    disabled: bool,
    locked_until: Option<String>,
}

fn read_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawUser> {
    Ok(RawUser {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        card_id: r.get(3)?,
        pin_hash: r.get(4)?,
        disabled: r.get(5)?,
        locked_until: r.get(6)?,
    })
}

fn to_record(raw: RawUser) -> Result<UserRecord> {
    let corrupt = |field: &'static str, message: String| StoreError::Corrupt {
        entity: "user",
        id: raw.name.clone(),
        field,
        message,
    };
    let locked_until = match &raw.locked_until {
        None => None,
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| corrupt("locked_until", e.to_string()))?
                .with_timezone(&Utc),
        ),
    };
    Ok(UserRecord {
        name: UserName::parse(&raw.name).map_err(|e| corrupt("name", e.message))?,
        role: Role::parse(&raw.role).map_err(|e| corrupt("role", e.message))?,
        locked_until,
        password_hash: raw.password_hash,
        card_id: raw.card_id,
        pin_hash: raw.pin_hash,
        disabled: raw.disabled,
    })
}

impl Store {
    pub fn user_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    pub fn user(&self, name: &UserName) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1");
        self.conn.query_row(&sql, [name.as_str()], read_user).optional()?.map(to_record).transpose()
    }

    pub fn user_by_card(&self, card_id: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE card_id = ?1");
        self.conn.query_row(&sql, [card_id], read_user).optional()?.map(to_record).transpose()
    }

    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read_user)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(to_record).collect()
    }

    /// Adds an account; refuses a name or card already in use.
    pub fn add_user(&mut self, actor: &Actor, user: &NewUser) -> Result<()> {
        let tx = self.conn.transaction()?;
        let exists: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)", [user.name.as_str()], |r| {
                r.get(0)
            })?;
        if exists {
            return Err(StoreError::Refused(format!("user '{}' already exists", user.name)));
        }
        if let Some(card) = &user.card_id {
            let taken: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE card_id = ?1)", [card], |r| r.get(0))?;
            if taken {
                return Err(StoreError::Refused(format!("card '{card}' already belongs to another user")));
            }
        }
        let now = now_text();
        tx.execute(
            "INSERT INTO users (name, role, password_hash, card_id, pin_hash, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?7)",
            params![user.name.as_str(), user.role.code(), user.password_hash, user.card_id, user.pin_hash, now, actor.0],
        )?;
        // Secrets never enter the audit trail, not even hashed.
        let after = serde_json::json!({ "name": user.name.as_str(), "role": user.role.code(), "card": user.card_id.is_some() });
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "insert", "user", user.name.as_str(), None, Some(&after))?;
        tx.commit()?;
        Ok(())
    }

    pub fn set_password_hash(&mut self, actor: &Actor, name: &UserName, hash: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?2, updated_at = ?3, updated_by = ?4 WHERE name = ?1",
            params![name.as_str(), hash, now_text(), actor.0],
        )?;
        if n == 0 {
            return Err(StoreError::Refused(format!("no user '{name}'")));
        }
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "set_password", "user", name.as_str(), None, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed login at `now`. Returns the time the account is locked until, when this
    /// failure locks it. Unknown names are audited too (someone is guessing).
    pub fn record_login_failure(
        &mut self,
        name: &str,
        known: bool,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
        reason: &str,
    ) -> Result<Option<DateTime<Utc>>> {
        let tx = self.conn.transaction()?;
        let actor = Actor(format!("login:{name}"));
        let mut audit = AuditWriter::start(&tx)?;
        let detail = serde_json::json!({ "reason": reason, "at": time_text(now) });
        audit.append(&tx, &actor, "login_failed", "user", name, None, Some(&detail))?;
        let mut locked = None;
        if known {
            tx.execute(
                "INSERT INTO login_failures (user, at) VALUES (?1, ?2)",
                params![name, time_text(now)],
            )?;
            let failures: Vec<DateTime<Utc>> = {
                let mut stmt = tx.prepare("SELECT at FROM login_failures WHERE user = ?1")?;
                let texts = stmt
                    .query_map([name], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                texts
                    .iter()
                    .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .collect()
            };
            if let Some(until) = policy.lock_after_failure(&failures, now) {
                tx.execute(
                    "UPDATE users SET locked_until = ?2, updated_at = ?3, updated_by = ?4 WHERE name = ?1",
                    params![name, time_text(until), now_text(), actor.0],
                )?;
                // The failures that caused the lock are spent: after it ends, five more are needed.
                tx.execute("DELETE FROM login_failures WHERE user = ?1", [name])?;
                let lock =
                    serde_json::json!({ "locked_until": time_text(until), "failures": failures.len() });
                audit.append(&tx, &actor, "lockout", "user", name, None, Some(&lock))?;
                locked = Some(until);
            }
        }
        tx.commit()?;
        Ok(locked)
    }

    /// Records a successful login: the failure count starts again. Writes nothing when there is
    /// nothing to clear, so logging in never waits for a long import holding the write lock
    /// (a backup must be able to start while an import runs).
    pub fn record_login_success(&mut self, name: &UserName, _now: DateTime<Utc>) -> Result<()> {
        let pending: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM login_failures WHERE user = ?1)
                 OR EXISTS (SELECT 1 FROM users WHERE name = ?1 AND locked_until IS NOT NULL)",
            [name.as_str()],
            |r| r.get(0),
        )?;
        if !pending {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM login_failures WHERE user = ?1", [name.as_str()])?;
        tx.execute("UPDATE users SET locked_until = NULL WHERE name = ?1", [name.as_str()])?;
        tx.commit()?;
        Ok(())
    }

    /// An administrator lifts a lock before it runs out.
    pub fn unlock_user(&mut self, actor: &Actor, name: &UserName) -> Result<()> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE users SET locked_until = NULL, updated_at = ?2, updated_by = ?3 WHERE name = ?1",
            params![name.as_str(), now_text(), actor.0],
        )?;
        if n == 0 {
            return Err(StoreError::Refused(format!("no user '{name}'")));
        }
        tx.execute("DELETE FROM login_failures WHERE user = ?1", [name.as_str()])?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "unlock", "user", name.as_str(), None, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Audits that `actor` looked at a record (a patient's details, a census listing).
    pub fn record_view(&mut self, actor: &Actor, entity: &str, id: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "view", entity, id, None, None)?;
        tx.commit()?;
        Ok(())
    }
}
