//! HL7 v2.5 hand-off checked by parsers not written here: every message type the export emits,
//! encoded as ISO-2022-JP and as UTF-8, is decoded, parsed and validated by
//! `tests/peers/hl7_check.py` (Python's strict `iso2022_jp` codec, hl7apy at
//! VALIDATION_LEVEL.STRICT, python-hl7). Synthetic patients only.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeZone, Utc};
use kamikarte::domain::MasterItem;
use kamikarte::domain::kana::search_key;
use kamikarte::domain::staff::StaffDirectory;
use kamikarte::form::{FormDefinition, built_in};
use kamikarte::handoff::hl7::{
    Charset, Hl7Context, Hl7Error, Hl7Message, UsageCode, decode, encode, messages,
};
use kamikarte::handoff::{Content, HandoffItem, Page, PatientFacts};
use serde_json::{Value, json};

use crate::common::handoff::keyed_content as keyed;

/// `content` with what the masters say of its codes (unit, specimen, JLAC10, dosage form, HOT),
/// as `gather` records it.
fn with_facts(mut content: Content, facts: &[(&str, &[(&str, &str)])]) -> Content {
    if let Content::Keyed(k) = &mut content {
        for (code, pairs) in facts {
            k.code_facts.insert(
                code.to_string(),
                pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            );
        }
    }
    content
}

const HOSPITAL: &str = "1312345678";
const MRN: &str = "0001234567";
const DOWNTIME_ID: &str = "T-000123-X";
const MERGED_ID: &str = "T-000456-Y";

fn patient(mapped: bool) -> PatientFacts {
    PatientFacts {
        id: if mapped { MRN } else { DOWNTIME_ID }.into(),
        downtime_id: Some(DOWNTIME_ID.into()),
        mrn: mapped.then(|| MRN.into()),
        name: "山田 太郎".into(),
        kana: "ヤマダ タロウ".into(),
        dob: "1958-03-14".into(),
        sex: "M".into(),
        ward: "5東".into(),
        room: "503".into(),
        bed: "2".into(),
        department: "内科".into(),
        department_code: None,
        outpatient: false,
    }
}

fn ctx(forms: &[FormDefinition]) -> Hl7Context<'_> {
    Hl7Context {
        sending_facility: HOSPITAL,
        hospital_name: "架空総合病院",
        receiving_application: "EHR",
        receiving_facility: "HIS",
        forms,
        // The departments master as the hospital would import it (name → the EHR's code).
        departments: Box::leak(Box::new(std::collections::HashMap::from([(
            "救急科".to_string(),
            "40".to_string(),
        )]))),
        // The usages master: one usage with a JAMI code, one without.
        usages: Box::leak(Box::new(std::collections::HashMap::from([
            (
                search_key("1日3回 毎食後"),
                UsageCode {
                    jami: Some("1013044400000000".into()),
                    name: "1日3回 毎食後".into(),
                    per_day: Some(3),
                },
            ),
            (search_key("疼痛時 頓用"), UsageCode { jami: None, name: "疼痛時 頓用".into(), per_day: None }),
        ]))),
        // The doctors and staff masters: the EHR's codes for the doctor the paper names and
        // for the clerks who keyed and verified it.
        staff: Box::leak(Box::new(StaffDirectory::new(
            &[
                master_item("200101", "佐藤 健一", "サトウ ケンイチ", ("department", "40")),
                master_item("200102", "佐藤 直子", "サトウ ナオコ", ("department", "01")),
            ],
            &[
                master_item("000101", "入力 一子", "ニュウリョク イチコ", ("login", "clerk01")),
                master_item("000102", "確認 二郎", "カクニン ジロウ", ("login", "clerk02")),
            ],
        ))),
        now: Utc.with_ymd_and_hms(2026, 11, 7, 1, 30, 0).single().unwrap(),
    }
}

fn master_item(code: &str, name: &str, kana: &str, detail: (&str, &str)) -> MasterItem {
    MasterItem {
        code: code.into(),
        name: name.into(),
        kana: Some(kana.into()),
        unit: None,
        points: None,
        uses: 0,
        details: [(detail.0.to_string(), detail.1.to_string())].into(),
    }
}

