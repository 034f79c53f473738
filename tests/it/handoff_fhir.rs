//! FHIR hand-off checked by an implementation not written here: bundles made from hand-off items
//! of every kind are validated by `tests/peers/fhir_check.py` (fhir.resources R4B models plus
//! the transaction rules a re-send depends on). Synthetic patients only.

use std::path::{Path, PathBuf};
use std::process::Command;

use kamikarte::form::{FormDefinition, built_in};
use kamikarte::handoff::fhir::{FhirContext, FhirError, bundle, bundle_correcting};
use kamikarte::handoff::{Content, HandoffItem, Page, PatientFacts};
use serde_json::{Value, json};

const HOSPITAL: &str = "1312345678";
const MRN: &str = "0001234567";
const DOWNTIME_ID: &str = "T-000123-X";
const MERGED_ID: &str = "T-000456-Y";
const CENSUS_ID: &str = "0000004242";

fn mapped_patient() -> PatientFacts {
    PatientFacts {
        id: MRN.into(),
        downtime_id: Some(DOWNTIME_ID.into()),
        mrn: Some(MRN.into()),
        name: "山田 太郎".into(),
        kana: "ヤマダ タロウ".into(),
        dob: "1958-03-14".into(),
        sex: "M".into(),
        ward: "救急".into(),
        room: "ER".into(),
        bed: "3".into(),
        department: "救急科".into(),
        department_code: None,
        outpatient: false,
    }
}

fn census_patient() -> PatientFacts {
    PatientFacts {
        id: CENSUS_ID.into(),
        downtime_id: None,
        mrn: None,
        name: "架空　花子".into(),
        kana: "カクウ ハナコ".into(),
        dob: "1947-11-02".into(),
        sex: "F".into(),
        ward: "5E".into(),
        room: "503".into(),
        bed: "2".into(),
        department: "内科".into(),
        department_code: None,
        outpatient: true,
    }
}

fn item(patient: &PatientFacts, subject: &str, content: Content) -> HandoffItem {
    HandoffItem {
        subject: subject.into(),
        patient: patient.clone(),
        recorded_patient: patient.downtime_id.clone().unwrap_or(patient.id.clone()),
        content,
    }
}

/// A keyed page as `gather` hands it over, for `patient`.
fn keyed(
    forms: &[FormDefinition],
    patient: &PatientFacts,
    form_id: &str,
    serial: &str,
    pairs: &[(&str, Value)],
    names: &[(&str, &str)],
) -> HandoffItem {
    let content = crate::common::handoff::keyed_content(forms, form_id, serial, pairs, names);
    item(patient, &format!("keyed:{serial}"), content)
}

fn write_page_image(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("page-45.png");
    image::GrayImage::from_fn(40, 56, |x, y| image::Luma([if (x + y) % 7 == 0 { 0 } else { 255 }]))
        .save(&path)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    (path, sha)
}

