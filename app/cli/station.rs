//! `station show|set|export|import|snapshot|load|status`: a hospital of many PCs.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use super::Invocation;
use crate::domain::Permission;
use crate::station::{self, Exported, Imported, Loaded, Prepared};
use crate::store::MergeCounts;

#[derive(Debug, Subcommand)]
pub enum StationCommand {
    /// This PC's station code and the fingerprint of the key its files are signed with (read it
    /// out to whoever imports them).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Give this PC its station code (1–4 letters or digits, e.g. W3, ER): each PC its own,
    /// refused when another station already has it here or this one has printed under its code.
    Set { code: String },
    /// Write what this station recorded since its last bundle — registrations, printed pages,
    /// scans and stops, episodes and notes, audit entries — as one signed file for the hub.
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Everything this station recorded, not only what is new (a bundle went missing).
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// At the hub: merge a station's bundle (again changes nothing; any order gives the same
    /// result; clashes are refused by name, nothing merged).
    Import {
        file: PathBuf,
        /// The fingerprint `station show` gives at the station: needed the first time a
        /// station's key is seen here.
        #[arg(long, value_name = "FINGERPRINT")]
        trust: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// At the hub: write what station CODE needs to run standalone — census, clinical
    /// snapshot, settings, its blocks — for `station load` there.
    Snapshot {
        #[arg(long, value_name = "CODE")]
        station: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// At a station: load the snapshot the hub made for it (a PC without a code takes it, once
    /// told with --station which station it is).
    Load {
        file: PathBuf,
        /// This PC's station code: needed when it has none yet, and must be the snapshot's.
        #[arg(long, value_name = "CODE")]
        station: Option<String>,
        /// The hub's fingerprint (`station show` at the hub): needed the first time.
        #[arg(long, value_name = "FINGERPRINT")]
        trust: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The stations this database knows, their bundles merged here and what they hold, and a
    /// digest of everything merged (two hubs that merged the same bundles agree on it).
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &mut Invocation<'_>, command: StationCommand) -> Result<()> {
    match command {
        StationCommand::Show { json } => {
            ctx.authenticate(Permission::ViewCensus)?;
            let me = station::identity(ctx.store)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&me)?);
            } else {
                out!(
                    "station: {}",
                    me.station.as_deref().unwrap_or("(none yet: kamikarte station set CODE)")
                );
                out!("key fingerprint: {}", me.fingerprint);
            }
        }
        StationCommand::Set { code } => {
            let session = ctx.authenticate(Permission::Configure)?;
            ctx.store.set_station_code(&session.actor(), &code)?;
            out!("this PC is station {}", ctx.store.settings()?.station()?);
        }
        StationCommand::Export { out, all, json } => {
            let session = ctx.authenticate(Permission::ExportBundle)?;
            let done = station::export(ctx.store, &session, &out, all)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                print_exported(&done)?;
            }
        }
        StationCommand::Import { file, trust, json } => {
            let session = ctx.authenticate(Permission::Configure)?;
            let done = station::import(ctx.store, &session, &file, trust.as_deref())?;
            if json {
                out!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                print_imported(&done)?;
            }
            warn_missing(&done);
        }
        StationCommand::Snapshot { station: code, out, json } => {
            let session = ctx.authenticate(Permission::Configure)?;
            let done = station::snapshot(ctx.store, &session, &code, &out)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                print_prepared(&done)?;
                let me = station::identity(ctx.store)?;
                out!(
                    "at the station: kamikarte station load {} --station {} --trust <this hub's fingerprint, {}>",
                    out.display(),
                    done.station,
                    me.fingerprint
                );
            }
        }
        StationCommand::Load { file, station: code, trust, json } => {
            let session = ctx.authenticate(Permission::Configure)?;
            let done = station::load(ctx.store, &session, &file, trust.as_deref(), code.as_deref())?;
            if json {
                out!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                print_loaded(&done)?;
            }
        }
        StationCommand::Status { json } => {
            ctx.authenticate(Permission::ViewCensus)?;
            let stations = ctx.store.known_stations()?;
            let digest = ctx.store.merged_digest()?;
            let me = station::identity(ctx.store)?;
            if json {
                let all = serde_json::json!({ "station": me.station, "fingerprint": me.fingerprint, "stations": stations, "merged_digest": digest });
                out!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                out!(
                    "this PC: station {} (key {})",
                    me.station.as_deref().unwrap_or("(none)"),
                    me.fingerprint
                );
                out!(
                    "{:<6} {:<8} {:<20} {:>8} {:>8} {:>8}  bundles merged",
                    "code",
                    "role",
                    "key",
                    "pages",
                    "regs",
                    "scans"
                );
                for s in &stations {
                    let bundles: Vec<String> = s.bundles.iter().map(i64::to_string).collect();
                    out!(
                        "{:<6} {:<8} {:<20} {:>8} {:>8} {:>8}  {}",
                        s.code,
                        s.role,
                        s.fingerprint.as_deref().unwrap_or("(not pinned)"),
                        s.printed_pages,
                        s.registrations,
                        s.scan_events,
                        if bundles.is_empty() { "-".to_string() } else { bundles.join(", ") }
                    );
                }
                out!("merged digest: {digest}");
            }
        }
    }
    Ok(())
}

fn counts_line(counts: &std::collections::BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ")
}

fn print_exported(done: &Exported) -> Result<()> {
    let total: usize = done.rows.values().sum();
    out!(
        "station {} bundle {} ({}) written to {}: {total} rows",
        done.station,
        done.seq,
        if done.whole { "everything recorded" } else { "since the last bundle" },
        done.file
    );
    for (table, n) in &done.rows {
        out!("  {table}: {n}");
    }
    Ok(())
}

fn print_imported(done: &Imported) -> Result<()> {
    if done.counts.already_imported {
        out!("station {} bundle {} was merged here before: nothing changed", done.station, done.seq);
        return Ok(());
    }
    print_counts(
        &format!("station {} bundle {} merged", done.station, done.seq),
        &done.counts,
        &done.fingerprint,
    )
}

fn print_counts(what: &str, counts: &MergeCounts, fingerprint: &str) -> Result<()> {
    out!("{what}");
    if counts.pinned {
        out!("  key {fingerprint} pinned");
    }
    out!("  new: {}", counts_line(&counts.new));
    out!("  updated: {}", counts_line(&counts.updated));
    Ok(())
}

fn warn_missing(done: &Imported) {
    if !done.counts.missing_earlier.is_empty() {
        let seqs: Vec<String> = done.counts.missing_earlier.iter().map(i64::to_string).collect();
        eprintln!(
            "warning: station {}'s bundle{} {} {} not merged here: merge {} too, or have the station write `station export --all`",
            done.station,
            if seqs.len() == 1 { "" } else { "s" },
            seqs.join(", "),
            if seqs.len() == 1 { "is" } else { "are" },
            if seqs.len() == 1 { "it" } else { "them" },
        );
    }
}

fn print_prepared(done: &Prepared) -> Result<()> {
    let total: usize = done.rows.values().sum();
    out!("snapshot for station {} written to {}: {total} rows", done.station, done.file);
    for (table, n) in &done.rows {
        out!("  {table}: {n}");
    }
    Ok(())
}

fn print_loaded(done: &Loaded) -> Result<()> {
    print_counts(
        &format!("this PC is station {}; the hub {}'s snapshot loaded", done.station, done.hub),
        &done.counts,
        &done.fingerprint,
    )
}
