//! After recovery many billing clerks key at once (issue 18): ten clerks key charge slips against
//! one hub database, each on its own connection, under double entry — every slip keyed first by
//! one clerk and then again by another, through the real rules (`keying::plan` decides, the
//! store checks inside the save's transaction) — while twenty readers load the worklist. It
//! measures throughput and the latency of one save (plan + save: p50, p95, max), then checks that
//! no keying was lost or made twice: every slip has exactly its two keyings and is verified.
//!
//! Either hub: SQLite (one file, WAL, writers taking turns through the busy handler), or
//! PostgreSQL (each clerk a connection of its own; writers take turns through one advisory lock,
//! readers never wait). Run with `cargo bench --bench hub_concurrency` for SQLite, and with
//! `-- postgres` for a new database on the server KAMIKARTE_TEST_POSTGRES names
//! (`eval "$(scripts/pg.sh start)"` starts one); `-- LINES` for another amount of charge lines.
//! Figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kamikarte::auth::{AccountRequest, add_user, login};
use kamikarte::demo::{ChargeOptions, DemoOptions, load_demo, printed_slips};
use kamikarte::domain::Role;
use kamikarte::entry::keying;
use kamikarte::entry::worklist::worklist;
use kamikarte::store::{Actor, EntryState, Store};

const CLERKS: usize = 10;
const READERS: usize = 20;

