//! The SS-MIX2 snapshot, end to end: a storage hand-written here after the guideline's and
//! JAHIS's published samples (not by kamikarte's writer) read with its condition flags,
//! versions and movements; reruns that read only what changed; and an import killed twice that
//! finishes with what one uninterrupted run gives.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::NaiveDate;
use kamikarte::domain::Role;
use kamikarte::snapshot::{ImportOptions, clinical_view, import};
use kamikarte::store::Store;

use crate::common::{self, command, stderr};

const TODAY: (i32, u32, u32) = (2026, 12, 1);

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap()
}

const MSH: &str = "MSH|^~\\&|HIS123|SEND|GW|RCV";
const SSMIX2: &str =
    "|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

/// One storage file: (patient, day or `-`, data type, order number, timestamp, department,
/// condition flag, message).
type StorageFile = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    String,
);

/// A PV1 with its class, location (`ward^room^bed`), department and PV1-44/45 times.
fn pv1(class: &str, location: &str, department: &str, admitted: &str, discharged: &str) -> String {
    let mut f = vec![String::new(); 46];
    f[0] = "PV1".into();
    f[1] = "0001".into();
    f[2] = class.into();
    f[3] = location.into();
    f[10] = department.into();
    f[44] = admitted.into();
    f[45] = discharged.into();
    f.join("|")
}

/// A PRB: action, its date, the problem, its ID, established (PRB-7), resolved (PRB-9), onset
/// (PRB-16).
fn prb(problem: &str, id: &str, established: &str, resolved: &str, onset: &str) -> String {
    let mut f = vec![String::new(); 17];
    f[0] = "PRB".into();
    f[1] = "AD".into();
    f[2] = established.into();
    f[3] = problem.into();
    f[4] = id.into();
    f[7] = established.into();
    f[9] = resolved.into();
    f[16] = onset.into();
    f.join("|")
}

