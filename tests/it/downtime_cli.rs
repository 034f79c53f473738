//! Running the downtime from the command line: episodes, blocks, registration (with its wristband
//! checked by zxing-cpp, a reader not written here) and the volume report.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{ADMIN, CLERK, demo_db, run_as, stderr, stdout};

const NURSE: (&str, &str) = ("nurse", "kamikarte-demo-nurse");

/// Code 128 texts zxing-cpp finds on the PDF's first page rendered at `dpi`.
fn zxing_codes(pdf: &Path, dpi: u32) -> Vec<String> {
    let dir = pdf.parent().unwrap();
    let stem = dir.join(format!("page-{dpi}"));
    let out = Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            stem.to_str().unwrap(),
        ])
        .output()
        .expect("pdftoppm is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/zxing_decode.py");
    let png = stem.with_extension("png");
    let out = Command::new("python3")
        .args([script.to_str().unwrap(), png.to_str().unwrap()])
        .output()
        .expect("python3 with zxing-cpp is needed: pip install zxing-cpp pillow");
    assert!(out.status.success(), "zxing-cpp: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.rsplit('\t').next().unwrap().to_string()).collect()
}

#[test]
fn an_episode_starts_changes_phase_takes_notes_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    // The demo runs a drill episode; end it to start a real one.
    let status = run_as(&db, CLERK, &["episode", "status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["running"], true, "the demo starts a drill so registration works out of the box");
    assert!(run_as(&db, CLERK, &["episode", "end"]).status.success());
    let again = run_as(&db, CLERK, &["episode", "end"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("no downtime episode is running"), "{}", stderr(&again));

    assert!(run_as(&db, CLERK, &["episode", "start", "--reason", "ransomware"]).status.success());
    let twice = run_as(&db, CLERK, &["episode", "start", "--reason", "again"]);
    assert!(stderr(&twice).contains("still running"), "{}", stderr(&twice));
    assert!(run_as(&db, CLERK, &["episode", "phase", "3"]).status.success());
    let bad = run_as(&db, CLERK, &["episode", "phase", "5"]);
    assert_eq!(bad.status.code(), Some(2), "a phase outside 1–4 is a usage error");
    assert!(run_as(&db, CLERK, &["episode", "note", "lab on paper since 10:00"]).status.success());
    let nurse = run_as(&db, NURSE, &["episode", "end"]);
    assert!(
        stderr(&nurse).contains("not allowed") || stderr(&nurse).contains("may not"),
        "{}",
        stderr(&nurse)
    );

    let status = run_as(&db, NURSE, &["episode", "status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["episode"]["phase"], 3);
    assert_eq!(json["episode"]["reason"], "ransomware");
    assert_eq!(json["notes"][0]["text"], "lab on paper since 10:00");
    let audit = run_as(&db, ADMIN, &["audit", "verify"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
}

#[test]
fn a_registered_patient_gets_the_next_downtime_id_and_a_wristband_zxing_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let bands = dir.path().join("bands");
    let out = run_as(
        &db,
        NURSE,
        &[
            "register",
            "--kana",
            "ｻﾄｳ ﾐﾂｺ",
            "--dob",
            "1948-03-09",
            "--sex",
            "F",
            "--wristband",
            bands.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = json["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("DT100000"), "{id}");
    assert_eq!(json["patient"]["kana"], "サトウ　ミツコ");
    assert_eq!(json["patient"]["blood_type"], "unknown", "never guessed");
    assert_eq!(json["outpatient"], true);
    let band = Path::new(json["wristband"].as_str().unwrap());
    for dpi in [200, 300] {
        assert_eq!(zxing_codes(band, dpi), vec![id.clone()], "wristband at {dpi} dpi");
    }

    // An unconscious patient: no name, sex and apparent age only; the next ID.
    let out = run_as(&db, CLERK, &["register", "--unknown", "--sex", "M", "--age", "50", "--ward", "ICU"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = stdout(&out).trim().to_string();
    assert!(second.starts_with("DT100001"), "{second}");
    let list = run_as(&db, ADMIN, &["census", "list", "--ward", "ICU", "--json"]);
    let patients: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    let p = patients.iter().find(|p| p["id"] == second.as_str()).expect("registered into ICU");
    assert_eq!(p["kana"], format!("ミモトフメイ　{second}"));

    // Billing may not register.
    let billing = run_as(
        &db,
        ("billing", "kamikarte-demo-billing"),
        &["register", "--unknown", "--sex", "U", "--age", "30"],
    );
    assert_eq!(billing.status.code(), Some(1));
}

/// The katakana without its voiced mark (ガ → カ), for the kana that have one.
fn unvoiced(c: char) -> Option<char> {
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ";
    const PLAIN: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
    VOICED.chars().position(|v| v == c).and_then(|i| PLAIN.chars().nth(i))
}

#[test]
fn a_similar_reading_in_the_census_is_warned_with_both_identities() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let list = run_as(&db, ADMIN, &["census", "list", "--json"]);
    let patients: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    // The same reading typed in hiragana, with one voiced mark dropped (ガ → か): a near match.
    let known = patients
        .iter()
        .find(|p| p["kana"].as_str().unwrap().chars().any(|c| unvoiced(c).is_some()))
        .expect("a demo name with a voiced kana");
    let kana: String = {
        let mut dropped = false;
        known["kana"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| match unvoiced(c) {
                Some(u) if !dropped => {
                    dropped = true;
                    u
                }
                _ => c,
            })
            .map(|c| if ('ァ'..='ヶ').contains(&c) { char::from_u32(c as u32 - 0x60).unwrap() } else { c })
            .collect()
    };
    let out = run_as(&db, CLERK, &["register", "--kana", &kana, "--dob", "1990-01-01", "--sex", "U"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warning = stderr(&out);
    assert!(
        warning.contains("similar reading") && warning.contains(known["id"].as_str().unwrap()),
        "{warning}"
    );
}

#[test]
fn blocks_refuse_overlap_and_the_last_id_works_then_registration_stops_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let overlap = run_as(
        &db,
        ADMIN,
        &["block", "add", "--prefix", "DT", "--from", "100900", "--to", "101900", "--station", "B"],
    );
    assert_eq!(overlap.status.code(), Some(1));
    assert!(
        stderr(&overlap).contains("overlaps block DT100000–DT100999 of station A"),
        "{}",
        stderr(&overlap)
    );
    let clerk_adds = run_as(&db, CLERK, &["block", "add", "--prefix", "TZ", "--from", "1", "--to", "3"]);
    assert_eq!(clerk_adds.status.code(), Some(1), "only an administrator adds blocks");

    // Station A has a block: its code cannot change (its paper would carry the wrong one).
    let renamed = run_as(&db, ADMIN, &["config", "set", "station.code", "B"]);
    assert!(stderr(&renamed).contains("cannot change"), "{}", stderr(&renamed));

    // Station B, a PC of its own, gets a block of three IDs.
    let db = dir.path().join("b.sqlite");
    let (b_admin, b_clerk) =
        (("b-admin", "station b administrator passphrase"), ("b-clerk", "station b clerk passphrase 2026"));
    let first = common::command(&db)
        .env("KAMIKARTE_NEW_PASSWORD", b_admin.1)
        .args(["user", "add", b_admin.0, "--role", "admin"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let clerk = common::command(&db)
        .env("KAMIKARTE_USER", b_admin.0)
        .env("KAMIKARTE_PASSWORD", b_admin.1)
        .env("KAMIKARTE_NEW_PASSWORD", b_clerk.1)
        .args(["user", "add", b_clerk.0, "--role", "clerk"])
        .output()
        .unwrap();
    assert!(clerk.status.success(), "{}", stderr(&clerk));
    for args in [
        &["station", "set", "B"][..],
        &["block", "add", "--prefix", "TZ", "--from", "1", "--to", "3"],
        &["episode", "start", "--reason", "drill", "--phase", "2"],
    ] {
        let out = run_as(&db, b_admin, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let mut ids = Vec::new();
    for i in 0..3 {
        let out = run_as(&db, b_clerk, &["register", "--unknown", "--sex", "F", "--age", "20"]);
        assert!(out.status.success(), "registration {i}: {}", stderr(&out));
        ids.push(stdout(&out).trim().to_string());
        let warning = stderr(&out);
        match i {
            0 => assert!(!warning.contains("left"), "two of three left is no warning yet: {warning}"),
            1 => assert!(
                warning.contains("1 downtime ID left (block TZ1–TZ3)"),
                "warned at the last ID: {warning}"
            ),
            _ => assert!(warning.contains("no downtime IDs left"), "{warning}"),
        }
    }
    assert!(ids[2].starts_with("TZ3"), "the block's last ID is used: {ids:?}");
    let full = run_as(&db, b_clerk, &["register", "--unknown", "--sex", "F", "--age", "20"]);
    assert_eq!(full.status.code(), Some(1));
    assert!(stderr(&full).contains("used up") && stderr(&full).contains("TZ1–TZ3"), "{}", stderr(&full));

    let list = run_as(&db, b_clerk, &["block", "list", "--json"]);
    let blocks: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    let tz = blocks.iter().find(|b| b["prefix"] == "TZ").unwrap();
    assert_eq!((tz["remaining"].as_u64(), tz["running_low"].as_bool()), (Some(0), Some(true)));

    // A mistyped downtime ID is refused where an ID is typed: one wrong digit.
    let typo = format!("TZ2{}", if ids[1].ends_with('0') { '1' } else { '0' });
    let kit =
        run_as(&db, b_clerk, &["kit", "--out", dir.path().join("kit").to_str().unwrap(), "--patient", &typo]);
    assert_eq!(kit.status.code(), Some(1));
    assert!(stderr(&kit).contains("check character"), "{}", stderr(&kit));
}

#[test]
fn the_demo_downtime_history_fills_the_volume_monitor_and_keeps_the_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let out = common::run(&db, &["demo", "--beds", "45", "--downtime", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["downtime_history"]["orders"].as_u64().unwrap() > 1000, "{json}");
    let volume = run_as(&db, CLERK, &["volume", "--days", "10", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&volume.stdout).unwrap();
    assert_eq!(report["days"].as_array().unwrap().len(), 10);
    let over = report["over"].as_array().unwrap();
    assert!(!over.is_empty() && over.iter().all(|o| o["category"] == "lab_outpatient"), "{over:?}");
    let audit = run_as(&db, ADMIN, &["audit", "verify"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let again = run_as(&db, ADMIN, &["demo", "--beds", "45", "--downtime"]);
    assert_eq!(again.status.code(), Some(1), "the history goes only into a fresh demo");
}
