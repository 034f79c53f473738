//! `demo`, `census …` and `audit verify`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{Local, NaiveDate};
use clap::{Args, Subcommand};

use super::{Invocation, Reported};
use crate::auth;
use crate::census::{self, Encoding, ImportOptions, ImportReport};
use crate::demo;
use crate::domain::Role;
use crate::domain::{PatientStatus, Permission};

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
    /// Also fill a synthetic downtime episode: ten days of downtime registrations and paper
    /// orders scanned at the station (the scan log and the volume monitor), then a kit printed,
    /// pages scanned and keyed at every stage, and downtime IDs mapped and merged (back-entry,
    /// reconciliation and the hand-off).
    #[arg(long)]
    pub downtime: bool,
    /// With --downtime: key charge slips until this many charge lines exist.
    #[arg(long, value_name = "N", default_value_t = 300, requires = "downtime")]
    pub charges: usize,
    /// Build the hospital from an SS-MIX2 storage: write the demo's patients (with allergies,
    /// problems, medications, results and diet) as a synthetic standardized storage in DIR, then
    /// read it with `snapshot import`, as a hospital would its own.
    #[arg(long, value_name = "DIR")]
    pub ssmix2: Option<PathBuf>,
    /// With --ssmix2: people with an ID but no bed (outpatients, the discharged) besides the
    /// admitted.
    #[arg(long, value_name = "N", default_value_t = 2000, requires = "ssmix2")]
    pub outpatients: usize,
    /// This PC's station code (default A, the demo's; a real install is asked for its own).
    #[arg(long, value_name = "CODE")]
    pub station: Option<String>,
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

pub(super) fn today() -> NaiveDate {
    Local::now().date_naive()
}

pub fn run(ctx: &mut Invocation<'_>, command: CensusCommand) -> Result<()> {
    match command {
        CensusCommand::Import(args) => run_import(ctx, &args),
        CensusCommand::List(args) => run_list(ctx, &args),
        CensusCommand::Export { file, ward } => run_export(ctx, &file, ward.as_deref()),
    }
}

pub fn run_demo(ctx: &mut Invocation<'_>, args: &DemoArgs) -> Result<()> {
    // A fresh database gets the demo users; an existing demo needs one of them. Real accounts
    // never get demo accounts (with public passwords) beside them.
    // Every record names a real user: on a fresh database the demo's administrator creates the
    // demo accounts (the first record), and the demo's clerk and administrator do the rest.
    let (users, clerk, admin) = if ctx.store.user_count()? == 0 {
        let admin = auth::demo_actor(Role::Admin);
        let users = auth::ensure_demo_users(ctx.store, &admin)?;
        (users, auth::demo_actor(Role::Clerk), admin)
    } else if ctx.store.is_demo()? {
        let actor = ctx.authenticate(Permission::ImportCensus)?.actor();
        let users = auth::ensure_demo_users(ctx.store, &actor)?;
        (users, actor.clone(), actor)
    } else {
        anyhow::bail!(
            "this database has real user accounts; the demo would add accounts with public passwords (use another --db)"
        );
    };
    if let Some(code) = &args.station {
        ctx.store.set_station_code(&admin, code)?;
    }
    let options =
        demo::DemoOptions { beds: args.beds, seed: args.seed, as_of: args.as_of.unwrap_or_else(today) };
    let counts = match &args.ssmix2 {
        None => demo::load_demo(ctx.store, &clerk, &options, &mut |_, _| {})?,
        Some(dir) => {
            if ctx.store.has_real_census()? {
                return Err(demo::hospital::DemoError::RealCensusPresent.into());
            }
            let tree = demo::ssmix2_tree::TreeOptions {
                inpatients: demo::generate(&options),
                others: args.outpatients,
                messages_per_patient: 20,
                today: options.as_of,
                seed: options.seed,
            };
            let written = demo::ssmix2_tree::write_tree(dir, &tree, &|_, _| {})?;
            // The departments master names the storage's department codes in the census.
            crate::entry::masters::load_missing_samples(ctx.store, &admin)?;
            let session = crate::auth::demo_session(ctx.store, Role::Clerk, chrono::Utc::now())?;
            let import = crate::snapshot::ImportOptions { today: options.as_of, demo: true, full: true };
            let report = crate::snapshot::import(ctx.store, &session, dir, &import, &mut |_| {})?;
            if !args.json {
                out!(
                    "SS-MIX2 storage: {} patients, {} files in {}; snapshot: {} patients, {} admitted",
                    written.patients,
                    written.files,
                    dir.display(),
                    report.patients,
                    report.inpatients
                );
            }
            report.census.unwrap_or_default()
        }
    };
    crate::demo::prepare_downtime(ctx.store, &admin)?;
    crate::entry::masters::load_missing_samples(ctx.store, &admin)?;
    let (history, episode) = if args.downtime {
        let history = crate::demo::history::fill_history(ctx.store, today(), 10, args.seed)?;
        // The kit's PDFs and the scanned images beside the database, as the app keeps them.
        let db = ctx
            .store
            .path()
            .map(crate::store::local_path)
            .unwrap_or_else(|| PathBuf::from("kamikarte.sqlite"));
        let stem =
            db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "kamikarte".into());
        let kit_dir = db.with_file_name(format!("{stem}-demo-kit"));
        let pages =
            crate::scan::PageStore::of(ctx.store)?.unwrap_or_else(|| crate::scan::PageStore::beside(&db));
        let options = crate::demo::episode::EpisodeOptions {
            today: today(),
            days: 10,
            seed: args.seed,
            charge_lines: args.charges,
            kit_dir: &kit_dir,
            pages: &pages,
        };
        (Some(history), Some(crate::demo::episode::fill_episode(ctx.store, &options)?))
    } else {
        (None, None)
    };
    let wards = ctx.store.wards()?;
    let admitted: usize = wards.iter().map(|w| w.admitted).sum();
    if args.json {
        let out = serde_json::json!({
            "beds": options.beds, "seed": options.seed, "as_of": options.as_of.to_string(),
            "admitted": admitted, "wards": wards.len(), "changes": counts,
            "users_created": users.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
            "downtime_history": history,
            "downtime_episode": episode,
        });
        out!("{out}");
    } else {
        out!(
            "demo hospital: {} beds, {admitted} admitted patients in {} wards (seed {}, as of {})",
            options.beds,
            wards.len(),
            options.seed,
            options.as_of
        );
        out!(
            "  {} new, {} updated, {} unchanged, {} discharged",
            counts.inserted,
            counts.updated,
            counts.unchanged,
            counts.discharged
        );
        if let Some(h) = history {
            out!(
                "  downtime history: {} registrations, {} paper orders over 10 days",
                h.registered,
                h.orders
            );
        }
        if let Some(e) = &episode {
            out!("  {}", e.line());
            out!("  kit PDFs: {}", e.kit_dir);
        }
        if !users.is_empty() {
            out!(
                "  demo users: admin, clerk, nurse, billing; password kamikarte-demo-<user>, e.g. kamikarte-demo-clerk"
            );
        }
    }
    Ok(())
}

