//! User accounts, and the login bookkeeping behind lockout. Hashes are made and checked in `auth`;
//! this module stores them, seals each account row (seals.rs), and runs a login attempt — lock
//! check, verification and record — inside one immediate transaction, so parallel guesses are
//! counted one after another and never more than the limit get checked.

use super::db::{Connection, OptionalExtension, params};
use chrono::{DateTime, SecondsFormat, Utc};

use super::audit::AuditWriter;
use super::seals::{SealedUser, UserRow};
use super::trust::AuditKey;
use super::{Actor, Result, Store, StoreError, Tx, now_text};
use crate::domain::{LockoutPolicy, Role, UserName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: UserName,
    pub role: Role,
    pub password_hash: String,
    pub card_id: Option<String>,
    pub pin_hash: Option<String>,
    pub disabled: bool,
    /// Set by an administrator's reset: the next login must choose a new password.
    pub must_change_password: bool,
    /// One of the demo's accounts, whose passwords are public.
    pub demo: bool,
    /// False when the row was changed outside kamikarte (its seal does not match).
    pub sealed: bool,
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
    pub demo: bool,
}

/// What a login attempt presents before its secret is checked.
#[derive(Debug, Clone, Copy)]
pub enum LoginCheck<'a> {
    /// A user name as typed.
    Password { name: &'a str },
    /// An ID card as scanned (already normalised).
    Card { card: &'a str },
}

/// How a login attempt ended. Unknown names, wrong secrets and wrong cards are one outcome, and a
/// lock looks the same whether the name exists or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Success(UserRecord),
    WrongSecret,
    Locked {
        until: DateTime<Utc>,
    },
    /// The secret was right but the account is switched off.
    Disabled {
        name: UserName,
        demo: bool,
    },
    /// The secret was right but the account row was changed outside kamikarte.
    Tampered {
        name: UserName,
    },
}

/// `seals::USER_SEALED_COLUMNS` in its order (what `UserRow::read` takes), then the lock.
const USER_COLUMNS: &str = "u.name, u.role, u.password_hash, u.card_id, u.pin_hash, u.disabled, \
                            u.must_change_password, u.demo, u.seal, l.locked_until";
const USER_FROM: &str = "users u LEFT JOIN login_locks l ON l.subject = u.name";

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// A users row as stored, before validation, with its lock.
struct RawUser {
    row: UserRow,
    locked_until: Option<String>,
}

fn read_user(r: &super::db::Row<'_>) -> rusqlite::Result<RawUser> {
    Ok(RawUser { row: UserRow::read(r)?, locked_until: r.get(9)? })
}

fn to_record(raw: RawUser, key: &AuditKey) -> Result<UserRecord> {
    let sealed = raw.row.seal_holds(key);
    let RawUser { row: raw, locked_until } = raw;
    let corrupt = |field: &'static str, message: String| StoreError::Corrupt {
        entity: "user",
        id: raw.name.clone(),
        field,
        message,
    };
    let locked_until = match &locked_until {
        None => None,
        Some(t) => {
            Some(parse_time(t).ok_or_else(|| corrupt("locked_until", format!("'{t}' is not a time")))?)
        }
    };
    Ok(UserRecord {
        name: UserName::parse(&raw.name).map_err(|e| corrupt("name", e.message))?,
        role: Role::parse(&raw.role).map_err(|e| corrupt("role", e.message))?,
        locked_until,
        password_hash: raw.password_hash,
        card_id: raw.card_id,
        pin_hash: raw.pin_hash,
        disabled: raw.disabled,
        must_change_password: raw.must_change_password,
        demo: raw.demo,
        sealed,
    })
}

fn find(conn: &Connection, key: &AuditKey, column: &str, value: &str) -> Result<Option<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM {USER_FROM} WHERE u.{column} = ?1");
    conn.prepare_cached(&sql)?
        .query_row([value], read_user)
        .optional()?
        .map(|r| to_record(r, key))
        .transpose()
}

/// Writes the row of `u` with its seal; `insert` for a new account.
fn write_user(tx: &Tx<'_>, actor: &Actor, u: &UserRecord, insert: bool) -> Result<()> {
    let seal = SealedUser {
        name: u.name.as_str(),
        role: u.role.code(),
        password_hash: &u.password_hash,
        card_id: u.card_id.as_deref(),
        pin_hash: u.pin_hash.as_deref(),
        disabled: u.disabled,
        must_change_password: u.must_change_password,
        demo: u.demo,
    }
    .seal(tx.key());
    let now = now_text();
    let values = params![
        u.name.as_str(),
        u.role.code(),
        u.password_hash,
        u.card_id,
        u.pin_hash,
        u.disabled,
        u.must_change_password,
        u.demo,
        seal,
        now,
        actor.0
    ];
    if insert {
        tx.execute(
            "INSERT INTO users (name, role, password_hash, card_id, pin_hash, disabled, must_change_password,
                                demo, seal, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10, ?11)",
            values,
        )?;
    } else {
        tx.execute(
            "UPDATE users SET role = ?2, password_hash = ?3, card_id = ?4, pin_hash = ?5, disabled = ?6,
                    must_change_password = ?7, demo = ?8, seal = ?9, updated_at = ?10, updated_by = ?11
             WHERE name = ?1",
            values,
        )?;
    }
    Ok(())
}

