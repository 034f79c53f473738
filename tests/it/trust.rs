//! The trust layer tried as an attacker with a shell on the PC would, and as a busy ward would
//! (issue 14): each test fails on the kamikarte before it and passes after.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{ADMIN, CLERK, command, demo_db, run, run_as, stderr, stdout};

const BOSS: (&str, &str) = ("boss", "Kaminari-Inazuma-Arashi-7");

/// A demo database with a real administrator (which switches the demo accounts off).
fn with_real_admin(dir: &Path, beds: &str) -> PathBuf {
    let db = demo_db(dir, beds);
    let out = command(&db)
        .args(["user", "add", BOSS.0, "--role", "admin"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .env("KAMIKARTE_NEW_PASSWORD", BOSS.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("switched off"), "the app says so: {}", stdout(&out));
    db
}

fn sql(db: &Path, statements: &str) {
    rusqlite::Connection::open(db).unwrap().execute_batch(statements).unwrap();
}

fn count(db: &Path, query: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(query, [], |r| r.get(0)).unwrap()
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Everything a restore would replace: patients and accounts (a refused attempt still adds its
/// own audit entries, as it should).
fn contents(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    let q = |sql: &str| -> String {
        conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default()
    };
    q("SELECT group_concat(id || name || kana || dob || ward, '|') FROM (SELECT * FROM patients ORDER BY id)")
        + &q(
            "SELECT group_concat(name || role || password_hash, '|') FROM (SELECT * FROM users ORDER BY name)",
        )
}

// 1. Restore without a login.

#[test]
fn restoring_a_home_made_database_needs_the_live_admin_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = with_real_admin(&dir.path().join("live"), "45");
    let before = contents(&live);
    // Someone's own database, with an administrator of their own.
    let home = demo_db(&dir.path().join("home"), "45");

    let no_user = run(&live, &["restore", home.to_str().unwrap()]);
    assert_eq!(no_user.status.code(), Some(1));
    assert!(stderr(&no_user).contains("administrator of the live database"), "{}", stderr(&no_user));

    let their_admin = run_as(&live, ADMIN, &["restore", home.to_str().unwrap()]);
    assert_eq!(
        their_admin.status.code(),
        Some(1),
        "the home-made admin is not an admin of the live database"
    );

    let ours = run_as(&live, BOSS, &["restore", home.to_str().unwrap()]);
    assert_eq!(ours.status.code(), Some(1));
    assert!(stderr(&ours).contains("another database"), "sealed with another key: {}", stderr(&ours));
    assert!(contents(&live) == before, "the live database's patients and accounts are untouched");

    // A backup of the live database restores, and both databases record it.
    let backup = dir.path().join("b.sqlite");
    assert!(run_as(&live, BOSS, &["backup", "--out", backup.to_str().unwrap()]).status.success());
    let out = run_as(&live, BOSS, &["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&live, "SELECT COUNT(*) FROM audit WHERE action = 'restore' AND actor = 'boss'"), 1);
    let kept = std::fs::read_dir(dir.path().join("live"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains("pre-restore") && p.extension().is_some_and(|e| e == "sqlite"))
        .expect("the replaced database is kept");
    assert_eq!(count(&kept, "SELECT COUNT(*) FROM audit WHERE action = 'replaced_by_restore'"), 1);
    assert!(run_as(&live, BOSS, &["audit", "verify"]).status.success(), "the anchor moved with the restore");
}

#[test]
fn a_backup_whose_accounts_differ_is_restored_only_when_the_admin_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let live = with_real_admin(dir.path(), "45");
    let backup = dir.path().join("before-ito.sqlite");
    assert!(run_as(&live, BOSS, &["backup", "--out", backup.to_str().unwrap()]).status.success());
    let out = command(&live)
        .args(["user", "add", "ito", "--role", "clerk"])
        .env("KAMIKARTE_USER", BOSS.0)
        .env("KAMIKARTE_PASSWORD", BOSS.1)
        .env("KAMIKARTE_NEW_PASSWORD", "Kaede-Momiji-Ichou-7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let refused = run_as(&live, BOSS, &["restore", backup.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("'ito' (clerk) is not in the backup"), "{}", stderr(&refused));
    let out = run_as(&live, BOSS, &["restore", backup.to_str().unwrap(), "--accounts-differ"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// 2. A tamper-evident audit.

#[test]
fn deleting_the_newest_500_entries_is_named_by_audit_verify_and_backup_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "865");
    let backup = dir.path().join("b.sqlite");
    assert!(run_as(&db, BOSS, &["backup", "--out", backup.to_str().unwrap()]).status.success());
    let last = count(&db, "SELECT MAX(seq) FROM audit");
    assert!(last > 600, "{last} entries");
    for file in [&db, &backup] {
        sql(
            file,
            &format!(
                "DROP TRIGGER audit_is_append_only_delete; DELETE FROM audit WHERE seq > {};",
                count(file, "SELECT MAX(seq) FROM audit") - 500
            ),
        );
    }
    let out = run_as(&db, BOSS, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("are missing") && stderr(&out).contains("newest entries were deleted"),
        "{}",
        stderr(&out)
    );
    let out = run_as(&db, BOSS, &["backup", "verify", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("are missing"), "{}", stderr(&out));
}

#[test]
fn deleting_every_entry_or_recomputing_the_chain_without_the_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "45");
    let copy = dir.path().join("copy.sqlite");
    common::copy_db(&db, &copy);
    sql(&db, "DROP TRIGGER audit_is_append_only_delete; DELETE FROM audit;");
    let out = run_as(&db, BOSS, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));

    // An entry edited and the chain recomputed as the unkeyed SHA-256 chain would have it.
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_is_append_only_update; UPDATE audit SET actor = 'someone-else' WHERE seq = 7;",
    )
    .unwrap();
    let rows: Vec<(i64, Vec<String>)> = {
        let mut stmt = conn
            .prepare(
                "SELECT seq, at, actor, action, entity, entity_id, before, after FROM audit ORDER BY seq",
            )
            .unwrap();
        stmt.query_map([], |r| {
            let seq: i64 = r.get(0)?;
            let mut f = vec![seq.to_string()];
            for i in 1..=5 {
                f.push(r.get(i)?);
            }
            for i in 6..=7 {
                f.push(r.get::<_, Option<String>>(i)?.unwrap_or_else(|| "\u{0}null".into()));
            }
            Ok((seq, f))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let mut prev = "0".repeat(64);
    for (seq, fields) in rows {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for f in std::iter::once(prev.as_str()).chain(fields.iter().map(String::as_str)) {
            h.update(f.as_bytes());
            h.update([0x1f]);
        }
        let hash = hex::encode(h.finalize());
        conn.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
    drop(conn);
    let out = run_as(&copy, BOSS, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken at entry 1"), "{}", stderr(&out));
}

#[test]
fn a_role_raised_in_the_file_is_refused_at_login_and_named_by_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "45");
    let out = command(&db)
        .args(["user", "add", "ito", "--role", "clerk"])
        .env("KAMIKARTE_USER", BOSS.0)
        .env("KAMIKARTE_PASSWORD", BOSS.1)
        .env("KAMIKARTE_NEW_PASSWORD", "Kaede-Momiji-Ichou-7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ito = ("ito", "Kaede-Momiji-Ichou-7");
    sql(&db, "UPDATE users SET role = 'admin' WHERE name = 'ito'");
    let out = run_as(&db, ito, &["user", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("changed outside kamikarte"), "{}", stderr(&out));
    let out = run_as(&db, BOSS, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("account 'ito' (role admin) was changed outside kamikarte"),
        "{}",
        stderr(&out)
    );
    // A setting relaxed in the file is refused where it is read.
    assert!(run_as(&db, BOSS, &["config", "set", "lockout.max_failures", "5"]).status.success());
    sql(&db, "UPDATE meta SET value = '100' WHERE key = 'setting.lockout.max_failures'");
    let out = run_as(&db, BOSS, &["census", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("written outside kamikarte"), "{}", stderr(&out));
}

// 3. Lockout that cannot be raced.

#[test]
fn forty_parallel_wrong_logins_record_exactly_five_failures_before_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let children: Vec<std::process::Child> = (0..40)
        .map(|_| {
            command(&db)
                .args(["login", "clerk"])
                .env("KAMIKARTE_PASSWORD", "guessing-again")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(1));
    }
    let failures = count(
        &db,
        "SELECT COUNT(*) FROM audit WHERE action = 'login_failed' AND entity_id = 'clerk' AND after LIKE '%wrong secret%'",
    );
    assert_eq!(failures, 5, "exactly five guesses were checked");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit WHERE action = 'lockout' AND entity_id = 'clerk'"), 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM audit WHERE action = 'login_refused' AND entity_id = 'clerk'"),
        35
    );
    let right = run_as(&db, CLERK, &["census", "list"]);
    assert_eq!(right.status.code(), Some(1), "the right password a moment later is refused too");
    assert!(stderr(&right).contains("is locked until"), "{}", stderr(&right));
    assert!(run_as(&db, ADMIN, &["user", "unlock", "clerk"]).status.success());
    assert!(run_as(&db, CLERK, &["census", "list"]).status.success());
}

#[test]
fn an_unknown_name_is_locked_like_a_known_one_and_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let typed = "Sakura-Fuji-Kawa-88";
    let mut last = None;
    for _ in 0..6 {
        last = Some(command(&db).args(["login", typed]).env("KAMIKARTE_PASSWORD", "x").output().unwrap());
    }
    let last = last.unwrap();
    assert!(stderr(&last).contains(&format!("account '{typed}' is locked until")), "{}", stderr(&last));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let leaked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE lower(actor || entity_id || COALESCE(after, '')) LIKE ?1",
            [format!("%{}%", typed.to_lowercase())],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0, "what was typed into the name field is in no audit entry");
}

// 4. Passwords and PINs.

fn add_user(db: &Path, name: &str, role: &str, password: &str, pin: Option<&str>) -> Output {
    let mut c = command(db);
    c.args(["user", "add", name, "--role", role])
        .env("KAMIKARTE_USER", BOSS.0)
        .env("KAMIKARTE_PASSWORD", BOSS.1)
        .env("KAMIKARTE_NEW_PASSWORD", password);
    if let Some(pin) = pin {
        c.args(["--card", &format!("card-{name}")]).env("KAMIKARTE_NEW_PIN", pin);
    }
    c.output().unwrap()
}

#[test]
fn short_common_shared_passwords_and_trivial_pins_are_refused_for_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "45");
    let out = add_user(&db, "kato", "nurse", "password12", None);
    assert!(stderr(&out).contains("at least 16"), "{}", stderr(&out));
    let out = add_user(&db, "kato", "nurse", "passwordpassword", None);
    assert!(stderr(&out).contains("too easy to guess"), "{}", stderr(&out));
    let out = add_user(&db, "kato", "nurse", BOSS.1, None);
    assert!(stderr(&out).contains("another account already uses"), "{}", stderr(&out));
    let out = add_user(&db, "kato", "nurse", "Sakura-Fuji-Kawa-88", Some("000000"));
    assert!(stderr(&out).contains("too easy to guess"), "{}", stderr(&out));
    let out = add_user(&db, "kato", "nurse", "Sakura-Fuji-Kawa-88", Some("739204"));
    assert!(out.status.success(), "{}", stderr(&out));
    let lower = run_as(&db, BOSS, &["config", "set", "password.min_chars", "12"]);
    assert_eq!(lower.status.code(), Some(1), "the minimum is never lowered below 16");
}

// 5. Account lifecycle.

#[test]
fn an_admin_disables_enables_and_resets_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "45");
    assert!(add_user(&db, "ito", "clerk", "Kaede-Momiji-Ichou-7", None).status.success());
    let ito = ("ito", "Kaede-Momiji-Ichou-7");
    assert!(run_as(&db, BOSS, &["user", "disable", "ito"]).status.success());
    let out = run_as(&db, ito, &["census", "list"]);
    assert!(stderr(&out).contains("is disabled"), "{}", stderr(&out));
    assert!(run_as(&db, BOSS, &["user", "enable", "ito"]).status.success());
    assert!(run_as(&db, ito, &["census", "list"]).status.success());

    let out = run_as(&db, BOSS, &["user", "reset-password", "ito"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let temporary = stdout(&out).lines().next().unwrap().rsplit(' ').next().unwrap().to_string();
    let with_temporary = ("ito", temporary.as_str());
    let out = run_as(&db, with_temporary, &["census", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reset by an administrator"), "{}", stderr(&out));
    let out = command(&db)
        .args(["user", "password"])
        .env("KAMIKARTE_USER", "ito")
        .env("KAMIKARTE_PASSWORD", &temporary)
        .env("KAMIKARTE_NEW_PASSWORD", "Hotaru-Semi-Kirigirisu")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run_as(&db, ("ito", "Hotaru-Semi-Kirigirisu"), &["census", "list"]).status.success());
}

#[test]
fn the_demo_accounts_stop_working_when_a_real_census_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let csv = dir.path().join("census.csv");
    assert!(run_as(&db, ADMIN, &["census", "export", csv.to_str().unwrap()]).status.success());
    let out = run_as(&db, CLERK, &["census", "import", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("demo's public accounts (admin, billing, clerk, nurse) are switched off"),
        "{}",
        stdout(&out)
    );
    let out = run_as(&db, CLERK, &["census", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("demo's public accounts"), "{}", stderr(&out));
}

// 7. "database is locked".

#[test]
fn registrations_during_a_long_census_import_wait_and_succeed_and_so_does_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let source = demo_db(&dir.path().join("source"), "30000");
    let csv = dir.path().join("big.csv");
    assert!(run_as(&source, ADMIN, &["census", "export", csv.to_str().unwrap()]).status.success());
    let db = demo_db(dir.path(), "45");
    // A nurse of the hospital's own (the demo's accounts go off when the real census lands).
    let out = command(&db)
        .args(["user", "add", "kato", "--role", "nurse"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .env("KAMIKARTE_NEW_PASSWORD", "Sakura-Fuji-Kawa-88")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut import = command(&db)
        .args(["census", "import", csv.to_str().unwrap()])
        .env("KAMIKARTE_USER", CLERK.0)
        .env("KAMIKARTE_PASSWORD", CLERK.1)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut during = Vec::new();
    while import.try_wait().unwrap().is_none() {
        let out = command(&db)
            .args(["register", "--kana", "ヤマダ　タロウ", "--dob", "1970-01-01", "--sex", "M"])
            .env("KAMIKARTE_USER", "kato")
            .env("KAMIKARTE_PASSWORD", "Sakura-Fuji-Kawa-88")
            .output()
            .unwrap();
        during.push(out);
    }
    let import = import.wait_with_output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    assert!(during.len() >= 2, "{} registrations ran while the import did", during.len());
    for out in &during {
        assert!(out.status.success(), "never 'database is locked': {}", stderr(out));
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM registrations WHERE created_by = 'kato'"),
        during.len() as i64
    );
}

// 8. Files at rest.

#[cfg(unix)]
#[test]
fn the_database_its_key_backups_kits_and_exports_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir.path().join("data"), "45");
    let kit = dir.path().join("kit");
    assert!(
        run_as(
            &db,
            ADMIN,
            &["kit", "--out", kit.to_str().unwrap(), "--forms", "wristband_adult", "--blanks", "1"]
        )
        .status
        .success()
    );
    let csv = dir.path().join("export/census.csv");
    assert!(run_as(&db, ADMIN, &["census", "export", csv.to_str().unwrap()]).status.success());
    assert!(run_as(&db, ADMIN, &["backup"]).status.success());
    let mut checked = 0;
    let mut stack = vec![dir.path().join("data"), kit, dir.path().join("export")];
    while let Some(path) = stack.pop() {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if path.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 8, "{checked} files and folders");
}

#[test]
fn an_encrypted_database_reveals_nothing_without_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let name = count(&db, "SELECT COUNT(*) FROM patients");
    assert!(name > 0);
    let kana: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT kana FROM patients LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let passphrase = "tsuki ga kirei desu ne";
    let out = command(&db)
        .args(["db", "encrypt"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .env("KAMIKARTE_NEW_DB_PASSPHRASE", passphrase)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = file_bytes(&db);
    let needle = kana.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "no patient's name in the file");
    assert!(
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM patients", [], |r| r.get::<_, i64>(0))
            .is_err()
    );
    let out = run_as(&db, ADMIN, &["census", "list"]);
    assert_eq!(out.status.code(), Some(1), "no passphrase, no census");
    let list = |passphrase: &str| {
        command(&db)
            .args(["census", "list", "--json"])
            .env("KAMIKARTE_USER", ADMIN.0)
            .env("KAMIKARTE_PASSWORD", ADMIN.1)
            .env("KAMIKARTE_DB_PASSPHRASE", passphrase)
            .output()
            .unwrap()
    };
    assert!(stderr(&list("not the passphrase")).contains("does not open it"));
    let out = list(passphrase);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&kana));
    // Backups are encrypted the same way, and verify with the passphrase.
    let backup = dir.path().join("b.sqlite");
    let with = |args: &[&str]| {
        command(&db)
            .args(args)
            .env("KAMIKARTE_USER", ADMIN.0)
            .env("KAMIKARTE_PASSWORD", ADMIN.1)
            .env("KAMIKARTE_DB_PASSPHRASE", passphrase)
            .output()
            .unwrap()
    };
    assert!(with(&["backup", "--out", backup.to_str().unwrap()]).status.success());
    let bytes = file_bytes(&backup);
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "no patient's name in the backup");
    let out = with(&["backup", "verify", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_encryption_that_fails_leaves_the_plain_database_and_says_so_in_its_audit() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    // Something in the way of the encrypted copy: it cannot be written.
    let mut in_the_way = db.as_os_str().to_owned();
    in_the_way.push(".encrypting");
    std::fs::create_dir(&in_the_way).unwrap();
    let out = command(&db)
        .args(["db", "encrypt"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .env("KAMIKARTE_NEW_DB_PASSPHRASE", "tsuki ga kirei desu ne")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the plain database was left as it was"), "{}", stderr(&out));
    assert!(count(&db, "SELECT COUNT(*) FROM patients") > 0, "still plain and whole");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit WHERE action = 'encrypt_failed'"), 1);
    let out = run_as(&db, ADMIN, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// 9. Reads are logged.

#[test]
fn every_read_of_identifiable_data_is_an_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let out = run(&db, &["demo", "--beds", "45", "--downtime", "--charges", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list_dir = dir.path().join("registrations");
    for (who, args, query) in [
        (CLERK, vec!["reconcile", "list"], "reconcile list"),
        (
            CLERK,
            vec!["handoff", "registrations", "--out", list_dir.to_str().unwrap()],
            "handoff registrations",
        ),
        (CLERK, vec!["worklist"], "worklist"),
        (CLERK, vec!["scan", "status"], "scan status"),
        (CLERK, vec!["scan", "queue"], "scan queue"),
        (ADMIN, vec!["handoff", "report"], "handoff report"),
        (ADMIN, vec!["census", "list"], "census list"),
    ] {
        let before = count(
            &db,
            &format!("SELECT COUNT(*) FROM audit WHERE action = 'view' AND entity_id LIKE '{query}%'"),
        );
        let out = run_as(&db, who, &args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let after = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM audit WHERE action = 'view' AND entity_id LIKE '{query}%' AND actor = '{}'",
                who.0
            ),
        );
        assert_eq!(after, before + 1, "{query} is audited with its row count");
    }
    let out_dir = dir.path().join("csv");
    let out = run_as(
        &db,
        common::BILLING,
        &["export", "csv", "--out", out_dir.to_str().unwrap(), "--include-unmapped"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM audit WHERE action = 'view' AND entity_id LIKE 'export csv%'"),
        1
    );
}

// 10. Bad input that still hurts.

#[test]
fn huge_numbers_in_a_form_or_the_kit_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let forms = dir.path().join("forms");
    std::fs::create_dir_all(&forms).unwrap();
    let note = include_str!("../../forms/progress_note.toml");
    let huge = regex_lines(note);
    std::fs::write(forms.join("progress_note.toml"), huge).unwrap();
    let out = run_as(
        &db,
        ADMIN,
        &["kit", "--out", dir.path().join("kit").to_str().unwrap(), "--forms-dir", forms.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("progress_note.toml") && stderr(&out).contains(".lines"),
        "{}",
        stderr(&out)
    );
    let out = run_as(
        &db,
        ADMIN,
        &["kit", "--out", dir.path().join("kit").to_str().unwrap(), "--blanks", "4294967295"],
    );
    assert_eq!(out.status.code(), Some(2), "a usage error, not an abort");
    assert!(stderr(&out).contains("--blanks"), "{}", stderr(&out));
}

/// The progress note with its ruled area asking for four billion lines.
fn regex_lines(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("lines =") {
                "lines = 4000000000".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_census_cell_that_a_spreadsheet_would_run_is_exported_defused_and_read_back_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = with_real_admin(dir.path(), "45");
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟,病室,ベッド,診療科,アレルギー\n\
         77000001,山田　花子,ヤマダ　ハナコ,1950-01-01,F,A+,5E,501,501-1,内科,=1+1;@SUM(A1)\n",
    )
    .unwrap();
    let out = run_as(&db, BOSS, &["census", "import", csv.to_str().unwrap(), "--keep-absent"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = dir.path().join("out.csv");
    assert!(run_as(&db, BOSS, &["census", "export", exported.to_str().unwrap()]).status.success());
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.contains(",'=1+1;@SUM(A1)"), "{text}");
    assert!(!text.contains(",=1+1"));
    let back = dir.path().join("back.sqlite");
    assert!(
        command(&back)
            .args(["user", "add", "sato", "--role", "admin"])
            .env("KAMIKARTE_NEW_PASSWORD", BOSS.1)
            .output()
            .unwrap()
            .status
            .success()
    );
    let sato = ("sato", BOSS.1);
    assert!(run_as(&back, sato, &["census", "import", exported.to_str().unwrap()]).status.success());
    let list = stdout(&run_as(&back, sato, &["census", "list", "--json"]));
    assert!(list.contains("\"=1+1\""), "read back as it was: {list}");
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "5000");
    let mut child: std::process::Child = Command::new(env!("CARGO_BIN_EXE_kamikarte"))
        .args(["--db", db.to_str().unwrap(), "census", "list"])
        .env("KAMIKARTE_USER", ADMIN.0)
        .env("KAMIKARTE_PASSWORD", ADMIN.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn backups_and_commands_are_in_the_it_log_and_no_patient_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    assert!(run_as(&db, ADMIN, &["backup"]).status.success());
    assert!(run_as(&db, ADMIN, &["census", "list"]).status.success());
    // Patient values on the command line, a refusal naming a patient, and a password typed
    // into the name field: none of them may reach the log.
    let registered =
        run_as(&db, CLERK, &["register", "--kana", "ｷﾛｸ ﾉｺｻﾅｲ", "--dob", "1961-02-03", "--sex", "F"]);
    assert!(registered.status.success(), "{}", stderr(&registered));
    let refused = run_as(&db, CLERK, &["reconcile", "unmap", "DT1999999"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let typed = run_as(&db, ("Sora-Umi-Kaze-2026!", "x"), &["census", "list"]);
    assert_eq!(typed.status.code(), Some(1));
    let log = std::fs::read_to_string(dir.path().join("logs/kamikarte_rCURRENT.log")).unwrap();
    assert!(log.contains("backup written: ") && log.contains("command ok: backup (by admin)"), "{log}");
    assert!(log.contains("command: register --kana --dob --sex"), "{log}");
    assert!(log.contains("command failed: reconcile unmap <downtime_id>: refused"), "{log}");
    let kana: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT kana FROM patients LIMIT 1", [], |r| r.get(0))
        .unwrap();
    for secret in [kana.as_str(), "ｷﾛｸ", "キロク", "1961-02-03", "DT1999999", "Sora-Umi-Kaze"] {
        assert!(!log.contains(secret), "'{secret}' is in the log: {log}");
    }
}
