//! The command line: parse, call a workflow, print. Exit status 0 on success, 1 on an error the
//! user can fix (message on stderr), 2 on a usage error (clap's own).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{Local, NaiveDate};
use clap::{Args, Parser, Subcommand};

use crate::census::{self, Encoding, ImportOptions, ImportReport, demo};
use crate::store::{self, Actor, Store};

#[derive(Debug, Parser)]
#[command(
    name = "kamikarte",
    version,
    about = "Downtime kit and paper-chart recovery for hospitals whose EHR is down"
)]
pub struct Cli {
    /// The database file (default: kamikarte.sqlite in the user's data directory).
    #[arg(long, global = true, env = "KAMIKARTE_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Who makes the changes, recorded in the audit trail (default: the OS login).
    #[arg(long, global = true, env = "KAMIKARTE_USER", value_name = "NAME")]
    pub user: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fill the database with a synthetic hospital (deterministic for a seed and date).
    Demo(DemoArgs),
    /// Import, list or export the census.
    #[command(subcommand)]
    Census(CensusCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Beds in the hospital; about 75% are occupied.
    #[arg(long, default_value_t = demo::DEFAULT_BEDS)]
    pub beds: u32,
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
    /// The day the census is taken, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CensusCommand {
    /// Import the EHR's census CSV (UTF-8 or CP932). All-or-nothing unless --skip-invalid.
    Import(ImportArgs),
    /// List admitted patients.
    List(ListArgs),
    /// Write the census as CSV, in the layout `census import` reads.
    Export {
        /// The CSV file to write.
        file: PathBuf,
        #[arg(long)]
        ward: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Import the valid rows and list the others, instead of refusing the whole file.
    #[arg(long)]
    pub skip_invalid: bool,
    #[arg(long, value_enum, default_value_t = Encoding::Auto)]
    pub encoding: Encoding,
    /// A TOML file naming the columns (default: assets/census-mapping.toml, built in).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Do not discharge patients missing from the file (for a file covering some wards only).
    #[arg(long)]
    pub keep_absent: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub ward: Option<String>,
    /// Include discharged patients.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and name the first broken entry.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// Raised for outcomes that are reported already and only need exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reported(String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<Reported>().is_none() {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
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
    let actor = cli.user.clone().map(Actor).unwrap_or_else(Actor::from_os);
    let Some(command) = cli.command else {
        return crate::ui::run(db, actor);
    };
    let mut store = Store::open(&db)?;
    match command {
        Command::Demo(args) => run_demo(&mut store, &actor, &args),
        Command::Census(CensusCommand::Import(args)) => run_import(&mut store, &actor, &args),
        Command::Census(CensusCommand::List(args)) => run_list(&store, &args),
        Command::Census(CensusCommand::Export { file, ward }) => run_export(&store, &file, ward.as_deref()),
        Command::Audit(AuditCommand::Verify { json }) => run_audit_verify(&store, json),
    }
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

fn run_demo(store: &mut Store, actor: &Actor, args: &DemoArgs) -> Result<()> {
    let options =
        demo::DemoOptions { beds: args.beds, seed: args.seed, as_of: args.as_of.unwrap_or_else(today) };
    let counts = demo::load_demo(store, actor, &options, &mut |_, _| {})?;
    let wards = store.wards()?;
    let admitted: usize = wards.iter().map(|w| w.admitted).sum();
    if args.json {
        let out = serde_json::json!({
            "beds": options.beds, "seed": options.seed, "as_of": options.as_of.to_string(),
            "admitted": admitted, "wards": wards.len(), "changes": counts,
        });
        println!("{out}");
    } else {
        println!(
            "demo hospital: {} beds, {admitted} admitted patients in {} wards (seed {}, as of {})",
            options.beds,
            wards.len(),
            options.seed,
            options.as_of
        );
        println!(
            "  {} new, {} updated, {} unchanged, {} discharged",
            counts.inserted, counts.updated, counts.unchanged, counts.discharged
        );
    }
    Ok(())
}

fn run_import(store: &mut Store, actor: &Actor, args: &ImportArgs) -> Result<()> {
    let options = ImportOptions {
        encoding: args.encoding,
        skip_invalid: args.skip_invalid,
        keep_absent: args.keep_absent,
        mapping: args.mapping.clone(),
        today: today(),
    };
    let report = census::import_file(store, actor, &args.file, &options, &mut |_| {})?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_import_report(&args.file, &report);
    }
    if report.rejected() {
        return Err(Reported(format!("{}: rejected", args.file.display())).into());
    }
    Ok(())
}

fn print_import_report(path: &Path, report: &ImportReport) {
    let name = path.display();
    match &report.applied {
        Some(c) => println!(
            "{name} ({}): {} rows; {} new, {} updated, {} unchanged, {} re-admitted, {} discharged, {} skipped",
            report.encoding,
            report.rows,
            c.inserted,
            c.updated,
            c.unchanged,
            c.readmitted,
            c.discharged,
            report.skipped
        ),
        None => eprintln!(
            "{name} ({}): rejected, nothing imported: {} problem(s) in {} rows{}",
            report.encoding,
            report.errors.len(),
            report.rows,
            if report.errors.iter().any(|e| e.line == 1) {
                ""
            } else {
                " (use --skip-invalid to import the valid rows)"
            }
        ),
    }
    let mut err = std::io::stderr().lock();
    for e in &report.errors {
        let value = if e.value.is_empty() { String::new() } else { format!(" '{}'", e.value) };
        let column = if e.column.is_empty() { String::new() } else { format!(" column {}", e.column) };
        let _ = writeln!(err, "{name}:{}:{column}{value}: {}", e.line, e.message);
    }
    for w in &report.warnings {
        let _ = writeln!(err, "{name}: warning: {w}");
    }
}

fn run_list(store: &Store, args: &ListArgs) -> Result<()> {
    let records = store.patients(args.ward.as_deref(), args.all)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.patient).unwrap_or_default();
                v["status"] = r.status.code().into();
                v
            })
            .collect();
        serde_json::to_writer(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(());
    }
    let today = today();
    for r in &records {
        let p = &r.patient;
        writeln!(
            out,
            "{:<6} {:<9} {:<10} {}  {}  {} {:>3}歳 {} {}{}",
            p.location.ward,
            p.location.bed,
            p.id,
            p.name,
            p.kana,
            p.dob,
            p.dob.age_on(today),
            p.sex.japanese(),
            p.blood.display(),
            if r.status == crate::domain::PatientStatus::Discharged { "  (discharged)" } else { "" }
        )?;
    }
    if records.is_empty() {
        eprintln!("no patients (load the demo with `kamikarte demo` or import a census)");
    }
    Ok(())
}

fn run_export(store: &Store, file: &Path, ward: Option<&str>) -> Result<()> {
    let records = store.patients(ward, false)?;
    census::export_census_file(&records, file).with_context(|| format!("cannot write {}", file.display()))?;
    println!("{}: {} patients", file.display(), records.len());
    Ok(())
}

fn run_audit_verify(store: &Store, json: bool) -> Result<()> {
    let v = store.verify_audit()?;
    if json {
        println!("{}", serde_json::to_string(&v)?);
    }
    match &v.first_broken {
        None => {
            if !json {
                println!("audit trail intact: {} entries", v.entries);
            }
            Ok(())
        }
        Some((seq, reason)) => {
            let msg = format!("audit trail broken at entry {seq}: {reason}");
            if json {
                eprintln!("{msg}");
                Err(Reported(msg).into())
            } else {
                Err(anyhow::anyhow!(msg))
            }
        }
    }
}
