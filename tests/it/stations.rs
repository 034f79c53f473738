//! A hospital of many PCs (issue 18): the hub prepares two wards and the ER with station
//! snapshots; each records a downtime standalone (registrations, kits, scans, notes) and writes
//! signed bundles; two copies of the hub merge them in two different orders and must agree;
//! clashes and forgeries are refused by name; the scan import at the hub files every page of
//! all three stations' kits, rendered by poppler's pdftoppm.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{ADMIN, command, copy_db, demo_db, run_as, stderr, stdout};
use kamikarte::store::Store;
use serde_json::Value;

/// A station's own people, made on its fresh database.
struct Station {
    code: &'static str,
    db: PathBuf,
    admin: (&'static str, &'static str),
    clerk: (&'static str, &'static str),
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn fingerprint(db: &Path, who: (&str, &str)) -> String {
    json(run_as(db, who, &["station", "show", "--json"]))["fingerprint"].as_str().unwrap().to_string()
}

/// A fresh PC: its first administrator, then the hub's snapshot (refused until the hub's key is
/// vouched for), then a clerk and an episode.
fn prepare(
    hub: &Path,
    dir: &Path,
    code: &'static str,
    admin: (&'static str, &'static str),
    clerk: (&'static str, &'static str),
) -> Station {
    let snapshot = dir.join(format!("{code}.snapshot"));
    ok(run_as(hub, ADMIN, &["station", "snapshot", "--station", code, "--out", snapshot.to_str().unwrap()]));
    let db = dir.join(format!("{code}.sqlite"));
    let first = command(&db)
        .env("KAMIKARTE_NEW_PASSWORD", admin.1)
        .args(["user", "add", admin.0, "--role", "admin"])
        .output()
        .unwrap();
    ok(first);
    let file = snapshot.to_str().unwrap();
    let unnamed = run_as(&db, admin, &["station", "load", file]);
    assert!(
        stderr(&unnamed).contains("--station CODE"),
        "a PC without a code says which it is: {}",
        stderr(&unnamed)
    );
    let refused = run_as(&db, admin, &["station", "load", file, "--station", code]);
    assert!(!refused.status.success());
    let hub_fp = fingerprint(hub, ADMIN);
    assert!(stderr(&refused).contains(&format!("fingerprint {hub_fp}")), "{}", stderr(&refused));
    let loaded = ok(run_as(&db, admin, &["station", "load", file, "--station", code, "--trust", &hub_fp]));
    assert!(loaded.contains(&format!("this PC is station {code}")), "{loaded}");
    let (nurse, nurse_password) = nurse_of(code);
    for (name, password, role) in
        [(clerk.0, clerk.1, "clerk"), (nurse.as_str(), nurse_password.as_str(), "nurse")]
    {
        let made = command(&db)
            .env("KAMIKARTE_USER", admin.0)
            .env("KAMIKARTE_PASSWORD", admin.1)
            .env("KAMIKARTE_NEW_PASSWORD", password)
            .args(["user", "add", name, "--role", role])
            .output()
            .unwrap();
        ok(made);
    }
    ok(run_as(&db, clerk, &["episode", "start", "--reason", "ransomware (drill)", "--phase", "2"]));
    Station { code, db, admin, clerk }
}

fn register(s: &Station, args: &[&str]) -> String {
    let mut all = vec!["register"];
    all.extend_from_slice(args);
    ok(run_as(&s.db, s.clerk, &all)).trim().to_string()
}

fn kit(s: &Station, dir: &Path, whom: &[&str]) -> PathBuf {
    let out = dir.join(format!("kit-{}", s.code));
    let mut args =
        vec!["kit", "--out", out.to_str().unwrap(), "--forms", "progress_note,charge_slip", "--blanks", "1"];
    args.extend_from_slice(whom);
    ok(run_as(&s.db, s.clerk, &args));
    out
}

/// A nurse's wristband scan at the scan station (through the library, as the screen does).
fn scan_band(s: &Station, id: &str) {
    let mut store = Store::open(&s.db).unwrap();
    let (name, password) = nurse_of(s.code);
    let nurse = kamikarte::auth::login(&mut store, &name, &password, chrono::Utc::now()).unwrap();
    let mut station = kamikarte::scan::Station::open(&store, kamikarte::form::load(None).unwrap()).unwrap();
    station.scan(&mut store, &nurse, id, chrono::Utc::now()).unwrap();
}

/// Each station's nurse: name and password.
fn nurse_of(code: &str) -> (String, String) {
    let code = code.to_lowercase();
    (format!("nurse-{code}"), format!("the {code} night nurse passphrase"))
}

fn export(s: &Station, file: &Path) -> Value {
    json(run_as(&s.db, s.clerk, &["station", "export", "--out", file.to_str().unwrap(), "--json"]))
}

fn import(hub: &Path, file: &Path, trust: Option<&str>) -> Output {
    let mut args = vec!["station", "import", file.to_str().unwrap(), "--json"];
    if let Some(fp) = trust {
        args.extend(["--trust", fp]);
    }
    run_as(hub, ADMIN, &args)
}

/// What `station status` says, without the times of the imports (which differ by run).
fn status(hub: &Path) -> Value {
    let mut s = json(run_as(hub, ADMIN, &["station", "status", "--json"]));
    for st in s["stations"].as_array_mut().unwrap() {
        st.as_object_mut().unwrap().remove("last_import");
    }
    s
}

/// Renders every page of a kit folder at 200 dpi into `out`.
fn render(kit: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    for entry in std::fs::read_dir(kit).unwrap() {
        let pdf = entry.unwrap().path();
        let stem = pdf.file_stem().unwrap().to_str().unwrap().to_string();
        let kit_name = kit.file_name().unwrap().to_str().unwrap();
        let prefix = out.join(format!("{kit_name}-{stem}"));
        let status = Command::new("pdftoppm")
            .args(["-gray", "-png", "-r", "200", pdf.to_str().unwrap(), prefix.to_str().unwrap()])
            .status()
            .expect("pdftoppm is needed: apt-get install poppler-utils");
        assert!(status.success());
    }
}

#[test]
fn three_stations_merged_at_sqlite_and_postgres_hubs_in_three_orders_agree_and_every_page_is_filed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = demo_db(dir.path(), "40");
    // The demo's PC is station A; the EHR team reserved a block for each ward PC and the ER.
    give_blocks(&hub);
    let ward = common::list_json(&hub)[0]["ward"].as_str().unwrap().to_string();
    let w1 = prepare(
        &hub,
        dir.path(),
        "W1",
        ("w1-admin", "ward one administrator passphrase"),
        ("w1-clerk", "ward one clerk passphrase 2026"),
    );
    let w2 = prepare(
        &hub,
        dir.path(),
        "W2",
        ("w2-admin", "ward two administrator passphrase"),
        ("w2-clerk", "ward two clerk passphrase 2026"),
    );
    let er = prepare(
        &hub,
        dir.path(),
        "ER",
        ("er-admin", "emergency administrator passphrase"),
        ("er-clerk", "emergency clerk passphrase 2026"),
    );
    // A PC that is a station already cannot take another's snapshot, nor another's code.
    let w2_snapshot = dir.path().join("W2.snapshot");
    let wrong = run_as(&w1.db, w1.admin, &["station", "load", w2_snapshot.to_str().unwrap()]);
    assert!(stderr(&wrong).contains("made for station W2, and this PC is station W1"), "{}", stderr(&wrong));
    let taken = run_as(&w1.db, w1.admin, &["station", "set", "ER"]);
    assert!(!taken.status.success(), "W1 has a block and is a station already");
    // A fresh PC handed the wrong stick refuses it.
    let fresh = dir.path().join("fresh.sqlite");
    let fresh_admin = ("fresh-admin", "a fresh administrator passphrase");
    ok(command(&fresh)
        .env("KAMIKARTE_NEW_PASSWORD", fresh_admin.1)
        .args(["user", "add", fresh_admin.0, "--role", "admin"])
        .output()
        .unwrap());
    let mistaken =
        run_as(&fresh, fresh_admin, &["station", "load", w2_snapshot.to_str().unwrap(), "--station", "W3"]);
    assert!(stderr(&mistaken).contains("made for station W2, not W3"), "{}", stderr(&mistaken));
    // A newer snapshot loads again (the census updated); the older one left on the stick does not.
    let newer = dir.path().join("W1-newer.snapshot");
    ok(run_as(&hub, ADMIN, &["station", "snapshot", "--station", "W1", "--out", newer.to_str().unwrap()]));
    ok(run_as(&w1.db, w1.admin, &["station", "load", newer.to_str().unwrap()]));
    let stale =
        run_as(&w1.db, w1.admin, &["station", "load", dir.path().join("W1.snapshot").to_str().unwrap()]);
    assert!(stderr(&stale).contains("cannot turn the census back"), "{}", stderr(&stale));

