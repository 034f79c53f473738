//! `episode`, `block`, `register`, `volume`: running the downtime from the command line.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Local;
use clap::{Args, Subcommand};

use super::Invocation;
use crate::domain::{IdBlock, Permission, Phase};
use crate::downtime::{self, RegistrationInput, episode};
use crate::store::IdSupply;

#[derive(Debug, Subcommand)]
pub enum EpisodeCommand {
    /// Start a downtime episode (everything recorded belongs to it until it ends).
    Start {
        /// Why the EHR is down (e.g. "ransomware", "power cut").
        #[arg(long)]
        reason: String,
        /// The phase it starts in (1–4).
        #[arg(long, default_value = "1", value_parser = parse_phase)]
        phase: Phase,
    },
    /// Move the running episode to phase N (1 past unknown, 2 patient info, 3 minimal orders,
    /// 4 recovery).
    Phase {
        #[arg(value_parser = parse_phase)]
        phase: Phase,
    },
    /// Add a note to the running episode.
    Note { text: String },
    /// Show the running episode (exit 0 either way; `running` in the JSON says which).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// End the running episode.
    End,
}

fn parse_phase(s: &str) -> Result<Phase, String> {
    Phase::parse(s).map_err(|e| e.message)
}

#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Add a block of patient numbers the EHR reserved for a station (default: this station).
    Add {
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// The station the block is for (its `station.code`).
        #[arg(long)]
        station: Option<String>,
    },
    /// List every block with what is left of it.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Kana reading (katakana or hiragana). Leave out with --unknown.
    #[arg(long, default_value = "")]
    pub kana: String,
    /// Name in kanji, if known.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Date of birth, Western calendar (YYYY-MM-DD).
    #[arg(long, default_value = "")]
    pub dob: String,
    /// Apparent age in years, when the date of birth is unknown.
    #[arg(long)]
    pub age: Option<u32>,
    /// M, F, O or U (or 男, 女, その他, 不明).
    #[arg(long)]
    pub sex: String,
    /// Blood type if known (e.g. A+); unknown otherwise — never guessed.
    #[arg(long, default_value = "")]
    pub blood: String,
    /// Ward for an inpatient; without it the patient is an outpatient (ward OPD).
    #[arg(long, default_value = "")]
    pub ward: String,
    #[arg(long, default_value = "")]
    pub room: String,
    #[arg(long, default_value = "")]
    pub bed: String,
    #[arg(long, default_value = "")]
    pub department: String,
    /// Allergies, separated by ';'.
    #[arg(long, default_value = "")]
    pub allergies: String,
    /// The patient cannot be identified: named after the new ID (身元不明), age estimated.
    #[arg(long)]
    pub unknown: bool,
    /// Register under a pre-printed packet's ID (`kit --packets`): the ID or any page code
    /// of the packet, as scanned.
    #[arg(long, value_name = "ID")]
    pub packet: Option<String>,
    /// Print the wristband PDF into this folder.
    #[arg(long, value_name = "DIR")]
    pub wristband: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VolumeArgs {
    /// How many days up to today (1–366).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    #[arg(long)]
    pub json: bool,
}

pub fn run_episode(ctx: &mut Invocation<'_>, command: EpisodeCommand) -> Result<()> {
    match command {
        EpisodeCommand::Status { json } => {
            ctx.authenticate(Permission::ViewCensus)?;
            let open = ctx.store.open_episode()?;
            let notes = match &open {
                Some(e) => ctx.store.episode_notes(e.id)?,
                None => Vec::new(),
            };
            if json {
                let out = serde_json::json!({ "running": open.is_some(), "episode": open, "notes": notes });
                out!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                match open {
                    Some(e) => {
                        out!(
                            "episode {} running since {} ({}), started by {}",
                            e.id,
                            e.started_at,
                            e.reason,
                            e.started_by
                        );
                        out!("phase {}: {}", e.phase.number(), e.phase.describe());
                        for n in notes {
                            out!("  {} {}: {}", n.at, n.by, n.text);
                        }
                    }
                    None => out!("no downtime episode is running"),
                }
            }
            Ok(())
        }
        command => {
            let session = ctx.authenticate(Permission::ManageEpisode)?;
            match command {
                EpisodeCommand::Start { reason, phase } => {
                    let e = episode::start(ctx.store, &session, &reason, phase)?;
                    out!("episode {} started: phase {} ({})", e.id, e.phase.number(), e.phase.describe());
                }
                EpisodeCommand::Phase { phase } => {
                    let e = episode::set_phase(ctx.store, &session, phase)?;
                    out!("episode {}: phase {} ({})", e.id, e.phase.number(), e.phase.describe());
                }
                EpisodeCommand::Note { text } => {
                    episode::add_note(ctx.store, &session, &text)?;
                    out!("note added");
                }
                EpisodeCommand::End => {
                    let e = episode::end(ctx.store, &session)?;
                    out!("episode {} ended at {}", e.id, e.ended_at.unwrap_or_default());
                }
                EpisodeCommand::Status { .. } => unreachable!("handled above"),
            }
            Ok(())
        }
    }
}

