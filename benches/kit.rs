//! The downtime kit for the whole 865-bed demo hospital: every ward, every form, 5 blanks of
//! each. Targets: under 10 s on a 2-core machine, under 60 KB per page.
//!
//! Run with `cargo bench --bench kit`; figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::time::Instant;

use chrono::Local;
use kamikarte::demo::{DEFAULT_BEDS, DEFAULT_SEED, DemoOptions, load_demo};
use kamikarte::print::{KitRequest, generate_kit};
use kamikarte::store::{Actor, Store};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
    let actor = Actor("bench".into());
    let options = DemoOptions { beds: DEFAULT_BEDS, seed: DEFAULT_SEED, as_of: Local::now().date_naive() };
    load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
    let clerk = common::session(&mut store, kamikarte::domain::Role::Clerk);
    let request = KitRequest { out_dir: dir.path().join("kit"), blanks: 5, ..KitRequest::default() };
    let mut runs = Vec::new();
    for run in 0..3 {
        let _ = std::fs::remove_dir_all(&request.out_dir);
        let started = Instant::now();
        let report = generate_kit(&mut store, &clerk, &request, &mut |_, _| {}).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let bytes: u64 = report.files.iter().map(|f| f.bytes).sum();
        println!(
            "run {run}: {} pages for {} patients in {} files: {seconds:.2} s, {:.0} pages/s, {:.1} KB/page ({:.1} MB in all)",
            report.pages,
            report.patients,
            report.files.len(),
            report.pages as f64 / seconds,
            bytes as f64 / report.pages as f64 / 1024.0,
            bytes as f64 / 1024.0 / 1024.0
        );
        runs.push(seconds);
        if run == 0 {
            for family in ["wristbands", "labels", "charts", "slips"] {
                let (pages, bytes) = report
                    .files
                    .iter()
                    .filter(|f| f.family.name() == family)
                    .fold((0, 0), |(p, b), f| (p + f.pages, b + f.bytes));
                println!(
                    "  {family:<10} {pages:>6} pages {:>8.1} KB/page",
                    bytes as f64 / pages.max(1) as f64 / 1024.0
                );
            }
        }
    }
    runs.sort_by(f64::total_cmp);
    println!("median {:.2} s (target: under 10 s)", runs[1]);
}