fn item(subject: &str, content: Content) -> HandoffItem {
    HandoffItem {
        subject: subject.into(),
        patient: patient(true),
        recorded_patient: DOWNTIME_ID.into(),
        content,
    }
}

fn registration() -> Content {
    Content::Registration {
        registered_at: "2026-11-05T08:12:00.000Z".into(),
        registered_by: "reception1".into(),
        identity_unknown: false,
        dob_estimated: false,
    }
}

fn prescription(forms: &[FormDefinition]) -> Content {
    let content = keyed(
        forms,
        "prescription",
        "A-000101",
        &[
            ("rx_date", json!("2026-11-05")),
            ("discharge", json!(true)),
            ("drug_1", json!("990000102")),
            ("dose_1", json!("1錠")),
            ("frequency_1", json!("1日3回 毎食後")),
            ("days_1", json!(5.0)),
            ("comment_1", json!("発熱時は頓用可")),
            ("drug_2", json!("990000104")),
            ("dose_2", json!("1錠")),
            ("frequency_2", json!("1日3回 毎食後")),
            ("days_2", json!(5.0)),
            ("doctor", json!("佐藤 健一")),
            ("department", json!("内科")),
        ],
        &[("990000102", "アセトアミノフェン錠500mg"), ("990000104", "レバミピド錠100mg")],
    );
    with_facts(
        content,
        &[
            ("990000102", &[("unit", "錠"), ("form", "内用")]),
            ("990000104", &[("unit", "錠"), ("form", "内用")]),
        ],
    )
}

fn injection(forms: &[FormDefinition]) -> Content {
    let content = keyed(
        forms,
        "injection_order",
        "A-000102",
        &[
            ("order_date", json!("2026-11-05")),
            ("drug_1", json!("990000206")),
            ("dose_1", json!("1瓶")),
            ("route_1", json!("点滴")),
            ("rate_1", json!("100mL/h")),
            ("time_1", json!("09:00")),
            ("done_1", json!(true)),
            ("done_by_1", json!("看護 花子")),
            ("drug_2", json!("990000209")),
            ("dose_2", json!("20mg")),
            ("route_2", json!("静注")),
            ("time_2", json!("17:00")),
            ("doctor", json!("佐藤 健一")),
            ("department", json!("内科")),
        ],
        &[("990000206", "セファゾリンナトリウム注射用1g"), ("990000209", "フロセミド注射液20mg")],
    );
    // A synthetic HOT number: the drug is sent under it, with the hospital's code beside.
    with_facts(content, &[("990000206", &[("form", "注射"), ("hot", "999000206")])])
}

fn mar(forms: &[FormDefinition]) -> Content {
    keyed(
        forms,
        "mar",
        "A-000103",
        &[
            ("date", json!("2026-11-05")),
            ("drug_1", json!("990000102")),
            ("dose_1", json!("1錠")),
            ("route_1", json!("内服")),
            ("time_1", json!("08:00")),
            ("given_1", json!(true)),
            ("initials_1", json!("看護 花子")),
            ("drug_2", json!("990000125")),
            ("dose_2", json!("4単位")),
            ("route_2", json!("皮下")),
            ("time_2", json!("12:00")),
            ("given_2", json!(false)),
            ("initials_2", json!("看護 次郎")),
        ],
        &[("990000102", "アセトアミノフェン錠500mg"), ("990000125", "インスリン注射液100単位/mL")],
    )
}

fn lab(forms: &[FormDefinition], tests: &[&str]) -> Content {
    let content = keyed(
        forms,
        "lab_order",
        "A-000104",
        &[
            ("order_date", json!("2026-11-05")),
            ("collect_time", json!("06:30")),
            ("priority_urgent", json!(true)),
            ("tests", json!(tests)),
            ("other_test", json!("PCT")),
            ("specimen", json!("血液")),
            ("clinical_info", json!("発熱 38.5℃\n敗血症疑い")),
            ("doctor", json!("佐藤 健一")),
            ("department", json!("内科")),
        ],
        &[("CBC", "血算"), ("CRP", "C反応性蛋白"), ("ALB", "アルブミン"), ("PCT", "プロカルシトニン")],
    );
    with_facts(
        content,
        &[
            ("CBC", &[("specimen", "全血")]),
            ("CRP", &[("specimen", "血清"), ("jlac10", "5C070000002306201")]),
            ("ALB", &[("specimen", "血清"), ("jlac10", "3A015000002327101")]),
            ("PCT", &[("specimen", "血清")]),
        ],
    )
}