fn clerk(i: usize) -> (String, String) {
    (format!("billing-{i:02}"), format!("hub benchmark billing clerk {i:02} {}", i * 7919 + 104_729))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let lines: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3000);
    let postgres = std::env::args().any(|a| a == "postgres");
    // `readers=N`: how many load the worklist meanwhile (20 by default).
    let readers_wanted: usize = std::env::args()
        .find_map(|a| a.strip_prefix("readers=").and_then(|n| n.parse().ok()))
        .unwrap_or(READERS);
    // `pace=MS`: each reader waits this long between loads (1000 by default: a clerk's screen
    // refreshing every second); `pace=0` loads in a tight loop, which only measures a saturated
    // machine.
    let pace = Duration::from_millis(
        std::env::args().find_map(|a| a.strip_prefix("pace=").and_then(|n| n.parse().ok())).unwrap_or(1000),
    );
    let dir = tempfile::tempdir().unwrap();
    let (db, engine) = if postgres {
        let server = std::env::var("KAMIKARTE_TEST_POSTGRES").expect(
            "`-- postgres` needs a server: eval \"$(scripts/pg.sh start)\" sets KAMIKARTE_TEST_POSTGRES",
        );
        // The hub's key file goes with the benchmark, not into this PC's data folder.
        kamikarte::store::use_hub_dir(dir.path());
        let address = kamikarte::store::new_postgres_database(&server, "kk_bench").unwrap();
        (std::path::PathBuf::from(address), "PostgreSQL")
    } else {
        (dir.path().join("hub.sqlite"), "SQLite, WAL")
    };
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let slips = {
        let mut store = Store::open(&db).unwrap();
        let admin = common::session(&mut store, Role::Admin);
        let setup = Actor("bench-admin".into());
        load_demo(&mut store, &setup, &DemoOptions { beds: 865, seed: 1, as_of }, &mut |_, _| {}).unwrap();
        kamikarte::auth::ensure_demo_users(&mut store, &setup).unwrap();
        kamikarte::entry::masters::load_samples(&mut store, &admin).unwrap();
        store.set_setting(&admin.actor(), "entry.double_entry_charges", "on").unwrap();
        for i in 0..CLERKS {
            let (name, password) = clerk(i);
            add_user(
                &mut store,
                Some(&admin),
                &AccountRequest { name: &name, role: Role::Billing, password: &password, card: None },
            )
            .unwrap();
        }
        let options = ChargeOptions { lines, last_day: as_of, ..ChargeOptions::default() };
        Arc::new(printed_slips(&mut store, &options).unwrap())
    };
    let total_slips = slips.slips.len();
    println!(
        "hub ({engine}): {total_slips} charge slips ({lines} lines) printed; {CLERKS} clerks key, {readers_wanted} read the worklist (every {} ms)",
        pace.as_millis()
    );

    // Two rounds: every clerk keys its share first; then each keys its neighbour's share again.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..readers_wanted)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let store = Store::open(&db).unwrap();
                let forms = kamikarte::form::load(None).unwrap();
                let mut times = Vec::new();
                // Readers do not all refresh at the same moment.
                std::thread::sleep(Duration::from_millis(fastrand::u64(0..=pace.as_millis() as u64)));
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let items = worklist(&store, &forms, None).unwrap();
                    times.push(t.elapsed());
                    assert!(!items.is_empty());
                    let waited = Instant::now();
                    while waited.elapsed() < pace && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    let started = Instant::now();
    for round in 0..2 {
        let barrier = Arc::new(Barrier::new(CLERKS));
        let round_started = Instant::now();
        let clerks: Vec<_> = (0..CLERKS)
            .map(|i| {
                let (db, slips, barrier) = (db.clone(), slips.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut store = Store::open(&db).unwrap();
                    let (name, password) = clerk(i);
                    let session = login(&mut store, &name, &password, chrono::Utc::now()).unwrap();
                    // Round 0: slips i, i+10, …; round 1: the share of clerk i-1.
                    let share = (i + CLERKS - round) % CLERKS;
                    barrier.wait();
                    let mut times = Vec::new();
                    for (sheet, values, _) in slips.slips.iter().skip(share).step_by(CLERKS) {
                        let t = Instant::now();
                        let plan = keying::plan(&store, sheet, &session).unwrap();
                        match (&plan, round) {
                            (keying::Plan::First { double: true }, 0) | (keying::Plan::Second { .. }, 1) => {}
                            other => panic!("round {round}: unexpected plan {:?}", other.1),
                        }
                        keying::save(&mut store, &session, sheet, values, &plan).unwrap();
                        times.push(t.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut times: Vec<Duration> = clerks.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let took = round_started.elapsed();
        times.sort();
        println!(
            "{}: {} saves in {:.1} s = {:.0} saves/s; save latency p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            if round == 0 { "first keyings " } else { "second keyings" },
            times.len(),
            took.as_secs_f64(),
            times.len() as f64 / took.as_secs_f64(),
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 1.0)
        );
        all.extend(times);
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut reads: Vec<Duration> = readers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    reads.sort();
    all.sort();
    println!(
        "all: {} saves in {:.1} s = {:.0} saves/s, p95 {:.1} ms; worklist loads: {} (p50 {:.0} ms, p95 {:.0} ms)",
        all.len(),
        took.as_secs_f64(),
        all.len() as f64 / took.as_secs_f64(),
        percentile(&all, 0.95),
        reads.len(),
        percentile(&reads, 0.5),
        percentile(&reads, 0.95)
    );

    // Nothing lost, nothing twice: every keying ever saved, grouped by slip — each slip has one
    // first and one second keying, by two clerks, and its live entry is the verified second.
    let store = Store::open(&db).unwrap();
    let mut by_item: std::collections::HashMap<String, Vec<kamikarte::store::EntryRecord>> =
        Default::default();
    let mut id = 1;
    while let Some(e) = store.entry(id).unwrap() {
        by_item.entry(format!("{:?}", e.item)).or_default().push(e);
        id += 1;
    }
    assert_eq!(by_item.len(), total_slips, "every slip keyed");
    for (sheet, _, _) in &slips.slips {
        let keyings = &by_item[&format!("{:?}", sheet.item)];
        assert_eq!(keyings.iter().map(|e| e.pass).collect::<Vec<_>>(), [1, 2], "{keyings:?}");
        assert_ne!(keyings[0].entered_by, keyings[1].entered_by, "two clerks");
        let live = store.live_entries(&sheet.item).unwrap();
        assert!(live.len() == 1 && live[0].pass == 2 && live[0].state == EntryState::Verified, "{live:?}");
    }
    println!(
        "checked: {total_slips} slips, each keyed once by one clerk and once by another, verified; none lost, none twice"
    );
}
