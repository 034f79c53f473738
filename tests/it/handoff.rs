//! The hand-off end to end, on the demo's synthetic downtime episode: every format written by the
//! binary and read by checkers not written here (hl7apy strict and python-hl7, fhir.resources,
//! the SS-MIX2 rules read back with python-hl7), the report adding up to the worklist, a second
//! export writing nothing twice, and a corrected slip going out again as an update.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::handoff::{correct_a_slip, demo_episode, json};
use common::{ADMIN, BILLING, CLERK, run_as, stderr};
use kamikarte::store::Store;

fn export(db: &Path, format: &str, dir: &Path, extra: &[&str]) -> serde_json::Value {
    // The demo leaves some downtime patients unmapped on purpose: their paper waits.
    let mut args = vec!["export", format, "--out", dir.to_str().unwrap(), "--json", "--include-unmapped"];
    args.extend_from_slice(extra);
    json(&run_as(db, BILLING, &args))
}

fn peer(script: &str, dir: &Path) -> String {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(script))
        .arg(dir)
        .output()
        .expect("python3 runs (CI installs hl7apy, hl7 and fhir.resources)");
    assert!(
        out.status.success(),
        "{script} refused {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files_in(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            n += files_in(&entry.path());
        } else {
            n += 1;
        }
    }
    n
}

#[test]
fn every_format_exports_the_demo_episode_and_independent_checkers_accept_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());

    let hl7_dir = dir.path().join("hl7");
    let hl7 = export(&db, "hl7", &hl7_dir, &[]);
    let messages = hl7["records"].as_u64().unwrap() as usize;
    assert!(messages > 100, "{hl7}");
    assert_eq!(files_in(&hl7_dir), messages);
    peer("hl7_check.py", &hl7_dir);
    // Each file is one message whose control ID is in its name; ISO-2022-JP by default.
    let one = std::fs::read_dir(&hl7_dir).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&one).unwrap();
    assert!(bytes.is_ascii(), "ISO-2022-JP is 7-bit");
    let again = export(&db, "hl7", &hl7_dir, &[]);
    assert_eq!((again["files"].as_u64(), again["prepared"]["new"].as_u64()), (Some(0), Some(0)), "{again}");

    let ss_dir = dir.path().join("ssmix2");
    let ss = export(&db, "ssmix2", &ss_dir, &[]);
    let summary: serde_json::Value = serde_json::from_str(&peer("ssmix2_check.py", &ss_dir)).unwrap();
    // One file per message, and each patient's basic information (ADT-00) beside them.
    let basic = summary["by_type"]["ADT-00"].as_u64().unwrap() as usize;
    assert_eq!(ss["files"].as_u64().unwrap() as usize, messages + basic, "{ss}");
    assert_eq!(files_in(&ss_dir), messages + basic, "no file overwrote another");
    for data_type in ["ADT-00", "OMP-01", "OMP-02", "OMP-11", "OMP-12", "OML-01", "OMG-01", "OMD"] {
        assert!(summary["by_type"][data_type].as_u64().unwrap_or(0) > 0, "no {data_type}: {summary}");
    }
    // The demo imports the departments master: files carry the department's code.
    assert!(summary["with_department"].as_u64().unwrap() > 0, "{summary}");
    // The EHR is the patient master (the default): no registration or merge goes out.
    let types: Vec<&String> = summary["by_type"].as_object().unwrap().keys().collect();
    assert!(!types.iter().any(|t| t.starts_with("ADT-12") || t.starts_with("ADT-A40")), "{types:?}");
    // The extended storage's data types in the guideline's CODE^NAME^coding-system layout.
    assert!(types.contains(&&"ORU-R01^バイタルサイン^99KKX".to_string()), "{types:?}");

    let fhir_dir = dir.path().join("fhir");
    let fhir = export(&db, "fhir", &fhir_dir, &[]);
    assert!(fhir["files"].as_u64().unwrap() > 10, "{fhir}");
    peer("fhir_check.py", &fhir_dir);

    let csv_dir = dir.path().join("csv");
    let csv = export(&db, "csv", &csv_dir, &[]);
    let rows = csv["records"].as_u64().unwrap();
    let file = std::fs::read_dir(&csv_dir).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(
        "action,patient_id,downtime_id,patient_kana,inout,insurance,service_date,service_time,"
    ));
    assert_eq!(text.lines().count() as u64, rows + 1);
    let nothing = export(&db, "csv", &csv_dir, &[]);
    assert_eq!(nothing["records"].as_u64(), Some(0), "a billing file is not written twice: {nothing}");

    // The report and the worklist agree, and what was written is what was prepared.
    let report = json(&run_as(&db, BILLING, &["handoff", "report", "--json"]));
    let stages: Vec<(String, u64)> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[0].as_str().unwrap().to_string(), s[1].as_u64().unwrap()))
        .collect();
    let total: u64 = stages.iter().map(|s| s.1).sum();
    assert_eq!(total, report["paper_items"].as_u64().unwrap());
    let worklist = json(&run_as(&db, BILLING, &["worklist", "--json"]));
    let items = worklist["items"].as_array().unwrap();
    assert_eq!(items.len() as u64, total);
    for (stage, n) in &stages {
        let listed = items.iter().filter(|i| i["stage"] == stage.as_str()).count() as u64;
        assert_eq!(listed, *n, "stage {stage}");
    }
    let exported = stages.iter().find(|s| s.0 == "exported").unwrap().1;
    assert_eq!(exported, report["prepared"]["keyed"].as_u64().unwrap(), "{report}");
    assert_eq!(report["delivered"]["hl7"]["keyed"], report["prepared"]["keyed"]);
    let held: u64 = report["held"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(held + exported, total, "every paper item is handed off or held with a reason");
}

