//! Billing that 医事 imports, end to end on the demo's downtime episode: ORCA's requests checked
//! by a stand-in written from ORCA's API page (`tests/peers/orca_server.py`), sent once and
//! replaced on correction; the billing CSV read by a naive importer; the receipt-computer
//! masters imported in their published layout.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common;
use common::handoff::{correct_a_slip, correct_slip_with, demo_episode, json};
use common::{ADMIN, BILLING, run_as, stderr, stdout};

fn peer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(name)
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/masters").join(name)
}

/// The codes of the shipped procedure master, read from its published layout (column 3).
fn shipped_codes() -> HashSet<String> {
    let bytes = std::fs::read(sample("s_sample.csv")).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    text.lines().map(|l| l.split(',').nth(2).unwrap().to_string()).collect()
}

/// Every `<tag type="string">value</tag>` of an XML text.
fn values_of(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag} type=\"string\">");
    xml.split(&open).skip(1).map(|rest| rest.split('<').next().unwrap().to_string()).collect()
}

struct Orca {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Orca {
    fn start(dir: &Path) -> Self {
        let log = dir.join("orca.log");
        let mut child = Command::new("python3")
            .arg(peer("orca_server.py"))
            .args(["--user", "ormaster", "--password", "orca-secret", "--log"])
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
        Orca { child, url: format!("http://127.0.0.1:{}", port.trim()), log }
    }

    /// What the server was sent, request by request.
    fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for Orca {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(db: &Path, orca: &Orca, password: &str) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kamikarte"));
    cmd.args(["--db", db.to_str().unwrap(), "send", "orca", &orca.url, "--orca-user", "ormaster"])
        .args(["--include-unmapped", "--json"])
        .env("KAMIKARTE_USER", BILLING.0)
        .env("KAMIKARTE_PASSWORD", BILLING.1)
        .env("KAMIKARTE_ORCA_PASSWORD", password);
    cmd.output().unwrap()
}

#[test]
fn the_demo_episodes_orca_requests_have_the_documented_shape_and_only_codes_of_the_shipped_master() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let out = dir.path().join("orca");
    let report = json(&run_as(
        &db,
        BILLING,
        &["export", "orca", "--out", out.to_str().unwrap(), "--include-unmapped", "--json"],
    ));
    let visits = report["files"].as_u64().unwrap();
    assert!(visits > 10, "{report}");
    let checked =
        Command::new("python3").arg(peer("orca_server.py")).arg("--check").arg(&out).output().unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let shipped = shipped_codes();
    for file in std::fs::read_dir(&out).unwrap() {
        let xml = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for code in values_of(&xml, "Medication_Code") {
            assert!(shipped.contains(&code), "{code} is not in assets/masters/s_sample.csv");
        }
        // Department and doctor by the billing system's codes; every class three digits.
        assert_eq!(values_of(&xml, "Physician_Code")[0].len(), 5, "{xml}");
        assert!(values_of(&xml, "Medical_Class").iter().all(|c| c.len() == 3));
    }
}

#[test]
fn orca_registers_each_visit_once_and_a_correction_replaces_it_under_orcas_uid() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let orca = Orca::start(dir.path());

    // The 医事 manager's reconciliation: (keyed, handed over, acknowledged) lines of all slips.
    let reconciliation = || {
        let report = json(&run_as(&db, BILLING, &["handoff", "billing", "--json"]));
        let total = &report["total"];
        let lines = |stage: &str| total[stage]["lines"].as_u64().unwrap();
        (lines("keyed"), lines("handed_over"), lines("acknowledged"))
    };
    // Request files written by `export orca` are handed over, not acknowledged: only ORCA's
    // answer is.
    let out = dir.path().join("orca-files");
    let written =
        run_as(&db, BILLING, &["export", "orca", "--out", out.to_str().unwrap(), "--include-unmapped"]);
    assert!(written.status.success(), "{}", stderr(&written));
    let (keyed, handed_over, acknowledged) = reconciliation();
    assert!(keyed >= handed_over && handed_over > 0, "{keyed} keyed, {handed_over} handed over");
    assert_eq!(acknowledged, 0, "nothing is acknowledged before ORCA answered");