pub fn run_block(ctx: &mut Invocation<'_>, command: BlockCommand) -> Result<()> {
    match command {
        BlockCommand::Add { prefix, from, to, station } => {
            let session = ctx.authenticate(Permission::ManageBlocks)?;
            let block = IdBlock::new(&prefix, from, to)?;
            let station = match station {
                Some(s) => s,
                None => ctx.store.settings()?.station()?.to_string(),
            };
            let rec = episode::add_block(ctx.store, &session, &station, &block)?;
            out!(
                "block {} ({} IDs) added for station {}; first ID {}",
                rec.block.describe(),
                rec.block.size(),
                rec.station,
                rec.block.id_of(rec.block.first)
            );
        }
        BlockCommand::List { json } => {
            ctx.authenticate(Permission::ViewCensus)?;
            let blocks = ctx.store.id_blocks()?;
            if json {
                let out: Vec<_> = blocks
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "station": b.station, "prefix": b.block.prefix, "from": b.block.first,
                            "to": b.block.last, "next": b.next, "remaining": b.remaining(),
                            "running_low": b.running_low(),
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for b in &blocks {
                    let low = if b.running_low() {
                        "  ← fewer than 10% left: ask the EHR team for a new block"
                    } else {
                        ""
                    };
                    out!(
                        "station {:4} {}  {} of {} left{low}",
                        b.station,
                        b.block.describe(),
                        b.remaining(),
                        b.block.size()
                    );
                }
            }
        }
    }
    Ok(())
}

pub fn run_register(ctx: &mut Invocation<'_>, args: &RegisterArgs) -> Result<()> {
    let session = ctx.authenticate(Permission::Register)?;
    let input = RegistrationInput {
        kana: args.kana.clone(),
        name: args.name.clone(),
        dob: args.dob.clone(),
        estimated_age: args.age,
        sex: args.sex.clone(),
        blood: args.blood.clone(),
        ward: args.ward.clone(),
        room: args.room.clone(),
        bed: args.bed.clone(),
        department: args.department.clone(),
        allergies: args.allergies.clone(),
        identity_unknown: args.unknown,
        packet: args.packet.clone().unwrap_or_default(),
    };
    let today = Local::now().date_naive();
    let done = match downtime::register(ctx.store, &session, &input, today, args.wristband.as_deref()) {
        Ok(done) => done,
        Err(downtime::RegisterError::Wristband(done, e)) => {
            // The ID is drawn and the patient registered: say the ID, then the failure.
            if args.json {
                let out =
                    serde_json::json!({ "id": done.patient.id.as_str(), "wristband_error": e.to_string() });
                out!("{out}");
            } else {
                out!("{}", done.patient.id);
            }
            return Err(downtime::RegisterError::Wristband(done, e).into());
        }
        Err(e) => return Err(anyhow::Error::new(e).context("registration refused")),
    };
    for s in &done.similar {
        eprintln!(
            "warning: similar reading already known: {} {} ({}) born {} — check this is not the same person",
            s.patient.id,
            s.patient.kana,
            s.patient.name,
            s.patient.dob.iso()
        );
    }
    if let Some(w) = done.skipped_warning() {
        eprintln!("warning: {w}");
    }
    let station = ctx.store.settings()?.station_code;
    let supply = IdSupply::of(&ctx.store.id_blocks()?, &station);
    if supply.running_low() {
        eprintln!("warning: {}", supply.describe());
    }
    if args.json {
        let out = serde_json::json!({
            "id": done.patient.id.as_str(), "patient": done.patient,
            "outpatient": done.flags.outpatient, "identity_unknown": done.flags.identity_unknown,
            "dob_estimated": done.flags.dob_estimated, "wristband": done.wristband,
            "similar": done.similar.iter().map(|s| s.patient.id.as_str()).collect::<Vec<_>>(),
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!("{}", done.patient.id);
        if let Some(path) = &done.wristband {
            eprintln!("wristband: {}", path.display());
        }
    }
    Ok(())
}

pub fn run_volume(ctx: &mut Invocation<'_>, args: &VolumeArgs) -> Result<()> {
    ctx.authenticate(Permission::ViewCensus)?;
    let report = downtime::volume_report(ctx.store, Local::now().date_naive(), args.days)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let first_shown = report.days.len().saturating_sub(7);
    let days: String = report.days[first_shown..].iter().map(|d| format!("{:>7}", &d[5..])).collect();
    out!("{:34}{days}  limit", "");
    for line in &report.lines {
        let counts: String = line.counts[first_shown..].iter().map(|c| format!("{c:>7}")).collect();
        out!("{:34}{counts}  {}", line.category, line.limit.map_or("-".to_string(), |l| l.to_string()));
    }
    for o in &report.over {
        out!("AT OR OVER LIMIT {}: {} {} (limit {} a day)", o.day, o.label, o.count, o.limit);
    }
    Ok(())
}
