//! The hub on PostgreSQL (issue 18): the same rules as on SQLite, with the clerks on connections
//! of their own, and backups made and checked by PostgreSQL's own tools.

use std::path::Path;
use std::process::Command;

use kamikarte::auth::{AccountRequest, add_user, login};
use kamikarte::demo::{ChargeOptions, printed_slips};
use kamikarte::domain::Role;
use kamikarte::entry::keying::{self, Plan};
use kamikarte::store::{EntryState, Store};

use crate::common::{self, ADMIN, run_as, stderr, stdout};

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn two_clerks_on_two_connections_double_key_one_slip_through_the_real_rules_on_postgres() {
    let hub = common::pg::new_hub("kk_double");
    ok(common::run(&hub, &["demo", "--beds", "40", "--as-of", "2026-11-22"]));
    let clerks = [
        ("billing-a", "first billing clerk passphrase 2026"),
        ("billing-b", "second billing clerk passphrase 2026"),
    ];
    let slip = {
        let mut store = Store::open(&hub).unwrap();
        let admin = login(&mut store, ADMIN.0, ADMIN.1, chrono::Utc::now()).unwrap();
        for (name, password) in clerks {
            add_user(
                &mut store,
                Some(&admin),
                &AccountRequest { name, role: Role::Billing, password, card: None },
            )
            .unwrap();
        }
        store.set_setting(&admin.actor(), "entry.double_entry_charges", "on").unwrap();
        let options = ChargeOptions {
            lines: 12,
            last_day: chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            ..ChargeOptions::default()
        };
        printed_slips(&mut store, &options).unwrap().slips.remove(0)
    };
    let (sheet, values, _) = &slip;
    // Two PCs: each clerk's own connection to the hub.
    let mut a = Store::open(&hub).unwrap();
    let mut b = Store::open(&hub).unwrap();
    let clerk_a = login(&mut a, clerks[0].0, clerks[0].1, chrono::Utc::now()).unwrap();
    let clerk_b = login(&mut b, clerks[1].0, clerks[1].1, chrono::Utc::now()).unwrap();
    // Both open the slip before either saves: both are offered the first keying.
    let plan_a = keying::plan(&a, sheet, &clerk_a).unwrap();
    let plan_b = keying::plan(&b, sheet, &clerk_b).unwrap();
    assert!(matches!(plan_a, Plan::First { double: true }), "{}", plan_a.describe());
    assert!(matches!(plan_b, Plan::First { double: true }), "{}", plan_b.describe());
    keying::save(&mut a, &clerk_a, sheet, values, &plan_a).unwrap();
    // The hub checks again inside B's transaction: A's keying is there now.
    let stale = keying::save(&mut b, &clerk_b, sheet, values, &plan_b).unwrap_err().to_string();
    assert!(stale.contains("meanwhile"), "{stale}");
    // A cannot be its own second keyer, from any PC.
    let refused = match keying::plan(&a, sheet, &clerk_a) {
        Err(e) => e.to_string(),
        Ok(again) => keying::save(&mut a, &clerk_a, sheet, values, &again).unwrap_err().to_string(),
    };
    assert!(refused.contains("someone else"), "{refused}");
    // B, reloaded, keys it the second time; the two agree and the slip is verified.
    let second = keying::plan(&b, sheet, &clerk_b).unwrap();
    assert!(matches!(second, Plan::Second { .. }), "{}", second.describe());
    keying::save(&mut b, &clerk_b, sheet, values, &second).unwrap();
    let live = a.live_entries(&sheet.item).unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!((live[0].pass, live[0].state), (2, EntryState::Verified));
    assert_eq!(live[0].entered_by, clerks[1].0);
    let first = a.entry(live[0].id - 1).unwrap().unwrap();
    assert_eq!((first.pass, first.entered_by.as_str()), (1, clerks[0].0));
    // Every keying, refusal and login went into one audit chain, intact.
    assert!(ok(run_as(&hub, ADMIN, &["audit", "verify"])).contains("intact"));
}