    // The outage: each station registers, prints and scans on its own.
    let census: Vec<Value> =
        serde_json::from_value(json(run_as(&w1.db, w1.clerk, &["census", "list", "--json"]))).unwrap();
    assert_eq!(census.len(), common::list_json(&hub).len(), "the snapshot carried the census");
    let w1_new =
        register(&w1, &["--kana", "サンプル イチロウ", "--sex", "M", "--age", "70", "--ward", &ward]);
    assert!(w1_new.starts_with("DT200000"), "W1 draws from its own block: {w1_new}");
    let w2_new = register(&w2, &["--kana", "サンプル ニコ", "--sex", "F", "--age", "50", "--ward", &ward]);
    assert!(w2_new.starts_with("DT300000"), "{w2_new}");
    let er_new = register(&er, &["--unknown", "--sex", "M", "--age", "30"]);
    assert!(er_new.starts_with("DT400000"), "{er_new}");
    let first_patient = census[0]["id"].as_str().unwrap().to_string();
    let kits = [
        kit(&w1, dir.path(), &["--ward", &ward]),
        kit(&w2, dir.path(), &["--patient", &w2_new, "--patient", &first_patient]),
        kit(&er, dir.path(), &["--patient", &er_new]),
    ];
    scan_band(&w1, &w1_new);
    scan_band(&er, &er_new);
    ok(run_as(&w1.db, w1.clerk, &["episode", "note", "8:40 network cut; ward 1 on paper"]));

