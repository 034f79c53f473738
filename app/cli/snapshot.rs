//! `snapshot import|status|show`: the clinical snapshot from the hospital's SS-MIX2 storage.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use super::Invocation;
use crate::domain::Permission;
use crate::snapshot::{self, Progress};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Read the SS-MIX2 standardized storage at ROOT (the folder holding `standard/`) into the
    /// snapshot: only folders changed since the last run; the census follows its admissions.
    /// Safe to run every 15 minutes from a scheduler, and to run again after a kill.
    Import {
        root: PathBuf,
        /// Look at every folder, not only the last 14 days' (a full run is made anyway when
        /// none finished in the last 24 hours).
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
    /// When the snapshot was taken, from where, and what it holds.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// One patient as the snapshot has them: allergies, problems, active medications, the last
    /// results of each test, diet (audited as a view).
    Show {
        id: String,
        /// Results kept per test.
        #[arg(long, default_value_t = 3)]
        results: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &mut Invocation<'_>, command: SnapshotCommand) -> Result<()> {
    match command {
        SnapshotCommand::Import { root, full, json } => {
            let session = ctx.authenticate(Permission::ImportCensus)?;
            let interactive = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let mut last = 0;
            let options = snapshot::ImportOptions { today: super::census::today(), demo: false, full };
            let report = snapshot::import(ctx.store, &session, &root, &options, &mut |p: Progress| {
                // A line every 5% on a terminal: the first import of a large storage takes minutes.
                if interactive && p.total > 0 && (p.done * 20 / p.total > last || p.done == p.total) {
                    last = p.done * 20 / p.total;
                    eprint!("\rreading folders: {} of {}", p.done, p.total);
                    if p.done == p.total {
                        eprintln!();
                    }
                }
            })?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!(
                    "{}: {} of {} folders read, {} files ({} applied, {} not kept), {} patients, {} admitted, {:.1} s",
                    report.root,
                    report.folders_read,
                    report.folders,
                    report.files_read,
                    report.files_applied,
                    report.files_not_kept,
                    report.patients,
                    report.inpatients,
                    report.seconds
                );
                if let Some(c) = &report.census {
                    out!(
                        "census: {} added, {} updated, {} unchanged, {} readmitted, {} discharged",
                        c.inserted,
                        c.updated,
                        c.unchanged,
                        c.readmitted,
                        c.discharged
                    );
                }
            }
            for u in &report.unreadable {
                eprintln!("unreadable: {}: {}", u.path, u.problem);
            }
            for s in &report.census_skipped {
                eprintln!("not in the census: patient {}: {}", s.path, s.problem);
            }
            Ok(())
        }
        SnapshotCommand::Status { json } => {
            ctx.authenticate(Permission::ViewCensus)?;
            let run = ctx.store.last_snapshot_run()?;
            let label = snapshot::age_label(ctx.store)?;
            let patients = ctx.store.snapshot_patient_count()?;
            if json {
                let out = serde_json::json!({ "last_run": run, "label": label, "patients": patients });
                out!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                match (run, label) {
                    (Some(run), Some(label)) => out!("{label} ({}; {patients} patients)", run.root),
                    _ => out!("no snapshot yet: run `kamikarte snapshot import ROOT` on the SS-MIX2 storage"),
                }
            }
            Ok(())
        }
        SnapshotCommand::Show { id, results, json } => {
            let session = ctx.authenticate(Permission::ViewCensus)?;
            let person = ctx
                .store
                .snapshot_person(&id)?
                .ok_or_else(|| anyhow::anyhow!("patient {id} is not in the snapshot's patient master"))?;
            let view = snapshot::clinical_view(ctx.store, &id, super::census::today(), results)?;
            ctx.store.record_view(&session.actor(), "snapshot patient", &id)?;
            let p = &person.patient;
            if json {
                let out = serde_json::json!({
                    "patient": p,
                    "admitted": person.stay.as_ref().map(|s| s.admitted),
                    "ward": person.stay.as_ref().map(|s| s.place.ward.clone()),
                    "medications": view.medications,
                    "problems": view.problems,
                    "results": view.results,
                    "diet": view.diet,
                    "snapshot": snapshot::age_label(ctx.store)?,
                });
                out!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            out!(
                "{} {} ({}) {} {}",
                p.id,
                p.name,
                p.kana,
                p.dob.map(|d| d.to_string()).unwrap_or_default(),
                p.sex
            );
            if let Some(label) = snapshot::age_label(ctx.store)? {
                out!("{label}");
            }
            for a in &p.allergies {
                out!("アレルギー allergy: {}", a.describe());
            }
            for pr in &view.problems {
                out!("病名 problem: {} {}", pr.code, pr.name);
            }
            for m in &view.medications {
                out!("薬 medication: {} {} {} {}", m.name, m.dose, m.route, m.schedule);
            }
            for t in &view.results {
                let values: Vec<String> =
                    t.iter().map(|v| format!("{} {}{} ({})", v.value, v.unit, v.flag, v.at)).collect();
                out!("検査 {}: {}", t[0].name, values.join(", "));
            }
            for d in &view.diet {
                out!("食事 diet: {}", d.name);
            }
            Ok(())
        }
    }
}
