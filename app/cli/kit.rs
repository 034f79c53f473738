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
    /// A folder of the hospital's own form definitions.
    #[arg(long, value_name = "DIR", env = "KAMIKARTE_FORMS")]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn run_kit(ctx: &mut Invocation<'_>, args: &KitArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::PrintKit)?;
    let request = KitRequest {
        out_dir: args.out.clone(),
        wards: args.ward.clone(),
        patients: args.patient.clone(),
        forms: args.forms.clone(),
        blanks: args.blanks.unwrap_or(if args.packets.is_some() { 0 } else { 5 }),
        forms_dir: args.forms_dir.clone(),
        blanks_only: false,
        packets: args.packets.unwrap_or(0),
    };
    let started = Instant::now();
    let report = generate_kit(ctx.store, &session, &request, &mut |_, _| {})?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", describe(&report.files, &args.out));
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
    // Slips printed under codes the masters lack are billed without names or points: said now,
    // while the forms can still be corrected and reprinted. (An empty master is normal on the
    // night of the outage, so only a loaded master that lacks a code is named.)
    let forms = crate::form::load(args.forms_dir.as_deref())?;
    for missing in crate::entry::form_codes::check(ctx.store, &forms, None)?.missing {
        eprintln!("warning: {missing}");
    }
    Ok(())
}