/// Every kind of hand-off item for the mapped downtime patient.
fn mapped_items(forms: &[FormDefinition], image: &(PathBuf, String)) -> Vec<HandoffItem> {
    let p = mapped_patient();
    vec![
        item(
            &p,
            &format!("registration:{DOWNTIME_ID}"),
            Content::Registration {
                registered_at: "2026-11-05T08:12:00+09:00".into(),
                registered_by: "受付 一郎".into(),
                identity_unknown: false,
                dob_estimated: false,
            },
        ),
        item(
            &p,
            &format!("link:{DOWNTIME_ID}"),
            Content::Link {
                downtime_id: DOWNTIME_ID.into(),
                mrn: MRN.into(),
                override_reason: None,
                linked_at: "2026-11-07T09:00:00+09:00".into(),
            },
        ),
        item(
            &p,
            &format!("merge:{MERGED_ID}"),
            Content::Merge {
                merged_id: MERGED_ID.into(),
                into_id: DOWNTIME_ID.into(),
                reason: "同一人物 registered twice".into(),
                merged_at: "2026-11-05T12:00:00+09:00".into(),
            },
        ),
        keyed(
            forms,
            &p,
            "prescription",
            "RX-000101",
            &[
                ("rx_date", json!("2026-11-05")),
                ("drug_1", json!("990000101")),
                ("dose_1", json!("1回2錠")),
                ("frequency_1", json!("1日3回毎食後")),
                ("days_1", json!(5.0)),
                ("drug_2", json!("990000104")),
                ("dose_2", json!("1回1錠")),
                ("frequency_2", json!("1日3回毎食後")),
                ("days_2", json!(5.0)),
                ("comment_2", json!("胃薬")),
                ("doctor", json!("医師 一号")),
                ("department", json!("救急科")),
            ],
            &[("990000101", "アセトアミノフェン錠200mg"), ("990000104", "レバミピド錠100mg")],
        ),
        keyed(
            forms,
            &p,
            "injection_order",
            "INJ-000201",
            &[
                ("order_date", json!("2026-11-05")),
                ("drug_1", json!("990000301")),
                ("dose_1", json!("500mL")),
                ("route_1", json!("点滴静注")),
                ("rate_1", json!("80mL/h")),
                ("time_1", json!("09:30")),
                ("done_1", json!(true)),
                ("done_by_1", json!("看護 花子")),
                ("drug_2", json!("990000302")),
                ("dose_2", json!("1A")),
                ("time_2", json!("21:00")),
                ("doctor", json!("医師 一号")),
            ],
            &[("990000301", "生理食塩液500mL")],
        ),
        keyed(
            forms,
            &p,
            "mar",
            "MAR-000301",
            &[
                ("date", json!("2026-11-05")),
                ("drug_1", json!("990000101")),
                ("dose_1", json!("2錠")),
                ("route_1", json!("経口")),
                ("time_1", json!("08:00")),
                ("given_1", json!(true)),
                ("initials_1", json!("KH")),
                ("drug_2", json!("990000104")),
                ("time_2", json!("12:00")),
                ("given_2", json!(false)),
            ],
            &[("990000101", "アセトアミノフェン錠200mg"), ("990000104", "レバミピド錠100mg")],
        ),
        keyed(
            forms,
            &p,
            "lab_order",
            "LAB-000401",
            &[
                ("order_date", json!("2026-11-05")),
                ("collect_time", json!("07:45")),
                ("priority_urgent", json!(true)),
                ("tests", json!(["CBC", "CRP"])),
                ("other_test", json!("HBA1C")),
                ("specimen", json!("血液")),
                ("clinical_info", json!("発熱精査")),
                ("doctor", json!("医師 一号")),
            ],
            &[("HBA1C", "HbA1c")],
        ),
        keyed(
            forms,
            &p,
            "imaging_order",
            "IMG-000501",
            &[
                ("order_date", json!("2026-11-05")),
                ("portable", json!(true)),
                ("modality", json!(["XR_CHEST"])),
                ("region", json!("胸部 正面")),
                ("clinical_info", json!("肺炎疑い")),
                ("creatinine", json!(0.8)),
                ("doctor", json!("医師 一号")),
            ],
            &[],
        ),
        keyed(
            forms,
            &p,
            "diet_order",
            "DIET-000601",
            &[
                ("start_date", json!("2026-11-06")),
                ("start_meal", json!(["L"])),
                ("diet", json!(["GRUEL_FULL", "LOWSALT"])),
                ("energy_kcal", json!(1600.0)),
                ("salt_g", json!(6.0)),
                ("food_allergy", json!("えび")),
                ("comment", json!("嚥下確認後に常食へ")),
                ("doctor", json!("医師 一号")),
            ],
            &[],
        ),
        keyed(
            forms,
            &p,
            "vital_signs",
            "VS-000701",
            &[
                ("date", json!("2026-11-05")),
                ("time_1", json!("06:00")),
                ("temp_1", json!(38.2)),
                ("pulse_1", json!(96.0)),
                ("bp_sys_1", json!(132.0)),
                ("bp_dia_1", json!(84.0)),
                ("spo2_1", json!(95.0)),
                ("resp_1", json!(20.0)),
                ("memo_1", json!("悪寒あり")),
                ("time_2", json!("10:00")),
                ("temp_2", json!(37.6)),
                ("bp_sys_2", json!(128.0)),
                ("intake_output", json!("IN 1200 / OUT 900")),
                ("signature", json!("看護 花子")),
            ],
            &[],
        ),
        keyed(
            forms,
            &p,
            "progress_note",
            "PN-000801",
            &[
                ("date", json!("2026-11-05")),
                ("time", json!("09:30")),
                ("author", json!("医師 一号")),
                ("profession", json!("医師")),
                ("note", json!("S: 発熱、咳嗽\nO: 38.2℃ SpO2 95%\nA: 肺炎疑い\nP: 胸部X線、採血")),
                ("signature", json!("医師 一号")),
            ],
            &[],
        ),
        keyed(
            forms,
            &p,
            "charge_slip",
            "CHG-000901",
            &[
                ("date", json!("2026-11-05")),
                ("department", json!("救急科")),
                ("doctor", json!("医師 一号")),
                ("charges", json!(["A000", "D400"])),
                ("code_1", json!("G004")),
                ("qty_1", json!(2.0)),
            ],
            &[("A000", "初診料"), ("D400", "血液採取"), ("G004", "点滴注射")],
        ),
        item(
            &p,
            "page:45",
            Content::Page(Page {
                page_id: 45,
                form_code: Some("PN".into()),
                item: "page 45".into(),
                image_sha256: image.1.clone(),
                image_path: image.0.to_string_lossy().into_owned(),
                image_format: "png".into(),
                width: 40,
                height: 56,
                imported_at: "2026-11-07T08:00:00+09:00".into(),
                dated: None,
            }),
        ),
    ]
}

