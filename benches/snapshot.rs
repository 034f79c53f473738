//! The SS-MIX2 snapshot: a synthetic storage of 100,000 patients and 2 million messages (the
//! demo hospital's 657 inpatients and made-up outpatients, 20 messages each, ISO-2022-JP, filed
//! by the storage's rules) is read into an empty database — target under 10 minutes on this
//! 2-core machine — then 1,000 new result files are added and the rerun, which must read only
//! them, timed — target under 10 seconds — and a rerun with nothing new.
//!
//! Run with `cargo bench --bench snapshot`; `SNAPSHOT_PATIENTS` and `SNAPSHOT_MESSAGES` change
//! the size. The tree is written under `target/snapshot-bench` (about 8 GB of small files at
//! full size) and removed at the end; figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::time::Instant;

use chrono::NaiveDate;
use kamikarte::demo::ssmix2_tree::{TreeOptions, add_results, write_tree};
use kamikarte::demo::{DemoOptions, generate};
use kamikarte::domain::Role;
use kamikarte::snapshot::{ImportOptions, import};
use kamikarte::store::Store;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let patients = env("SNAPSHOT_PATIENTS", 100_000);
    let messages = env("SNAPSHOT_MESSAGES", 20);
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let inpatients = generate(&DemoOptions { beds: 865, seed: 7, as_of: today });
    let others = patients.saturating_sub(inpatients.len());
    let options = TreeOptions { inpatients, others, messages_per_patient: messages, today, seed: 7 };
    // Written afresh each run (a kept tree would already hold the files the rerun adds).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/snapshot-bench");
    let _ = std::fs::remove_dir_all(&root);
    let t = Instant::now();
    let counts = write_tree(&root, &options, &|done, total| {
        if done % 10_000 == 0 {
            eprint!("\rwriting the tree: {done} of {total} patients");
        }
    })
    .unwrap();
    eprintln!();
    println!(
        "tree: {} patients, {} files written in {:.0} s ({})",
        counts.patients,
        counts.files,
        t.elapsed().as_secs_f64(),
        root.display()
    );
    // Folder times closer than 2 s to a run are read again by the next (`snapshot::walk`).
    std::thread::sleep(std::time::Duration::from_millis(2500));

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let session = common::session(&mut store, Role::Admin);
    let opts = ImportOptions { today, demo: false, full: false };

    let t = Instant::now();
    let first = import(&mut store, &session, &root, &opts, &mut |_| {}).unwrap();
    let first_s = t.elapsed().as_secs_f64();
    println!(
        "first import: {} folders, {} files, {} patients, {} admitted: {first_s:.1} s ({:.0} files/s; target 600 s)",
        first.folders,
        first.files_read,
        first.patients,
        first.inpatients,
        first.files_read as f64 / first_s
    );
    assert!(first.unreadable.is_empty(), "{:?}", &first.unreadable[..first.unreadable.len().min(5)]);

    let t = Instant::now();
    let nothing = import(&mut store, &session, &root, &opts, &mut |_| {}).unwrap();
    println!("rerun, nothing new: {} folders read: {:.2} s", nothing.folders_read, t.elapsed().as_secs_f64());

    let added = add_results(&root, &options, 1000).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let t = Instant::now();
    let incremental = import(&mut store, &session, &root, &opts, &mut |_| {}).unwrap();
    println!(
        "rerun after {added} new files: {} folders, {} files read: {:.2} s (target 10 s)",
        incremental.folders_read,
        incremental.files_read,
        t.elapsed().as_secs_f64()
    );
    assert!(incremental.folders_read <= added, "only the folders with new files are read");
    assert!(incremental.files_read >= added);
    std::fs::remove_dir_all(&root).unwrap();
}
