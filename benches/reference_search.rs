//! The reference viewer searches the SS-MIX2 patient master on every keystroke, so a search on
//! 500,000 patients must answer within one frame (16.7 ms at 60 Hz); showing a patient (their
//! row, stay and records, `snapshot::clinical_view`) must too.
//!
//! Run with `cargo bench --bench reference_search`; `REFERENCE_PATIENTS` changes the size.
//! Figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kamikarte::demo::{DemoOptions, generate};
use kamikarte::domain::snapshot::{Record, SnapshotPatient};
use kamikarte::domain::ssmix2_name::StorageName;
use kamikarte::store::{SnapshotBatch, SnapshotFile, Store};

const FRAME: Duration = Duration::from_micros(16_667);

fn main() {
    let wanted: usize =
        std::env::var("REFERENCE_PATIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    // The demo fills three beds in four: enough beds for the patients wanted.
    let patients = generate(&DemoOptions { beds: (wanted * 4 / 3 + 100) as u32, seed: 3, as_of });
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.sqlite")).unwrap();
    let t = Instant::now();
    let mut n = 0;
    for chunk in patients.chunks(10_000).take(wanted.div_ceil(10_000)) {
        let files = chunk
            .iter()
            .take(wanted - n)
            .map(|p| {
                let id = p.id.as_str();
                let file = format!("{id}_-_ADT-00_999999999999999_20261120093000123_-_1");
                SnapshotFile {
                    name: StorageName::parse(&file).unwrap(),
                    path: file,
                    record: Record::Patient(SnapshotPatient {
                        id: id.to_string(),
                        name: p.name.to_string(),
                        kana: p.kana.to_string(),
                        dob: Some(p.dob.date()),
                        sex: p.sex.code().to_string(),
                        blood_type: String::new(),
                        allergies: Vec::new(),
                    }),
                }
            })
            .collect::<Vec<_>>();
        n += files.len();
        store.write_snapshot_batch(&SnapshotBatch { files, dirs: Vec::new() }).unwrap();
    }
    println!("patient master: {n} patients written in {:.1} s", t.elapsed().as_secs_f64());

    let some = &patients[n / 2];
    let (family, _) = some.name.as_str().split_once('　').unwrap_or((some.name.as_str(), ""));
    let kanji = format!("kanji family name ({family})");
    let queries: [(&str, String); 7] = [
        ("one kana (ヤ)", "ヤ".into()),
        ("kana family name (ヤマダ)", "ヤマダ".into()),
        ("hiragana full name (やまだ　はなこ)", "やまだ　はなこ".into()),
        ("half-width kana (ｻﾄｳ)", "ｻﾄｳ".into()),
        (&kanji, family.to_string()),
        ("ID prefix (1)", "1".into()),
        ("exact ID", some.id.to_string()),
    ];
    println!("{:<38} {:>8} {:>10} {:>10}", "query (200 listed at most)", "listed", "median ms", "max ms");
    let mut worst = Duration::ZERO;
    for (label, q) in &queries {
        let (listed, median, max) = time(|| store.search_snapshot_patients(q, 200).unwrap().0.len());
        worst = worst.max(max);
        println!("{label:<38} {listed:>8} {:>10.3} {:>10.3}", ms(median), ms(max));
    }
    let id = some.id.to_string();
    let (_, median, max) = time(|| {
        let person = store.snapshot_person(&id).unwrap();
        let view = kamikarte::snapshot::clinical_view(&store, &id, as_of, 3).unwrap();
        usize::from(person.is_some()) + view.results.len()
    });
    worst = worst.max(max);
    println!("{:<38} {:>8} {:>10.3} {:>10.3}", "show one patient", 1, ms(median), ms(max));
    println!(
        "worst: {:.2} ms = {:.0}% of a 60 Hz frame ({})",
        ms(worst),
        100.0 * worst.as_secs_f64() / FRAME.as_secs_f64(),
        if worst < FRAME { "within one frame" } else { "SLOWER THAN A FRAME" }
    );
}

fn time(mut f: impl FnMut() -> usize) -> (usize, Duration, Duration) {
    let mut times = Vec::new();
    let mut out = 0;
    for _ in 0..31 {
        let t = Instant::now();
        out = std::hint::black_box(f());
        times.push(t.elapsed());
    }
    times.sort();
    (out, times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