fn census_items(forms: &[FormDefinition]) -> Vec<HandoffItem> {
    let p = census_patient();
    vec![
        keyed(
            forms,
            &p,
            "vital_signs",
            "VS-000702",
            &[("date", json!("2026-11-05")), ("time_1", json!("14:00")), ("temp_1", json!(36.5))],
            &[],
        ),
        keyed(
            forms,
            &p,
            "charge_slip",
            "CHG-000902",
            &[("date", json!("2026-11-05")), ("charges", json!(["A001"]))],
            &[("A001", "再診料")],
        ),
    ]
}

fn make(
    patient: &PatientFacts,
    items: &[HandoffItem],
    forms: &[FormDefinition],
) -> Result<String, FhirError> {
    let ctx = FhirContext {
        hospital_code: HOSPITAL,
        base: "https://hospital.example/fhir",
        hospital_name: "架空総合病院",
        forms,
    };
    let refs: Vec<&HandoffItem> = items.iter().collect();
    bundle(patient, &refs, &ctx).map(|b| serde_json::to_string_pretty(&b).unwrap())
}

fn fhir_check(dir: &Path) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/fhir_check.py");
    Command::new("python3").arg(script).arg(dir).output().expect("python3 runs")
}

fn entries_of(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["entry"].as_array().unwrap().clone()
}

#[test]
fn bundles_of_every_kind_of_item_pass_the_fhir_resources_validator() {
    let forms = built_in();
    let dir = tempfile::tempdir().unwrap();
    let image = write_page_image(dir.path());
    let out = dir.path().join("bundles");
    std::fs::create_dir(&out).unwrap();
    let mapped = make(&mapped_patient(), &mapped_items(&forms, &image), &forms).unwrap();
    let census = make(&census_patient(), &census_items(&forms), &forms).unwrap();
    std::fs::write(out.join("mapped.json"), &mapped).unwrap();
    std::fs::write(out.join("census.json"), &census).unwrap();

    let result = fhir_check(&out);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "fhir_check: {}{stdout}", String::from_utf8_lossy(&result.stderr));
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["files"], 2);
    let types = &summary["bundles"][1]["types"];
    assert_eq!(summary["bundles"][1]["file"], "mapped.json");
    for (kind, count) in [
        // The survivor under the record number, the mapped downtime ID and the merged one.
        ("Patient", 3),
        ("Encounter", 1),
        // Two prescription rows and two injection rows.
        ("MedicationRequest", 4),
        // Two MAR rows and the injection marked done.
        ("MedicationAdministration", 3),
        // CBC, CRP, HbA1c and a chest X-ray.
        ("ServiceRequest", 4),
        ("NutritionOrder", 1),
        // Round 1: temperature, pulse, a BP panel, SpO2, respiration; round 2: temperature and a
        // lone systolic; the page's intake and output.
        ("Observation", 8),
        // The progress note and the scanned page.
        ("DocumentReference", 2),
        ("ChargeItem", 3),
    ] {
        assert_eq!(types[kind], count, "{kind} in {types}");
    }
    // JP Core: every kind it profiles claims its profile where the paper gives what the profile
    // requires (fhir_check.py holds each claim to the profile's requirements).
    let profiles = &summary["bundles"][1]["profiles"];
    for (profile, count) in [
        ("JP_Patient", 3),
        ("JP_Encounter", 1),
        ("JP_MedicationRequest", 2),
        // Both injection rows: the drug as a contained JP_Medication whose strength is the dose.
        ("JP_MedicationRequest_Injection", 2),
        ("JP_MedicationAdministration", 2),
        ("JP_MedicationAdministration_Injection", 1),
        ("JP_ServiceRequest", 4),
        ("JP_DocumentReference", 2),
    ] {
        assert_eq!(profiles[profile], count, "{profile} in {profiles}");
    }
    let observations = profiles["JP_Observation_VitalSigns"].as_u64().unwrap_or(0)
        + profiles["JP_Observation_Common"].as_u64().unwrap_or(0);
    assert_eq!(observations, 8, "{profiles}");
    assert!(profiles["JP_Observation_VitalSigns"].as_u64().unwrap_or(0) >= 5, "{profiles}");
}