fn imaging(forms: &[FormDefinition]) -> Content {
    keyed(
        forms,
        "imaging_order",
        "A-000105",
        &[
            ("order_date", json!("2026-11-05")),
            ("portable", json!(true)),
            ("contrast", json!(true)),
            ("modality", json!(["XR_CHEST", "CT_HEAD"])),
            ("region", json!("右側頭部")),
            ("clinical_info", json!("転倒後の頭痛。\n出血の有無")),
            ("allergy_checked", json!(true)),
            ("creatinine", json!(0.82)),
            ("doctor", json!("佐藤 健一")),
            ("department", json!("救急科")),
        ],
        &[],
    )
}

fn diet(forms: &[FormDefinition]) -> Content {
    keyed(
        forms,
        "diet_order",
        "A-000106",
        &[
            ("start_date", json!("2026-11-06")),
            ("start_meal", json!(["L"])),
            ("diet", json!(["GRUEL_FULL", "DM"])),
            ("energy_kcal", json!(1600.0)),
            ("salt_g", json!(6.0)),
            ("protein_g", json!(60.0)),
            ("food_allergy", json!("卵、そば")),
            ("comment", json!("義歯あり。刻み食")),
            ("doctor", json!("佐藤 健一")),
            ("department", json!("内科")),
        ],
        &[],
    )
}

fn vitals(forms: &[FormDefinition]) -> Content {
    keyed(
        forms,
        "vital_signs",
        "A-000107",
        &[
            ("date", json!("2026-11-05")),
            ("time_1", json!("06:00")),
            ("temp_1", json!(36.8)),
            ("pulse_1", json!(72.0)),
            ("bp_sys_1", json!(128.0)),
            ("bp_dia_1", json!(76.0)),
            ("resp_1", json!(16.0)),
            ("spo2_1", json!(97.0)),
            ("time_2", json!("10:00")),
            ("temp_2", json!(37.9)),
            ("pulse_2", json!(96.0)),
            ("memo_2", json!("悪寒あり")),
            ("intake_output", json!("1200/900")),
            ("signature", json!("看護 花子")),
        ],
        &[],
    )
}

fn note(forms: &[FormDefinition], text: &str) -> Content {
    keyed(
        forms,
        "progress_note",
        "A-000108",
        &[
            ("date", json!("2026-11-05")),
            ("time", json!("09:30")),
            ("author", json!("髙橋 一郎")),
            ("profession", json!("医師")),
            ("note", json!(text)),
            ("signature", json!("髙橋")),
        ],
        &[],
    )
}

fn charges(forms: &[FormDefinition], ticks: &[&str], code: &str, qty: f64) -> Content {
    keyed(
        forms,
        "charge_slip",
        "A-000109",
        &[
            ("date", json!("2026-11-05")),
            ("department", json!("内科")),
            ("doctor", json!("佐藤 健一")),
            ("charges", json!(ticks)),
            ("code_1", json!(code)),
            ("qty_1", json!(qty)),
            ("clerk", json!("医事 次郎")),
        ],
        &[
            ("A001", "再診料"),
            ("D400", "血液採取"),
            ("G004", "点滴注射"),
            ("J024", "酸素吸入"),
            ("G001", "静脈内注射"),
        ],
    )
}

fn write_png(dir: &Path) -> PathBuf {
    let path = dir.join("page-45.png");
    image::GrayImage::from_fn(40, 56, |x, y| image::Luma([if (x + y) % 7 == 0 { 0 } else { 255 }]))
        .save(&path)
        .unwrap();
    path
}