fn pg_restore_lists(dump: &Path) -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("bin/pg_restore"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "pg_restore".into());
    let out = Command::new(bin).arg("--list").arg(dump).output().expect("pg_restore runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_hub_backup_is_a_pg_dump_checked_by_restoring_it_and_restored_beside_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::pg::new_hub("kk_backup");
    ok(common::run(&hub, &["demo", "--beds", "20", "--as-of", "2026-11-22"]));
    let dump = dir.path().join("hub.pgdump");
    ok(run_as(&hub, ADMIN, &["backup", "--out", dump.to_str().unwrap()]));
    // PostgreSQL's own tool reads it: the archive names the tables kamikarte keeps.
    let listing = pg_restore_lists(&dump);
    assert!(listing.contains("TABLE public audit") && listing.contains("TABLE public patients"), "{listing}");
    // Clerks go on working after the backup; the backup's anchor is its own newest entry.
    ok(run_as(&hub, ADMIN, &["episode", "end"]));
    let verified = ok(run_as(&hub, ADMIN, &["backup", "verify", dump.to_str().unwrap()]));
    assert!(verified.contains(": ok (20 patients") || verified.contains(": ok ("), "{verified}");
    // An anchor that says the backup held more than it does: entries cut from its end.
    let anchor = dir.path().join("hub.pgdump.anchor");
    let text = std::fs::read_to_string(&anchor).unwrap();
    let seq: i64 = text.lines().find_map(|l| l.strip_prefix("seq = ")).unwrap().trim().parse().unwrap();
    std::fs::write(&anchor, text.replace(&format!("seq = {seq}"), &format!("seq = {}", seq + 3))).unwrap();
    let cut = run_as(&hub, ADMIN, &["backup", "verify", dump.to_str().unwrap()]);
    assert!(!cut.status.success() && stderr(&cut).contains("audit trail broken"), "{}", stderr(&cut));
    std::fs::write(&anchor, text).unwrap();
    // A file that is not a dump is named as such.
    let junk = dir.path().join("junk.pgdump");
    std::fs::write(&junk, "PGDMP but cut short").unwrap();
    let refused = run_as(&hub, ADMIN, &["backup", "verify", junk.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", stdout(&refused));
    // Restore: into a new database beside the hub, which opens with its own audit trail intact.
    let into = format!("kk_restored_{}_{}", std::process::id(), fastrand::u32(..));
    let restored = ok(run_as(&hub, ADMIN, &["restore", dump.to_str().unwrap(), "--into", &into]));
    let address = restored.lines().find_map(|l| l.strip_prefix("to use it: --db ")).unwrap();
    let address = address.split(" (").next().unwrap();
    let new_hub = Path::new(address);
    assert!(ok(run_as(new_hub, ADMIN, &["audit", "verify"])).contains("intact"));
    let running = |db: &Path| -> bool {
        let status: serde_json::Value =
            serde_json::from_str(&ok(run_as(db, ADMIN, &["episode", "status", "--json"]))).unwrap();
        status["running"].as_bool().unwrap()
    };
    assert!(running(new_hub), "the restore holds what the backup held: the demo's episode, not yet ended");
    assert!(!running(&hub), "the hub it came from is unchanged");
    let again = run_as(&hub, ADMIN, &["restore", dump.to_str().unwrap(), "--into", &into]);
    assert!(!again.status.success(), "a database that exists is never restored over");
}

#[test]
fn a_hub_over_the_network_is_reached_only_with_tls_and_a_certificate_it_trusts() {
    let server =
        std::env::var("KAMIKARTE_TEST_POSTGRES_TLS").expect("scripts/pg.sh serves TLS on the loopback");
    let ca = std::env::var("KAMIKARTE_TEST_PG_CA").expect("scripts/pg.sh names its certificate");
    let socket_hub = common::pg::new_hub("kk_tls");
    let name =
        socket_hub.to_str().unwrap().split(":///").nth(1).unwrap().split('?').next().unwrap().to_string();
    let base = server.strip_suffix("/postgres").unwrap();
    let hub = |mode: &str| std::path::PathBuf::from(format!("{base}/{name}?sslmode={mode}"));
    let with_ca = |db: &Path, args: &[&str]| {
        common::command(db)
            .env("KAMIKARTE_PG_CA", &ca)
            .env("KAMIKARTE_USER", ADMIN.0)
            .env("KAMIKARTE_PASSWORD", ADMIN.1)
            .args(args)
            .output()
            .unwrap()
    };
    // Over TCP with TLS required, the server's certificate checked against the CA given.
    ok(with_ca(&hub("require"), &["demo", "--beds", "10", "--as-of", "2026-11-22"]));
    assert!(ok(with_ca(&hub("require"), &["audit", "verify"])).contains("intact"));
    // The same certificate without the CA that vouches for it is refused.
    let untrusted = common::run(&hub("require"), &["census", "list"]);
    assert!(!untrusted.status.success());
    assert!(stderr(&untrusted).to_lowercase().contains("certificate"), "{}", stderr(&untrusted));
    // Without encryption the server itself refuses (this one accepts TCP with TLS only).
    let plain = with_ca(&hub("disable"), &["census", "list"]);
    assert!(!plain.status.success() && stderr(&plain).contains("no encryption"), "{}", stderr(&plain));
    // pg_dump goes the same way: TLS required, the same CA.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("tls.pgdump");
    ok(with_ca(&hub("require"), &["backup", "--out", dump.to_str().unwrap()]));
    assert!(ok(with_ca(&hub("require"), &["backup", "verify", dump.to_str().unwrap()])).contains(": ok ("));
}