    let first = json(&send(&db, &orca, "orca-secret"));
    let registered = first["registered"].as_u64().unwrap();
    assert!(registered > 10, "{first}");
    assert_eq!(first["refused"].as_array().unwrap().len(), 0, "{first}");
    // A slip naming 医事's insurance combination sends that number, and nothing else of insurance.
    assert!(orca.requests().iter().any(|r| r["insurance"] == "0001"), "no slip named a combination");
    // What ORCA took counts as acknowledged; only verified (and mapped) slips go to ORCA.
    let (_, handed_over, acknowledged) = reconciliation();
    assert!(
        acknowledged > 0 && acknowledged == handed_over,
        "{handed_over} handed over, {acknowledged} acknowledged"
    );
    // Sent again: ORCA has every visit as it is; nothing is posted.
    let again = json(&send(&db, &orca, "orca-secret"));
    assert_eq!((again["registered"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(registered)));
    assert_eq!(orca.requests().len() as u64, registered);

    // A corrected slip changes one visit: a wrong password is refused by name, then the
    // replacement goes under the uid ORCA gave that visit.
    let (serial, _) = correct_a_slip(&db, None);
    let refused = send(&db, &orca, "not-the-password");
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));
    let third = json(&send(&db, &orca, "orca-secret"));
    assert_eq!((third["replaced"].as_u64(), third["registered"].as_u64()), (Some(1), Some(0)), "{third}");
    let requests = orca.requests();
    let replacement = requests.iter().find(|r| r["class"] == "03").unwrap();
    assert_eq!(replacement["ok"], true, "{replacement}");
    let original = requests
        .iter()
        .find(|r| {
            r["class"] == "01"
                && r["patient"] == replacement["patient"]
                && r["date"] == replacement["date"]
                && r["department"] == replacement["department"]
        })
        .unwrap();
    assert_ne!(original["uid"], replacement["uid"], "ORCA gives a new uid at each replacement");
    assert!(!serial.is_empty());
    // And the replacement is kept: nothing more to send.
    let fourth = json(&send(&db, &orca, "orca-secret"));
    assert_eq!((fourth["replaced"].as_u64(), fourth["registered"].as_u64()), (Some(0), Some(0)), "{fourth}");
}

/// A naive importer: reads every file in order and adds quantity × points per slip, honouring
/// nothing else (no action, no version).
fn naive_totals(files: &[PathBuf]) -> HashMap<String, f64> {
    let mut totals = HashMap::new();
    for file in files {
        let mut reader = csv::Reader::from_path(file).unwrap();
        let headers = reader.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (slip, qty, points) = (col("slip"), col("quantity"), col("points"));
        for row in reader.records() {
            let row = row.unwrap();
            let q: f64 = row[qty].parse().unwrap();
            let p: f64 = row[points].parse().unwrap_or(0.0);
            *totals.entry(row[slip].to_string()).or_insert(0.0) += q * p;
        }
    }
    totals
}

#[test]
fn the_csv_of_a_corrected_slip_read_in_order_by_a_naive_importer_sums_to_the_corrected_total() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let csv_dir = dir.path().join("csv");
    let export = |extra: &[&str]| {
        let mut args =
            vec!["export", "csv", "--out", csv_dir.to_str().unwrap(), "--include-unmapped", "--json"];
        args.extend_from_slice(extra);
        json(&run_as(&db, BILLING, &args))
    };
    export(&[]);
    let first: Vec<PathBuf> = std::fs::read_dir(&csv_dir).unwrap().map(|e| e.unwrap().path()).collect();
    let text = std::fs::read_to_string(&first[0]).unwrap();
    assert!(text.starts_with(
        "action,patient_id,downtime_id,patient_kana,inout,insurance,service_date,service_time,"
    ));
    // No patient 医事 has not registered: every row has a record number, none a bare downtime ID.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        assert!(!row[1].starts_with("DT"), "a downtime ID billed: {row:?}");
    }

    let (serial, _) = correct_a_slip(&db, None);
    export(&[]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&csv_dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort_by_key(|f| if first.contains(f) { 0 } else { 1 });
    assert_eq!(files.len(), 2);
    let second = std::fs::read_to_string(&files[1]).unwrap();
    assert!(second.lines().any(|l| l.starts_with("cancel,")), "{second}");
    // The corrected slip's total now: its add rows of the newest version alone.
    let mut reader = csv::Reader::from_reader(second.as_bytes());
    let mut corrected = 0.0;
    for row in reader.records() {
        let row = row.unwrap();
        if row[0] == *"add" && row[20] == *serial.as_str() {
            corrected += row[16].parse::<f64>().unwrap() * row[17].parse::<f64>().unwrap_or(0.0);
        }
    }
    assert!(corrected > 0.0);
    let naive = naive_totals(&files);
    assert!((naive[&serial] - corrected).abs() < 1e-9, "naive {} vs corrected {corrected}", naive[&serial]);
}