fn page(path: &Path) -> Content {
    Content::Page(Page {
        page_id: 45,
        form_code: Some("VS".into()),
        item: "A-000107".into(),
        image_sha256: "0".repeat(64),
        image_path: path.to_string_lossy().into_owned(),
        image_format: "png".into(),
        width: 40,
        height: 56,
        imported_at: "2026-11-06T03:00:00.000Z".into(),
        dated: None,
    })
}

/// (file stem, item, version, delivered previous content) for every message type emitted.
fn cases(forms: &[FormDefinition], png: &Path) -> Vec<(&'static str, HandoffItem, u32, Option<Content>)> {
    let mut unmapped = item(&format!("registration:{DOWNTIME_ID}"), registration());
    unmapped.patient = patient(false);
    let note_v1 =
        note(forms, "S) 頭痛、嘔気なし\nO) 意識清明 | 瞳孔 ^ 左右差なし & 対光反射 ~ 正常\nP) 経過観察");
    let charges_v1 = charges(forms, &["A001", "D400"], "G004", 2.0);
    vec![
        ("adt_a04", unmapped, 1, None),
        ("adt_a08", item(&format!("registration:{DOWNTIME_ID}"), registration()), 2, Some(registration())),
        (
            "adt_a40_link",
            item(
                &format!("link:{DOWNTIME_ID}"),
                Content::Link {
                    downtime_id: DOWNTIME_ID.into(),
                    mrn: MRN.into(),
                    override_reason: None,
                    linked_at: "2026-11-07T00:10:00.000Z".into(),
                },
            ),
            1,
            None,
        ),
        (
            "adt_a40_merge",
            item(
                &format!("merge:{MERGED_ID}"),
                Content::Merge {
                    merged_id: MERGED_ID.into(),
                    into_id: DOWNTIME_ID.into(),
                    reason: "同一人物（リストバンド確認）".into(),
                    merged_at: "2026-11-06T05:00:00.000Z".into(),
                },
            ),
            1,
            None,
        ),
        ("rde_prescription", item("keyed:A-000101", prescription(forms)), 1, None),
        ("rde_injection", item("keyed:A-000102", injection(forms)), 1, None),
        ("ras_mar", item("keyed:A-000103", mar(forms)), 1, None),
        ("oml_lab", item("keyed:A-000104", lab(forms, &["CBC", "CRP"])), 1, None),
        (
            "oml_lab_corrected",
            item("keyed:A-000104", lab(forms, &["CBC", "ALB"])),
            2,
            Some(lab(forms, &["CBC", "CRP"])),
        ),
        ("omg_imaging", item("keyed:A-000105", imaging(forms)), 1, None),
        ("omd_diet", item("keyed:A-000106", diet(forms)), 1, None),
        ("oru_vitals", item("keyed:A-000107", vitals(forms)), 1, None),
        ("mdm_note", item("keyed:A-000108", note_v1.clone()), 1, None),
        (
            "mdm_note_replaced",
            item("keyed:A-000108", note(forms, "S) 頭痛軽快①\nA) 緊張型頭痛〜疑い")),
            2,
            Some(note_v1),
        ),
        ("mdm_page", item("page:45", page(png)), 1, None),
        ("dft_charges", item("keyed:A-000109", charges_v1.clone()), 1, None),
        (
            "dft_corrected",
            item("keyed:A-000109", charges(forms, &["A001", "J024"], "G001", 1.0)),
            2,
            Some(charges_v1),
        ),
    ]
}

fn build(forms: &[FormDefinition], png: &Path) -> Vec<(String, Hl7Message)> {
    let ctx = ctx(forms);
    let mut out = Vec::new();
    for (stem, item, version, previous) in cases(forms, png) {
        let msgs =
            messages(&item, version, previous.as_ref(), &ctx).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert!(!msgs.is_empty(), "{stem}: no message");
        for (seq, m) in msgs.into_iter().enumerate() {
            out.push((format!("{stem}-{seq}"), m));
        }
    }
    out
}

