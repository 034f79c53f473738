//! `user …`, `login` and `config …`.

use anyhow::Result;
use chrono::{Local, Utc};
use clap::Subcommand;

use super::{Invocation, Reported, read_secret};
use crate::auth::{self, AccountRequest};
use crate::domain::{Permission, Role, UserName};

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

fn new_secret(var: &str, what: &str) -> Result<String> {
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
            println!("user {created} ({}) added", role.code());
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
                            "disabled": u.disabled,
                            "locked_until": u.locked_until.filter(|t| *t > now).map(|t| t.to_rfc3339()),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                for u in &users {
                    let lock = match u.locked_until.filter(|t| *t > now) {
                        Some(t) => format!("  locked until {}", t.with_timezone(&Local).format("%H:%M")),
                        None => String::new(),
                    };
                    let card = if u.card_id.is_some() { "  card" } else { "" };
                    println!("{:<16} {:<8}{card}{lock}", u.name.as_str(), u.role.code());
                }
            }
        }
        UserCommand::Unlock { name } => {
            let session = ctx.authenticate(Permission::ManageUsers)?;
            let name = UserName::parse(&name)?;
            ctx.store.unlock_user(&session.actor(), &name)?;
            println!("user {name} unlocked");
        }
        UserCommand::Password => {
            let session = ctx.authenticate(Permission::ViewCensus)?;
            let password = new_secret("KAMIKARTE_NEW_PASSWORD", "password")?;
            auth::change_password(ctx.store, &session, &password)?;
            println!("password of {} changed", session.user);
        }
    }
    Ok(())
}

pub fn run_login(ctx: &mut Invocation<'_>, name: &str) -> Result<()> {
    let password = read_secret("KAMIKARTE_PASSWORD", &format!("Password for {name}: "))?;
    match auth::login(ctx.store, name, &password, Utc::now()) {
        Ok(session) => {
            println!("{} ({}): login ok", session.user, session.role.code());
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
                println!("{v}");
            } else {
                println!("lockout.max_failures     {}", settings.lockout_max_failures);
                println!("lockout.window_minutes   {}", settings.lockout_window_minutes);
                println!("lockout.lock_minutes     {}", settings.lockout_lock_minutes);
                println!("idle_lock_minutes        {}", settings.idle_lock_minutes);
                println!(
                    "backup.dir               {}",
                    folder.map_or_else(|| "(none: in-memory database)".into(), |f| f.display().to_string())
                );
                println!("backup.keep              {}", settings.backup_keep);
                println!("backup.interval_minutes  {}", settings.backup_interval_minutes);
            }
        }
        ConfigCommand::Set { key, value } => {
            ctx.store.set_setting(&session.actor(), &key, &value)?;
            println!("{key} = {value}");
        }
    }
    Ok(())
}