fn run_import(ctx: &mut Invocation<'_>, args: &ImportArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::ImportCensus)?;
    let options = ImportOptions {
        encoding: args.encoding,
        skip_invalid: args.skip_invalid,
        keep_absent: args.keep_absent,
        mapping: args.mapping.clone(),
        today: today(),
    };
    let report = census::import_file(ctx.store, &session, &args.file, &options, &mut |_| {})?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_import_report(&args.file, &report)?;
    }
    if report.rejected() {
        return Err(Reported(format!("{}: rejected", args.file.display())).into());
    }
    Ok(())
}

fn print_import_report(path: &Path, report: &ImportReport) -> Result<()> {
    let name = path.display();
    match &report.applied {
        Some(c) => out!(
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
    if let Some(backup) = &report.backup {
        out!("backup: {}", backup.display());
    }
    if !report.demo_accounts_disabled.is_empty() {
        out!(
            "the demo's public accounts ({}) are switched off now that a real census is here",
            report.demo_accounts_disabled.join(", ")
        );
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
    Ok(())
}

fn run_list(ctx: &mut Invocation<'_>, args: &ListArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::ViewCensus)?;
    let records = ctx.store.patients(args.ward.as_deref(), args.all)?;
    let query = format!(
        "census list {}{}",
        args.ward.as_deref().unwrap_or("(all wards)"),
        if args.all { " --all" } else { "" }
    );
    ctx.store.record_list_view(&session.actor(), &query, records.len())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        // How old the patient information is (the SS-MIX2 snapshot's last run), on every row
        // so a reader of one row knows; null when the census came from a CSV alone.
        let snapshot_at = ctx.store.last_snapshot_run()?.map(|run| run.started_at);
        let mut rows: Vec<serde_json::Value> = Vec::with_capacity(records.len());
        for r in &records {
            let mut v = serde_json::to_value(&r.patient).unwrap_or_default();
            // A downtime registration flagged outpatient is no admission.
            let outpatient = r.status == PatientStatus::Admitted
                && ctx.store.registration(&r.patient.id)?.is_some_and(|reg| reg.flags.outpatient);
            v["status"] = if outpatient { "outpatient" } else { r.status.code() }.into();
            v["snapshot_at"] = snapshot_at.clone().into();
            rows.push(v);
        }
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
            if r.status == PatientStatus::Discharged { "  (discharged)" } else { "" }
        )?;
    }
    if records.is_empty() {
        eprintln!("no patients (load the demo with `kamikarte demo` or import a census)");
    }
    Ok(())
}

fn run_export(ctx: &mut Invocation<'_>, file: &Path, ward: Option<&str>) -> Result<()> {
    let session = ctx.authenticate(Permission::Export)?;
    let records = ctx.store.patients(ward, false)?;
    census::export_census_file(&records, file).with_context(|| format!("cannot write {}", file.display()))?;
    let query = format!("census export {} → {}", ward.unwrap_or("(all wards)"), file.display());
    ctx.store.record_list_view(&session.actor(), &query, records.len())?;
    out!("{}: {} patients", file.display(), records.len());
    Ok(())
}

pub fn run_audit(ctx: &mut Invocation<'_>, command: AuditCommand) -> Result<()> {
    let AuditCommand::Verify { json } = command;
    ctx.authenticate(Permission::VerifyAudit)?;
    let v = ctx.store.verify_audit()?;
    if json {
        out!("{}", serde_json::to_string(&v)?);
    }
    let problems = v.problems();
    if problems.is_empty() {
        if !json {
            out!("audit trail intact: {} entries; accounts and settings sealed", v.entries);
        }
        return Ok(());
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    Err(Reported(problems.join("; ")).into())
}