/// The values of field `n` of every `id` segment of a body.
fn fields(body: &str, id: &str, n: usize) -> Vec<String> {
    body.split('\r')
        .filter(|s| s.split('|').next() == Some(id))
        .map(|s| {
            // MSH-1 is the separator: MSH's field n is the nth piece, others' the nth after the ID.
            let pieces: Vec<&str> = s.split('|').collect();
            let i = if id == "MSH" { n - 1 } else { n };
            pieces.get(i).copied().unwrap_or("").to_string()
        })
        .collect()
}

/// Every case's messages, the page image written to a folder that lives as long as the result.
fn built() -> (tempfile::TempDir, Vec<(String, Hl7Message)>) {
    let dir = tempfile::tempdir().unwrap();
    let png = write_png(dir.path());
    let all = build(&built_in(), &png);
    (dir, all)
}

fn message<'a>(all: &'a [(String, Hl7Message)], stem: &str) -> &'a Hl7Message {
    &all.iter().find(|(s, _)| s == stem).unwrap_or_else(|| panic!("no message {stem}")).1
}

#[test]
fn every_message_type_passes_hl7apy_strict_and_python_hl7_in_both_encodings() {
    let forms = built_in();
    let dir = tempfile::tempdir().unwrap();
    let png = write_png(dir.path());
    let out = dir.path().join("messages");
    std::fs::create_dir(&out).unwrap();
    let all = build(&forms, &png);
    let mut substituted = Vec::new();
    for (stem, m) in &all {
        let (iso, subs) = encode(&m.body, Charset::Iso2022Jp);
        substituted.extend(subs);
        std::fs::write(out.join(format!("{stem}.iso2022jp.hl7")), &iso).unwrap();
        let (utf8, _) = encode(&m.body, Charset::Utf8);
        std::fs::write(out.join(format!("{stem}.utf8.hl7")), &utf8).unwrap();
    }
    // To look at the files themselves: KAMIKARTE_KEEP_HL7=/some/dir cargo test --test handoff_hl7
    if let Ok(keep) = std::env::var("KAMIKARTE_KEEP_HL7") {
        std::fs::create_dir_all(&keep).unwrap();
        for entry in std::fs::read_dir(&out).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, Path::new(&keep).join(path.file_name().unwrap())).unwrap();
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/hl7_check.py");
    let run = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("python3 with hl7apy and hl7 is needed");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "hl7_check.py failed:\n{stderr}");
    let summary: Value = serde_json::from_slice(&run.stdout).expect("the checker prints JSON");
    let files = summary["files"].as_array().unwrap();
    assert_eq!(files.len(), all.len() * 2);
    let expected_pid5 = json!([["山田", "太郎", "L", "I"], ["ヤマダ", "タロウ", "L", "P"]]);
    for f in files {
        assert_eq!(f["pid5"], expected_pid5, "{}: kanji and kana survive the round trip", f["file"]);
    }
    let types: std::collections::BTreeSet<String> =
        files.iter().map(|f| f["type"].as_str().unwrap_or("").to_string()).collect();
    for t in [
        "ADT^A04^ADT_A01",
        "ADT^A08^ADT_A01",
        "ADT^A40^ADT_A39",
        "RDE^O11^RDE_O11",
        "RAS^O17^RAS_O17",
        "OML^O33^OML_O33",
        "OMG^O19^OMG_O19",
        "OMD^O03^OMD_O03",
        "ORU^R01^ORU_R01",
        "MDM^T02^MDM_T02",
        "MDM^T10^MDM_T02",
        "DFT^P03^DFT_P03",
    ] {
        assert!(types.contains(t), "{t} was checked: {types:?}");
    }
    // The replaced note has ① (NEC row 13) and 〜 (a JIS cell under WHATWG's other name): only
    // the first is a substitution; 髙 (IBM extension) in the writer's name is one too.
    assert!(substituted.contains(&('①', "(1)".to_string())), "{substituted:?}");
    assert!(substituted.contains(&('髙', "高".to_string())), "{substituted:?}");
    assert!(!substituted.iter().any(|(c, _)| *c == '〜'), "{substituted:?}");
    let replaced = std::fs::read(out.join("mdm_note_replaced-0.iso2022jp.hl7")).unwrap();
    assert!(decode(&replaced).contains("A) 緊張型頭痛〜疑い"));
}