/// The storage's files. Names, IDs and codes are made up; the shapes follow the samples.
fn storage() -> Vec<StorageFile> {
    let admit1 = pv1("I", "5E^501^501-2", "01", "202611281000", "");
    let visit2 = pv1("O", "", "02", "202611300915", "");
    let admit3 = pv1("I", "6W^601^601-1", "01", "202610101000", "");
    let discharge3 = pv1("I", "6W^601^601-1", "01", "202610101000", "202610201500");
    let prb1 = prb("20053708^高血圧症^MDCDX2", "777", "20241010", "", "20241001");
    let prb2 = prb("20061290^肺炎^MDCDX2", "778", "20241010", "20241101", "20241005");
    let pid1 = "PID|0001||0000012345^^^^PI||見本^花子^^^^^L^I~ミホン^ハナコ^^^^^L^P||19480405|F";
    let pid1_old = "PID|0001||0000012345^^^^PI||旧姓^花子^^^^^L^I~キュウセイ^ハナコ^^^^^L^P||19480405|F";
    let pid2 = "PID|0001||0000023456^^^^PI||試験^一郎^^^^^L^I~シケン^イチロウ^^^^^L^P||19700212|M";
    let pid3 = "PID|0001||0000034567^^^^PI||架空^次郎^^^^^L^I~カクウ^ジロウ^^^^^L^P||19551130|M";
    let m = |ts: &str, kind: &str, body: &[&str]| {
        let mut segs = vec![format!("{MSH}|{ts}||{kind}|{ts}{SSMIX2}")];
        segs.extend(body.iter().map(|s| s.to_string()));
        segs.join("\r") + "\r"
    };
    vec![
        // An older version of the basic information (another name), then the current one.
        (
            "0000012345",
            "-",
            "ADT-00",
            "999999999999999",
            "20240105101010000",
            "-",
            "1",
            m("20240105101010", "ADT^A08^ADT_A01", &["EVN||20240105101010", pid1_old, "PV1|0001|N"]),
        ),
        (
            "0000012345",
            "-",
            "ADT-00",
            "999999999999999",
            "20261120093000123",
            "-",
            "1",
            m(
                "20261120093000.123",
                "ADT^A08^ADT_A01",
                &[
                    "EVN||20261120093000||||20261120093000",
                    pid1,
                    "PV1|0001|N",
                    "OBX|1|CWE|5H010000001999911^血液型-ABO式^JC10||A^A型^JSH001||||||F",
                    "OBX|2|CWE|5H020000001999911^血液型-Rh式^JC10||+^Rh+^JSH002||||||F",
                    "AL1|1|DA^薬剤アレルギー^HL70127|1120001^ペニシリン系抗菌薬^99XYZ|SV^重度^HL70128",
                    "AL1|2|FA^食物アレルギー^HL70127|^卵^99XYZ|MO^中等度^HL70128",
                ],
            ),
        ),
        // ADT-61 (JAHIS's IAM): one allergy with its severity, one deleted (IAM-6 D).
        (
            "0000012345",
            "-",
            "ADT-61",
            "999999999999999",
            "20261121080000000",
            "-",
            "1",
            m(
                "20261121080000",
                "ADT^A60^ADT_A60",
                &[
                    "EVN||20261121080000",
                    pid1,
                    "PV1|0001|N",
                    "IAM|1|LA^花粉アレルギー^HL70127|5A1002216023023^スギ^JC10|MI^軽度^HL70128|目のかゆみ|A^追加^HL70323|||||199601",
                    "IAM|2|DA^薬剤アレルギー^HL70127|1120002^取消薬^99XYZ|SV^重度^HL70128||D^削除^HL70323",
                ],
            ),
        ),
        (
            "0000012345",
            "20261128",
            "ADT-22",
            "999999999999999",
            "20261128103000000",
            "01",
            "1",
            m("20261128103000", "ADT^A01^ADT_A01", &["EVN||20261128103000||||20261128100000", pid1, &admit1]),
        ),
        // Prescription: one line running through today, one that ended on 11-10.
        (
            "0000012345",
            "20261128",
            "OMP-01",
            "000000000123401",
            "20261128110000000",
            "01",
            "1",
            m(
                "20261128110000",
                "RDE^O11^RDE_O11",
                &[
                    pid1,
                    "PV1|0001|I|5E^501^501-2",
                    "ORC|NW|123401^HIS|||||||20261128|||D0001^医師^一郎|||||01^内科^99Z01",
                    "RXE||610443047^見本錠５ｍｇ^HOT|1||TAB^錠^MR9P|TAB^錠^MR9P",
                    "TQ1|||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||14^D|20261128|20261211",
                    "RXR|PO^口^HL70162",
                    "ORC|NW|123402^HIS|||||||20261101",
                    "RXE||620000001^終了済錠^HOT|2||TAB^錠^MR9P",
                    "TQ1|||1011000400000000&内服・経口・１日１回朝食後&JAMISDP01|||10^D|20261101|20261110",
                    "RXR|PO^口^HL70162",
                ],
            ),
        ),
        // An order cancelled in the storage: condition flag 0, the newer file.
        (
            "0000012345",
            "20261129",
            "OMP-01",
            "000000000123499",
            "20261129080000000",
            "01",
            "1",
            m(
                "20261129080000",
                "RDE^O11^RDE_O11",
                &[
                    pid1,
                    "ORC|NW|123499^HIS|||||||20261129",
                    "RXE||630000001^取消錠^HOT|1||TAB^錠^MR9P",
                    "TQ1|||1013044400000000&内服・経口・１日３回朝昼夕食後&JAMISDP01|||7^D|20261129|20261205",
                ],
            ),
        ),
        (
            "0000012345",
            "20261129",
            "OMP-01",
            "000000000123499",
            "20261129090000000",
            "01",
            "0",
            m(
                "20261129090000",
                "RDE^O11^RDE_O11",
                &[pid1, "ORC|CA|123499^HIS|||||||20261129", "RXE||630000001^取消錠^HOT|1||TAB^錠^MR9P"],
            ),
        ),
        (
            "0000012345",
            "20261129",
            "OMP-02",
            "000000000123500",
            "20261129100000000",
            "01",
            "1",
            m(
                "20261129100000",
                "RDE^O11^RDE_O11",
                &[
                    pid1,
                    "ORC|NW|123500^HIS|||||||20261129",
                    "RXE||640000001^見本注射液５００ｍＬ^HOT|500||ML^mL^MR9P",
                    "TQ1|||||||20261129|20261203",
                    "RXR|IV^静脈内^HL70162",
                ],
            ),
        ),
        (
            "0000012345",
            "20261130",
            "OML-11",
            "000000000123600",
            "20261130070000000",
            "01",
            "1",
            m(
                "20261130070000",
                "OUL^R22^OUL_R22",
                &[
                    pid1,
                    "SPM|1|||023^血清^JC10|||||||||||||202611300600",
                    "OBR|1|123600^HIS||||||202611300600",
                    "OBX|1|NM|5C070000002306201^CRP^JC10||2.35|mg/dL^mg/dL^ISO+|0.00-0.30|H|||F|||202611300600",
                    "OBX|2|NM|3C015000002327101^クレアチニン^JC10||0.72|mg/dL^mg/dL^ISO+|0.46-0.79|N|||F|||202611300600",
                    "OBX|3|NM|3H015000002326101^カリウム^JC10||5.4|mmol/L^mmol/L^ISO+|3.6-4.8|H|||F|||202611300600",
                ],
            ),
        ),
        (
            "0000012345",
            "20261125",
            "OML-11",
            "000000000123550",
            "20261125070000000",
            "01",
            "1",
            m(
                "20261125070000",
                "OUL^R22^OUL_R22",
                &[
                    pid1,
                    "OBX|1|NM|5C070000002306201^CRP^JC10||0.80|mg/dL^mg/dL^ISO+|0.00-0.30|H|||F|||202611250600",
                ],
            ),
        ),
        (
            "0000012345",
            "20241010",
            "PPR-01",
            "000000000000777",
            "20241010120000000",
            "01",
            "1",
            m("20241010120000", "PPR^ZD1^PPR_ZD1", &[pid1, &prb1, &prb2]),
        ),
        (
            "0000012345",
            "20261128",
            "OMD",
            "000000000123700",
            "20261128120000000",
            "01",
            "1",
            m(
                "20261128120000",
                "OMD^O03^OMD_O03",
                &[pid1, "ORC|NW|123700^HIS", "TQ1|||||||20261128", "ODS|D||01^常食^99XYZ"],
            ),
        ),
        // An outpatient with a visit, and a file that is no message at all.
        (
            "0000023456",
            "-",
            "ADT-00",
            "999999999999999",
            "20261101090000000",
            "-",
            "1",
            m("20261101090000", "ADT^A08^ADT_A01", &["EVN||20261101090000", pid2, "PV1|0001|N"]),
        ),
        (
            "0000023456",
            "20261130",
            "ADT-12",
            "999999999999999",
            "20261130091500000",
            "02",
            "1",
            m("20261130091500", "ADT^A04^ADT_A01", &["EVN||20261130091500", pid2, &visit2]),
        ),
        (
            "0000023456",
            "20261130",
            "ADT-12",
            "999999999999999",
            "20261130091600000",
            "02",
            "1",
            "this file was damaged when the storage was copied".to_string(),
        ),
        // Admitted, then discharged.
        (
            "0000034567",
            "-",
            "ADT-00",
            "999999999999999",
            "20261001090000000",
            "-",
            "1",
            m("20261001090000", "ADT^A08^ADT_A01", &["EVN||20261001090000", pid3, "PV1|0001|N"]),
        ),
        (
            "0000034567",
            "20261010",
            "ADT-22",
            "999999999999999",
            "20261010100000000",
            "01",
            "1",
            m("20261010100000", "ADT^A01^ADT_A01", &["EVN||20261010100000", pid3, &admit3]),
        ),
        (
            "0000034567",
            "20261020",
            "ADT-52",
            "999999999999999",
            "20261020150000000",
            "01",
            "1",
            m("20261020150000", "ADT^A03^ADT_A01", &["EVN||20261020150000", pid3, &discharge3]),
        ),
    ]
}

