//! Census search over 100,000 patients must answer within one frame (16.7 ms at 60 Hz), because
//! it runs on every keystroke in the census screen. Also times a 100,000-row census import.
//!
//! Run with `cargo bench --bench census_search`; figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kamikarte::census::{CensusIndex, ImportOptions, export_census_file, import_file};
use kamikarte::demo::{DemoOptions, generate};
use kamikarte::domain::PatientStatus;
use kamikarte::store::{PatientRecord, Store};

const FRAME: Duration = Duration::from_micros(16_667);

fn main() {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let patients = generate(&DemoOptions { beds: 133_400, seed: 1, as_of });
    let records: Vec<PatientRecord> = patients
        .into_iter()
        .map(|patient| PatientRecord {
            patient,
            status: PatientStatus::Admitted,
            updated_at: String::new(),
            updated_by: String::new(),
        })
        .collect();
    let n = records.len();
    println!("census: {n} patients");

    let t = Instant::now();
    let index = CensusIndex::new(records.clone());
    println!("index build: {:.1} ms", ms(t.elapsed()));

    let some_id = index.get(n / 2).patient.id.to_string();
    let queries: [(&str, &str); 7] = [
        ("one kana (ヤ)", "ヤ"),
        ("kana family name (ヤマダ)", "ヤマダ"),
        ("hiragana full name (やまだ　はなこ)", "やまだ　はなこ"),
        ("half-width kana (ｻﾄｳ)", "ｻﾄｳ"),
        ("kanji (山田)", "山田"),
        ("ID prefix (1000)", "1000"),
        ("exact ID", &some_id),
    ];
    println!("{:<38} {:>8} {:>10} {:>10}", "query (whole hospital)", "matches", "median ms", "max ms");
    let mut worst = Duration::ZERO;
    for (label, q) in queries {
        let (matches, median, max) = time_search(&index, q, None);
        worst = worst.max(max);
        println!("{label:<38} {matches:>8} {:>10.2} {:>10.2}", ms(median), ms(max));
    }
    let (matches, median, max) = time_search(&index, "", Some("5E"));
    worst = worst.max(max);
    println!("{:<38} {matches:>8} {:>10.2} {:>10.2}", "ward 5E, empty query", ms(median), ms(max));
    println!(
        "worst search: {:.2} ms = {:.0}% of a 60 Hz frame ({})",
        ms(worst),
        100.0 * worst.as_secs_f64() / FRAME.as_secs_f64(),
        if worst < FRAME { "within one frame" } else { "SLOWER THAN A FRAME" }
    );

    // Import: the same census written as CSV, then imported into an empty database.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("census.csv");
    export_census_file(&records, &csv).unwrap();
    let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
    let clerk = common::session(&mut store, kamikarte::domain::Role::Clerk);
    let t = Instant::now();
    let report = import_file(&mut store, &clerk, &csv, &ImportOptions::new(as_of), &mut |_| {}).unwrap();
    let first = t.elapsed();
    assert_eq!(report.applied.unwrap().inserted, n);
    let t = Instant::now();
    let report = import_file(&mut store, &clerk, &csv, &ImportOptions::new(as_of), &mut |_| {}).unwrap();
    let again = t.elapsed();
    assert_eq!(report.applied.unwrap().unchanged, n);
    println!(
        "import {n} rows: first {:.2} s ({:.0} rows/s), re-import unchanged {:.2} s",
        first.as_secs_f64(),
        n as f64 / first.as_secs_f64(),
        again.as_secs_f64()
    );
}

fn time_search(index: &CensusIndex, query: &str, ward: Option<&str>) -> (usize, Duration, Duration) {
    let mut times = Vec::new();
    let mut matches = 0;
    for _ in 0..31 {
        let t = Instant::now();
        matches = std::hint::black_box(index.search(query, ward)).len();
        times.push(t.elapsed());
    }
    times.sort();
    (matches, times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