#[test]
fn an_update_of_a_delivered_registration_is_an_a08_and_a_new_one_an_a04() {
    let forms = built_in();
    let ctx = ctx(&forms);
    let reg = item(&format!("registration:{DOWNTIME_ID}"), registration());
    let first = messages(&reg, 1, None, &ctx).unwrap();
    assert_eq!(first[0].message_type, "ADT^A04");
    let again = messages(&reg, 2, Some(&registration()), &ctx).unwrap();
    assert_eq!(again[0].message_type, "ADT^A08");
    // A version nobody received replaces the earlier one as if it had never been.
    assert_eq!(messages(&reg, 2, None, &ctx).unwrap()[0].message_type, "ADT^A04");
    assert_eq!(fields(&again[0].body, "PID", 3), vec![format!("{MRN}^^^^PI~{DOWNTIME_ID}^^^^PT")]);
    assert_eq!(fields(&again[0].body, "MSH", 10), vec![again[0].control_id.clone()]);
    assert_eq!(fields(&again[0].body, "MSH", 7), vec!["20261107103000.000".to_string()]);
}

#[test]
fn a_link_merges_the_downtime_id_into_the_mrn() {
    let (_dir, all) = built();
    let link = message(&all, "adt_a40_link-0");
    assert_eq!(fields(&link.body, "PID", 3), vec![format!("{MRN}^^^^PI")]);
    assert_eq!(fields(&link.body, "MRG", 1), vec![format!("{DOWNTIME_ID}^^^^PI")]);
    let merge = message(&all, "adt_a40_merge-0");
    assert_eq!(fields(&merge.body, "MRG", 1), vec![format!("{MERGED_ID}^^^^PI")]);
}

#[test]
fn mar_rows_not_ticked_given_are_reported_not_administered() {
    let (_dir, all) = built();
    let ras = message(&all, "ras_mar-0");
    assert_eq!(fields(&ras.body, "RXA", 20), vec!["CP", "NA"]);
    assert_eq!(fields(&ras.body, "RXA", 6), vec!["1", "0"]);
    assert_eq!(fields(&ras.body, "RXA", 3), vec!["202611050800", "202611051200"]);
    assert_eq!(fields(&ras.body, "ORC", 2), vec!["A-000103-1^KAMIKARTE", "A-000103-2^KAMIKARTE"]);
    // The injection order: both rows ordered, only the row ticked done reported as given.
    let rde = message(&all, "rde_injection-0");
    assert_eq!(rde.message_type, "RDE^O11");
    assert_eq!(fields(&rde.body, "RXE", 2).len(), 2);
    let given = message(&all, "rde_injection-1");
    assert_eq!(given.message_type, "RAS^O17");
    assert_eq!(fields(&given.body, "RXA", 20), vec!["CP"]);
}

#[test]
fn a_corrected_lab_order_replaces_kept_tests_cancels_removed_ones_and_orders_new_ones() {
    let (_dir, all) = built();
    let first = message(&all, "oml_lab-0");
    assert_eq!(fields(&first.body, "ORC", 1), vec!["NW", "NW", "NW"]);
    let corrected = message(&all, "oml_lab_corrected-0");
    let orders: Vec<(String, String)> =
        fields(&corrected.body, "ORC", 1).into_iter().zip(fields(&corrected.body, "ORC", 2)).collect();
    let expect = |c: &str, p: &str| (c.to_string(), format!("A-000104-{p}^KAMIKARTE"));
    assert_eq!(
        orders,
        vec![expect("XO", "CBC"), expect("NW", "ALB"), expect("XO", "PCT"), expect("CA", "CRP")]
    );
    assert_eq!(fields(&corrected.body, "ORC", 4)[0], "A-000104^KAMIKARTE");
}

