//! Issue 15's identity rules through the binary, on the demo's downtime: the EHR is the patient
//! master, so a mapped patient's messages carry the EHR's identity (never a date of birth the
//! downtime desk misheard), nothing goes out under a temporary ID unless asked, and 医事 gets
//! the registration list it registers from and returns.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::handoff::{demo_episode, json};
use common::{BILLING, CLERK, run_as, stderr};
use kamikarte::store::Store;

/// Every message written to `dir`, as text.
fn messages_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| String::from_utf8(std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect()
}

fn field<'a>(message: &'a str, segment: &str, n: usize) -> Option<&'a str> {
    message.split('\r').find(|s| s.starts_with(&format!("{segment}|"))).and_then(|s| s.split('|').nth(n))
}

/// A mapped downtime patient with verified paper ready to go: (downtime ID, MRN).
fn mapped_with_paper(db: &Path) -> (String, String) {
    let worklist = json(&run_as(db, BILLING, &["worklist", "--json", "--stage", "verified"]));
    let with_paper: Vec<String> = worklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["patient"].as_str().map(str::to_string))
        .collect();
    let list = json(&run_as(db, CLERK, &["reconcile", "list", "--json"]));
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["downtime_id"].as_str()?.to_string(), p["mrn"].as_str()?.to_string())))
        .find(|(id, _)| with_paper.contains(id))
        .expect("a mapped downtime patient with verified paper")
}

#[test]
fn a_mapped_patients_messages_carry_the_ehrs_identity_not_the_one_the_desk_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let (id, mrn) = mapped_with_paper(&db);
    let ours = Store::open(&db)
        .unwrap()
        .patient(&kamikarte::domain::PatientId::parse(&id).unwrap())
        .unwrap()
        .unwrap();
    // The desk misheard the date of birth; the EHR has the right one (and another spelling).
    let ehr_dob = ours.patient.dob.date().succ_opt().unwrap().to_string();
    let unmap = run_as(&db, CLERK, &["reconcile", "unmap", &id]);
    assert!(unmap.status.success(), "{}", stderr(&unmap));
    let map = run_as(
        &db,
        CLERK,
        &[
            "reconcile",
            "map",
            &id,
            &mrn,
            "--ehr-name",
            "架空　次郎",
            "--ehr-kana",
            "かくう　じろう",
            "--ehr-dob",
            &ehr_dob,
            "--ehr-sex",
            "M",
            "--override",
            "test: date of birth misheard at arrival; the EHR's is confirmed",
        ],
    );
    assert!(map.status.success(), "{}", stderr(&map));

    let out = dir.path().join("hl7");
    json(&run_as(
        &db,
        BILLING,
        &["export", "hl7", "--out", out.to_str().unwrap(), "--json", "--include-unmapped"],
    ));
    let hl7 = dir.path().join("utf8");
    json(&run_as(
        &db,
        BILLING,
        &["export", "hl7", "--out", hl7.to_str().unwrap(), "--json", "--include-unmapped", "--all", "--utf8"],
    ));
    let theirs: Vec<String> = messages_in(&hl7)
        .into_iter()
        .filter(|m| field(m, "PID", 3).is_some_and(|p| p.starts_with(&format!("{mrn}^"))))
        .collect();
    assert!(!theirs.is_empty(), "the patient's paper went out under {mrn}");
    let compact = ehr_dob.replace('-', "");
    for m in &theirs {
        assert_eq!(field(m, "PID", 7), Some(compact.as_str()), "the EHR's date of birth: {m}");
        assert_eq!(field(m, "PID", 5), Some("架空^次郎^^^^^L^I~カクウ^ジロウ^^^^^L^P"), "{m}");
        assert_eq!(field(m, "PID", 8), Some("M"));
    }
    // The EHR registers patients itself: no registration or merge was sent.
    assert!(
        messages_in(&hl7).iter().all(|m| !m.contains("|ADT^A04^") && !m.contains("|ADT^A40^")),
        "no ADT under the EHR as patient master"
    );
}

