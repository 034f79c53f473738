//! The command-line contract scripts rely on: exit codes, JSON shapes, determinism.

use crate::common;

use std::path::Path;

use common::{ADMIN, demo_db, list_json, run, run_as, stderr, stdout};

#[test]
fn demo_then_census_list_json_gives_about_650_inpatients_across_wards() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "865");
    let patients = list_json(&db);
    assert!((600..=700).contains(&patients.len()), "{}", patients.len());
    let wards: std::collections::BTreeSet<&str> =
        patients.iter().map(|p| p["ward"].as_str().unwrap()).collect();
    assert!(wards.len() >= 20 && wards.contains("ICU") && wards.contains("NICU"), "{wards:?}");
    for key in ["id", "name", "kana", "dob", "sex", "blood_type", "ward", "bed"] {
        assert!(patients.iter().all(|p| p[key].is_string()), "{key}");
    }
    let dob = patients[0]["dob"].as_str().unwrap();
    assert!(chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").is_ok(), "{dob}");
    assert!(patients.iter().any(|p| p["blood_type"] == "unknown"));

    let icu = run_as(&db, ADMIN, &["census", "list", "--ward", "ICU", "--json"]);
    let icu: Vec<serde_json::Value> = serde_json::from_slice(&icu.stdout).unwrap();
    assert!(!icu.is_empty() && icu.iter().all(|p| p["ward"] == "ICU"));
}

#[test]
fn the_same_seed_gives_the_same_hospital() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"), dir.path().join("c.sqlite"));
    for (db, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let out = run(db, &["demo", "--beds", "300", "--seed", seed, "--as-of", "2026-11-22"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(list_json(&a), list_json(&b));
    assert_ne!(list_json(&a), list_json(&c));
}

#[test]
fn a_rejected_import_exits_1_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let before = list_json(&db);
    let csv = dir.path().join("census.csv");
    std::fs::write(
        &csv,
        "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟\n1,山田 花子,ヤマダ ハナコ,1950-02-30,F,A+,5E\n",
    )
    .unwrap();
    let out = run_as(&db, ADMIN, &["census", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("census.csv:2: column 生年月日 '1950-02-30'"), "{err}");
    assert!(err.contains("rejected, nothing imported"), "{err}");
    assert_eq!(list_json(&db), before);

    let out = run_as(&db, ADMIN, &["census", "import", csv.to_str().unwrap(), "--skip-invalid"]);
    assert_eq!(out.status.code(), Some(1), "a file with no valid row never empties the census");
    assert!(stderr(&out).contains("would discharge all"), "{}", stderr(&out));
}

#[test]
fn a_missing_file_exits_1_and_a_usage_error_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let out = run_as(&db, ADMIN, &["census", "import", "/no/such/census.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read /no/such/census.csv"), "{}", stderr(&out));
    assert_eq!(run(&db, &["census", "import"]).status.code(), Some(2));
    assert_eq!(run(&db, &["census", "frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&db, &["census", "import", "x.csv", "--encoding", "latin1"]).status.code(), Some(2));
}

#[test]
fn import_json_reports_counts_and_makes_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let admin = ("boss", "a passphrase of some length");
    let out = common::command(&db)
        .args(["user", "add", admin.0, "--role", "admin"])
        .env("KAMIKARTE_NEW_PASSWORD", admin.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "the first admin needs no login: {}", stderr(&out));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-census.csv");
    let out = run_as(&db, admin, &["census", "import", sample.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["applied"]["inserted"], 90);
    assert_eq!(report["encoding"], "UTF-8");
    let backup = report["backup"].as_str().expect("an import ends with an automatic backup");
    assert!(Path::new(backup).starts_with(dir.path().join("backups")));
    let out = run_as(&db, admin, &["backup", "verify", backup]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("90 patients"));

    let demo = run_as(&db, admin, &["demo"]);
    assert_eq!(demo.status.code(), Some(1), "the demo never mixes with real accounts and patients");
    assert!(stderr(&demo).contains("public passwords"), "{}", stderr(&demo));
}
