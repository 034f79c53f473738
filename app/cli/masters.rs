//! `masters import|search|list`: the code masters (charges, drugs, lab tests) back-entry searches.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};

use super::{Invocation, Reported};
use crate::auth::Session;
use crate::domain::Permission;
use crate::entry::form_codes;
use crate::entry::masters::{self, ImportSummary, MasterImportError, MasterIndex, MasterItem, MasterKind};

#[derive(Debug, Subcommand)]
pub enum MastersCommand {
    /// Replace a master with a CSV file (UTF-8 or CP932; columns code, name and optionally kana,
    /// unit, points, uses). All-or-nothing: any bad row and nothing is imported.
    Import(ImportArgs),
    /// Search a master by code, name or kana reading, most used first.
    Search {
        /// Code, name or reading (hiragana, katakana or half-width); empty lists the most used.
        #[arg(default_value = "")]
        query: String,
        #[arg(long, value_parser = master_parser())]
        master: MasterKind,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// How many items each master holds.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check every form's coded tick boxes (a charge slip's receipt codes, a lab slip's tests)
    /// against the stored masters; fails naming each code a master lacks.
    Check {
        /// A folder of the hospital's own form definitions (as for `kit`).
        #[arg(long)]
        forms_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    #[arg(required_unless_present = "samples", conflicts_with = "samples")]
    pub file: Option<PathBuf>,
    /// Which master the file replaces.
    #[arg(long, value_parser = master_parser(), required_unless_present = "samples", conflicts_with = "samples")]
    pub master: Option<MasterKind>,
    /// Load the synthetic sample masters shipped with the program instead of a file.
    #[arg(long)]
    pub samples: bool,
    /// A folder of the hospital's own form definitions: their tick boxes are checked against
    /// the master imported.
    #[arg(long)]
    pub forms_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

fn master_parser() -> impl TypedValueParser<Value = MasterKind> {
    let values = MasterKind::ALL.map(|k| match k {
        MasterKind::LabTests => PossibleValue::new(k.code()).alias("lab-tests"),
        _ => PossibleValue::new(k.code()),
    });
    PossibleValuesParser::new(values)
        .map(|s| MasterKind::parse(&s).expect("only the masters' own names are offered"))
}

pub fn run(ctx: &mut Invocation<'_>, command: MastersCommand) -> Result<()> {
    match command {
        MastersCommand::Import(args) => run_import(ctx, &args),
        MastersCommand::Search { query, master, limit, json } => {
            authenticate_to_read(ctx)?;
            let items = ctx.store.master_items(master.code())?;
            if items.is_empty() {
                anyhow::bail!(
                    "the {master} master is empty: import it with `kamikarte masters import FILE --master {master}` (or `masters import --samples`)"
                );
            }
            let index = MasterIndex::new(items);
            let found = index.search(&query, limit);
            if json {
                out!("{}", serde_json::to_string_pretty(&found)?);
                return Ok(());
            }
            let mut out = std::io::stdout().lock();
            for item in &found {
                writeln!(out, "{}", show_item(item))?;
            }
            if found.is_empty() {
                eprintln!("nothing in the {master} master matches '{query}'");
            }
            Ok(())
        }
        MastersCommand::List { json } => {
            authenticate_to_read(ctx)?;
            let counts = ctx.store.master_counts()?;
            let rows: Vec<(MasterKind, usize)> = MasterKind::ALL
                .into_iter()
                .map(|k| (k, counts.iter().find(|(c, _)| c == k.code()).map_or(0, |(_, n)| *n)))
                .collect();
            if json {
                let list: Vec<_> =
                    rows.iter().map(|(k, n)| serde_json::json!({ "master": k, "items": n })).collect();
                out!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for (kind, n) in rows {
                    out!("{:10} {n:6} items", kind.code());
                }
            }
            Ok(())
        }
        MastersCommand::Check { forms_dir, json } => {
            authenticate_to_read(ctx)?;
            let forms = crate::form::load(forms_dir.as_deref())?;
            let check = form_codes::check(ctx.store, &forms, None)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&check)?);
            } else if check.is_clean() {
                let masters: Vec<&str> = form_codes::masters_used(&forms).iter().map(|k| k.code()).collect();
                out!("every coded tick box of the forms is in its master ({})", masters.join(", "));
            }
            report_form_codes(&check);
            if check.is_clean() {
                Ok(())
            } else {
                Err(Reported(format!(
                    "{} tick box(es) coded outside their master, {} master(s) empty",
                    check.missing.len(),
                    check.empty_masters.len()
                ))
                .into())
            }
        }
    }
}

