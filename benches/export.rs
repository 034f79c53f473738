//! Hand-off speed: 100,000 keyed and verified charge lines (the demo's bulk charge slips, keyed
//! through the real keying workflow into a database file) exported end to end — read from the
//! store, versions and HL7 messages prepared in one transaction, files written and the
//! deliveries recorded. Target: under 2 s for the billing CSV.
//!
//! Run with `cargo bench --bench export`; figures go in README. Set `KAMIKARTE_BENCH_LINES` for
//! another size.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kamikarte::demo::{ChargeOptions, DemoOptions, key_charge_lines, load_demo};
use kamikarte::form;
use kamikarte::handoff::hl7::Charset;
use kamikarte::handoff::run::{ExportOptions, Format, Site, export};
use kamikarte::store::{Actor, Store};

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn options(format: Format, out: std::path::PathBuf, all: bool) -> ExportOptions {
    ExportOptions {
        format,
        out,
        episode: None,
        charset: Charset::Iso2022Jp,
        all,
        mapping: None,
        include_unmapped: true,
    }
}

fn main() {
    let lines: usize =
        std::env::var("KAMIKARTE_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("bench.sqlite");
    let mut store = Store::open(&db).expect("the database opens");
    let actor = Actor("bench".into());
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a date");
    load_demo(&mut store, &actor, &DemoOptions { beds: 865, seed: 1, as_of: day }, &mut |_, _| {})
        .expect("the demo hospital");
    kamikarte::auth::ensure_demo_users(&mut store, &actor).expect("demo users");
    kamikarte::entry::masters::load_missing_samples(&mut store, &actor).expect("sample masters");
    let billing = common::session(&mut store, kamikarte::domain::Role::Billing);
    let started = Instant::now();
    let counts = key_charge_lines(
        &mut store,
        &ChargeOptions { lines, last_day: day, days: 70, ..ChargeOptions::default() },
    )
    .expect("charge slips keyed");
    eprintln!(
        "keyed {} charge lines on {} slips (keying and verifying through the workflow: {})",
        counts.lines,
        counts.slips,
        secs(started.elapsed())
    );
    let forms = form::load(None).expect("forms");
    let pages = dir.path().join("pages");
    let site = Site { forms: &forms, page_root: &pages };

    let mut run = |label: &str, format: Format, all: bool| {
        let out = dir.path().join(format!("out-{}", format.code()));
        let started = Instant::now();
        let mut stages: Vec<(String, Instant)> = Vec::new();
        let report = export(&mut store, &billing, &site, &options(format, out, all), &mut |stage, _, _| {
            if stages.last().is_none_or(|(s, _)| s != stage) {
                stages.push((stage.to_string(), Instant::now()));
            }
        })
        .expect("the export runs");
        let took = started.elapsed();
        let mut split = Vec::new();
        for (i, (stage, at)) in stages.iter().enumerate() {
            let end = stages.get(i + 1).map_or(started + took, |(_, t)| *t);
            split.push(format!("{stage} {:.2}", (end - *at).as_secs_f64()));
        }
        eprintln!("  {label}: {}", split.join(", "));
        println!(
            "| {label} | {} | {} | {} | {} |",
            report.prepared.new + report.prepared.updated,
            report.files,
            report.records,
            secs(took)
        );
    };
    println!(
        "| export of {} charge lines | versions prepared | files | rows/messages | time |",
        counts.lines
    );
    println!("|---|---:|---:|---:|---:|");
    run("csv, first export (prepares every slip and its DFT^P03)", Format::Csv, false);
    run("csv again, everything (--all: nothing to prepare)", Format::Csv, true);
    run("hl7 files, ISO-2022-JP", Format::Hl7, false);
    run("ssmix2 tree", Format::Ssmix2, false);
    run("csv again, nothing new", Format::Csv, false);
}
