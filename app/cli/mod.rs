//! The command line: parse, authenticate, call a workflow, print. Exit status 0 on success, 1 on
//! an error the user can fix (message on stderr), 2 on a usage error (clap's own).

/// `println!` that returns an error instead of panicking when stdout is closed (`| head`): the
/// reader's choice, which `main` turns into a quiet exit 0.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

mod accounts;
mod backup;
mod census;
mod downtime;
mod entry;
mod handoff;
mod kit;
mod masters;
mod scan;
mod snapshot;
mod station;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::auth::{self, AuthError, Session};
use crate::domain::Permission;
use crate::store::{self, Store, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "kamikarte",
    version,
    about = "Downtime kit and paper-chart recovery for hospitals whose EHR is down"
)]
pub struct Cli {
    /// The database file (default: kamikarte.sqlite in the user's data directory), or a shared
    /// hub on PostgreSQL: postgres://user@host/database.
    #[arg(long, global = true, env = "KAMIKARTE_DB", value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// Who runs the command. The password comes from KAMIKARTE_PASSWORD or a prompt.
    #[arg(long, global = true, env = "KAMIKARTE_USER", value_name = "NAME")]
    pub user: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fill the database with a synthetic hospital and its demo users.
    Demo(census::DemoArgs),
    /// Import, list or export the census.
    #[command(subcommand)]
    Census(census::CensusCommand),
    /// The clinical snapshot from the hospital's SS-MIX2 storage: import it (incrementally),
    /// see its age, look a patient up.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// A hospital of many PCs: this PC's station code, bundles a station carries to the hub,
    /// snapshots the hub gives a station.
    #[command(subcommand)]
    Station(station::StationCommand),
    /// Print the downtime kit: one PDF per ward per form family, plus blank forms.
    Kit(kit::KitArgs),
    /// Start, follow and end a downtime episode.
    #[command(subcommand)]
    Episode(downtime::EpisodeCommand),
    /// Blocks of downtime IDs the EHR reserved for each station.
    #[command(subcommand)]
    Block(downtime::BlockCommand),
    /// Register an arriving patient under the next downtime ID (prints the ID).
    Register(Box<downtime::RegisterArgs>),
    /// Paper orders per day against the safe limits.
    Volume(downtime::VolumeArgs),
    /// Scanned pages after recovery: import and file them, index the rest, see what is missing.
    #[command(subcommand)]
    Scan(scan::ScanCommand),
    /// Code masters (charges, drugs, lab tests) for back-entry: import from CSV, search, list.
    #[command(subcommand)]
    Masters(masters::MastersCommand),
    /// The back-entry worklist: every paper page and how far it has got.
    Worklist(entry::WorklistArgs),
    /// Map downtime IDs to the restored EHR's record numbers; merge IDs of one person.
    #[command(subcommand)]
    Reconcile(entry::ReconcileCommand),
    /// Hand everything entered to the restored EHR: HL7 v2.5 files, the SS-MIX2 storage, FHIR
    /// R4 bundles or CSV for billing.
    Export(handoff::ExportArgs),
    /// Send the HL7 messages over MLLP, each waiting for its acknowledgement.
    #[command(subcommand)]
    Send(handoff::SendCommand),
    /// What the hand-off did (exported, sent, acknowledged, rejected), beside the worklist; take
    /// a refused message out of the queue.
    #[command(subcommand)]
    Handoff(handoff::HandoffCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Check a user's password: exit 0 when right and the account is not locked, 1 otherwise.
    Login { name: String },
    /// Show or change settings (lockout, idle lock, backups).
    #[command(subcommand)]
    Config(accounts::ConfigCommand),
    /// Back up the database while it is in use, or verify a backup.
    Backup(backup::BackupArgs),
    /// Replace the database with a verified backup (the old one is kept beside it). An
    /// administrator of the live database logs in.
    Restore(backup::RestoreArgs),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(census::AuditCommand),
    /// The database file itself: encrypt it at rest.
    #[command(subcommand)]
    Db(backup::DbCommand),
}

/// Raised for outcomes that are reported already and only need exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reported(String);

pub fn main() -> ExitCode {
    crate::files::restrict_new_files();
    store::on_wait(|| eprintln!("waiting for another station or job to finish writing to the database…"));
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<Reported>().is_none() {
                eprintln!("error: {}", message(&e));
            }
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each once: most of our errors already end with their cause
/// ("cannot write F: Not a directory"), which `{:#}` would print a second time.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// `kamikarte census list | head` closes the pipe early: that is the reader's choice, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

pub fn run(cli: Cli) -> Result<()> {
    let db = match &cli.db {
        Some(p) => p.clone(),
        None => store::default_path().context("no data directory for this user; pass --db PATH")?,
    };
    // A hub's log lies beside its local name on this PC, not beside its address.
    let _log = crate::logging::start(&store::local_path(&db));
    let Some(command) = cli.command else {
        log::info!("app opened on {}", store::shown(&db));
        let opened = run_app(db);
        if let Err(e) = &opened {
            log::error!("app: {}", message(e));
        }
        return opened;
    };
    let name = command_name();
    log::info!("command: {name}");
    let result = run_command(&db, command, cli.user.as_deref());
    match &result {
        // Only a name that logged in is an account's: one that failed may be a password typed
        // into the name field.
        Ok(()) => log::info!("command ok: {name} (by {})", cli.user.as_deref().unwrap_or("-")),
        Err(e) if is_broken_pipe(e) => {}
        Err(e) => log::warn!("command failed: {name}: {}", loggable(e)),
    }
    result
}

/// The command as the IT log keeps it: its subcommands and the names of the options given,
/// never their values (`register --kana --dob --sex`): values are patients' names, IDs and notes.
fn command_name() -> String {
    use clap::CommandFactory;
    use clap::parser::ValueSource;
    let mut cmd = Cli::command();
    let Ok(matches) = cmd.try_get_matches_from_mut(std::env::args_os()) else {
        return "?".into();
    };
    let mut words: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let (mut cmd, mut m) = (&cmd, &matches);
    loop {
        // Arguments only (not the derive's groups), each once (global ones repeat below); not
        // --db: the log lies beside the database it names.
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "db"
                && m.value_source(id) == Some(ValueSource::CommandLine)
                && seen.insert(id.to_string())
            {
                words.push(match arg.get_long() {
                    Some(long) => format!("--{long}"),
                    None => format!("<{id}>"),
                });
            }
        }
        let Some((name, next)) = m.subcommand() else { break };
        let Some(sub) = cmd.find_subcommand(name) else { break };
        words.push(name.to_string());
        (cmd, m) = (sub, next);
    }
    words.join(" ")
}

/// What of a failure goes into the IT log: what went wrong with the machine (the database, a
/// file, the network) in full; a refusal of what someone typed only as such, since its message
/// may name a patient (it was shown to the person who ran the command).
fn loggable(e: &anyhow::Error) -> String {
    for cause in e.chain() {
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return match store {
                StoreError::Refused(_) => "refused (the reason was shown to the user)".into(),
                StoreError::Corrupt { entity, field, .. } => {
                    format!("a {entity} row's {field} cannot be read")
                }
                other => other.to_string(),
            };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return message(e);
        }
    }
    "refused (the reason was shown to the user)".into()
}