/// Writes one storage file in ISO-2022-JP (encoding_rs's encoder, not kamikarte's).
fn put(standard: &Path, file: &StorageFile) -> PathBuf {
    let (id, day, data_type, order, ts, dept, flag, message) = file;
    let padded = format!("{id:0>6}");
    let folder = standard.join(&padded[..3]).join(&padded[3..6]).join(id).join(day).join(data_type);
    std::fs::create_dir_all(&folder).unwrap();
    let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(message);
    assert!(!unmappable, "the fixture is JIS X 0208 text");
    let path = folder.join(format!("{id}_{day}_{data_type}_{order}_{ts}_{dept}_{flag}"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Sets every folder's time a minute back: settled, as a storage written long before the run.
fn settle(dir: &Path) {
    let past = SystemTime::now() - Duration::from_secs(60);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            settle(&path);
        }
    }
    std::fs::File::open(dir).unwrap().set_modified(past).unwrap();
}

#[test]
fn a_hand_written_storage_is_read_with_its_versions_flags_and_stays_and_a_rerun_reads_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ssmix2");
    let standard = root.join("standard");
    let files = storage();
    for f in &files {
        put(&standard, f);
    }
    settle(&root);
    let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
    let session = common::person(&mut store, "it", Role::Admin);
    let options = ImportOptions { today: today(), demo: false, full: false };

    let report = import(&mut store, &session, &root, &options, &mut |_| {}).unwrap();
    assert_eq!(report.files_read, files.len(), "{report:?}");
    assert_eq!((report.patients, report.inpatients), (3, 1));
    // The damaged file is named by its path; everything else was read.
    assert_eq!(report.unreadable.len(), 1, "{:?}", report.unreadable);
    assert!(
        report.unreadable[0]
            .path
            .ends_with("0000023456_20261130_ADT-12_999999999999999_20261130091600000_02_1")
    );
    assert!(report.unreadable[0].problem.contains("MSH"), "{}", report.unreadable[0].problem);

    // The newest basic information wins; allergies and blood type come with it.
    let hanako = store.snapshot_person("0000012345").unwrap().unwrap();
    assert_eq!((hanako.patient.name.as_str(), hanako.patient.kana.as_str()), ("見本 花子", "ミホン ハナコ"));
    assert_eq!(hanako.patient.blood_type, "A+");
    let allergies: Vec<String> = hanako.patient.allergies.iter().map(|a| a.describe()).collect();
    assert_eq!(allergies, ["薬剤 ペニシリン系抗菌薬 (重度)", "食物 卵 (中等度)"]);
    let stay = hanako.stay.unwrap();
    assert!(stay.admitted);
    assert_eq!((stay.place.ward.as_str(), stay.place.bed.as_str()), ("5E", "501-2"));
    let jiro = store.snapshot_person("0000034567").unwrap().unwrap();
    assert!(!jiro.stay.unwrap().admitted, "ADT-52 discharged him");
    assert!(store.snapshot_person("0000023456").unwrap().unwrap().stay.is_none(), "an outpatient");

    // On 12-01: the running prescription and the injection; not the ended line, not the
    // cancelled order. Problems still open; the last results of each test, newest first.
    let view = clinical_view(&store, "0000012345", today(), 2).unwrap();
    let meds: Vec<(&str, &str, &str, &str)> = view
        .medications
        .iter()
        .map(|m| (m.name.as_str(), m.dose.as_str(), m.route.as_str(), m.schedule.as_str()))
        .collect();
    assert_eq!(
        meds,
        [
            ("見本錠５ｍｇ", "1 錠", "口", "内服・経口・１日３回朝昼夕食後"),
            ("見本注射液５００ｍＬ", "500 mL", "静脈内", "")
        ]
    );
    let problems: Vec<&str> = view.problems.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(problems, ["高血圧症"], "肺炎 ended on 2024-11-01");
    let crp = view.results.iter().find(|t| t[0].name == "CRP").unwrap();
    assert_eq!(crp.iter().map(|v| v.value.as_str()).collect::<Vec<_>>(), ["2.35", "0.80"]);
    assert_eq!((crp[0].flag.as_str(), crp[0].at.as_str()), ("H", "2026-11-30T06:00"));
    assert_eq!(view.diet.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["常食"]);

    // The census follows the admissions, with ADT-61's allergies beside ADT-00's.
    let census = store.patients(None, false).unwrap();
    assert_eq!(census.len(), 1);
    assert_eq!(census[0].patient.id.as_str(), "0000012345");
    assert_eq!(
        census[0].patient.allergies,
        [allergies[0].as_str(), allergies[1].as_str(), "花粉 スギ (軽度)"]
    );
    assert_eq!(
        (census[0].patient.location.ward.as_str(), census[0].patient.blood.display()),
        ("5E", "A Rh+".to_string())
    );

    // Nothing new: only the folder with the damaged file is read again (and reported again).
    let again = import(&mut store, &session, &root, &options, &mut |_| {}).unwrap();
    assert_eq!((again.folders_read, again.files_read, again.unreadable.len()), (1, 2, 1), "{again:?}");

    // The running order is cancelled in the storage: only its folder is read, and it is gone.
    let cancel = put(
        &standard,
        &(
            "0000012345",
            "20261128",
            "OMP-01",
            "000000000123401",
            "20261201080000000",
            "01",
            "0",
            format!(
                "{MSH}|20261201080000||RDE^O11^RDE_O11|X{SSMIX2}\rPID|0001||0000012345^^^^PI\rORC|CA|123401^HIS"
            ),
        ),
    );
    // Only that folder's time moved (set back, past the settling window).
    let past = SystemTime::now() - Duration::from_secs(30);
    std::fs::File::open(cancel.parent().unwrap()).unwrap().set_modified(past).unwrap();
    let after = import(&mut store, &session, &root, &options, &mut |_| {}).unwrap();
    assert_eq!(after.folders_read, 2, "the changed folder and the damaged one: {after:?}");
    let view = clinical_view(&store, "0000012345", today(), 2).unwrap();
    assert_eq!(
        view.medications.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["見本注射液５００ｍＬ"]
    );

    // A new version filed under a day two years back: not looked at by an incremental run (it
    // reads recent days and `-`), found by a full one.
    let old = put(
        &standard,
        &(
            "0000012345",
            "20241010",
            "PPR-01",
            "000000000000777",
            "20261201090000000",
            "01",
            "1",
            format!(
                "{MSH}|20261201090000||PPR^ZD1^PPR_ZD1|Y{SSMIX2}\rPID|0001||0000012345^^^^PI\r{}",
                prb("20087480^心不全^MDCDX2", "779", "20241010", "", "20241001")
            ),
        ),
    );
    std::fs::File::open(old.parent().unwrap()).unwrap().set_modified(past).unwrap();
    let recent = import(&mut store, &session, &root, &options, &mut |_| {}).unwrap();
    assert!(!recent.full);
    let problems = |store: &Store| -> Vec<String> {
        clinical_view(store, "0000012345", today(), 2).unwrap().problems.into_iter().map(|p| p.name).collect()
    };
    assert_eq!(problems(&store), ["高血圧症"]);
    let full = ImportOptions { full: true, ..options };
    let report = import(&mut store, &session, &root, &full, &mut |_| {}).unwrap();
    assert!(report.full && report.folders == 15 && report.folders_read == 2, "{report:?}");
    assert_eq!(problems(&store), ["心不全"]);

    // Age: on every row of `census list --json`, and in `snapshot status`.
    let db = dir.path().join("k.sqlite");
    drop(store);
    let out =
        common::run_as(&db, ("test-admin", "test administrator passphrase"), &["census", "list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["status"], "admitted");
    assert!(rows[0]["snapshot_at"].as_str().is_some_and(|t| t.starts_with("20")), "{}", rows[0]);
    let out = common::run_as(&db, ("test-admin", "test administrator passphrase"), &["snapshot", "status"]);
    assert!(common::stdout(&out).starts_with("患者情報 "), "{}", common::stdout(&out));
}

/// What the snapshot holds, row by row (the import's own times left out).
fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || '|' || name || '|' || kana || '|' || ifnull(dob, '') || '|' || blood_type || '|' || allergies || '|' || ts FROM snapshot_patients ORDER BY id",
        "SELECT patient_id || '|' || data_type || '|' || order_key || '|' || ts || '|' || flag || '|' || payload FROM snapshot_records ORDER BY 1",
        "SELECT patient_id || '|' || status || '|' || ward || '|' || bed || '|' || since FROM snapshot_stays ORDER BY 1",
        "SELECT id || '|' || ward || '|' || bed || '|' || status FROM patients ORDER BY id",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        out.extend(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()));
    }
    out
}