#[test]
fn the_receipt_computer_masters_import_in_their_published_cp932_layout() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    for (file, master, items) in [("s_sample.csv", "charges", 55), ("y_sample.csv", "drugs", 42)] {
        let out =
            run_as(&db, ADMIN, &["masters", "import", sample(file).to_str().unwrap(), "--master", master]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("{file} (CP932): {items} items in the {master} master")),
            "{}",
            stdout(&out)
        );
    }
    // Half-width kana widened; the section number and the surcharge flag kept.
    let found =
        json(&run_as(&db, BILLING, &["masters", "search", "しょしん", "--master", "charges", "--json"]));
    let first = &found[0];
    assert_eq!(
        (first["code"].as_str(), first["kana"].as_str()),
        (Some("111000110"), Some("ショシンリョウ")),
        "{found}"
    );
    assert_eq!(
        (first["details"]["section"].as_str(), first["details"]["time_addition"].as_str()),
        (Some("A000"), Some("1"))
    );
    // The layout is refused as a whole when a row is short, naming the line.
    let broken = dir.path().join("s_broken.csv");
    let mut bytes = std::fs::read(sample("s_sample.csv")).unwrap();
    bytes.extend_from_slice(b"0,S,199999990,3\r\n");
    std::fs::write(&broken, bytes).unwrap();
    let out = run_as(&db, ADMIN, &["masters", "import", broken.to_str().unwrap(), "--master", "charges"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("s_broken.csv:56:"), "{}", stderr(&out));

    // A master without a code the charge slip prints under a tick box: imported, and the box
    // named at once; `masters check` fails until the master has it again.
    let without = dir.path().join("s_without_drip.csv");
    let bytes = std::fs::read(sample("s_sample.csv")).unwrap();
    let kept: Vec<&[u8]> =
        bytes.split_inclusive(|b| *b == b'\n').filter(|l| !l.starts_with(b"0,S,199900390,")).collect();
    assert_eq!(kept.len(), 54);
    std::fs::write(&without, kept.concat()).unwrap();
    let out = run_as(&db, ADMIN, &["masters", "import", without.to_str().unwrap(), "--master", "charges"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let named =
        "forms/charge_slip.toml: charges: '199900390' (点滴注射 IV drip) is not in the charges master";
    assert!(stderr(&out).contains(named), "{}", stderr(&out));
    let out = run_as(&db, BILLING, &["masters", "check"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(named), "{}", stderr(&out));
    assert!(!stderr(&out).contains("lab_order"), "the lab master has every test: {}", stderr(&out));
    let out = run_as(
        &db,
        ADMIN,
        &["masters", "import", sample("s_sample.csv").to_str().unwrap(), "--master", "charges"],
    );
    assert!(out.status.success() && !stderr(&out).contains("warning"), "{}", stderr(&out));
    let out = run_as(&db, BILLING, &["masters", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_outpatient_only_charge_on_an_inpatients_slip_is_named_in_the_reconciliation() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let report = json(&run_as(&db, BILLING, &["handoff", "billing", "--json"]));
    assert_eq!(report["inout_conflicts"].as_array().unwrap().len(), 0, "the demo keys what fits");

    // 処方箋料 (outpatients only in the master) ticked on a census inpatient's slip.
    let inpatients_slip = {
        let store = kamikarte::store::Store::open(&db).unwrap();
        store
            .live_entries_all()
            .unwrap()
            .into_iter()
            .find(|e| {
                let id = kamikarte::domain::PatientId::parse(&e.patient_id).unwrap();
                e.form_id == "charge_slip"
                    && e.state == kamikarte::store::EntryState::Verified
                    && e.values.contains_key("qty_1")
                    && store.registration(&id).unwrap().is_none()
            })
            .expect("a verified slip of a census inpatient")
            .item
            .describe()
    };
    let (serial, _) = correct_slip_with(&db, Some(&inpatients_slip), |values| {
        let ticks = values.entry("charges".to_string()).or_insert_with(|| serde_json::json!([]));
        ticks.as_array_mut().unwrap().push(serde_json::json!("199900360"));
    });
    let report = json(&run_as(&db, BILLING, &["handoff", "billing", "--json"]));
    let conflicts = report["inout_conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(
        (conflicts[0]["code"].as_str(), conflicts[0]["slip"].as_str(), conflicts[0]["allowed"].as_str()),
        (Some("199900360"), Some(serial.as_str()), Some("入院外のみ outpatients only"))
    );
    let text = run_as(&db, BILLING, &["handoff", "billing"]);
    assert!(
        stdout(&text).contains("in/out conflict (入外適用区分): 199900360 処方箋料"),
        "{}",
        stdout(&text)
    );
}
