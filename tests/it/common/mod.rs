//! Helpers shared by the tests that run the binary (and, in `ui`, drive the screens).
#![allow(dead_code)]

pub mod handoff;
pub mod pg;
pub mod ui;

use std::path::Path;
use std::process::{Command, Output};

pub const ADMIN: (&str, &str) = ("admin", "kamikarte-demo-admin");
pub const CLERK: (&str, &str) = ("clerk", "kamikarte-demo-clerk");
pub const BILLING: (&str, &str) = ("billing", "kamikarte-demo-billing");

/// The binary with a clean environment: no user, no password, the given database.
pub fn command(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kamikarte"));
    c.arg("--db").arg(db);
    // A hub's key file where this process keeps it (pg::hub_dir), never in the home folder.
    c.env("KAMIKARTE_HUB_DIR", pg::hub_dir());
    for var in [
        "KAMIKARTE_DB",
        "KAMIKARTE_USER",
        "KAMIKARTE_PASSWORD",
        "KAMIKARTE_NEW_PASSWORD",
        "KAMIKARTE_NEW_PIN",
    ] {
        c.env_remove(var);
    }
    c
}

pub fn run(db: &Path, args: &[&str]) -> Output {
    command(db).args(args).output().expect("the binary runs")
}

/// Runs as a user, the password given the way scripts give it.
pub fn run_as(db: &Path, (user, password): (&str, &str), args: &[&str]) -> Output {
    command(db)
        .env("KAMIKARTE_USER", user)
        .env("KAMIKARTE_PASSWORD", password)
        .args(args)
        .output()
        .expect("runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A demo hospital with its demo users, as of a fixed day.
pub fn demo_db(dir: &Path, beds: &str) -> std::path::PathBuf {
    let db = dir.join("k.sqlite");
    let out = run(&db, &["demo", "--beds", beds, "--as-of", "2026-11-22"]);
    assert!(out.status.success(), "{}", stderr(&out));
    db
}

/// Copies a database with its audit key and anchor, as IT staff copy one to try something on it.
pub fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    for suffix in [".key", ".anchor"] {
        let side = |p: &Path| std::path::PathBuf::from(format!("{}{suffix}", p.display()));
        std::fs::copy(side(from), side(to)).unwrap();
    }
}

pub fn list_json(db: &Path) -> Vec<serde_json::Value> {
    let out = run_as(db, ADMIN, &["census", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A person with an account of their own, logged in through the front door: the account is made
/// on first use (after a test administrator, on a database without users); a demo account of that
/// name logs in with its demo password.
pub fn person(
    store: &mut kamikarte::store::Store,
    name: &str,
    role: kamikarte::domain::Role,
) -> kamikarte::auth::Session {
    use kamikarte::auth::{AccountRequest, add_user, demo_password, login};
    use kamikarte::domain::{Role, UserName};
    let now = chrono::Utc::now();
    let admin_password = "test administrator passphrase";
    if store.user_count().unwrap() == 0 {
        let first =
            AccountRequest { name: "test-admin", role: Role::Admin, password: admin_password, card: None };
        add_user(store, None, &first).unwrap();
    }
    let existing = store.user(&UserName::parse(name).unwrap()).unwrap();
    if let Some(user) = &existing
        && user.demo
    {
        return login(store, name, &demo_password(user.role), now).unwrap();
    }
    // Unique per person, and without the name in it (the policy refuses that).
    let password = format!("{} passphrase for the tests", name.chars().rev().collect::<String>());
    if existing.is_none() {
        let admin = match store.user(&UserName::parse("test-admin").unwrap()).unwrap() {
            Some(_) => login(store, "test-admin", admin_password, now).unwrap(),
            None => login(store, "admin", &demo_password(Role::Admin), now).unwrap(),
        };
        add_user(store, Some(&admin), &AccountRequest { name, role, password: &password, card: None })
            .unwrap();
    }
    login(store, name, &password, now).unwrap()
}
