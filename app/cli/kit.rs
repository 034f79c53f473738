//! `kit`: the downtime kit as print-ready PDFs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use super::Invocation;
use crate::domain::Permission;
use crate::print::{KitRequest, describe, generate_kit};

#[derive(Debug, Args)]
pub struct KitArgs {
    /// The folder the PDFs go to (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only these wards (repeatable).
    #[arg(long, value_name = "W", conflicts_with = "patient")]
    pub ward: Vec<String>,
    /// Only these patients (repeatable).
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub patient: Vec<String>,
    /// Only these forms, comma-separated (e.g. wristband_adult,progress_note).
    #[arg(long, value_name = "F,...", value_delimiter = ',')]
    pub forms: Vec<String>,
    /// Blank copies of each form for patients not yet registered (0 to 500; default 5, or 0
    /// with --packets).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::print::MAX_BLANKS)))]
    pub blanks: Option<u32>,
    /// Pre-printed packets for when no PC works: reserve N downtime IDs from this station's
    /// block and print, per ID, a wristband, a label sheet and the blank forms carrying it (1 to
    /// 200). Register each used packet later with `register --packet ID`.
    #[arg(long, value_name = "N", conflicts_with_all = ["ward", "patient"],
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::print::MAX_PACKETS)))]
    pub packets: Option<u32>,
    /// An outpatient kit for the day (YYYY-MM-DD): everyone with a visit the SS-MIX2 storage
    /// files under that day (ADT-12), or on the --appointments list, named from the snapshot.
    /// Forms: all but wristbands, the MAR and the diet order, unless --forms says.
    #[arg(long, value_name = "DATE", conflicts_with_all = ["ward", "patient", "packets"])]
    pub outpatients: Option<chrono::NaiveDate>,
    /// The day's appointment list (CSV: patient_id, and optionally date, time, department;
    /// UTF-8 or Shift_JIS) instead of the storage's visits.
    #[arg(long, value_name = "FILE", requires = "outpatients")]
    pub appointments: Option<PathBuf>,
    /// A folder of the hospital's own form definitions.
    #[arg(long, value_name = "DIR", env = "KAMIKARTE_FORMS")]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run_kit(ctx: &mut Invocation<'_>, args: &KitArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::PrintKit)?;
    let mut patients = args.patient.clone();
    let mut forms = args.forms.clone();
    let mut day = None;
    if let Some(date) = args.outpatients {
        let list = crate::snapshot::outpatients::prepare(
            ctx.store,
            &session,
            date,
            args.appointments.as_deref(),
            super::census::today(),
        )?;
        for id in &list.not_in_master {
            eprintln!("warning: {id} is not in the snapshot's patient master: no outpatient paper printed");
        }
        for u in &list.unusable {
            eprintln!("warning: {}: {}: no outpatient paper printed", u.path, u.problem);
        }
        for id in &list.added.admitted {
            eprintln!("note: {id} is admitted: their paper comes with their ward's kit");
        }
        if list.ids.is_empty() {
            anyhow::bail!("no outpatient of {date} ({}) can be printed", list.source);
        }
        patients = list.ids.clone();
        if forms.is_empty() {
            forms = crate::form::load(args.forms_dir.as_deref())?
                .into_iter()
                .filter(crate::snapshot::outpatients::prints_for_outpatients)
                .map(|f| f.id)
                .collect();
        }
        day = Some(list);
    }
    let request = KitRequest {
        out_dir: args.out.clone(),
        wards: args.ward.clone(),
        patients,
        forms,
        blanks: args.blanks.unwrap_or(if args.packets.is_some() { 0 } else { 5 }),
        forms_dir: args.forms_dir.clone(),
        blanks_only: false,
        packets: args.packets.unwrap_or(0),
    };
    let started = Instant::now();
    let report = generate_kit(ctx.store, &session, &request, &mut |_, _| {})?;
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        if let Some(day) = &day {
            json["outpatients"] = serde_json::to_value(day)?;
        }
        out!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        out!("{}", describe(&report.files, &args.out));
        if let Some(day) = &day {
            out!(
                "outpatients of {} from {}: {} to print ({} new, {} updated)",
                day.date,
                day.source,
                day.ids.len(),
                day.added.inserted,
                day.added.updated
            );
        }
        if let (Some(first), Some(last)) = (report.packets.first(), report.packets.last()) {
            out!(
                "{} packets reserved: {first} … {last} (register each used packet: kamikarte register --packet ID)",
                report.packets.len()
            );
        }
        out!(
            "{} pages for {} patients in {} files, {:.1} s",
            report.pages,
            report.patients,
            report.files.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(w) = crate::downtime::register::skipped_warning(&report.skipped) {
        eprintln!("warning: {w}");
    }
    // Slips printed under codes the masters lack are billed without names or points: said now,
    // while the forms can still be corrected and reprinted. (An empty master is normal on the
    // night of the outage, so only a loaded master that lacks a code is named.)
    let forms = crate::form::load(args.forms_dir.as_deref())?;
    for missing in crate::entry::form_codes::check(ctx.store, &forms, None)?.missing {
        eprintln!("warning: {missing}");
    }
    Ok(())
}
