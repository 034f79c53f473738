//! `backup`, `backup verify FILE` and `restore FILE`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::Utc;
use clap::{Args, Subcommand};

use super::{Invocation, Reported, read_secret};
use crate::auth;
use crate::domain::Permission;
use crate::store::{self, verify_backup};

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
    /// Open a backup read-only and check its integrity and its audit chain.
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_backup(ctx: &mut Invocation<'_>, args: &BackupArgs) -> Result<()> {
    ctx.authenticate(Permission::Backup)?;
    match &args.command {
        Some(BackupCommand::Verify { file, json }) => {
            let check = verify_backup(file)?;
            if *json {
                println!("{}", serde_json::to_string(&check)?);
            }
            match check.problem() {
                None => {
                    if !json {
                        println!(
                            "{}: ok ({} patients, {} users, audit trail intact with {} entries)",
                            file.display(),
                            check.patients,
                            check.users,
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
            println!("{}", written.display());
            Ok(())
        }
    }
}

/// Restores `file` over the database at `db`. The administrator logs in against the accounts of
/// the backup being restored, because those are the accounts the database will have.
pub fn run_restore(db: &Path, file: &Path, user: Option<&str>) -> Result<()> {
    let check = verify_backup(file)?;
    if let Some(problem) = check.problem() {
        anyhow::bail!("{}: {problem}; not restored", file.display());
    }
    let actor = if check.users == 0 {
        store::Actor::from_os()
    } else {
        let staging = tempfile::tempdir()?;
        let copy = staging.path().join("check.sqlite");
        std::fs::copy(file, &copy)?;
        let mut backup = store::Store::open(&copy)?;
        let name = user.ok_or_else(|| {
            anyhow::anyhow!(
                "restoring needs an administrator of the backup: give --user NAME and the password"
            )
        })?;
        let password = read_secret("KAMIKARTE_PASSWORD", &format!("Password for {name}: "))?;
        let session = auth::login(&mut backup, name, &password, Utc::now())?;
        session.require(Permission::Backup)?;
        session.actor()
    };
    let report = store::restore(db, file, &actor)?;
    println!("restored {} from {} ({} patients)", db.display(), file.display(), report.patients);
    if let Some(previous) = report.previous_saved_as {
        println!("the replaced database is kept as {}", previous.display());
    }
    Ok(())
}