fn run_command(db: &std::path::Path, command: Command, user: Option<&str>) -> Result<()> {
    let db = db.to_path_buf();
    match command {
        Command::Restore(args) => backup::run_restore(&db, &args, user),
        Command::Db(command) => backup::run_db(&db, command, user),
        command => {
            let mut store = open_store(&db)?;
            let mut ctx = Invocation { store: &mut store, user };
            match command {
                Command::Demo(args) => census::run_demo(&mut ctx, &args),
                Command::Census(c) => census::run(&mut ctx, c),
                Command::Snapshot(c) => snapshot::run(&mut ctx, c),
                Command::Station(c) => station::run(&mut ctx, c),
                Command::Kit(args) => kit::run_kit(&mut ctx, &args),
                Command::Episode(c) => downtime::run_episode(&mut ctx, c),
                Command::Block(c) => downtime::run_block(&mut ctx, c),
                Command::Register(args) => downtime::run_register(&mut ctx, &args),
                Command::Volume(args) => downtime::run_volume(&mut ctx, &args),
                Command::Scan(c) => scan::run(&mut ctx, c),
                Command::Masters(c) => masters::run(&mut ctx, c),
                Command::Worklist(args) => entry::run_worklist(&mut ctx, &args),
                Command::Reconcile(c) => entry::run_reconcile(&mut ctx, c),
                Command::Export(args) => handoff::run_export(&mut ctx, &args),
                Command::Send(c) => handoff::run_send(&mut ctx, c),
                Command::Handoff(c) => handoff::run_handoff(&mut ctx, c),
                Command::User(c) => accounts::run_user(&mut ctx, c),
                Command::Login { name } => accounts::run_login(&mut ctx, &name),
                Command::Config(c) => accounts::run_config(&mut ctx, c),
                Command::Backup(args) => backup::run_backup(&mut ctx, &args),
                Command::Audit(c) => census::run_audit(&mut ctx, c),
                Command::Restore(_) | Command::Db(_) => unreachable!("handled above"),
            }?;
            if let Some(problem) = store.anchor_problem() {
                eprintln!("warning: {problem}");
            }
            Ok(())
        }
    }
}