#[test]
fn an_export_with_unmapped_patients_refuses_and_names_them_and_their_paper_waits_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let out = dir.path().join("hl7");
    let refused = run_as(&db, BILLING, &["export", "hl7", "--out", out.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains("no usable record number") && err.contains("--include-unmapped"), "{err}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "nothing written");

    let done = json(&run_as(
        &db,
        BILLING,
        &["export", "hl7", "--out", out.to_str().unwrap(), "--json", "--include-unmapped"],
    ));
    let waiting = done["waiting"].as_array().unwrap();
    assert!(!waiting.is_empty(), "the demo leaves patients unmapped: {done}");
    for w in waiting {
        let id = w["downtime_id"].as_str().unwrap();
        assert!(err.contains(id), "the refusal named {id}: {err}");
        for m in messages_in(&out) {
            assert!(!m.contains(&format!("|{id}^")), "nothing went out under {id}: {m}");
        }
    }
}

#[test]
fn the_registration_list_goes_to_iji_and_comes_back_with_record_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let out = dir.path().join("list");
    let files =
        json(&run_as(&db, CLERK, &["handoff", "registrations", "--out", out.to_str().unwrap(), "--json"]));
    let (pdf, csv) = (out.join("registrations.pdf"), out.join("registrations.csv"));
    let check = Command::new("qpdf").arg("--check").arg(&pdf).output().expect("qpdf is installed");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let fonts = Command::new("pdffonts").arg(&pdf).output().expect("pdffonts is installed");
    for row in String::from_utf8_lossy(&fonts.stdout).lines().skip(2) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (cols[cols.len() - 5], cols[cols.len() - 4]),
            ("yes", "yes"),
            "embedded and subset: {row}"
        );
    }

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().take(6).collect::<Vec<_>>(),
        ["downtime_id", "mrn", "name", "kana", "dob", "sex"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as u64, files["patients"].as_u64().unwrap());
    let to_register: Vec<&csv::StringRecord> = rows.iter().filter(|r| r[1].is_empty()).collect();
    assert_eq!(to_register.len() as u64, files["to_register"].as_u64().unwrap());
    assert!(!to_register.is_empty());

    // 医事 registers one patient and writes the number in; the rest are not registered yet.
    let first = to_register[0][0].to_string();
    let mut back = csv::Writer::from_writer(Vec::new());
    back.write_record(reader.headers().unwrap()).unwrap();
    for r in &rows {
        let mut cells: Vec<String> = r.iter().map(str::to_string).collect();
        if cells[0] == first {
            cells[1] = "19990001".into();
        }
        back.write_record(&cells).unwrap();
    }
    let returned = dir.path().join("returned.csv");
    std::fs::write(&returned, back.into_inner().unwrap()).unwrap();
    let import = json(&run_as(&db, CLERK, &["reconcile", "import", returned.to_str().unwrap(), "--json"]));
    assert_eq!(import["mapped"], 1, "{import}");
    assert_eq!(import["waiting"].as_u64().unwrap() as usize, to_register.len() - 1, "{import}");
    let list = json(&run_as(&db, CLERK, &["reconcile", "list", "--json"]));
    let mapped = list.as_array().unwrap().iter().find(|p| p["downtime_id"] == first.as_str()).unwrap();
    assert_eq!(mapped["mrn"], "19990001");
}

#[test]
fn under_kamikarte_as_patient_master_registrations_are_outpatient_visits_dated_by_pv1_44() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_episode(dir.path());
    let set = run_as(&db, common::ADMIN, &["config", "set", "handoff.patient_master", "kamikarte"]);
    assert!(set.status.success(), "{}", stderr(&set));
    let out = dir.path().join("ssmix2");
    json(&run_as(&db, BILLING, &["export", "ssmix2", "--out", out.to_str().unwrap(), "--json"]));
    let summary = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ssmix2_check.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", String::from_utf8_lossy(&summary.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
    assert!(summary["by_type"]["ADT-12"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["by_type"]["ADT-00"].as_u64().unwrap() > 0, "{summary}");
}