    let b = |name: &str| dir.path().join(name);
    let w1_1 = export(&w1, &b("W1-1.bundle"));
    assert_eq!((w1_1["seq"].as_i64(), w1_1["whole"].as_bool()), (Some(1), Some(true)));
    // Later the same day W1 registers one more: its second bundle carries only what is new.
    let w1_later =
        register(&w1, &["--kana", "サンプル サブロウ", "--sex", "M", "--age", "80", "--ward", &ward]);
    let w1_2 = export(&w1, &b("W1-2.bundle"));
    // (Rows that change in place travel in every bundle, merged once.)
    assert!(w1_2["rows"]["registrations"].as_u64() >= Some(1), "{w1_2}");
    assert!(w1_2["rows"]["audit"].as_u64() < w1_1["rows"]["audit"].as_u64(), "{w1_2}");
    assert!(w1_2["rows"].get("printed_pages").is_none(), "the kit went in bundle 1: {w1_2}");
    export(&w2, &b("W2-1.bundle"));
    export(&er, &b("ER-1.bundle"));
    // The ER's outage ends after its first bundle: the end, a change in place, travels in the next.
    ok(run_as(&er.db, er.clerk, &["episode", "end"]));
    export(&er, &b("ER-2.bundle"));
    let fp = |s: &Station| fingerprint(&s.db, s.admin);

    // Two copies of the hub, two orders.
    let hub_b = dir.path().join("hub-b.sqlite");
    copy_db(&hub, &hub_b);
    let first_time = import(&hub, &b("W1-1.bundle"), None);
    assert!(stderr(&first_time).contains(&format!("fingerprint {}", fp(&w1))), "{}", stderr(&first_time));
    for (file, trust) in [
        ("W1-1.bundle", Some(fp(&w1))),
        ("W1-2.bundle", None),
        ("W2-1.bundle", Some(fp(&w2))),
        ("ER-1.bundle", Some(fp(&er))),
        ("ER-2.bundle", None),
    ] {
        json(import(&hub, &b(file), trust.as_deref()));
    }
    let out_of_order = import(&hub_b, &b("W1-2.bundle"), Some(&fp(&w1)));
    assert!(stderr(&out_of_order).contains("bundle 1 is not merged here"), "{}", stderr(&out_of_order));
    for (file, trust) in [
        ("ER-2.bundle", Some(fp(&er))),
        ("W2-1.bundle", Some(fp(&w2))),
        ("ER-1.bundle", None),
        ("W1-1.bundle", None),
    ] {
        json(import(&hub_b, &b(file), trust.as_deref()));
    }
    let merged = status(&hub);
    assert_eq!(merged, status(&hub_b), "two orders, one result");
    let again = json(import(&hub, &b("W2-1.bundle"), None));
    assert_eq!(again["already_imported"], true);
    assert_eq!(status(&hub), merged, "importing again changes nothing");
    let by_code = |code: &str| {
        merged["stations"].as_array().unwrap().iter().find(|s| s["code"] == code).unwrap().clone()
    };
    assert_eq!(by_code("W1")["registrations"], 2);
    assert_eq!(by_code("W1")["scan_events"], 1);
    assert_eq!(by_code("W1")["bundles"], serde_json::json!([1, 2]));