#[test]
fn a_corrected_charge_slip_credits_every_delivered_line_before_charging_again() {
    let (_dir, all) = built();
    let first = message(&all, "dft_charges-0");
    assert_eq!(fields(&first.body, "FT1", 6), vec!["CG", "CG", "CG"]);
    assert_eq!(fields(&first.body, "FT1", 10), vec!["1", "1", "2"]);
    let corrected = message(&all, "dft_corrected-0");
    let rows: Vec<(String, String, String)> = fields(&corrected.body, "FT1", 6)
        .into_iter()
        .zip(fields(&corrected.body, "FT1", 7))
        .zip(fields(&corrected.body, "FT1", 10))
        .map(|((t, c), q)| (t, c.split('^').next().unwrap_or("").to_string(), q))
        .collect();
    let row = |t: &str, c: &str, q: &str| (t.to_string(), c.to_string(), q.to_string());
    assert_eq!(
        rows,
        vec![
            row("CD", "A001", "-1"),
            row("CD", "D400", "-1"),
            row("CD", "G004", "-2"),
            row("CG", "A001", "1"),
            row("CG", "J024", "1"),
            row("CG", "G001", "1"),
        ]
    );
    assert_eq!(fields(&corrected.body, "FT1", 4)[0], "20261105");
    assert_eq!(fields(&corrected.body, "FT1", 7)[0], "A001^再診料^99KKC");
}

#[test]
fn vital_signs_carry_jlac10_and_loinc_codes_ucum_units_and_each_rounds_time() {
    let (_dir, all) = built();
    let oru = message(&all, "oru_vitals-0");
    let codes = fields(&oru.body, "OBX", 3);
    assert_eq!(codes[0], "9P100000000000001^体温^JC10^8310-5^体温^LN");
    assert_eq!(codes[2], "9A751000000000001^収縮期血圧^JC10^8480-6^収縮期血圧^LN");
    assert_eq!(fields(&oru.body, "OBX", 6)[0], "Cel^Cel^UCUM");
    assert_eq!(fields(&oru.body, "OBX", 5)[..2], ["36.8".to_string(), "72".to_string()]);
    let times = fields(&oru.body, "OBX", 14);
    assert_eq!((times[0].as_str(), times[6].as_str()), ("202611050600", "202611051000"));
    assert!(fields(&oru.body, "OBX", 11).iter().all(|s| s == "F"));
}

#[test]
fn an_unreadable_page_image_is_an_error_naming_the_path() {
    let forms = built_in();
    let missing = Path::new("/nonexistent/page-45.png");
    let err = messages(&item("page:45", page(missing)), 1, None, &ctx(&forms)).unwrap_err();
    assert!(matches!(&err, Hl7Error::Image { path, .. } if path == "/nonexistent/page-45.png"), "{err}");
    assert!(err.to_string().contains("/nonexistent/page-45.png"));
}

#[test]
fn orders_name_the_ehrs_staff_codes_never_logins_or_titles() {
    let forms = built_in();
    let with_doctor = |doctor: &str| {
        let mut content = prescription(&forms);
        if let Content::Keyed(k) = &mut content {
            k.values.insert("doctor".into(), json!(doctor));
            k.values.insert("department".into(), json!("救急科"));
        }
        let msgs = messages(&item("keyed:A-000101", content), 1, None, &ctx(&forms)).unwrap();
        let rde = msgs.into_iter().find(|m| m.body.contains("RDE^O11")).unwrap();
        rde.body
    };
    // Two doctors named 佐藤: the paper's department (救急科, code 40) says which one; the title
    // never travels inside the name.
    let body = with_doctor("佐藤医師");
    assert_eq!(fields(&body, "ORC", 12)[0], "200101^佐藤^健一^^^^^^^L^^^^^I", "{body}");
    assert_eq!(fields(&body, "ORC", 10)[0], "000101^入力^一子^^^^^^^L^^^^^I");
    assert_eq!(fields(&body, "ORC", 11)[0], "000102^確認^二郎^^^^^^^L^^^^^I");
    assert!(!body.contains("clerk0"), "a login reached the EHR: {body}");
    // A doctor the master lacks goes by name alone, the title taken off.
    let body = with_doctor("高橋 先生");
    assert_eq!(fields(&body, "ORC", 12)[0], "^高橋^^^^^^^^L^^^^^I", "{body}");
}

