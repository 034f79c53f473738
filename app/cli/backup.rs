//! `backup`, `backup verify FILE` and `restore FILE`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};

use super::{Invocation, Reported, read_secret};
use crate::auth::{self, Session};
use crate::domain::Permission;
use crate::store::{self, Anchor, AuditKey, BackupCheck, Store, verify_backup};

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// Where to write the backup (default: a timestamped file in the backup folder, rotated).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Open a backup read-only and check its integrity, its audit chain (under this database's
    /// audit key, against the anchor beside the backup) and the seals of its accounts.
    Verify {
        file: PathBuf,
        /// The audit key to check with (default: this database's).
        #[arg(long, value_name = "KEY_FILE")]
        key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    pub file: PathBuf,
    /// The audit key the backup was sealed with, when restoring onto a PC that has no database
    /// (default: the live database's key, else the copy kept beside the backup).
    #[arg(long, value_name = "KEY_FILE")]
    pub key: Option<PathBuf>,
    /// Restore even though the backup's accounts differ from the live database's (or it has none):
    /// the logged-in administrator takes responsibility, and the audit says so.
    #[arg(long)]
    pub accounts_differ: bool,
    /// On a PostgreSQL hub: the new database to restore into (default: the hub's name with
    /// `_restored_<time>`). The hub itself is never replaced.
    #[arg(long, value_name = "DATABASE")]
    pub into: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Encrypt the database at rest (SQLCipher): with a passphrase (KAMIKARTE_NEW_DB_PASSPHRASE or
    /// asked twice; then asked at every start, so a stolen PC reveals nothing), or with
    /// --key-file (the audit key file's key: protects copies of the database file, not a stolen
    /// PC that carries both). An administrator logs in; close the app on every station first.
    Encrypt {
        #[arg(long)]
        key_file: bool,
    },
}

/// `db encrypt`: an administrator of the live database logs in, then the file is replaced by
/// its encrypted copy (`store::cipher::encrypt_database`).
pub fn run_db(db: &Path, command: DbCommand, user: Option<&str>) -> Result<()> {
    let DbCommand::Encrypt { key_file } = command;
    if store::postgres_url(db).is_some() {
        anyhow::bail!(
            "a PostgreSQL hub is not encrypted by kamikarte: encrypt the server's disk (README, \"A hub on PostgreSQL\")"
        );
    }
    let session = {
        let mut store = super::open_store(db)?;
        let mut ctx = Invocation { store: &mut store, user };
        ctx.authenticate(Permission::Configure)?
    };
    let passphrase = if key_file {
        None
    } else {
        Some(super::accounts::new_secret("KAMIKARTE_NEW_DB_PASSPHRASE", "database passphrase")?)
    };
    let with = store::cipher::encrypt_database(db, &session.actor(), passphrase.as_deref())?;
    out!("{} is encrypted now, with {with}", db.display());
    if passphrase.is_some() {
        out!(
            "the passphrase is asked at every start (KAMIKARTE_DB_PASSPHRASE for scripts); without it the database cannot be read"
        );
    }
    out!("backups taken before this are not encrypted: take a new one and remove the old ones");
    Ok(())
}

pub fn run_backup(ctx: &mut Invocation<'_>, args: &BackupArgs) -> Result<()> {
    ctx.authenticate(Permission::Backup)?;
    match &args.command {
        Some(BackupCommand::Verify { file, key, json }) => {
            let key = match key {
                Some(k) => AuditKey::load(k)?,
                None => ctx.store.audit_key().clone(),
            };
            let check = if store::is_pg_dump(file) {
                ctx.store.verify_dump(file, &key)?
            } else {
                verify_backup_asking(file, &key)?
            };
            if *json {
                out!("{}", serde_json::to_string(&check)?);
            }
            match check.problem() {
                None => {
                    if !json {
                        out!(
                            "{}: ok ({} patients, {} accounts, audit trail intact with {} entries)",
                            file.display(),
                            check.patients,
                            check.accounts.len(),
                            check.audit.entries
                        );
                    }
                    Ok(())
                }
                Some(problem) => {
                    eprintln!("error: {}: {problem}", file.display());
                    Err(Reported(problem).into())
                }
            }
        }
        None => {
            let written = match &args.out {
                Some(out) => {
                    ctx.store.backup_to(out)?;
                    out.clone()
                }
                None => ctx.store.automatic_backup()?.ok_or_else(|| anyhow::anyhow!("no backup folder"))?,
            };
            out!("{}", written.display());
            Ok(())
        }
    }
}

/// `verify_backup`, asking for the passphrase of a backup encrypted with one.
fn verify_backup_asking(file: &Path, key: &AuditKey) -> Result<BackupCheck> {
    match verify_backup(file, key) {
        Err(store::StoreError::NeedsPassphrase { .. }) => {
            let passphrase =
                read_secret("KAMIKARTE_DB_PASSPHRASE", &format!("Passphrase of {}: ", file.display()))?;
            store::cipher::remember_passphrase(file, &passphrase);
            Ok(verify_backup(file, key)?)
        }
        other => Ok(other?),
    }
}

/// Logs `user` in on `store` as someone who may back up and restore.
fn administrator(store: &mut Store, user: Option<&str>, whose: &str) -> Result<Session> {
    let name = user.with_context(|| {
        format!("restoring needs an administrator of {whose}: give --user NAME and the password (KAMIKARTE_PASSWORD or the prompt)")
    })?;
    let password = read_secret("KAMIKARTE_PASSWORD", &format!("Password for {name}: "))?;
    let session = auth::login(store, name, &password, Utc::now())?;
    session.require(Permission::Backup)?;
    Ok(session)
}

/// Accounts (name and role) in one set but not the other, as sentences.
fn account_differences(live: &BTreeSet<(String, String)>, check: &BackupCheck) -> Vec<String> {
    let backup: BTreeSet<(String, String)> = check.accounts.iter().cloned().collect();
    if backup.is_empty() {
        return vec!["the backup has no accounts at all".into()];
    }
    let mut out: Vec<String> =
        live.difference(&backup).map(|(n, r)| format!("'{n}' ({r}) is not in the backup")).collect();
    out.extend(
        backup
            .difference(live)
            .map(|(n, r)| format!("the backup has '{n}' ({r}), which the live database has not")),
    );
    out
}

/// Restores `args.file` over the database at `db`. The administrator logs in against the *live*
/// database: its accounts are the ones that decide who may replace it. Only when there is no live
/// database (a new PC after a disaster) does the backup's own administrator log in — and then the
/// backup must verify under the audit key the IT staff supply, which a database made elsewhere
/// cannot.
pub fn run_restore(db: &Path, args: &RestoreArgs, user: Option<&str>) -> Result<()> {
    if store::postgres_url(db).is_some() {
        return restore_into_hub(db, args, user);
    }
    let file = &args.file;
    let live = if db.exists() { Some(super::open_store(db)?) } else { None };
    let (key, session, live_accounts) = match live {
        Some(mut live) if live.user_count()? > 0 => {
            let session = administrator(&mut live, user, "the live database")?;
            let key = match &args.key {
                Some(k) => AuditKey::load(k)?,
                None => live.audit_key().clone(),
            };
            let accounts: BTreeSet<(String, String)> =
                live.users()?.into_iter().map(|u| (u.name.to_string(), u.role.code().to_string())).collect();
            (key, session, Some(accounts))
        }
        _ => {
            let key = match &args.key {
                Some(k) => AuditKey::load(k)?,
                None => find_key(db, file)?,
            };
            let session = backup_administrator(file, &key, user)?;
            (key, session, None)
        }
    };
    let check = verify_backup_asking(file, &key)?;
    if let Some(problem) = check.problem() {
        anyhow::bail!("{}: {problem}; not restored", file.display());
    }
    if let Some(live) = &live_accounts {
        let differences = account_differences(live, &check);
        if !differences.is_empty() && !args.accounts_differ {
            anyhow::bail!(
                "{}: its accounts differ from the live database's ({}); nothing was restored. If that is meant, run again with --accounts-differ",
                file.display(),
                differences.join("; ")
            );
        }
    }
    let report = store::restore(db, file, &key, &session.actor())?;
    out!("restored {} from {} ({} patients)", db.display(), file.display(), report.patients);
    if let Some(previous) = report.previous_saved_as {
        out!("the replaced database is kept as {}", previous.display());
    }
    Ok(())
}

/// Restores a hub's backup into a new database on the hub's server, checked like any backup,
/// for an administrator of the live hub; the live hub is left as it is.
fn restore_into_hub(db: &Path, args: &RestoreArgs, user: Option<&str>) -> Result<()> {
    let mut live = super::open_store(db)?;
    let session = administrator(&mut live, user, "the live hub")?;
    let key = match &args.key {
        Some(k) => AuditKey::load(k)?,
        None => live.audit_key().clone(),
    };
    let name = match &args.into {
        Some(name) => name.clone(),
        None => {
            let base: String = live
                .database_name()
                .unwrap_or_else(|| "kamikarte".into())
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(38)
                .collect();
            // Within PostgreSQL's 63 characters, and a name that starts with a letter or _.
            let base = if base.starts_with(|c: char| c.is_ascii_digit()) { format!("_{base}") } else { base };
            format!("{base}_restored_{}", Utc::now().format("%Y%m%d%H%M%S"))
        }
    };
    let accounts: BTreeSet<(String, String)> =
        live.users()?.into_iter().map(|u| (u.name.to_string(), u.role.code().to_string())).collect();
    let restored = live.restore_dump(&args.file, &name, &key, &session.actor())?;
    let differences = account_differences(&accounts, &restored.check);
    if !differences.is_empty() {
        eprintln!("warning: the restored accounts differ from the live hub's: {}", differences.join("; "));
    }
    out!(
        "restored {} into the new database {name} ({} patients, audit trail intact with {} entries)",
        args.file.display(),
        restored.check.patients,
        restored.check.audit.entries
    );
    out!("to use it: --db {} (the hub it came from is unchanged)", restored.address);
    Ok(())
}

/// The key for a backup when no live database has one: the key file already beside the target,
/// else a key in the backup's folder with the id the backup was sealed with.
fn find_key(db: &Path, backup: &Path) -> Result<AuditKey> {
    let beside = AuditKey::path_for(db);
    if beside.exists() {
        return Ok(AuditKey::load(&beside)?);
    }
    let wanted = store::sealed_key_id(backup)?;
    let folder = backup.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let (Some(wanted), Ok(entries)) = (&wanted, std::fs::read_dir(folder)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "key")
                && let Ok(key) = AuditKey::load(&path)
                && key.id() == wanted
            {
                return Ok(key);
            }
        }
    }
    let sealed_with = match wanted {
        Some(id) => format!("sealed with key id {id}"),
        None if store::cipher::file_kind(backup) == store::cipher::FileKind::Encrypted => {
            "encrypted, so the key it was sealed with cannot be read before it is opened".to_string()
        }
        None => "it names no key".to_string(),
    };
    anyhow::bail!(
        "no audit key for {} ({sealed_with}): give it with --key KEY_FILE (IT keeps a copy with the backups)",
        backup.display()
    )
}

/// Logs in an administrator of the backup itself, on a private copy of it (a login writes its
/// own audit entry; the backup file is never changed).
fn backup_administrator(backup: &Path, key: &AuditKey, user: Option<&str>) -> Result<Session> {
    let check = verify_backup_asking(backup, key)?;
    if let Some(problem) = check.problem() {
        anyhow::bail!("{}: {problem}; not restored", backup.display());
    }
    if check.accounts.is_empty() {
        anyhow::bail!(
            "{}: the backup has no accounts, so nobody can be checked as its administrator; not restored",
            backup.display()
        );
    }
    let staging = tempfile::tempdir()?;
    let copy = staging.path().join("check.sqlite");
    std::fs::copy(backup, &copy)?;
    std::fs::copy(Anchor::path_for(backup), Anchor::path_for(&copy))?;
    key.save_new(&AuditKey::path_for(&copy))?;
    let mut store = Store::open(&copy)?;
    administrator(&mut store, user, "the backup (there is no live database)")
}
