//! Accounts, roles, lockout, audit and backups, through the binary as IT staff and scripts use it.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{ADMIN, BILLING, CLERK, command, demo_db, list_json, run, run_as, stderr, stdout};

#[test]
fn a_fresh_database_asks_for_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let out = run(&db, &["census", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("create the first administrator"), "{}", stderr(&out));
    let clerk_first = command(&db)
        .args(["user", "add", "ito", "--role", "clerk"])
        .env("KAMIKARTE_NEW_PASSWORD", "ten-chars!x")
        .output()
        .unwrap();
    assert_eq!(clerk_first.status.code(), Some(1));
    assert!(stderr(&clerk_first).contains("first user must be an administrator"));
    let short = command(&db)
        .args(["user", "add", "sato", "--role", "admin"])
        .env("KAMIKARTE_NEW_PASSWORD", "fifteen-chars!!")
        .output()
        .unwrap();
    assert!(stderr(&short).contains("at least 16"), "{}", stderr(&short));
}

#[test]
fn login_exits_0_for_the_right_password_and_1_with_the_reason_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let ok = command(&db)
        .args(["login", "nurse"])
        .env("KAMIKARTE_PASSWORD", "kamikarte-demo-nurse")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = command(&db).args(["login", "nurse"]).env("KAMIKARTE_PASSWORD", "guess").output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("wrong user name or password"), "{}", stderr(&bad));
}

#[test]
fn five_failed_logins_lock_the_account_and_an_admin_can_unlock_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    for _ in 0..5 {
        let out = command(&db).args(["login", "clerk"]).env("KAMIKARTE_PASSWORD", "wrong").output().unwrap();
        assert_eq!(out.status.code(), Some(1));
    }
    let locked = run_as(&db, CLERK, &["census", "list"]);
    assert_eq!(locked.status.code(), Some(1));
    assert!(stderr(&locked).contains("is locked until"), "{}", stderr(&locked));
    let users = run_as(&db, ADMIN, &["user", "list", "--json"]);
    let users: Vec<serde_json::Value> = serde_json::from_slice(&users.stdout).unwrap();
    assert!(users.iter().any(|u| u["name"] == "clerk" && u["locked_until"].is_string()));
    assert!(run_as(&db, ADMIN, &["user", "unlock", "clerk"]).status.success());
    assert!(run_as(&db, CLERK, &["census", "list"]).status.success());
}

#[test]
fn a_clerk_cannot_export_or_manage_users_but_billing_can_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let out_csv = dir.path().join("out.csv");
    let export = run_as(&db, CLERK, &["census", "export", out_csv.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(1));
    assert!(stderr(&export).contains("user 'clerk' (clerk) may not export data"), "{}", stderr(&export));
    assert!(!out_csv.exists());
    let add = command(&db)
        .args(["user", "add", "mallory", "--role", "admin"])
        .env("KAMIKARTE_USER", CLERK.0)
        .env("KAMIKARTE_PASSWORD", CLERK.1)
        .env("KAMIKARTE_NEW_PASSWORD", "a passphrase of some length")
        .output()
        .unwrap();
    assert_eq!(add.status.code(), Some(1));
    assert!(stderr(&add).contains("may not manage users"), "{}", stderr(&add));
    assert!(run_as(&db, BILLING, &["census", "export", out_csv.to_str().unwrap()]).status.success());
    assert!(run_as(&db, CLERK, &["config", "set", "lockout.max_failures", "50"]).status.code() == Some(1));
}

#[test]
fn an_edited_audit_row_is_named_by_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    assert!(run_as(&db, ADMIN, &["audit", "verify"]).status.success());
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_is_append_only_update;
             UPDATE audit SET actor = 'someone-else' WHERE seq = 7;",
        )
        .unwrap();
    }
    let out = run_as(&db, ADMIN, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken at entry 7"), "{}", stderr(&out));
}

/// A census big enough that importing it takes a while in a debug build.
fn big_census(dir: &std::path::Path, beds: &str) -> (std::path::PathBuf, usize) {
    let source = demo_db(&dir.join("source"), beds);
    let csv = dir.join("big.csv");
    let out = run_as(&source, ADMIN, &["census", "export", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    (csv, list_json(&source).len())
}

#[test]
fn a_backup_taken_during_a_running_import_restores_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("source")).unwrap();
    let (csv, rows) = big_census(dir.path(), "40000");
    let db = dir.path().join("live.sqlite");
    let out = command(&db)
        .args(["user", "add", "boss", "--role", "admin"])
        .env("KAMIKARTE_NEW_PASSWORD", "a passphrase of some length")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let boss = ("boss", "a passphrase of some length");

    let mut import = command(&db)
        .args(["census", "import", csv.to_str().unwrap()])
        .env("KAMIKARTE_USER", boss.0)
        .env("KAMIKARTE_PASSWORD", boss.1)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let backup = dir.path().join("during.sqlite");
    let started = Instant::now();
    let out = run_as(&db, boss, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let import_still_running = import.try_wait().unwrap().is_none();
    let status = import.wait().unwrap();
    assert!(status.success());
    assert!(
        import_still_running,
        "the backup ran while the import was still going ({:?})",
        started.elapsed()
    );

    let out = run_as(&db, boss, &["backup", "verify", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let restored = dir.path().join("restored.sqlite");
    let out = run_as(&restored, boss, &["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_as(&restored, boss, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The backup holds the census as it was before the import committed: none of it, never half.
    let n = run_as(&restored, boss, &["census", "list", "--json"]);
    let n: Vec<serde_json::Value> = serde_json::from_slice(&n.stdout).unwrap();
    assert!(n.is_empty() || n.len() == rows, "{} of {rows}", n.len());

    // Restoring over the live database keeps the replaced one beside it.
    let out = run_as(&db, boss, &["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kept as"), "{}", stdout(&out));
}
