//! `worklist` and `reconcile` through the binary: what scripts and schedulers see.

use crate::common;

use common::{BILLING, CLERK, demo_db, list_json, run_as, stderr, stdout};

#[test]
fn the_worklist_lists_every_printed_page_and_filters_by_stage() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let patient = list_json(&db)[0]["id"].as_str().unwrap().to_string();
    let out_dir = dir.path().join("kit");
    let kit = run_as(
        &db,
        CLERK,
        &[
            "kit",
            "--out",
            out_dir.to_str().unwrap(),
            "--patient",
            &patient,
            "--forms",
            "charge_slip,progress_note,labels",
            "--blanks",
            "0",
        ],
    );
    assert!(kit.status.success(), "{}", stderr(&kit));
    let out = run_as(&db, BILLING, &["worklist", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "label sheets are used up, not keyed: {items:?}");
    assert!(items.iter().all(|i| i["stage"] == "printed" && i["patient"] == patient.as_str()));
    assert_eq!(json["days"][0]["items"], 2);
    let none = run_as(&db, BILLING, &["worklist", "--stage", "verified", "--json"]);
    let none: serde_json::Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let bad = run_as(&db, BILLING, &["worklist", "--stage", "typed"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--stage 'typed' is not one of printed, scanned"), "{}", stderr(&bad));
    let nurse = run_as(&db, ("nurse", "kamikarte-demo-nurse"), &["worklist"]);
    assert_eq!(nurse.status.code(), Some(1), "a nurse does not back-enter");
}

#[test]
fn reconcile_map_needs_an_override_for_a_different_date_of_birth() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let census = list_json(&db);
    let mrn = census[0]["id"].as_str().unwrap();
    let kana = census[0]["kana"].as_str().unwrap();
    let name = census[0]["name"].as_str().unwrap();
    let reg = run_as(
        &db,
        CLERK,
        &["register", "--sex", "F", "--kana", kana, "--name", name, "--dob", "1931-02-03"],
    );
    assert!(reg.status.success(), "{}", stderr(&reg));
    let downtime_id = stdout(&reg).trim().to_string();

    let refused = run_as(&db, CLERK, &["reconcile", "map", &downtime_id, mrn]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("date of birth differs"), "{}", stderr(&refused));
    let listed = run_as(&db, CLERK, &["reconcile", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["downtime_id"] == downtime_id.as_str() && p["mrn"].is_null())
    );

    let ok =
        run_as(&db, CLERK, &["reconcile", "map", &downtime_id, mrn, "--override", "DOB misheard at arrival"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("overridden: date of birth differs"));
    let listed = run_as(&db, CLERK, &["reconcile", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let row =
        listed.as_array().unwrap().iter().find(|p| p["downtime_id"] == downtime_id.as_str()).unwrap().clone();
    assert_eq!(row["mrn"], mrn);
    assert_eq!(row["override_reason"], "DOB misheard at arrival");
    let billing = run_as(&db, BILLING, &["reconcile", "list"]);
    assert_eq!(billing.status.code(), Some(1), "billing does not reconcile identities");
}
