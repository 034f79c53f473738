//! `export …`, `send mllp …` and `handoff report`: everything entered, to the restored EHR.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::Invocation;
use crate::domain::Permission;
use crate::form;
use crate::handoff::billing_csv::ColumnMapping;
use crate::handoff::hl7::Charset;
use crate::handoff::mllp::{self, SendError, SendOptions, SendStep};
use crate::handoff::registrations::{registration_list, write_registration_list};
use crate::handoff::report::report;
use crate::handoff::run::{ExportOptions, Format, Site, export};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// HL7 v2.5 messages, one file each, in sending order.
    Hl7,
    /// The SS-MIX2 standardized (and extended) storage tree.
    Ssmix2,
    /// FHIR R4 transaction bundles following JP Core, one per patient.
    Fhir,
    /// Charges for the billing system.
    Csv,
    /// ORCA's /api21/medicalmodv2 request bodies, one per visit (`send orca` posts them).
    Orca,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub format: ExportFormat,
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this downtime episode's paper and registrations.
    #[arg(long, value_name = "ID")]
    pub episode: Option<i64>,
    /// HL7 and SS-MIX2 files in UTF-8 instead of ISO-2022-JP.
    #[arg(long)]
    pub utf8: bool,
    /// Write everything in scope again, not only what this format has not had.
    #[arg(long)]
    pub all: bool,
    /// CSV: the billing system's columns (TOML; README, "Charges for billing").
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Hand off what is ready although some patients have no record number from the EHR yet
    /// (refused by default): their paper waits until they are mapped.
    #[arg(long)]
    pub include_unmapped: bool,
    #[arg(long, value_name = "DIR")]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SendCommand {
    /// Send the HL7 messages not yet acknowledged to HOST:PORT over MLLP, in order.
    Mllp(MllpArgs),
    /// Send the charges to ORCA (/api21/medicalmodv2): each visit ORCA does not hold as it is
    /// now is registered, replaced or deleted. The password is KAMIKARTE_ORCA_PASSWORD or asked.
    Orca(OrcaArgs),
}