    // What the stations recorded is the hub's now: registrations, pages, the episode and its note.
    let hub_store = Store::open(&hub).unwrap();
    for id in [&w1_new, &w1_later, &w2_new, &er_new] {
        let id = kamikarte::domain::PatientId::parse(id).unwrap();
        assert!(hub_store.registration(&id).unwrap().is_some(), "{id:?} registered at the hub");
    }
    let episodes = hub_store.episodes().unwrap();
    let w1_episode = episodes.iter().find(|e| e.station.as_deref() == Some("W1")).expect("W1's episode");
    assert_eq!(hub_store.episode_notes(w1_episode.id).unwrap()[0].text, "8:40 network cut; ward 1 on paper");
    assert!(
        hub_store.open_episode().unwrap().is_some_and(|e| e.station.is_none()),
        "the hub's own episode stays its own"
    );
    let er_episode = episodes.iter().find(|e| e.station.as_deref() == Some("ER")).expect("the ER's episode");
    assert!(er_episode.ended_at.is_some(), "ended at the ER after its first bundle: {er_episode:?}");
    let printed = hub_store.printed_pages(None).unwrap();
    for s in [&w1, &w2, &er] {
        let theirs = Store::open(&s.db).unwrap().printed_pages(None).unwrap();
        assert!(!theirs.is_empty());
        assert!(theirs.iter().all(|p| printed.contains(p)), "{}'s registry is at the hub", s.code);
    }
    drop(hub_store);