/// What an account entry in the audit says of it: never a secret, not even hashed.
fn describe(u: &UserRecord) -> serde_json::Value {
    serde_json::json!({
        "name": u.name.as_str(), "role": u.role.code(), "card": u.card_id.is_some(),
        "disabled": u.disabled, "must_change_password": u.must_change_password, "demo": u.demo,
    })
}

/// Switches off every demo account still on, in `tx`, with `reason` in each audit entry.
pub(super) fn disable_demo_accounts(
    tx: &Tx<'_>,
    audit: &mut AuditWriter,
    actor: &Actor,
    reason: &str,
) -> Result<Vec<UserName>> {
    let names: Vec<String> = {
        let mut stmt = tx.prepare("SELECT name FROM users WHERE demo = 1 AND disabled = 0 ORDER BY name")?;
        stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let mut disabled = Vec::new();
    for name in names {
        let Some(mut u) = find(tx, tx.key(), "name", &name)? else { continue };
        if !u.sealed {
            // A demo row changed outside kamikarte is not re-sealed here; it stays refused at login.
            continue;
        }
        let before = describe(&u);
        u.disabled = true;
        write_user(tx, actor, &u, false)?;
        let mut after = describe(&u);
        after["reason"] = reason.into();
        audit.append(tx, actor, "disable", "user", &name, Some(&before), Some(&after))?;
        disabled.push(u.name);
    }
    Ok(disabled)
}

impl Store {
    pub fn user_count(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    pub fn user(&self, name: &UserName) -> Result<Option<UserRecord>> {
        find(&self.conn, &self.trust.key, "name", name.as_str())
    }

    pub fn user_by_card(&self, card_id: &str) -> Result<Option<UserRecord>> {
        find(&self.conn, &self.trust.key, "card_id", card_id)
    }

    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM {USER_FROM} ORDER BY u.name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read_user)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|r| to_record(r, &self.trust.key)).collect()
    }

    /// Password hashes of every account but `except`, for refusing a password someone else uses.
    pub fn other_password_hashes(&self, except: &UserName) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT password_hash FROM users WHERE name <> ?1")?;
        let rows = stmt.query_map([except.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds an account; refuses a name or card already in use. A real administrator switches the
    /// demo's public accounts off in the same transaction; their names are returned.
    pub fn add_user(&mut self, actor: &Actor, user: &NewUser) -> Result<Vec<UserName>> {
        let tx = self.begin()?;
        if find(&tx, tx.key(), "name", user.name.as_str())?.is_some() {
            return Err(StoreError::Refused(format!("user '{}' already exists", user.name)));
        }
        if let Some(card) = &user.card_id
            && find(&tx, tx.key(), "card_id", card)?.is_some()
        {
            return Err(StoreError::Refused(format!("card '{card}' already belongs to another user")));
        }
        let record = UserRecord {
            name: user.name.clone(),
            role: user.role,
            password_hash: user.password_hash.clone(),
            card_id: user.card_id.clone(),
            pin_hash: user.pin_hash.clone(),
            disabled: false,
            must_change_password: false,
            demo: user.demo,
            sealed: true,
            locked_until: None,
        };
        write_user(&tx, actor, &record, true)?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "insert", "user", user.name.as_str(), None, Some(&describe(&record)))?;
        let disabled = if !user.demo && user.role == Role::Admin {
            disable_demo_accounts(&tx, &mut audit, actor, "a real administrator was created")?
        } else {
            Vec::new()
        };
        tx.commit()?;
        Ok(disabled)
    }

    /// Changes an account through `change`, refusing one whose row was changed outside
    /// kamikarte unless `repair` (an administrator's reset that states the role anew).
    fn change_user(
        &mut self,
        actor: &Actor,
        name: &UserName,
        action: &str,
        repair: bool,
        change: impl FnOnce(&mut UserRecord),
    ) -> Result<UserRecord> {
        let tx = self.begin()?;
        let Some(mut u) = find(&tx, tx.key(), "name", name.as_str())? else {
            return Err(StoreError::Refused(format!("no user '{name}'")));
        };
        if !u.sealed && !repair {
            return Err(StoreError::Refused(format!(
                "account '{name}' was changed outside kamikarte (its seal does not match): reset it with `kamikarte user reset-password {name} --role ROLE`, stating the role it should have"
            )));
        }
        let before = describe(&u);
        change(&mut u);
        write_user(&tx, actor, &u, false)?;
        let mut audit = AuditWriter::start(&tx)?;
        let mut after = describe(&u);
        if repair && !u.sealed {
            after["repaired"] = true.into();
        }
        audit.append(&tx, actor, action, "user", name.as_str(), Some(&before), Some(&after))?;
        tx.commit()?;
        u.sealed = true;
        Ok(u)
    }

    /// A user's own new password; clears a pending forced change.
    pub fn set_password_hash(&mut self, actor: &Actor, name: &UserName, hash: &str) -> Result<()> {
        self.change_user(actor, name, "set_password", false, |u| {
            u.password_hash = hash.to_string();
            u.must_change_password = false;
        })
        .map(drop)
    }

    /// An administrator's reset: a temporary password that must be changed at the next login.
    /// With `role`, also repairs an account changed outside kamikarte: the role is set as stated
    /// and its card and PIN are removed (they may have been planted).
    pub fn reset_password(
        &mut self,
        actor: &Actor,
        name: &UserName,
        temporary_hash: &str,
        role: Option<Role>,
    ) -> Result<UserRecord> {
        self.change_user(actor, name, "reset_password", role.is_some(), |u| {
            u.password_hash = temporary_hash.to_string();
            u.must_change_password = true;
            if let Some(role) = role {
                if !u.sealed {
                    u.card_id = None;
                    u.pin_hash = None;
                }
                u.role = role;
            }
        })
    }

    pub fn set_disabled(&mut self, actor: &Actor, name: &UserName, disabled: bool) -> Result<()> {
        let action = if disabled { "disable" } else { "enable" };
        self.change_user(actor, name, action, false, |u| u.disabled = disabled).map(drop)
    }

    /// The demo's public accounts are switched off once real data arrives.
    pub fn disable_demo_accounts(&mut self, actor: &Actor, reason: &str) -> Result<Vec<UserName>> {
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        let disabled = disable_demo_accounts(&tx, &mut audit, actor, reason)?;
        tx.commit()?;
        Ok(disabled)
    }

    /// One login attempt at `now`, in one immediate transaction: is the subject locked? If not,
    /// `verify` checks the secret (given the account, or `None` for an unknown name or card, when
    /// it must spend the same time and fail); then the failure or success is recorded and audited.
    pub fn attempt_login(
        &mut self,
        check: LoginCheck<'_>,
        now: DateTime<Utc>,
        verify: &mut dyn FnMut(Option<&UserRecord>) -> bool,
    ) -> Result<LoginOutcome> {
        let policy = self.settings()?.lockout();
        let tx = self.begin()?;
        let (user, subject, method) = match check {
            LoginCheck::Password { name } => {
                let user = match UserName::parse(name) {
                    Ok(n) => find(&tx, tx.key(), "name", n.as_str())?,
                    Err(_) => None,
                };
                let subject = match &user {
                    Some(u) => u.name.to_string(),
                    None => unknown_subject(tx.key(), "name", name),
                };
                (user, subject, "password")
            }
            LoginCheck::Card { card } => {
                let user = find(&tx, tx.key(), "card_id", card)?.filter(|u| u.pin_hash.is_some());
                let subject = match &user {
                    Some(u) => u.name.to_string(),
                    None => unknown_subject(tx.key(), "card", card),
                };
                (user, subject, "card")
            }
        };
        // Someone typing a password into the name field must not leave it in the audit.
        let actor = Actor(match &user {
            Some(u) => format!("login:{}", u.name),
            None => "login:unknown".to_string(),
        });
        let mut audit = AuditWriter::start(&tx)?;
        let locked_until: Option<DateTime<Utc>> = tx
            .query_row("SELECT locked_until FROM login_locks WHERE subject = ?1", [&subject], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|t| parse_time(&t))
            .filter(|until| *until > now);
        if let Some(until) = locked_until {
            let detail = serde_json::json!({ "reason": "locked", "method": method, "at": time_text(now) });
            audit.append(&tx, &actor, "login_refused", "user", &subject, None, Some(&detail))?;
            tx.commit()?;
            return Ok(LoginOutcome::Locked { until });
        }
        if !verify(user.as_ref()) {
            let reason = if user.is_some() { "wrong secret" } else { "unknown user" };
            let detail = serde_json::json!({ "reason": reason, "method": method, "at": time_text(now) });
            audit.append(&tx, &actor, "login_failed", "user", &subject, None, Some(&detail))?;
            let locked = record_failure(&tx, &mut audit, &actor, &subject, now, &policy)?;
            tx.commit()?;
            return Ok(match locked {
                Some(until) => LoginOutcome::Locked { until },
                None => LoginOutcome::WrongSecret,
            });
        }
        let user = user.expect("only a known account verifies");
        let refusal = if !user.sealed {
            Some(("account changed outside kamikarte", LoginOutcome::Tampered { name: user.name.clone() }))
        } else if user.disabled {
            Some(("disabled", LoginOutcome::Disabled { name: user.name.clone(), demo: user.demo }))
        } else {
            None
        };
        if let Some((reason, outcome)) = refusal {
            let detail = serde_json::json!({ "reason": reason, "method": method, "at": time_text(now) });
            audit.append(&tx, &actor, "login_refused", "user", &subject, None, Some(&detail))?;
            tx.commit()?;
            return Ok(outcome);
        }
        tx.execute("DELETE FROM login_failures WHERE subject = ?1", [&subject])?;
        tx.execute("DELETE FROM login_locks WHERE subject = ?1", [&subject])?;
        let detail = serde_json::json!({ "method": method, "at": time_text(now) });
        audit.append(&tx, &Actor(user.name.to_string()), "login", "user", &subject, None, Some(&detail))?;
        tx.commit()?;
        Ok(LoginOutcome::Success(user))
    }

    /// An administrator lifts a lock before it runs out.
    pub fn unlock_user(&mut self, actor: &Actor, name: &UserName) -> Result<()> {
        let tx = self.begin()?;
        if find(&tx, tx.key(), "name", name.as_str())?.is_none() {
            return Err(StoreError::Refused(format!("no user '{name}'")));
        }
        tx.execute("DELETE FROM login_locks WHERE subject = ?1", [name.as_str()])?;
        tx.execute("DELETE FROM login_failures WHERE subject = ?1", [name.as_str()])?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "unlock", "user", name.as_str(), None, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Audits that `actor` looked at a record (a patient's details).
    pub fn record_view(&mut self, actor: &Actor, entity: &str, id: &str) -> Result<()> {
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "view", entity, id, None, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Audits that `actor` read a list of identifiable data: one entry naming the query and how
    /// many rows it showed, however long the list (the guideline's "who looked at what").
    pub fn record_list_view(&mut self, actor: &Actor, query: &str, rows: usize) -> Result<()> {
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        let detail = serde_json::json!({ "rows": rows });
        audit.append(&tx, actor, "view", "list", query, None, Some(&detail))?;
        tx.commit()?;
        Ok(())
    }
}

/// What stands for a name or card that is no account: a keyed hash of what was typed, so the
/// same guess is counted and locked without the typed text being kept anywhere.
fn unknown_subject(key: &AuditKey, kind: &str, typed: &str) -> String {
    let typed = typed.trim().to_lowercase();
    format!("?{}", &key.mac("login-subject", &[kind, &typed])[..16])
}

/// Records a failed attempt; locks the subject when this one makes too many within the window.
fn record_failure(
    tx: &Tx<'_>,
    audit: &mut AuditWriter,
    actor: &Actor,
    subject: &str,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> Result<Option<DateTime<Utc>>> {
    tx.execute("INSERT INTO login_failures (subject, at) VALUES (?1, ?2)", params![subject, time_text(now)])?;
    let failures: Vec<DateTime<Utc>> = {
        let mut stmt = tx.prepare("SELECT at FROM login_failures WHERE subject = ?1")?;
        let texts =
            stmt.query_map([subject], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        texts.iter().filter_map(|t| parse_time(t)).collect()
    };
    let Some(until) = policy.lock_after_failure(&failures, now) else { return Ok(None) };
    tx.execute(
        "INSERT INTO login_locks (subject, locked_until) VALUES (?1, ?2)
         ON CONFLICT (subject) DO UPDATE SET locked_until = ?2",
        params![subject, time_text(until)],
    )?;
    // The failures that caused the lock are spent: after it ends, five more are needed.
    tx.execute("DELETE FROM login_failures WHERE subject = ?1", [subject])?;
    let lock = serde_json::json!({ "locked_until": time_text(until), "failures": failures.len() });
    audit.append(tx, actor, "lockout", "user", subject, None, Some(&lock))?;
    Ok(Some(until))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_columns_read_start_with_the_sealed_ones_in_their_order() {
        let read: Vec<&str> =
            super::USER_COLUMNS.split(',').map(|c| c.trim().trim_start_matches("u.")).collect();
        let sealed: Vec<&str> = super::super::seals::USER_SEALED_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(&read[..sealed.len()], sealed.as_slice());
    }
}