#[derive(Debug, Args)]
pub struct OrcaArgs {
    /// ORCA's API address, e.g. http://10.0.0.8:8000.
    #[arg(value_name = "URL")]
    pub url: String,
    /// ORCA's user (its 職員 user ID).
    #[arg(long = "orca-user", value_name = "NAME")]
    pub orca_user: String,
    /// Seconds to wait for ORCA's answer to each visit.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// Only this downtime episode's charges.
    #[arg(long, value_name = "ID")]
    pub episode: Option<i64>,
    /// Send what is ready although some patients have no record number yet (their charges wait).
    #[arg(long)]
    pub include_unmapped: bool,
    #[arg(long, value_name = "DIR")]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MllpArgs {
    /// The receiver, e.g. 10.0.0.5:2575.
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    /// Send UTF-8 instead of ISO-2022-JP.
    #[arg(long)]
    pub utf8: bool,
    /// Seconds to wait for each acknowledgement.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub ack_timeout: u64,
    /// Tries per message before giving up (waiting 1 s, 2 s, 4 s … between them).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub attempts: u32,
    /// Send only what is in the outbox already; by default what is ready is prepared first,
    /// as an export does.
    #[arg(long)]
    pub outbox_only: bool,
    /// As for export: go on although some patients have no record number yet.
    #[arg(long)]
    pub include_unmapped: bool,
    #[arg(long, value_name = "DIR")]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HandoffCommand {
    /// Per episode: what was exported, sent, acknowledged and rejected, beside the worklist.
    Report {
        #[arg(long, value_name = "ID")]
        episode: Option<i64>,
        #[arg(long, value_name = "DIR")]
        forms_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The downtime patients for 医事 to register (the EHR is the patient master): a CSV and a
    /// printable PDF in DIR. Filled in with the record numbers, the CSV comes back through
    /// `reconcile import`.
    Registrations {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, value_name = "ID")]
        episode: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// The billing reconciliation for the 医事 manager: per department and day, charge lines and
    /// points keyed, verified, handed over and acknowledged; `--pdf FILE` prints it for signing.
    Billing {
        #[arg(long, value_name = "ID")]
        episode: Option<i64>,
        #[arg(long, value_name = "FILE")]
        pdf: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        forms_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Take a message out of the sending queue for good (the receiver refuses it and the
    /// hospital settles it another way), with the reason; audited.
    Withdraw {
        #[arg(value_name = "CONTROL_ID")]
        control_id: String,
        #[arg(long)]
        reason: String,
    },
}

fn page_root(ctx: &Invocation<'_>) -> Result<PathBuf> {
    Ok(super::scan::page_store(ctx.store)?.root().to_path_buf())
}

pub fn run_export(ctx: &mut Invocation<'_>, args: &ExportArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::Export)?;
    let forms = form::load(args.forms_dir.as_deref())?;
    let mapping = match &args.mapping {
        Some(path) if args.format == ExportFormat::Csv => Some(ColumnMapping::load(path)?),
        Some(_) => anyhow::bail!("--mapping applies to csv only"),
        None => None,
    };
    let options = ExportOptions {
        format: match args.format {
            ExportFormat::Hl7 => Format::Hl7,
            ExportFormat::Ssmix2 => Format::Ssmix2,
            ExportFormat::Fhir => Format::Fhir,
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Orca => Format::Orca,
        },
        out: args.out.clone(),
        episode: args.episode,
        charset: if args.utf8 { Charset::Utf8 } else { Charset::Iso2022Jp },
        all: args.all,
        mapping,
        include_unmapped: args.include_unmapped,
    };
    let root = page_root(ctx)?;
    let site = Site { forms: &forms, page_root: &root };
    let quiet = args.json;
    let report = export(ctx.store, &session, &site, &options, &mut |stage, done, total| {
        if !quiet && total > 2000 && (done == 0 || done == total) {
            eprintln!("{stage}: {done}/{total}");
        }
    })?;
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let p = &report.prepared;
    out!(
        "{}: {} files, {} {} written to {} (run {})",
        report.format,
        report.files,
        report.records,
        match options.format {
            Format::Csv | Format::Orca => "charge lines",
            Format::Fhir => "resources",
            _ => "messages",
        },
        report.out,
        report.run_id
    );
    out!(
        "  prepared: {} new, {} changed, {} unchanged ({} HL7 messages added to the outbox)",
        p.new,
        p.updated,
        p.unchanged,
        p.messages
    );
    if report.attachments > 0 {
        out!(
            "  {} page images larger than handoff.ssmix2_inline_kb written as files beside their messages",
            report.attachments
        );
    }
    for (subject, why) in &report.prepared.failed {
        eprintln!("  not handed off: {subject}: {why}");
    }
    let held: usize = report.held.values().sum();
    if held > 0 {
        out!("  not handed off yet: {held} paper items (see `kamikarte handoff report`)");
    }
    for (what, n) in &report.substitutions {
        out!("  ISO-2022-JP cannot hold: {what} ({n}×); export with --utf8 to keep them");
    }
    Ok(())
}

pub fn run_send(ctx: &mut Invocation<'_>, command: SendCommand) -> Result<()> {
    let args = match command {
        SendCommand::Mllp(args) => args,
        SendCommand::Orca(args) => return run_send_orca(ctx, &args),
    };
    let session = ctx.authenticate(Permission::Export)?;
    let charset = if args.utf8 { Charset::Utf8 } else { Charset::Iso2022Jp };
    if !args.outbox_only {
        let forms = form::load(args.forms_dir.as_deref())?;
        let root = page_root(ctx)?;
        let site = Site { forms: &forms, page_root: &root };
        let prepared = crate::handoff::run::prepare(ctx.store, &session, &site, None, args.include_unmapped)?;
        for (subject, why) in &prepared.failed {
            eprintln!("not sent: {subject}: {why}");
        }
    }
    let options = SendOptions {
        charset,
        ack_timeout: Duration::from_secs(args.ack_timeout.max(1)),
        max_attempts: args.attempts.max(1),
        ..SendOptions::default()
    };
    let quiet = args.json;
    let result = mllp::send(ctx.store, &session, &args.target, &options, &mut |p| {
        if quiet {
            return;
        }
        match &p.step {
            SendStep::Sending
                if p.attempt == 1 && (p.index == 1 || p.index % 100 == 0 || p.index == p.total) =>
            {
                eprintln!("sending {}/{}: {} {}", p.index, p.total, p.control_id, p.message_type);
            }
            SendStep::Failed { error, retry_in_ms } => match retry_in_ms {
                Some(ms) => eprintln!(
                    "  {} try {}: {error}; again in {:.1} s",
                    p.control_id,
                    p.attempt,
                    *ms as f64 / 1000.0
                ),
                None => eprintln!("  {} try {}: {error}", p.control_id, p.attempt),
            },
            _ => {}
        }
    });
    let report = match result {
        Ok(report) => report,
        Err(SendError::Undelivered { report }) => *report,
        Err(e) => return Err(e.into()),
    };
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
    } else if report.nothing_to_send {
        out!("nothing to send: every message is acknowledged (run {})", report.run_id);
    } else {
        out!(
            "{}: {} sent, {} acknowledged, {} rejected, {} errors, {} retries, {} not reached (run {})",
            report.target,
            report.sent,
            report.acknowledged,
            report.rejected,
            report.errors,
            report.retries,
            report.not_sent,
            report.run_id
        );
    }
    match &report.stopped {
        Some(stop) => {
            eprintln!("{stop}");
            Err(super::Reported(stop.to_string()).into())
        }
        None => Ok(()),
    }
}

fn run_send_orca(ctx: &mut Invocation<'_>, args: &OrcaArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::Export)?;
    let forms = form::load(args.forms_dir.as_deref())?;
    let root = page_root(ctx)?;
    let site = Site { forms: &forms, page_root: &root };
    let password =
        super::read_secret("KAMIKARTE_ORCA_PASSWORD", &format!("ORCA password for {}: ", args.orca_user))?;
    let target = crate::handoff::run::OrcaTarget {
        url: &args.url,
        user: &args.orca_user,
        password: &password,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let report = crate::handoff::run::send_orca(
        ctx.store,
        &session,
        &site,
        &target,
        args.episode,
        args.include_unmapped,
    )?;
    if args.json {
        out!("{}", serde_json::to_string(&report)?);
    } else {
        out!(
            "ORCA {}: {} visits registered, {} replaced, {} deleted, {} unchanged, {} refused",
            args.url,
            report.registered,
            report.replaced,
            report.deleted,
            report.unchanged,
            report.refused.len()
        );
        for (visit, code, message) in &report.warnings {
            eprintln!("  warning {visit}: {code} {message}");
        }
    }
    for (visit, result, message) in &report.refused {
        eprintln!("  ORCA refused {visit}: Api_Result {result} {message} (sent again next time)");
    }
    if report.refused.is_empty() {
        Ok(())
    } else {
        Err(super::Reported(format!("ORCA refused {} visit(s)", report.refused.len())).into())
    }
}

pub fn run_handoff(ctx: &mut Invocation<'_>, command: HandoffCommand) -> Result<()> {
    let (episode, forms_dir, json) = match command {
        HandoffCommand::Report { episode, forms_dir, json } => (episode, forms_dir, json),
        HandoffCommand::Withdraw { control_id, reason } => {
            let session = ctx.authenticate(Permission::Export)?;
            crate::handoff::run::withdraw(ctx.store, &session, &control_id, &reason)?;
            out!("{control_id} withdrawn: it will not be sent");
            return Ok(());
        }
        HandoffCommand::Billing { episode, pdf, forms_dir, json } => {
            let session = ctx.authenticate(Permission::Export)?;
            let forms = form::load(forms_dir.as_deref())?;
            let r = crate::handoff::billing_report::billing_report(ctx.store, &session, &forms, episode)?;
            if let Some(path) = &pdf {
                let hospital = ctx.store.settings()?.hospital_name;
                r.write_pdf(path, &hospital, chrono::Utc::now())?;
            }
            if json {
                out!("{}", serde_json::to_string(&r)?);
            } else {
                out!("{}", r.to_text().trim_end_matches('\n'));
                if let Some(path) = &pdf {
                    out!("printable: {}", path.display());
                }
            }
            return Ok(());
        }
        HandoffCommand::Registrations { out, episode, json } => {
            let session = ctx.authenticate(Permission::Reconcile)?;
            let rows = registration_list(ctx.store, &session, episode)?;
            let hospital = ctx.store.settings()?.hospital_name;
            let files = write_registration_list(&rows, &out, &hospital, chrono::Utc::now())?;
            if json {
                out!("{}", serde_json::to_string(&files)?);
            } else {
                out!(
                    "{} downtime patient(s), {} to register: {} and {}\n\
                     Give the list to 医事; when they have filled in the record numbers, run \
                     `kamikarte reconcile import {}`.",
                    files.patients,
                    files.to_register,
                    files.csv.display(),
                    files.pdf.display(),
                    files.csv.display()
                );
            }
            return Ok(());
        }
    };
    let session = ctx.authenticate(Permission::Export)?;
    let forms = form::load(forms_dir.as_deref())?;
    let root = page_root(ctx)?;
    let r = report(ctx.store, &forms, &root, episode)?;
    ctx.store.record_list_view(&session.actor(), "handoff report", r.paper_items)?;
    if json {
        out!("{}", serde_json::to_string(&r)?);
    } else {
        let text = r.to_text();
        out!("{}", text.trim_end_matches('\n'));
    }
    Ok(())
}
