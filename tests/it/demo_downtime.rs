//! `demo --downtime` fills a whole synthetic downtime episode: pages of every returnable form at
//! every stage of the worklist, downtime IDs mapped, merged and left, charge lines, scanned
//! images filed by their barcodes — and a second run on the same database is refused cleanly.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{ADMIN, CLERK, run, run_as, stderr, stdout};
use serde_json::Value;

const DEMO: [&str; 7] = ["demo", "--beds", "60", "--downtime", "--as-of", "2026-11-22", "--json"];

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn worklist(db: &Path) -> Vec<Value> {
    let out = run_as(db, CLERK, &["worklist", "--json"]);
    json_of(&out)["items"].as_array().cloned().unwrap_or_default()
}

fn stages(items: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item["stage"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    counts
}

#[test]
fn the_downtime_demo_fills_every_stage_every_form_and_the_reconciliation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let demo = json_of(&run(&db, &DEMO));
    let episode = &demo["downtime_episode"];
    assert!(episode["charge_lines"].as_u64().unwrap() >= 300, "{episode}");
    assert!(episode["charge_slips"].as_u64().unwrap() > 0, "{episode}");
    assert!(episode["pages_scanned"].as_u64().unwrap() >= 10, "{episode}");

    let items = worklist(&db);
    let returnable: BTreeSet<String> = kamikarte::form::built_in()
        .into_iter()
        .filter(|f| matches!(f.layout, kamikarte::form::Layout::Page) && !f.fields.is_empty())
        .map(|f| f.id)
        .collect();
    assert_eq!(returnable.len(), 9, "{returnable:?}");
    let keyed: BTreeSet<String> = items
        .iter()
        .filter(|i| matches!(i["stage"].as_str(), Some("entered" | "verified")))
        .filter_map(|i| i["form_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(keyed, returnable, "every returnable form has a keyed page");
    let verified: BTreeSet<&str> =
        items.iter().filter(|i| i["stage"] == "verified").filter_map(|i| i["form_id"].as_str()).collect();
    assert_eq!(verified.len(), returnable.len(), "every form has a verified page too: {verified:?}");

    let counts = stages(&items);
    for stage in ["printed", "scanned", "entered", "verified"] {
        assert!(counts.get(stage).copied().unwrap_or(0) > 0, "no item at {stage}: {counts:?}");
    }
    assert_eq!(
        counts.iter().map(|(s, n)| (s.as_str(), *n)).collect::<BTreeMap<_, _>>(),
        episode["stages"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(s, n)| (s.as_str(), n.as_u64().unwrap() as usize))
            .collect(),
        "the summary counts what the worklist shows"
    );
    let notes: Vec<&str> = items.iter().filter_map(|i| i["note"].as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("mismatch")), "one double-entry mismatch: {notes:?}");
    assert!(notes.iter().any(|n| n.contains("waiting for verification")), "{notes:?}");
    assert!(
        items.iter().any(|i| i["stage"] == "verified" && i["scanned_page"].is_i64()),
        "pages keyed beside their scans"
    );
    assert!(
        items.iter().any(|i| i["stage"] == "verified" && i["scanned_page"].is_null()),
        "pages keyed from the paper in hand"
    );
    let keyers: BTreeSet<&str> = items.iter().filter_map(|i| i["entered_by"].as_str()).collect();
    assert_eq!(keyers, BTreeSet::from(["billing", "clerk"]), "the demo's back-entry users key");

    let out = run_as(&db, CLERK, &["reconcile", "list", "--json"]);
    let rows = json_of(&out);
    let rows = rows.as_array().unwrap();
    let mapped: Vec<&Value> = rows.iter().filter(|r| r["mrn"].is_string()).collect();
    let merged: Vec<&Value> = rows.iter().filter(|r| r["merged_into"].is_string()).collect();
    let unmapped = rows.iter().filter(|r| r["mrn"].is_null() && r["merged_into"].is_null()).count();
    assert!(mapped.len() >= 10 && unmapped >= 5, "{} mapped, {unmapped} unmapped", mapped.len());
    assert_eq!(merged.len(), 1, "one duplicate registration merged");
    assert_eq!(episode["mapped"].as_u64(), Some(mapped.len() as u64));
    assert_eq!(mapped.iter().filter(|r| r["override_reason"].is_string()).count(), 1, "one DOB override");
    // The EHR's new numbers never name a census patient.
    let census: BTreeSet<String> =
        common::list_json(&db).iter().filter_map(|p| p["id"].as_str().map(str::to_string)).collect();
    assert!(mapped.iter().all(|r| !census.contains(r["mrn"].as_str().unwrap())));

    // The kit was printed beside the database, and the scans are kept there as images.
    let pdfs = std::fs::read_dir(dir.path().join("k-demo-kit")).unwrap().count();
    assert!(pdfs > 0);
    let images: usize = std::fs::read_dir(dir.path().join("k-pages"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(images as u64, episode["pages_scanned"].as_u64().unwrap());

    let audit = run_as(&db, ADMIN, &["audit", "verify"]);
    assert!(audit.status.success(), "every step went through audited writes: {}", stderr(&audit));

    // The demo goes only into a fresh database: again, it is refused and changes nothing.
    let again = run_as(&db, ADMIN, &DEMO);
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));
    assert_eq!(stages(&worklist(&db)), counts, "the refused run added nothing");
}

#[test]
fn charges_without_the_downtime_episode_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&dir.path().join("k.sqlite"), &["demo", "--beds", "12", "--charges", "10"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--downtime"), "{}", stderr(&out));
}