    // A second PC that also calls itself W1 is refused: another key, and another page under a
    // serial W1 printed.
    let clash = prepare_unlinked(dir.path(), "W1");
    let clash_bundle = b("clash.bundle");
    export(&clash, &clash_bundle);
    let refused = import(&hub, &clash_bundle, None);
    assert!(stderr(&refused).contains("signed with another key"), "{}", stderr(&refused));
    let refused = import(&hub, &clash_bundle, Some(&fp(&clash)));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("clash.bundle: line")
            && stderr(&refused).contains("numbers were used twice"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(status(&hub), merged, "a refused bundle merges nothing");
    // A bundle changed on the way is refused whole.
    let tampered = b("tampered.bundle");
    let text = std::fs::read_to_string(b("W2-1.bundle")).unwrap().replacen("サンプル", "サンブル", 1);
    std::fs::write(&tampered, text).unwrap();
    let refused = import(&hub, &tampered, None);
    assert!(stderr(&refused).contains("signature does not match"), "{}", stderr(&refused));

    // The same bundles at a hub on PostgreSQL, in a third order: the same hub as on SQLite.
    let pg_hub = common::pg::new_hub("kk_stations");
    ok(common::run(&pg_hub, &["demo", "--beds", "40", "--as-of", "2026-11-22"]));
    give_blocks(&pg_hub);
    for (file, trust) in [
        ("W2-1.bundle", Some(fp(&w2))),
        ("ER-1.bundle", Some(fp(&er))),
        ("W1-1.bundle", Some(fp(&w1))),
        ("ER-2.bundle", None),
        ("W1-2.bundle", None),
    ] {
        json(import(&pg_hub, &b(file), trust.as_deref()));
    }
    // Everything merged is the same (its digest, each station's bundles and counts); only what
    // is the hub's own differs: its key, and how it first knew each station.
    let without_hub = |mut s: Value| {
        s.as_object_mut().unwrap().remove("fingerprint");
        for st in s["stations"].as_array_mut().unwrap() {
            st.as_object_mut().unwrap().remove("known_from");
        }
        s
    };
    assert_eq!(
        without_hub(status(&pg_hub)),
        without_hub(merged.clone()),
        "a PostgreSQL hub merges as a SQLite one"
    );
    let refused = import(&pg_hub, &tampered, None);
    assert!(stderr(&refused).contains("signature does not match"), "{}", stderr(&refused));

    // The scan import at either hub files every returned page of all three stations' kits.
    let scans = dir.path().join("scans");
    for k in &kits {
        render(k, &scans);
    }
    let pages: Vec<_> = [&w1, &w2, &er]
        .iter()
        .flat_map(|s| Store::open(&s.db).unwrap().printed_pages(None).unwrap())
        .filter(|p| p.form_id != "wristband_adult")
        .collect();
    let blanks = pages.iter().filter(|p| p.patient_id.is_none()).count() as u64;
    for hub in [&hub, &pg_hub] {
        ok(run_as(hub, common::CLERK, &["scan", "import", scans.to_str().unwrap()]));
        let after = json(run_as(hub, common::CLERK, &["scan", "status", "--json"]));
        assert_eq!(after["returned"].as_u64(), Some(pages.len() as u64), "{after}");
        // A blank form waits for a clerk to say whose it is; every other page is filed by itself.
        assert_eq!(after["filed"].as_u64(), Some(pages.len() as u64 - blanks), "{after}");
        assert_eq!(after["queued"].as_u64(), Some(blanks), "{after}");
        let missing: Vec<&str> =
            after["missing"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        assert!(missing.is_empty(), "every printed page came back: {missing:?}");
    }
}

/// The blocks the EHR team reserved at a hub for the two ward PCs and the ER.
fn give_blocks(hub: &Path) {
    for (code, from, to) in
        [("W1", "200000", "200999"), ("W2", "300000", "300999"), ("ER", "400000", "400999")]
    {
        ok(run_as(
            hub,
            ADMIN,
            &["block", "add", "--station", code, "--prefix", "DT", "--from", from, "--to", to],
        ));
    }
}

/// A PC set up by hand as `code`, without the hub, that prints blank forms under that code.
fn prepare_unlinked(dir: &Path, code: &'static str) -> Station {
    let db = dir.join(format!("unlinked-{code}.sqlite"));
    let admin = ("rogue-admin", "another administrator passphrase");
    ok(command(&db)
        .env("KAMIKARTE_NEW_PASSWORD", admin.1)
        .args(["user", "add", admin.0, "--role", "admin"])
        .output()
        .unwrap());
    ok(run_as(&db, admin, &["station", "set", code]));
    let out = dir.join("kit-unlinked");
    ok(run_as(
        &db,
        admin,
        &["kit", "--out", out.to_str().unwrap(), "--forms", "progress_note", "--blanks", "1"],
    ));
    Station { code, db, admin, clerk: admin }
}

#[test]
fn the_first_run_screen_asks_for_the_station_code_and_refuses_a_bad_one_before_creating_anyone() {
    use common::ui::{open, type_into};
    use egui_kittest::kittest::Queryable;
    use kamikarte::ui::labels::{
        CONFIRM_PASSWORD_LABEL, CREATE_ADMIN_BUTTON, NEW_ADMIN_LABEL, NEW_PASSWORD_LABEL, NEW_STATION_LABEL,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.sqlite");
    drop(Store::open(&db).unwrap());
    let mut screen = open(&db);
    type_into(&mut screen, NEW_STATION_LABEL, "W-5");
    type_into(&mut screen, NEW_ADMIN_LABEL, "ward-five-admin");
    type_into(&mut screen, NEW_PASSWORD_LABEL, "ward five administrator passphrase");
    type_into(&mut screen, CONFIRM_PASSWORD_LABEL, "ward five administrator passphrase");
    screen.get_by_label(CREATE_ADMIN_BUTTON).click();
    screen.run_steps(3);
    screen.get_by_label_contains("station.code must be 1–4 characters");
    assert_eq!(Store::open(&db).unwrap().user_count().unwrap(), 0, "nobody was created");
    type_into(&mut screen, NEW_STATION_LABEL, "w5");
    type_into(&mut screen, NEW_PASSWORD_LABEL, "ward five administrator passphrase");
    type_into(&mut screen, CONFIRM_PASSWORD_LABEL, "ward five administrator passphrase");
    screen.get_by_label(CREATE_ADMIN_BUTTON).click();
    screen.run_steps(3);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.settings().unwrap().station().unwrap(), "W5");
    assert_eq!(store.user_count().unwrap(), 1);
    assert!(screen.query_by_label_contains("端末コード未設定").is_none(), "the code is set: no warning");

    // A database whose first administrator was made on the command line has no code yet: every
    // screen says so until one is given.
    let cli_db = dir.path().join("cli.sqlite");
    let admin = ("cli-admin", "command line administrator passphrase");
    ok(command(&cli_db)
        .env("KAMIKARTE_NEW_PASSWORD", admin.1)
        .args(["user", "add", admin.0, "--role", "admin"])
        .output()
        .unwrap());
    let kit = run_as(&cli_db, admin, &["kit", "--out", dir.path().join("k").to_str().unwrap()]);
    assert!(stderr(&kit).contains("station set CODE"), "{}", stderr(&kit));
    let screen = common::ui::log_in(&cli_db, admin.0, admin.1);
    screen.get_by_label_contains("端末コード未設定");
}

#[test]
fn a_bundle_written_but_not_recorded_before_a_kill_is_written_again_and_both_merge() {
    use kamikarte::station::file;
    let dir = tempfile::tempdir().unwrap();
    let hub_db = demo_db(dir.path(), "40");
    let station_db = dir.path().join("w9.sqlite");
    let mut station = Store::open(&station_db).unwrap();
    let admin = common::person(&mut station, "w9-admin", kamikarte::domain::Role::Admin);
    station.set_station_code(&admin.actor(), "W9").unwrap();
    station.reserve_serials("W9", 4).unwrap();
    // Bundle 1 reaches the stick, then the PC dies before recording it.
    let bundle = station.outgoing_bundle(false).unwrap();
    let key = file::signing_key(&station);
    let header = file::Header {
        format: file::FORMAT.into(),
        version: file::VERSION,
        kind: file::Kind::Bundle,
        from: "W9".into(),
        station: "W9".into(),
        seq: bundle.seq,
        whole: bundle.whole,
        created_at: "2026-12-05T08:40:00.000Z".into(),
        created_by: "w9-admin".into(),
        public_key: file::public_key_hex(&key),
        rows: bundle.rows.len(),
    };
    let lost = dir.path().join("W9-1-first.bundle");
    file::write(&lost, &header, &bundle.rows, &key).unwrap();
    // After the restart more is recorded, and bundle 1 is written again, with more in it.
    station.reserve_serials("W9", 2).unwrap();
    drop(station);
    let again = dir.path().join("W9-1-again.bundle");
    let written = json(run_as(
        &station_db,
        ("test-admin", "test administrator passphrase"),
        &["station", "export", "--out", again.to_str().unwrap(), "--json"],
    ));
    assert_eq!(written["seq"], 1, "the number was never recorded: {written}");
    let fp = fingerprint(&station_db, ("test-admin", "test administrator passphrase"));
    json(import(&hub_db, &lost, Some(&fp)));
    let second = json(import(&hub_db, &again, None));
    assert_eq!(second["already_imported"], false, "{second}");
    assert_eq!(second["updated"]["station_counters"], 1, "the later counter arrives: {second}");
    let status = status(&hub_db);
    assert_eq!(status["stations"][0]["bundles"], serde_json::json!([1]), "{status}");
}

#[test]
fn a_clerk_writes_the_stations_bundle_from_the_downtime_screen_and_the_hub_reads_it() {
    use egui_kittest::kittest::Queryable;
    use kamikarte::ui::labels::{BUNDLE_EXPORT_BUTTON, BUNDLE_OUT_LABEL, EPISODE_TAB};
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "40");
    let mut screen = common::ui::log_in(&db, common::CLERK.0, common::CLERK.1);
    screen.get_by_label(EPISODE_TAB).click();
    screen.run_steps(3);
    screen.get_by_label_contains("この端末 This PC: A");
    let out = dir.path().join("usb").join("A-1.bundle");
    common::ui::type_into(&mut screen, BUNDLE_OUT_LABEL, out.to_str().unwrap());
    screen.get_by_label(BUNDLE_EXPORT_BUTTON).click();
    screen.run_steps(3);
    screen.get_by_label_contains("Bundle 1 of station A written");
    let read = kamikarte::station::file::read(&out).unwrap();
    assert_eq!((read.header.station.as_str(), read.header.seq, read.header.whole), ("A", 1, true));
    assert!(read.rows.iter().any(|r| r.table == "id_blocks"), "the demo's block goes with it");
    // The next one carries only what is new.
    let next = dir.path().join("usb").join("A-2.bundle");
    common::ui::type_into(&mut screen, BUNDLE_OUT_LABEL, next.to_str().unwrap());
    screen.get_by_label(BUNDLE_EXPORT_BUTTON).click();
    screen.run_steps(3);
    let read = kamikarte::station::file::read(&next).unwrap();
    assert_eq!((read.header.seq, read.header.whole), (2, false));
}