#[test]
fn a_corrected_slip_goes_out_again_as_an_update_and_supersedes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let hl7_dir = dir.path().join("hl7");
    let ss_dir = dir.path().join("ssmix2");
    export(&db, "hl7", &hl7_dir, &[]);
    export(&db, "ssmix2", &ss_dir, &[]);

    // A billing clerk finds a wrong quantity on an exported slip and corrects it; a second
    // person verifies the correction.
    let (serial, entry_id) = correct_a_slip(&db, None);
    let worklist = json(&run_as(&db, BILLING, &["worklist", "--json"]));
    let item =
        worklist["items"].as_array().unwrap().iter().find(|i| i["item"] == serial.as_str()).unwrap().clone();
    assert_eq!(item["stage"], "verified", "a correction is not handed off until exported again: {item}");
    assert_ne!(item["entry_id"].as_i64(), Some(entry_id));

    let update = export(&db, "hl7", &hl7_dir, &[]);
    assert_eq!(
        (update["prepared"]["updated"].as_u64(), update["files"].as_u64()),
        (Some(1), Some(1)),
        "{update}"
    );
    let newest = std::fs::read_dir(&hl7_dir).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    let text = String::from_utf8(std::fs::read(&newest).unwrap()).unwrap();
    let ft1: Vec<&str> = text.split('\r').filter(|s| s.starts_with("FT1|")).collect();
    assert!(ft1.iter().any(|s| s.split('|').nth(6) == Some("CD")), "the old lines are credited: {text}");
    assert!(ft1.iter().any(|s| s.split('|').nth(6) == Some("CG")), "and charged anew: {text}");
    peer("hl7_check.py", &hl7_dir);

    let ss = export(&db, "ssmix2", &ss_dir, &[]);
    assert_eq!(ss["files"].as_u64(), Some(2), "the corrected slip and its patient's ADT-00: {ss}");
    peer("ssmix2_check.py", &ss_dir);
    let mut flags = Vec::new();
    let mut stack = vec![ss_dir.join("extended")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains("DFT-P03") {
                flags.push(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let order_of = |name: &str| name.split('_').nth(3).unwrap().to_string();
    let newest = flags.iter().max_by_key(|n| n.split('_').nth(4).unwrap().to_string()).unwrap();
    let versions: Vec<&String> = flags.iter().filter(|n| order_of(n) == order_of(newest)).collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(versions.iter().any(|n| n.ends_with("_2")) && versions.iter().any(|n| n.ends_with("_1")));

    let worklist = json(&run_as(&db, BILLING, &["worklist", "--json"]));
    let item =
        worklist["items"].as_array().unwrap().iter().find(|i| i["item"] == serial.as_str()).unwrap().clone();
    assert_eq!(item["stage"], "exported");
}

#[test]
fn the_billing_csv_follows_a_column_mapping_in_shift_jis() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let mapping = dir.path().join("billing.toml");
    std::fs::write(
        &mapping,
        "encoding = \"cp932\"\n[[column]]\nfrom = \"patient_id\"\nheader = \"患者番号\"\n\
         [[column]]\nfrom = \"service_date\"\nheader = \"診療日\"\nformat = \"yyyymmdd\"\n\
         [[column]]\nfrom = \"code\"\nheader = \"診療行為コード\"\n[[column]]\nfrom = \"quantity\"\nheader = \"回数\"\n\
         [[column]]\nfrom = \"inout\"\nheader = \"入外\"\nmap = { I = \"1\", O = \"2\" }\n\
         [[column]]\nheader = \"医療機関\"\nvalue = \"1\"\n",
    )
    .unwrap();
    let out = dir.path().join("csv");
    let report = export(&db, "csv", &out, &["--mapping", mapping.to_str().unwrap()]);
    assert!(report["records"].as_u64().unwrap() > 0);
    let file = std::fs::read_dir(&out).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(file).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("患者番号,診療日,診療行為コード,回数,入外,医療機関"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[1].len(), 8, "compact date: {first:?}");
    assert!(first[4] == "1" || first[4] == "2", "入外 in the billing system's own codes: {first:?}");
    assert_eq!(first[5], "1");

    std::fs::write(&mapping, "[[column]]\nfrom = \"patinet_id\"\nheader = \"x\"\n").unwrap();
    let bad = run_as(
        &db,
        BILLING,
        &["export", "csv", "--out", out.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("billing.toml") && stderr(&bad).contains("patinet_id"), "{}", stderr(&bad));
    let no_episode =
        run_as(&db, BILLING, &["export", "csv", "--out", out.to_str().unwrap(), "--episode", "999"]);
    assert_eq!(no_episode.status.code(), Some(1));
    assert!(stderr(&no_episode).contains("there is no downtime episode 999"), "{}", stderr(&no_episode));
    let nurse =
        run_as(&db, ("nurse", "kamikarte-demo-nurse"), &["export", "csv", "--out", out.to_str().unwrap()]);
    assert_eq!(nurse.status.code(), Some(1), "a nurse does not export");
}

#[test]
fn a_second_correction_before_the_first_is_sent_still_updates_what_the_ehr_has() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let csv_dir = dir.path().join("csv");
    export(&db, "hl7", &dir.path().join("hl7"), &[]);
    export(&db, "csv", &csv_dir, &[]);
    let (serial, _) = correct_a_slip(&db, None);
    let forms = kamikarte::form::load(None).unwrap();
    let pages = dir.path().join("k-pages");
    let site = kamikarte::handoff::run::Site { forms: &forms, page_root: &pages };
    {
        let mut store = Store::open(&db).unwrap();
        let admin = common::person(&mut store, "admin", kamikarte::domain::Role::Admin);
        let prepared = kamikarte::handoff::run::prepare(&mut store, &admin, &site, None, true).unwrap();
        assert_eq!(prepared.updated, 1);
    }
    // Corrected again before anything of version 2 went out.
    correct_a_slip(&db, Some(&serial));
    let mut store = Store::open(&db).unwrap();
    let admin = common::person(&mut store, "admin", kamikarte::domain::Role::Admin);
    let prepared = kamikarte::handoff::run::prepare(&mut store, &admin, &site, None, true).unwrap();
    assert_eq!(prepared.updated, 1);
    let outbox = store.outbox(false).unwrap();
    let of_slip: Vec<_> = outbox.iter().filter(|m| m.item.as_deref() == Some(serial.as_str())).collect();
    assert_eq!(of_slip.len(), 3, "{of_slip:?}");
    assert_eq!(of_slip[1].state, kamikarte::store::OutboxState::Withdrawn, "version 2 never left");
    let v3 = &of_slip[2].body;
    assert!(
        v3.split('\r').any(|s| s.starts_with("FT1|") && s.split('|').nth(6) == Some("CD")),
        "version 3 credits version 1, which the EHR has: {v3}"
    );
    drop(store);
    // Billing had version 1: the new file takes its lines back before charging version 3.
    let csv = export(&db, "csv", &csv_dir, &[]);
    assert!(csv["records"].as_u64().unwrap() >= 2, "{csv}");
    let newest = std::fs::read_dir(&csv_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    let text = std::fs::read_to_string(newest).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r[20] == serial));
    assert!(
        rows.iter().any(|r| r[0] == "cancel" && r[16].starts_with('-') && r[22] == "1"),
        "cancellations of version 1: {text}"
    );
    assert!(
        rows.iter().any(|r| r[0] == "add" && !r[16].starts_with('-') && r[22] == "3"),
        "charges of version 3: {text}"
    );
}