#[test]
fn a_department_the_master_knows_is_sent_as_its_code_and_names_the_ss_mix2_file() {
    let (_dir, all) = built();
    let omg = message(&all, "omg_imaging-0");
    assert!(fields(&omg.body, "ORC", 17).iter().all(|d| d == "40^救急科^99KKS"), "{}", omg.body);
    assert_eq!(kamikarte::handoff::hl7::naming_fields(&omg.body).department, Some("40"));
    // A department the master lacks travels as its name, which is no code for a file name.
    let omd = message(&all, "omd_diet-0");
    assert_eq!(fields(&omd.body, "ORC", 17), vec!["^内科".to_string()]);
}

#[test]
fn a_prescription_route_is_coded_and_no_required_route_is_the_delete_signal() {
    let (_dir, all) = built();
    for (stem, msg) in &all {
        for route in fields(&msg.body, "RXR", 1) {
            assert_ne!(route, "\"\"", "{stem}: RXR-1 \"\" would tell the receiver to delete the route");
        }
    }
    let rde = message(&all, "rde_prescription-0");
    let routes = fields(&rde.body, "RXR", 1);
    assert!(!routes.is_empty());
    assert!(routes.iter().all(|r| r.ends_with("^HL70162")), "coded from table 0162: {routes:?}");
}

#[test]
fn lab_tests_go_under_one_specimen_each_as_the_master_says_with_jlac10_codes() {
    let (_dir, all) = built();
    let oml = message(&all, "oml_lab-0");
    assert_eq!(
        fields(&oml.body, "SPM", 4),
        vec!["019^全血(添加物入り)^JC10^BLD^Whole blood^HL70487", "023^血清^JC10^SER^Serum^HL70487"]
    );
    let segments: Vec<&str> = oml.body.split('\r').filter_map(|s| s.get(..3)).collect();
    let spm = segments.iter().positions("SPM");
    let obr = segments.iter().positions("OBR");
    assert!(
        spm[0] < obr[0] && obr[0] < spm[1] && spm[1] < obr[1],
        "each SPM heads its own test: {segments:?}"
    );
    assert_eq!(fields(&oml.body, "OBR", 4)[1], "5C070000002306201^C反応性蛋白^JC10^CRP^C反応性蛋白^99KKL");
    assert_eq!(
        fields(&oml.body, "OBR", 4)[0],
        "CBC^血算^99KKL",
        "no JLAC10 code in the master: the local code alone"
    );
}

#[test]
fn a_prescription_dispenses_dose_times_usage_times_days_in_mr9p_with_the_jami_usage_code() {
    let (_dir, all) = built();
    let rde = message(&all, "rde_prescription-0");
    assert_eq!(fields(&rde.body, "RXE", 5)[0], "TAB^錠^MR9P");
    // 1 tablet, three times a day (the usages master), five days.
    assert_eq!(fields(&rde.body, "RXE", 10), vec!["15", "15"]);
    assert_eq!(fields(&rde.body, "RXE", 11)[0], "TAB^錠^MR9P");
    assert_eq!(fields(&rde.body, "TQ1", 3)[0], "1013044400000000&1日3回 毎食後&JAMISDP01");
}

#[test]
fn an_injection_names_its_technique_in_rxe_and_each_drug_in_rxc() {
    let (_dir, all) = built();
    let rde = message(&all, "rde_injection-0");
    assert_eq!(fields(&rde.body, "RXE", 2), vec!["DIV^点滴静注^99KKT", "IV^静注^99KKT"]);
    assert_eq!(
        rde.body.split('\r').filter(|s| s.starts_with("RXC|")).collect::<Vec<_>>(),
        vec![
            "RXC|B|999000206^セファゾリンナトリウム注射用1g^HOT9^990000206^セファゾリンナトリウム注射用1g^99KKD|1|^瓶",
            "RXC|B|990000209^フロセミド注射液20mg^99KKD|20|^mg",
        ]
    );
}

trait Positions {
    fn positions(self, id: &str) -> Vec<usize>;
}

impl<'a, I: Iterator<Item = &'a &'a str>> Positions for I {
    fn positions(self, id: &str) -> Vec<usize> {
        self.enumerate().filter(|(_, s)| **s == id).map(|(i, _)| i).collect()
    }
}
