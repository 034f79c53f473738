//! Killing the program in the middle of a census import loses nothing committed and duplicates
//! nothing: each kill leaves the census as it was before or after, never half.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use common::{ADMIN, command, copy_db, demo_db, run_as, stderr};

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn audit_intact(db: &Path) -> bool {
    let store = kamikarte::store::Store::open(db).unwrap();
    store.verify_audit().unwrap().first_broken.is_none()
}

#[test]
fn killing_a_census_import_at_any_moment_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("source")).unwrap();
    let source = demo_db(&dir.path().join("source"), "30000");
    let csv = dir.path().join("census.csv");
    assert!(run_as(&source, ADMIN, &["census", "export", csv.to_str().unwrap()]).status.success());
    let rows = count(&source, "SELECT COUNT(*) FROM patients") as usize;

    // The target: a demo database of 45 beds, so the import updates, inserts and discharges.
    let db = demo_db(dir.path(), "45");
    // A real administrator: a real census switches the demo's public accounts off.
    let boss = ("boss", "Kaminari-Inazuma-Arashi-7");
    let out = command(&db)
        .args(["user", "add", boss.0, "--role", "admin"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .env("KAMIKARTE_NEW_PASSWORD", boss.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let before = count(&db, "SELECT COUNT(*) FROM patients");
    let import = || {
        let mut c = command(&db);
        c.args(["census", "import", csv.to_str().unwrap()])
            .env("KAMIKARTE_USER", boss.0)
            .env("KAMIKARTE_PASSWORD", boss.1)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };

    // How long a whole import takes here, measured on a copy.
    let probe = dir.path().join("probe.sqlite");
    copy_db(&db, &probe);
    let t = Instant::now();
    let out = command(&probe)
        .args(["census", "import", csv.to_str().unwrap()])
        .env("KAMIKARTE_USER", boss.0)
        .env("KAMIKARTE_PASSWORD", boss.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let full = t.elapsed();

    let mut killed_mid_import = 0;
    let mut committed_before_kill = false;
    for fraction in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95] {
        let mut child = import().spawn().unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        let _ = child.wait();
        if running {
            killed_mid_import += 1;
        }
        let patients = count(&db, "SELECT COUNT(*) FROM patients");
        let admitted = count(&db, "SELECT COUNT(*) FROM patients WHERE status = 'admitted'") as usize;
        assert!(
            (patients == before && admitted == before as usize) || admitted == rows,
            "after a kill at {fraction}: {patients} patients, {admitted} admitted (before {before}, file {rows})"
        );
        assert!(audit_intact(&db), "audit chain intact after a kill at {fraction}");
        if admitted == rows {
            committed_before_kill = true;
            break;
        }
    }
    assert!(killed_mid_import > 0, "at least one kill landed during the import (full run {full:?})");

    let out = import().output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM patients WHERE status = 'admitted'") as usize, rows);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT id) FROM patients"),
        count(&db, "SELECT COUNT(*) FROM patients")
    );
    let inserts = count(&db, "SELECT COUNT(*) FROM audit WHERE entity = 'patient' AND action = 'insert'");
    assert_eq!(
        inserts,
        count(&db, "SELECT COUNT(*) FROM patients"),
        "one insert entry per patient, none duplicated"
    );
    assert!(audit_intact(&db));
    let imports = count(&db, "SELECT COUNT(*) FROM census_imports WHERE file = 'census.csv'");
    let expected = if committed_before_kill { 2 } else { 1 };
    assert_eq!(imports, expected, "each committed import is logged once, killed ones not at all");
}