#[test]
fn a_correction_that_removes_a_row_withdraws_the_resource_the_server_had() {
    let forms = built_in();
    let p = census_patient();
    let rx = |rows: &[(&str, serde_json::Value)]| {
        let mut values = vec![("rx_date", json!("2026-11-05"))];
        values.extend(rows.iter().cloned());
        keyed(&forms, &p, "prescription", "RX-000777", &values, &[("990000101", "薬A"), ("990000104", "薬B")])
    };
    let delivered = rx(&[
        ("drug_1", json!("990000101")),
        ("dose_1", json!("2錠")),
        ("drug_2", json!("990000104")),
        ("dose_2", json!("1錠")),
    ]);
    // The second row was keyed from nothing on the paper: the correction deletes it.
    let corrected = rx(&[("drug_1", json!("990000101")), ("dose_1", json!("2錠"))]);
    let ctx = FhirContext {
        hospital_code: HOSPITAL,
        base: "https://hospital.example/fhir",
        hospital_name: "架空総合病院",
        forms: &forms,
    };
    let b = bundle_correcting(&p, &[&corrected], &[&delivered], &ctx).unwrap();
    let requests: Vec<&Value> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "MedicationRequest")
        .collect();
    assert_eq!(requests.len(), 2);
    let withdrawn: Vec<&&Value> =
        requests.iter().filter(|e| e["resource"]["status"] == "entered-in-error").collect();
    assert_eq!(withdrawn.len(), 1, "{requests:?}");
    let row2 = withdrawn[0];
    assert!(row2["resource"]["identifier"][0]["value"].as_str().unwrap().ends_with("#2"));
    assert_eq!(row2["request"]["method"], "PUT");
    assert!(row2["request"]["url"].as_str().unwrap().starts_with("MedicationRequest?identifier="));
    // Sent without the earlier version, nothing is withdrawn; and the bundle stays valid.
    let plain = bundle_correcting(&p, &[&corrected], &[], &ctx).unwrap();
    assert!(!plain.to_string().contains("entered-in-error"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corrected.json"), serde_json::to_string(&b).unwrap()).unwrap();
    let result = fhir_check(dir.path());
    assert!(result.status.success(), "fhir_check: {}", String::from_utf8_lossy(&result.stderr));
}

#[test]
fn the_same_items_give_byte_identical_bundles_in_any_order() {
    let forms = built_in();
    let dir = tempfile::tempdir().unwrap();
    let image = write_page_image(dir.path());
    let items = mapped_items(&forms, &image);
    let first = make(&mapped_patient(), &items, &forms).unwrap();
    let again = make(&mapped_patient(), &items, &forms).unwrap();
    assert_eq!(first, again);
    let mut reversed = items.clone();
    reversed.reverse();
    assert_eq!(first, make(&mapped_patient(), &reversed, &forms).unwrap());
}

#[test]
fn the_mapped_patient_is_created_only_if_absent_and_the_downtime_ids_point_to_it() {
    let forms = built_in();
    let dir = tempfile::tempdir().unwrap();
    let image = write_page_image(dir.path());
    let entries = entries_of(&make(&mapped_patient(), &mapped_items(&forms, &image), &forms).unwrap());
    let patients: Vec<&Value> =
        entries.iter().filter(|e| e["resource"]["resourceType"] == "Patient").collect();
    let survivor = patients[0];
    assert_eq!(survivor["request"]["method"], "POST");
    assert_eq!(
        survivor["request"]["ifNoneExist"],
        format!("identifier=urn:oid:1.2.392.100495.20.3.51.1{HOSPITAL}|{MRN}")
    );
    let replaced: Vec<&str> =
        patients[1..].iter().map(|p| p["resource"]["identifier"][0]["value"].as_str().unwrap()).collect();
    assert_eq!(replaced, vec![DOWNTIME_ID, MERGED_ID]);
    for p in &patients[1..] {
        assert_eq!(p["resource"]["link"][0]["type"], "replaced-by");
        assert_eq!(p["resource"]["link"][0]["other"]["reference"], survivor["fullUrl"]);
    }
    // Everything made from paper is about the survivor.
    for e in &entries {
        if let Some(subject) = e["resource"].get("subject").or(e["resource"].get("patient")) {
            assert_eq!(subject["reference"], survivor["fullUrl"], "{}", e["resource"]["resourceType"]);
        }
    }
}

#[test]
fn a_corrected_page_keeps_its_identifiers_so_the_resend_replaces_the_wrong_values() {
    let forms = built_in();
    let p = census_patient();
    let vitals = |temp: f64| {
        vec![keyed(
            &forms,
            &p,
            "vital_signs",
            "VS-000702",
            &[("date", json!("2026-11-05")), ("time_1", json!("14:00")), ("temp_1", json!(temp))],
            &[],
        )]
    };
    let before = entries_of(&make(&p, &vitals(36.5), &forms).unwrap());
    let after = entries_of(&make(&p, &vitals(37.5), &forms).unwrap());
    let observation = |entries: &[Value]| {
        entries.iter().find(|e| e["resource"]["resourceType"] == "Observation").cloned().unwrap()
    };
    let (before, after) = (observation(&before), observation(&after));
    assert_eq!(before["fullUrl"], after["fullUrl"]);
    assert_eq!(before["request"], after["request"]);
    assert_eq!(after["request"]["method"], "PUT");
    assert_eq!(after["resource"]["valueQuantity"]["value"], 37.5);
    assert_eq!(after["resource"]["effectiveDateTime"], "2026-11-05T14:00:00+09:00");
    assert_eq!(after["resource"]["valueQuantity"]["code"], "Cel");
}

#[test]
fn an_item_of_another_patient_or_a_replaced_image_is_refused_by_name() {
    let forms = built_in();
    let dir = tempfile::tempdir().unwrap();
    let image = write_page_image(dir.path());
    let mut items = census_items(&forms);
    items.push(mapped_items(&forms, &image).pop().unwrap());
    let err = make(&census_patient(), &items, &forms).unwrap_err();
    assert_eq!(err.subject, "page:45");
    assert!(err.message.contains(MRN), "{err}");

    std::fs::write(&image.0, b"not the filed page").unwrap();
    let err = make(&mapped_patient(), &mapped_items(&forms, &image), &forms).unwrap_err();
    assert_eq!(err.subject, "page:45");
    assert!(err.message.contains("SHA-256"), "{err}");
}

#[test]
fn a_dose_row_without_a_drug_is_refused_naming_the_row() {
    let forms = built_in();
    let p = census_patient();
    let items = vec![keyed(
        &forms,
        &p,
        "mar",
        "MAR-000302",
        &[("date", json!("2026-11-05")), ("time_3", json!("08:00")), ("given_3", json!(true))],
        &[],
    )];
    let err = make(&p, &items, &forms).unwrap_err();
    assert_eq!(err.to_string(), "keyed:MAR-000302: row 3: a row with no drug");
}

#[test]
fn a_test_both_ticked_and_written_in_other_is_one_service_request() {
    let forms = built_in();
    let p = mapped_patient();
    let slip = keyed(
        &forms,
        &p,
        "lab_order",
        "LAB-000402",
        &[
            ("order_date", json!("2026-11-05")),
            ("tests", json!(["CBC", "CRP"])),
            ("other_test", json!("CRP")),
            ("specimen", json!("血液")),
        ],
        &[("CRP", "C反応性蛋白")],
    );
    let json = make(&p, &[slip], &forms).unwrap_or_else(|e| panic!("{e}"));
    let requests: Vec<Value> =
        entries_of(&json).into_iter().filter(|e| e["resource"]["resourceType"] == "ServiceRequest").collect();
    assert_eq!(requests.len(), 2, "CBC and CRP once each: {requests:#?}");
}
