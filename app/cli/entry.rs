//! `worklist` and `reconcile …`: what back-entry has left, and downtime IDs mapped to the EHR's
//! record numbers.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Invocation, Reported};
use crate::domain::Permission;
use crate::entry::reconcile;
use crate::entry::worklist::{self, Stage, WorklistFilter};
use crate::form;

#[derive(Debug, Args)]
pub struct WorklistArgs {
    /// Only the pages printed during this downtime episode.
    #[arg(long, value_name = "ID")]
    episode: Option<i64>,
    /// printed, scanned, entered, verified, exported or acknowledged.
    #[arg(long)]
    stage: Option<String>,
    #[arg(long)]
    ward: Option<String>,
    /// A form id (progress_note) or code (PN).
    #[arg(long)]
    form: Option<String>,
    #[arg(long)]
    patient: Option<String>,
    /// Who keyed it (a user name).
    #[arg(long, value_name = "USER")]
    keyed_by: Option<String>,
    #[arg(long, value_name = "DIR")]
    forms_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run_worklist(ctx: &mut Invocation<'_>, args: &WorklistArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::BackEntry)?;
    let stage = match &args.stage {
        None => None,
        Some(s) => Some(Stage::parse(s).ok_or_else(|| {
            anyhow::anyhow!(
                "--stage '{s}' is not one of {}",
                Stage::ALL.iter().map(|s| s.code()).collect::<Vec<_>>().join(", ")
            )
        })?),
    };
    let forms = form::load(args.forms_dir.as_deref())?;
    let episode = ctx.store.episode_named(args.episode)?;
    let filter = WorklistFilter {
        ward: args.ward.clone(),
        patient: args.patient.clone(),
        form: args.form.clone(),
        stage,
        user: args.keyed_by.clone(),
    };
    let items: Vec<_> = worklist::worklist(ctx.store, &forms, episode.as_ref())?
        .into_iter()
        .filter(|i| filter.keeps(i))
        .collect();
    ctx.store.record_list_view(
        &session.actor(),
        format!("worklist {}", filter_text(args)).trim(),
        items.len(),
    )?;
    let days = worklist::per_day(&items);
    if args.json {
        out!("{}", serde_json::to_string_pretty(&serde_json::json!({ "items": items, "days": days }))?);
        return Ok(());
    }
    for i in &items {
        out!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            i.item.describe(),
            i.ward,
            i.patient.as_deref().unwrap_or("BLANK"),
            i.form_code,
            i.stage.code(),
            i.entered_by.as_deref().unwrap_or("-"),
            i.note.as_deref().unwrap_or("")
        );
    }
    for d in &days {
        eprintln!(
            "{}: {} pages, scanned {}, entered {}, verified {}, exported {}",
            if d.day.is_empty() { "(no date)" } else { &d.day },
            d.items,
            d.reached[1],
            d.reached[2],
            d.reached[3],
            d.reached[4]
        );
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// Every downtime ID with its mapping or merge.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Map a downtime ID to the EHR's record number, with the EHR's identity for it (every
    /// later message carries that identity): given here, or from the EHR census when it has
    /// the number. A different name or date of birth than ours needs --override with a reason.
    Map {
        downtime_id: String,
        mrn: String,
        /// The EHR's name for the record number (kanji, family and given name).
        #[arg(long, value_name = "NAME")]
        ehr_name: Option<String>,
        /// The EHR's kana reading.
        #[arg(long, value_name = "KANA")]
        ehr_kana: Option<String>,
        /// The EHR's date of birth, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        ehr_dob: Option<String>,
        /// The EHR's sex: M, F, O or U.
        #[arg(long, value_name = "SEX")]
        ehr_sex: Option<String>,
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Take a mapping back.
    Unmap { downtime_id: String },
    /// Two downtime IDs found to be one person: the first's paper belongs to the second.
    Merge {
        downtime_id: String,
        #[arg(long, value_name = "ID")]
        into: String,
        #[arg(long)]
        reason: String,
        /// Needed when the survivor would take a record number whose EHR facts contradict it.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Import the EHR's mapping CSV (downtime_id, mrn, and name, kana, dob when it has them).
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_reconcile(ctx: &mut Invocation<'_>, command: ReconcileCommand) -> Result<()> {
    let session = ctx.authenticate(Permission::Reconcile)?;
    match command {
        ReconcileCommand::List { json } => {
            let patients = ctx.store.downtime_patients()?;
            ctx.store.record_list_view(&session.actor(), "reconcile list", patients.len())?;
            if json {
                let rows: Vec<_> = patients
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "downtime_id": p.record.patient.id.as_str(),
                            "name": p.record.patient.name.as_str(),
                            "kana": p.record.patient.kana.as_str(),
                            "dob": p.record.patient.dob.to_string(),
                            "mrn": p.link.as_ref().map(|l| &l.mrn),
                            "override_reason": p.link.as_ref().and_then(|l| l.override_reason.as_ref()),
                            "merged_into": p.merged_into,
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for p in &patients {
                    let state = match (&p.link, &p.merged_into) {
                        (_, Some(into)) => format!("merged into {into}"),
                        (Some(l), _) => format!("= {}", l.mrn),
                        _ => "unmapped".into(),
                    };
                    out!(
                        "{}\t{}\t{}\t{}\t{state}",
                        p.record.patient.id.as_str(),
                        p.record.patient.name.as_str(),
                        p.record.patient.kana.as_str(),
                        p.record.patient.dob
                    );
                }
            }
        }
        ReconcileCommand::Map { downtime_id, mrn, ehr_name, ehr_kana, ehr_dob, ehr_sex, override_reason } => {
            let given = reconcile::typed_facts(ehr_name, ehr_kana, ehr_dob, ehr_sex)?;
            let (link, found) =
                reconcile::link(ctx.store, &session, &downtime_id, &mrn, given, override_reason.as_deref())?;
            for c in &found {
                eprintln!("overridden: {c}");
            }
            out!("{} → {}", link.downtime_id, link.mrn);
        }
        ReconcileCommand::Unmap { downtime_id } => {
            reconcile::unlink(ctx.store, &session, &downtime_id)?;
            out!("{} unmapped", downtime_id.trim().to_uppercase());
        }
        ReconcileCommand::Merge { downtime_id, into, reason, override_reason } => {
            let found = reconcile::merge(
                ctx.store,
                &session,
                &downtime_id,
                &into,
                &reason,
                override_reason.as_deref(),
            )?;
            for c in &found {
                eprintln!("overridden: {c}");
            }
            out!("{} merged into {}", downtime_id.trim().to_uppercase(), into.trim().to_uppercase());
        }
        ReconcileCommand::Import { file, json } => {
            let report = reconcile::import_links(ctx.store, &session, &file)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!(
                    "{} mapped, {} unchanged, {} still without a record number, {} left to decide",
                    report.mapped,
                    report.unchanged,
                    report.waiting,
                    report.unmapped.len()
                );
                for u in &report.unmapped {
                    eprintln!("{}:{}: {} → {}: {}", file.display(), u.line, u.downtime_id, u.mrn, u.why);
                }
            }
            if !report.unmapped.is_empty() {
                return Err(Reported(format!("{} rows need a decision", report.unmapped.len())).into());
            }
        }
    }
    Ok(())
}

/// The worklist's filters as given, for the audit entry of the read.
fn filter_text(args: &WorklistArgs) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("ward", &args.ward),
        ("patient", &args.patient),
        ("form", &args.form),
        ("stage", &args.stage),
        ("keyed-by", &args.keyed_by),
    ] {
        if let Some(v) = value {
            parts.push(format!("--{name} {v}"));
        }
    }
    if let Some(e) = args.episode {
        parts.push(format!("--episode {e}"));
    }
    parts.join(" ")
}