#[test]
fn a_mapping_the_ehr_has_cannot_be_taken_back_here() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let hl7_dir = dir.path().join("hl7");
    export(&db, "hl7", &hl7_dir, &[]);
    let sent: String = std::fs::read_dir(&hl7_dir)
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    let mapped = json(&run_as(&db, CLERK, &["reconcile", "list", "--json"]));
    let pairs: Vec<(String, String)> = mapped
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["downtime_id"].as_str()?.to_string(), p["mrn"].as_str()?.to_string())))
        .collect();
    // A mapped patient whose paper went to the EHR under the record number.
    let (id, mrn) = pairs
        .iter()
        .find(|(_, mrn)| sent.contains(&format!("PID|1||{mrn}^^^^PI")))
        .expect("paper sent under a record number");
    let unmap = run_as(&db, CLERK, &["reconcile", "unmap", id]);
    assert_eq!(unmap.status.code(), Some(1));
    assert!(stderr(&unmap).contains(&format!("handed to the EHR under {mrn}")), "{}", stderr(&unmap));
}

#[test]
fn an_export_that_cannot_write_a_file_names_it_records_nothing_and_the_next_run_writes_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let out = dir.path().join("ssmix2");
    std::fs::create_dir_all(&out).unwrap();
    // A file where the storage tree's `standard/` folder must go: every standard file fails.
    let blocker = out.join("standard");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let failed =
        run_as(&db, BILLING, &["export", "ssmix2", "--out", out.to_str().unwrap(), "--include-unmapped"]);
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(err.contains(&format!("cannot write {}/", blocker.display())), "{err}");
    assert_eq!(err.matches("Not a directory").count(), 1, "the cause once: {err}");
    let report = json(&run_as(&db, BILLING, &["handoff", "report", "--json"]));
    assert!(report["delivered"].get("ssmix2").is_none(), "nothing recorded as delivered: {report}");

    std::fs::remove_file(&blocker).unwrap();
    let done = export(&db, "ssmix2", &out, &[]);
    let files = done["files"].as_u64().unwrap() as usize;
    assert_eq!(done["records"].as_u64().unwrap() as usize, files, "{done}");
    assert_eq!(files_in(&out), files, "every file once, none left as a temporary");
    peer("ssmix2_check.py", &out);
}

