//! `user …`, `login` and `config …`.

use anyhow::Result;
use chrono::{Local, Utc};
use clap::Subcommand;

use super::{Invocation, Reported, read_secret};
use crate::auth::{self, AccountRequest};
use crate::domain::{Permission, Role};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account. The password comes from KAMIKARTE_NEW_PASSWORD or is asked twice. On a
    /// database without users this creates the first administrator (no login needed).
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// An ID card for logging in with a PIN (PIN from KAMIKARTE_NEW_PIN or a prompt).
        #[arg(long, value_name = "CARD_ID")]
        card: Option<String>,
    },
    /// List accounts with their role and lock state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Lift a lockout before it runs out.
    Unlock { name: String },
    /// Switch an account off: it can no longer log in (nothing it did is removed).
    Disable { name: String },
    /// Switch an account on again.
    Enable { name: String },
    /// Give an account a new temporary password (printed once) that must be changed at its next
    /// login. With --role, also repair an account changed outside kamikarte (role as stated, card
    /// and PIN removed).
    ResetPassword {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
    },
    /// Change your own password (--user), new one from KAMIKARTE_NEW_PASSWORD or a prompt.
    Password,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show the settings in force.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change a setting, e.g. `config set lockout.max_failures 5`.
    Set { key: String, value: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.message)
}

pub(super) fn new_secret(var: &str, what: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    let first = read_secret(var, &format!("New {what}: "))?;
    let again = read_secret(var, &format!("New {what} again: "))?;
    anyhow::ensure!(first == again, "the two {what}s differ; nothing was changed");
    Ok(first)
}

pub fn run_user(ctx: &mut Invocation<'_>, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { name, role, card } => {
            let session = if ctx.store.user_count()? == 0 {
                None
            } else {
                Some(ctx.authenticate(Permission::ManageUsers)?)
            };
            let password = new_secret("KAMIKARTE_NEW_PASSWORD", "password")?;
            let pin = match &card {
                Some(_) => Some(new_secret("KAMIKARTE_NEW_PIN", "PIN")?),
                None => None,
            };
            let request = AccountRequest {
                name: &name,
                role,
                password: &password,
                card: card.as_deref().zip(pin.as_deref()),
            };
            let created = auth::add_user(ctx.store, session.as_ref(), &request)?;
            out!("user {} ({}) added", created.name, role.code());
            if !created.demo_disabled.is_empty() {
                let names: Vec<String> = created.demo_disabled.iter().map(ToString::to_string).collect();
                out!(
                    "the demo's public accounts ({}) are switched off now that a real administrator exists",
                    names.join(", ")
                );
            }
        }
        UserCommand::List { json } => {
            ctx.authenticate(Permission::ManageUsers)?;
            let now = Utc::now();
            let users = ctx.store.users()?;
            if json {
                let rows: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "name": u.name.as_str(), "role": u.role.code(), "card": u.card_id.is_some(),
                            "disabled": u.disabled, "demo": u.demo, "must_change_password": u.must_change_password,
                            "tampered": !u.sealed,
                            "locked_until": u.locked_until.filter(|t| *t > now).map(|t| t.to_rfc3339()),
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string(&rows)?);
            } else {
                for u in &users {
                    let mut notes = Vec::new();
                    if u.card_id.is_some() {
                        notes.push("card".to_string());
                    }
                    if u.demo {
                        notes.push("demo".to_string());
                    }
                    if u.disabled {
                        notes.push("disabled".to_string());
                    }
                    if u.must_change_password {
                        notes.push("must change password".to_string());
                    }
                    if !u.sealed {
                        notes.push("TAMPERED: changed outside kamikarte".to_string());
                    }
                    if let Some(t) = u.locked_until.filter(|t| *t > now) {
                        notes.push(format!("locked until {}", t.with_timezone(&Local).format("%H:%M")));
                    }
                    out!("{:<16} {:<8} {}", u.name.as_str(), u.role.code(), notes.join(", "));
                }
            }
        }
        UserCommand::Unlock { name } => {
            let session = ctx.authenticate(Permission::ManageUsers)?;
            let name = auth::unlock(ctx.store, &session, &name)?;
            out!("user {name} unlocked");
        }
        UserCommand::Disable { name } => {
            let session = ctx.authenticate(Permission::ManageUsers)?;
            let name = auth::set_disabled(ctx.store, &session, &name, true)?;
            out!("user {name} disabled");
        }
        UserCommand::Enable { name } => {
            let session = ctx.authenticate(Permission::ManageUsers)?;
            let name = auth::set_disabled(ctx.store, &session, &name, false)?;
            out!("user {name} enabled");
        }
        UserCommand::ResetPassword { name, role } => {
            let session = ctx.authenticate(Permission::ManageUsers)?;
            let temporary = auth::reset_password(ctx.store, &session, &name, role)?;
            out!("temporary password for {name}: {temporary}");
            out!("hand it over in person; it must be changed at the next login");
        }
        UserCommand::Password => {
            let session = ctx.log_in()?;
            let password = new_secret("KAMIKARTE_NEW_PASSWORD", "password")?;
            auth::change_password(ctx.store, &session, &password)?;
            out!("password of {} changed", session.user());
        }
    }
    Ok(())
}

pub fn run_login(ctx: &mut Invocation<'_>, name: &str) -> Result<()> {
    let password = read_secret("KAMIKARTE_PASSWORD", &format!("Password for {name}: "))?;
    match auth::login(ctx.store, name, &password, Utc::now()) {
        Ok(session) => {
            out!("{} ({}): login ok", session.user(), session.role().code());
            Ok(())
        }
        Err(e) => {
            eprintln!("{name}: login refused: {e}");
            Err(Reported(e.to_string()).into())
        }
    }
}

pub fn run_config(ctx: &mut Invocation<'_>, command: ConfigCommand) -> Result<()> {
    let session = ctx.authenticate(Permission::Configure)?;
    match command {
        ConfigCommand::Show { json } => {
            let settings = ctx.store.settings()?;
            let folder = ctx.store.backup_folder()?;
            if json {
                let mut v = serde_json::to_value(&settings)?;
                v["backup_folder_in_use"] = folder.map(|f| f.display().to_string()).into();
                v["encryption"] = ctx.store.encryption().into();
                out!("{v}");
            } else {
                out!("lockout.max_failures     {}", settings.lockout_max_failures);
                out!("lockout.window_minutes   {}", settings.lockout_window_minutes);
                out!("lockout.lock_minutes     {}", settings.lockout_lock_minutes);
                out!("idle_lock_minutes        {}", settings.idle_lock_minutes);
                out!(
                    "backup.dir               {}",
                    folder.map_or_else(|| "(none: in-memory database)".into(), |f| f.display().to_string())
                );
                out!("backup.keep              {}", settings.backup_keep);
                out!("backup.interval_minutes  {}", settings.backup_interval_minutes);
                out!("password.min_chars       {}", settings.password_min_chars);
                out!("snapshot.warn_hours      {}", settings.snapshot_warn_hours);
                out!("snapshot.results_per_test {}", settings.snapshot_results_per_test);
                out!(
                    "encryption               {}",
                    ctx.store.encryption().unwrap_or("none (see `kamikarte db encrypt`)")
                );
            }
        }
        ConfigCommand::Set { key, value } => {
            auth::configure(ctx.store, &session, &key, &value)?;
            out!("{key} = {value}");
        }
    }
    Ok(())
}