/// A database with its test administrator, as station S1.
fn admin_db(path: &Path) {
    let mut store = Store::open(path).unwrap();
    let admin = common::person(&mut store, "it", Role::Admin);
    store.set_station_code(&admin.actor(), "S1").unwrap();
}

const TEST_ADMIN: (&str, &str) = ("test-admin", "test administrator passphrase");

#[test]
fn an_import_killed_twice_finishes_with_what_one_uninterrupted_run_gives_and_matches_the_tree() {
    use kamikarte::demo::ssmix2_tree::{TreeOptions, write_tree};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ssmix2");
    let inpatients =
        kamikarte::demo::generate(&kamikarte::demo::DemoOptions { beds: 300, seed: 5, as_of: today() });
    let admitted = inpatients.len();
    let tree = TreeOptions { inpatients, others: 2500, messages_per_patient: 20, today: today(), seed: 5 };
    let written = write_tree(&root, &tree, &|_, _| {}).unwrap();
    settle(&root);

    // The reference: one run, never interrupted.
    let reference = dir.path().join("reference.sqlite");
    admin_db(&reference);
    let out =
        common::run_as(&reference, TEST_ADMIN, &["snapshot", "import", root.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // Killed twice, at different points, then run to the end.
    let db = dir.path().join("killed.sqlite");
    admin_db(&db);
    let mut unfinished_after_kill = 0;
    for after in [Duration::from_millis(700), Duration::from_millis(1800)] {
        let mut child = command(&db)
            .env("KAMIKARTE_USER", TEST_ADMIN.0)
            .env("KAMIKARTE_PASSWORD", TEST_ADMIN.1)
            .args(["snapshot", "import", root.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        child.kill().unwrap();
        child.wait().unwrap();
        let store = Store::open(&db).unwrap();
        if store.last_snapshot_run().unwrap().is_none() {
            unfinished_after_kill += 1;
        }
    }
    assert!(unfinished_after_kill > 0, "a kill landed before the first run finished");
    let out = common::run_as(&db, TEST_ADMIN, &["snapshot", "import", root.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        last["folders_read"].as_u64().unwrap() < full["folders_read"].as_u64().unwrap(),
        "the last run resumed: {last}"
    );
    assert_eq!(dump(&db), dump(&reference), "the killed import ends where one run ends");

    // And the snapshot is the tree: a patient per ADT-00 folder, an order per order number.
    let mut patients = 0;
    let mut orders: HashMap<String, ()> = HashMap::new();
    let mut files = 0;
    for entry in walkdir(&root.join("standard")) {
        files += 1;
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.split('_').collect();
        if parts[2] == "ADT-00" {
            patients += 1;
        } else {
            let key = if parts[3].bytes().all(|b| b == b'9') {
                format!("{}@{}", parts[3], parts[1])
            } else {
                parts[3].to_string()
            };
            orders.insert(format!("{}|{}|{key}", parts[0], parts[2]), ());
        }
    }
    assert_eq!(files, written.files);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.snapshot_patient_count().unwrap(), patients);
    let records: usize = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM snapshot_records", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize;
    assert_eq!(records, orders.len());
    assert_eq!(store.snapshot_inpatients().unwrap().len(), admitted);
    assert!(store.verify_audit().unwrap().ok(), "the audit chain survived the kills");
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_screen_shows_how_old_the_snapshot_is() {
    use egui_kittest::kittest::Queryable;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let tree = dir.path().join("ssmix2");
    let out = common::run(
        &db,
        &["demo", "--beds", "12", "--ssmix2", tree.to_str().unwrap(), "--outpatients", "10"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut harness = common::ui::log_in(&db, common::CLERK.0, common::CLERK.1);
    harness.run();
    assert!(harness.query_by_label_contains(" 時点").is_some(), "the snapshot's age under the banner");
    assert!(harness.query_by_label_contains("時間前の情報です").is_none(), "a fresh snapshot is no warning");
}

#[test]
fn the_reference_screen_finds_anyone_with_an_id_by_kana_or_id_and_audits_each_patient_shown() {
    use egui::Key;
    use egui_kittest::kittest::Queryable;
    use kamikarte::ui::labels::{REFERENCE_SEARCH_LABEL, REFERENCE_TAB};
    let dir = tempfile::tempdir().unwrap();
    let db = imported_fixture(dir.path());

    let mut screen = common::ui::log_in(&db, TEST_ADMIN.0, TEST_ADMIN.1);
    screen.key_press(Key::F10);
    screen.run_steps(2);
    assert!(screen.query_by_label(REFERENCE_TAB).is_some());
    assert!(screen.query_by_label_contains("/ 3 名").is_some(), "the master's size is shown");

    // Hiragana finds the katakana reading; the inpatient's allergies, problems and results show.
    common::ui::type_into(&mut screen, REFERENCE_SEARCH_LABEL, "みほん");
    screen.run_steps(3);
    assert!(shows(&screen, "見本 花子") && !shows(&screen, "常食"), "listed, not opened until picked");
    screen.key_press(Key::ArrowDown);
    screen.run_steps(3);
    for text in [
        "見本 花子",
        "！ 薬剤 ペニシリン系抗菌薬 (重度)",
        "！ 花粉 スギ (軽度)",
        "高血圧症  (発症 2024-10-01)",
        "入院中 admitted since",
        "常食",
    ] {
        assert!(shows(&screen, text), "'{text}' is shown");
    }
    assert!(shows(&screen, "2.35mg/dL H (2026-11-30)"), "the latest CRP first");
    assert!(!shows(&screen, "肺炎"), "a resolved problem is not listed as open");

    // The ID's start finds the outpatient, who is in no census.
    common::ui::type_into(&mut screen, REFERENCE_SEARCH_LABEL, "0000023");
    screen.key_press(Key::Enter);
    screen.run_steps(3);
    assert!(shows(&screen, "試験 一郎"));
    assert!(shows(&screen, "外来 outpatient"));
    // Nobody matches: nothing is shown.
    common::ui::type_into(&mut screen, REFERENCE_SEARCH_LABEL, "ゾゾゾ");
    screen.run_steps(3);
    assert!(!shows(&screen, "試験 一郎"));
    drop(screen);

    let store = Store::open(&db).unwrap();
    for id in ["0000012345", "0000023456"] {
        let views = store.audit_of("snapshot patient", id, 10).unwrap();
        assert!(
            views.iter().any(|e| e.action == "view" && e.actor == TEST_ADMIN.0),
            "showing {id} is audited: {views:?}"
        );
    }
    assert!(store.audit_of("snapshot patient", "0000034567", 10).unwrap().is_empty(), "never shown");
    let lists = store.audit_of("list", "reference search 'みほん'", 5).unwrap();
    assert_eq!(lists.len(), 1, "the list a search showed is audited: {lists:?}");
    assert_eq!(lists[0].after.as_deref(), Some(r#"{"rows":1}"#));
}

/// Some widget's label contains `text` (a name is both in the list and in the details).
fn shows(screen: &common::ui::Screen, text: &str) -> bool {
    use egui_kittest::kittest::Queryable;
    screen.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn an_outpatient_kit_prints_the_days_visits_or_appointments_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    admin_db(&db);
    let runs = std::cell::Cell::new(0);
    let kit = |args: &[&str]| {
        runs.set(runs.get() + 1);
        let out_dir = dir.path().join(format!("kit{}", runs.get()));
        let mut all = vec!["kit", "--out", out_dir.to_str().unwrap(), "--json", "--blanks", "0"];
        all.extend_from_slice(args);
        (common::run_as(&db, TEST_ADMIN, &all), out_dir)
    };
    let (out, _) = kit(&["--outpatients", "2026-11-30"]);
    assert!(!out.status.success() && stderr(&out).contains("snapshot import"), "{}", stderr(&out));
    imported_fixture(dir.path());

    // The storage's visits of the day (ADT-12): the outpatient, named from ADT-00.
    let (out, out_dir) = kit(&["--outpatients", "2026-11-30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outpatients"]["ids"], serde_json::json!(["0000023456"]));
    assert_eq!(report["outpatients"]["source"], "SS-MIX2 ADT-12");
    let files: Vec<&str> =
        report["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(files.iter().all(|f| f.contains("OPD-")), "{files:?}");
    assert!(!files.iter().any(|f| f.contains("wristbands")), "outpatients wear no band: {files:?}");
    let words = String::from_utf8_lossy(
        &std::process::Command::new("pdftotext")
            .args(["-raw", out_dir.join("OPD-charts.pdf").to_str().unwrap(), "-"])
            .output()
            .expect("pdftotext is installed")
            .stdout,
    )
    .into_owned();
    assert!(words.contains("試験") && words.contains("0000023456"), "{words}");
    assert!(!words.contains("与薬記録"), "no MAR for an outpatient: {words}");
    let (out, _) = kit(&["--outpatients", "2026-11-29"]);
    assert!(!out.status.success() && stderr(&out).contains("--appointments"), "{}", stderr(&out));

    // An appointment list in Shift_JIS: another day's row passed over, an inpatient left to
    // their ward's kit, an unknown ID named; the outpatient printed again under the list's
    // department (read from Shift_JIS).
    let list = dir.path().join("appointments.csv");
    let text = "patient_id,date,time,department\r\n0000023456,2026-12-07,09:30,内科\r\n0000012345,2026-12-07,10:00,内科\r\n0000099999,2026-12-07,11:00,外科\r\n0000034567,2026-12-08,09:00,外科\r\n";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    std::fs::write(&list, bytes).unwrap();
    let (out, _) = kit(&["--outpatients", "2026-12-07", "--appointments", list.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let day = &report["outpatients"];
    assert_eq!(day["ids"], serde_json::json!(["0000023456"]));
    assert_eq!(
        (&day["added"]["updated"], &day["added"]["inserted"]),
        (&serde_json::json!(1), &serde_json::json!(0))
    );
    let store = Store::open(&db).unwrap();
    let id = kamikarte::domain::PatientId::parse("0000023456").unwrap();
    assert_eq!(store.patient(&id).unwrap().unwrap().patient.department, "内科");
    drop(store);
    assert_eq!(day["added"]["admitted"], serde_json::json!(["0000012345"]));
    assert_eq!(day["not_in_master"], serde_json::json!(["0000099999"]));
    assert!(stderr(&out).contains("0000099999 is not in the snapshot's patient master"), "{}", stderr(&out));

    // The next day's list: the outpatient ward holds that day's patients; the earlier day's
    // outpatient is discharged (kept, for their paper).
    std::fs::write(&list, "patient_id,time\n0000034567,09:00\n").unwrap();
    let (out, _) = kit(&["--outpatients", "2026-12-08", "--appointments", list.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outpatients"]["ids"], serde_json::json!(["0000034567"]));
    assert_eq!(report["outpatients"]["added"]["discharged"], 1);
    let store = Store::open(&db).unwrap();
    let kept = store.patient(&id).unwrap().unwrap();
    assert_eq!(kept.status.code(), "discharged", "yesterday's outpatient left the ward");
    drop(store);

    // A malformed list prints nothing and names the line and field.
    std::fs::write(&list, "patient_id,time\n0000023456,9時半\n").unwrap();
    let (out, out_dir) = kit(&["--outpatients", "2026-12-07", "--appointments", list.to_str().unwrap()]);
    assert!(stderr(&out).contains("appointments.csv:2: time: '9時半' is not HH:MM"), "{}", stderr(&out));
    assert!(!out_dir.exists());
}

/// The hand-written storage under `dir/ssmix2`, imported by `snapshot import` into `dir/k.sqlite`
/// (made with the test administrator if it is not there yet); returns the database.
fn imported_fixture(dir: &Path) -> PathBuf {
    let root = dir.join("ssmix2");
    for f in &storage() {
        put(&root.join("standard"), f);
    }
    settle(&root);
    let db = dir.join("k.sqlite");
    if !db.exists() {
        admin_db(&db);
    }
    let out = common::run_as(&db, TEST_ADMIN, &["snapshot", "import", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    db
}