/// Names on stderr each tick box whose master lacks its code, with what to do.
fn report_form_codes(check: &form_codes::FormCodeCheck) {
    for m in &check.missing {
        eprintln!("warning: {m}");
    }
    for kind in &check.empty_masters {
        eprintln!(
            "warning: the {kind} master is empty, so the forms' {kind} codes are unchecked: import it with `kamikarte masters import FILE --master {kind}`"
        );
    }
    if !check.missing.is_empty() {
        eprintln!(
            "a box ticked under a code its master lacks is billed without a name or points: correct the form's code or import a master that has it"
        );
    }
}

/// Searching is for those who back-enter or manage the masters.
fn authenticate_to_read(ctx: &mut Invocation<'_>) -> Result<Session> {
    // Every role may view the census (a tested rule), so this only logs in; the check follows.
    let session = ctx.authenticate(Permission::ViewCensus)?;
    if !session.may(Permission::ManageMasters) {
        session.require(Permission::BackEntry)?;
    }
    Ok(session)
}

fn run_import(ctx: &mut Invocation<'_>, args: &ImportArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::ManageMasters)?;
    // Read before anything is imported: a broken forms folder stops the command unchanged.
    let forms = crate::form::load(args.forms_dir.as_deref())?;
    let result = match (&args.file, args.master) {
        (Some(file), Some(kind)) => {
            masters::import_master_file(ctx.store, &session, kind, file).map(|s| vec![s])
        }
        // The samples' points and use counts are invented: never over a real hospital's masters.
        _ if !ctx.store.is_demo()? && ctx.store.master_counts()?.iter().any(|(_, n)| *n > 0) => {
            anyhow::bail!(
                "this database holds real code masters: the synthetic samples load only into a demo database or empty masters"
            )
        }
        _ => masters::load_samples(ctx.store, &session),
    };
    match result {
        Ok(summaries) => {
            // A form whose boxes the new master no longer covers is named now, not after a
            // month of ticked slips.
            let mut check = form_codes::FormCodeCheck::default();
            for s in &summaries {
                check.missing.extend(form_codes::check(ctx.store, &forms, Some(s.master))?.missing);
            }
            if args.json {
                let out = if args.samples {
                    serde_json::to_string_pretty(&summaries)?
                } else {
                    serde_json::to_string_pretty(&summaries[0])?
                };
                out!("{out}");
            } else {
                for s in &summaries {
                    out!("{}", show_summary(s));
                }
            }
            report_form_codes(&check);
            Ok(())
        }
        Err(MasterImportError::Invalid { file, errors }) => {
            if args.json {
                let out = serde_json::json!({ "file": file, "imported": false, "errors": errors });
                out!("{}", serde_json::to_string_pretty(&out)?);
            }
            let mut err = std::io::stderr().lock();
            writeln!(err, "{file}: rejected, nothing imported: {} problem(s)", errors.len())?;
            for e in &errors {
                writeln!(err, "{}", e.display(&file))?;
            }
            Err(Reported(format!("{file}: rejected")).into())
        }
        Err(e) => Err(e.into()),
    }
}

fn show_summary(s: &ImportSummary) -> String {
    let c = &s.counts;
    format!(
        "{} ({}): {} items in the {} master; {} added, {} changed, {} removed, {} unchanged",
        s.file, s.encoding, s.items, s.master, c.added, c.changed, c.removed, c.unchanged
    )
}

fn show_item(item: &MasterItem) -> String {
    let mut line = format!("{:10}  {}", item.code, item.name);
    if let Some(kana) = &item.kana {
        line.push_str(&format!("  {kana}"));
    }
    if let Some(points) = item.points {
        line.push_str(&format!("  {points}"));
        if let Some(unit) = &item.unit {
            line.push_str(&format!("/{unit}"));
        }
    } else if let Some(unit) = &item.unit {
        line.push_str(&format!("  ({unit})"));
    }
    line.push_str(&format!("  uses {}", item.uses));
    line
}