#[cfg(feature = "gui")]
fn run_app(db: PathBuf) -> Result<()> {
    crate::ui::run(db)
}

#[cfg(not(feature = "gui"))]
fn run_app(_db: PathBuf) -> Result<()> {
    anyhow::bail!(
        "this build has no desktop app (built without the `gui` feature); use a subcommand, see --help"
    )
}

/// Opens the database, asking for its passphrase (KAMIKARTE_DB_PASSPHRASE or a prompt) when it
/// is encrypted with one.
pub(crate) fn open_store(db: &std::path::Path) -> Result<Store> {
    match Store::open(db) {
        Err(store::StoreError::NeedsPassphrase { .. }) => {
            let passphrase =
                read_secret("KAMIKARTE_DB_PASSPHRASE", &format!("Passphrase of {}: ", db.display()))?;
            Ok(Store::open_with_passphrase(db, &passphrase)?)
        }
        other => Ok(other?),
    }
}

/// What every command gets: the open store and who claims to run it.
pub(crate) struct Invocation<'a> {
    pub store: &'a mut Store,
    pub user: Option<&'a str>,
}

impl Invocation<'_> {
    /// Logs the `--user` in (password from KAMIKARTE_PASSWORD or a prompt) and checks that their
    /// role allows `permission`.
    pub fn authenticate(&mut self, permission: Permission) -> Result<Session> {
        let session = self.log_in()?;
        session.require(permission)?;
        Ok(session)
    }

    /// Logs the `--user` in without asking for a permission: only for changing one's own
    /// password, which a reset account must do before anything else.
    pub fn log_in(&mut self) -> Result<Session> {
        if self.store.user_count()? == 0 {
            return Err(AuthError::NoUsers.into());
        }
        let name = self.user.context(
            "this database has user accounts: give --user NAME (or KAMIKARTE_USER) and the password (KAMIKARTE_PASSWORD or the prompt)",
        )?;
        let password = read_secret("KAMIKARTE_PASSWORD", &format!("Password for {name}: "))?;
        Ok(auth::login(self.store, name, &password, Utc::now())?)
    }
}

/// A secret from the environment (for scripts) or typed at a prompt without echo.
pub(crate) fn read_secret(var: &str, prompt: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    rpassword::prompt_password(prompt)
        .with_context(|| format!("cannot read the secret from a terminal; set {var}"))
}
