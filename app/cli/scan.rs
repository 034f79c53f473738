//! `scan import|status|queue|index|set-aside|requeue`: scanned pages brought back after recovery.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::{Invocation, Reported};
use crate::domain::Permission;
use crate::form;
use crate::scan::{self, ImportCounts, ImportRequest, IndexInput, PageStore};
use crate::store::{PageState, Store};

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// File scanned pages (PNG, JPEG, TIFF, PDF files or folders of them) by their barcodes.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// A folder of the hospital's own form definitions.
        #[arg(long, value_name = "DIR")]
        forms_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What came back: printed, filed, missing and queued pages, per ward, patient and form.
    Status {
        /// Count only the kits printed during this downtime episode.
        #[arg(long, value_name = "ID")]
        episode: Option<i64>,
        #[arg(long, value_name = "DIR")]
        forms_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The pages waiting for a clerk to index them.
    Queue {
        #[arg(long)]
        json: bool,
    },
    /// File a queued page by hand: by patient ID and form, or by the page code printed under
    /// its barcode.
    Index {
        page: i64,
        /// The patient's ID (or the page code, `K1.…`, as printed under the barcode).
        #[arg(long, value_name = "ID")]
        patient: String,
        /// The form's code (e.g. PN) or id (progress_note); not needed with a page code.
        #[arg(long, default_value = "")]
        form: String,
        #[arg(long, value_name = "DIR")]
        forms_dir: Option<PathBuf>,
    },
    /// Set a queued page aside (a separator sheet, another system's page), with the reason.
    SetAside {
        page: i64,
        #[arg(long)]
        reason: String,
    },
    /// Undo an indexing or a setting aside: the page waits in the queue again.
    Requeue { page: i64 },
}

/// Where the scanned page images of this database are kept (`PageStore::of`).
pub(super) fn page_store(store: &Store) -> Result<PageStore> {
    PageStore::of(store)?.context("the database has no file; pages are kept beside it (or set pages.dir)")
}

pub fn run(ctx: &mut Invocation<'_>, command: ScanCommand) -> Result<()> {
    match command {
        ScanCommand::Import { paths, forms_dir, json } => run_import(ctx, paths, forms_dir, json),
        ScanCommand::Status { episode, forms_dir, json } => {
            let session = ctx.authenticate(Permission::ViewCensus)?;
            let report = scan::completeness(ctx.store, forms_dir.as_deref(), episode)?;
            ctx.store.record_list_view(&session.actor(), "scan status", report.patients.len())?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            if let Some(e) = &report.episode {
                out!("Episode {} (from {})", e.id, e.started_at);
            }
            out!(
                "printed {}  scanned back {} ({} in the queue or set aside)  missing {}  filed {} ({} not in the registry)  queued {}  duplicates {}  set aside {}",
                report.printed,
                report.returned,
                report.returned_not_filed,
                report.missing.len(),
                report.filed,
                report.filed_not_in_registry,
                report.queued,
                report.duplicates,
                report.set_aside
            );
            for w in &report.wards {
                out!(
                    "  ward {:8} printed {:5}  back {:5}  missing {:5}",
                    w.key,
                    w.printed,
                    w.returned,
                    w.missing
                );
            }
            for m in &report.missing_pages {
                out!(
                    "  MISSING {}  {}  {}  ward {}",
                    m.serial,
                    m.form,
                    m.patient.as_deref().unwrap_or("(blank form)"),
                    m.ward
                );
            }
            Ok(())
        }
        ScanCommand::Queue { json } => {
            let session = ctx.authenticate(Permission::FilePages)?;
            let queued = ctx.store.scanned_pages(Some(PageState::Queued))?;
            ctx.store.record_list_view(&session.actor(), "scan queue", queued.len())?;
            if json {
                out!("{}", serde_json::to_string_pretty(&queued)?);
                return Ok(());
            }
            for p in &queued {
                out!(
                    "{:6}  {} page {}  {}",
                    p.id,
                    p.source_name,
                    p.source_page,
                    p.reason.as_deref().unwrap_or("")
                );
            }
            out!("{} pages in the queue", queued.len());
            Ok(())
        }
        ScanCommand::Index { page, patient, form, forms_dir } => {
            let session = ctx.authenticate(Permission::FilePages)?;
            let forms = form::load(forms_dir.as_deref())?;
            let input = IndexInput { patient_or_code: patient, form };
            let filed = scan::index_page(ctx.store, &session, &forms, page, &input)?;
            out!(
                "page {} filed: {} {}",
                filed.id,
                filed.patient_id.as_deref().unwrap_or(""),
                filed.form_code.as_deref().unwrap_or("")
            );
            Ok(())
        }
        ScanCommand::SetAside { page, reason } => {
            let session = ctx.authenticate(Permission::FilePages)?;
            scan::queue::set_aside(ctx.store, &session, page, &reason)?;
            out!("page {page} set aside");
            Ok(())
        }
        ScanCommand::Requeue { page } => {
            let session = ctx.authenticate(Permission::FilePages)?;
            scan::queue::requeue(ctx.store, &session, page)?;
            out!("page {page} is in the queue again");
            Ok(())
        }
    }
}

fn run_import(
    ctx: &mut Invocation<'_>,
    paths: Vec<PathBuf>,
    forms_dir: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let session = ctx.authenticate(Permission::FilePages)?;
    let pages = page_store(ctx.store)?;
    let request = ImportRequest { paths, forms_dir, workers: None };
    let live = std::io::stderr().is_terminal();
    let mut progress = |c: &ImportCounts| {
        if live {
            eprint!("\r{}", c.summary());
            let _ = std::io::stderr().flush();
        }
    };
    let report =
        scan::import_pages(ctx.store, &session, &pages, &request, &mut progress, &AtomicBool::new(false))?;
    if live {
        eprintln!();
    }
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", report.counts.summary());
        for notice in report.pages.iter().filter_map(|p| p.notice()) {
            out!("  {notice}");
        }
        out!("pages are kept in {}", pages.root().display());
    }
    for problem in &report.problems {
        eprintln!("error: {problem}");
    }
    if !report.problems.is_empty() {
        return Err(Reported(format!("{} files or pages could not be read", report.problems.len())).into());
    }
    Ok(())
}