#[test]
fn page_images_over_the_receivers_size_are_files_beside_their_ss_mix2_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let set = run_as(&db, common::ADMIN, &["config", "set", "handoff.ssmix2_inline_kb", "4"]);
    assert!(set.status.success(), "{}", stderr(&set));
    let ss_dir = dir.path().join("ssmix2");
    let ss = export(&db, "ssmix2", &ss_dir, &[]);
    let attachments = ss["attachments"].as_u64().unwrap() as usize;
    assert!(attachments > 0, "the demo's page images are larger than 4 KiB: {ss}");
    // The checker resolves every RP pointer to a PNG beside its message.
    let summary: serde_json::Value = serde_json::from_str(&peer("ssmix2_check.py", &ss_dir)).unwrap();
    assert_eq!(summary["attachments"].as_u64(), Some(attachments as u64), "{summary}");
    assert_eq!(files_in(&ss_dir), ss["files"].as_u64().unwrap() as usize + attachments);
}

#[test]
fn an_export_refuses_while_a_user_it_would_name_has_no_staff_code_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    // The EHR's staff list as imported: the demo's billing clerk, who keyed and verified pages,
    // is not on it.
    let staff = dir.path().join("staff.csv");
    std::fs::write(&staff, "code,name,kana,login\n900001,青山 一郎,アオヤマ イチロウ,admin\n").unwrap();
    let imported = run_as(&db, ADMIN, &["masters", "import", staff.to_str().unwrap(), "--master", "staff"]);
    assert!(imported.status.success(), "{}", stderr(&imported));

    let out_dir = dir.path().join("hl7");
    let out =
        run_as(&db, BILLING, &["export", "hl7", "--out", out_dir.to_str().unwrap(), "--include-unmapped"]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("no staff code") && message.contains("billing"), "{message}");
    assert!(message.contains("masters import --master staff"), "the message says how to fix it: {message}");
    assert!(!out_dir.exists() || files_in(&out_dir) == 0, "nothing was written");
}
