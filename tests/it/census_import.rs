//! Census import end to end through the library: encodings, all-or-nothing, skipping, re-import.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use kamikarte::auth::Session;
use kamikarte::census::{Encoding, ImportOptions, ImportReport, import_file};
use kamikarte::domain::PatientStatus;
use kamikarte::domain::Role;
use kamikarte::store::{PatientRecord, Store};

use crate::common;

const HEADER: &str = "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟,病室,ベッド,診療科,アレルギー";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    tester: Session,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
        let tester = common::person(&mut store, "tester", Role::Clerk);
        Self { dir, store, tester }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn import_with(&mut self, path: &Path, options: ImportOptions) -> ImportReport {
        import_file(&mut self.store, &self.tester, path, &options, &mut |_| {}).unwrap()
    }

    fn import(&mut self, path: &Path) -> ImportReport {
        self.import_with(path, ImportOptions::new(today()))
    }

    fn csv(&self, name: &str, rows: &[&str]) -> PathBuf {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        self.write(name, text.as_bytes())
    }

    fn all(&self) -> Vec<PatientRecord> {
        self.store.patients(None, true).unwrap()
    }

    /// Everything a user could see of the database, to prove a refused import changed nothing.
    fn snapshot(&self) -> (Vec<PatientRecord>, u64) {
        (self.all(), self.store.verify_audit().unwrap().entries)
    }
}

fn row(id: &str, name: &str, kana: &str, dob: &str, ward: &str) -> String {
    format!("{id},{name},{kana},{dob},F,A+,{ward},501,501-1,内科,")
}

#[test]
fn a_cp932_census_with_half_width_kana_imports_as_full_width_katakana() {
    let mut f = Fixture::new();
    let text =
        format!("{HEADER}\r\n100001,髙橋　①子,ﾀｶﾊｼ ｲﾁｺ,1950/04/01,女,B型Rh+,5E,501,501-1,内科,ﾍﾟﾆｼﾘﾝ;卵\r\n");
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    let path = f.write("census-cp932.csv", &bytes);
    let report = f.import(&path);
    assert_eq!(report.encoding, Encoding::Cp932);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let p = &f.all()[0].patient;
    assert_eq!(p.kana.as_str(), "タカハシ　イチコ");
    assert_eq!(p.name.as_str(), "髙橋　①子", "display text keeps NEC specials and is not NFKC-folded");
    assert_eq!(p.allergies, ["ペニシリン", "卵"]);
    assert_eq!(p.blood.code(), "B+");
}

#[test]
fn forcing_the_encoding_reads_a_file_auto_detection_would_read_otherwise() {
    let mut f = Fixture::new();
    let text = format!("{HEADER}\n{}\n", row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E"));
    let bytes = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    let path = f.write("c.csv", &bytes);
    let mut options = ImportOptions::new(today());
    options.encoding = Encoding::Utf8;
    let err = import_file(&mut f.store, &f.tester, &path, &options, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("line 1 is not valid UTF-8"), "{err}");
    options.encoding = Encoding::Cp932;
    assert!(!f.import_with(&path, options).rejected());
}

#[test]
fn utf8_with_bom_imports() {
    let mut f = Fixture::new();
    let text = format!("\u{FEFF}{HEADER}\n{}\n", row("1", "山田 花子", "やまだ はなこ", "1950-01-01", "5E"));
    let path = f.write("bom.csv", text.as_bytes());
    let report = f.import(&path);
    assert_eq!(report.encoding, Encoding::Utf8);
    assert_eq!(report.applied.unwrap().inserted, 1);
    assert_eq!(f.all()[0].patient.kana.as_str(), "ヤマダ　ハナコ");
}

#[test]
fn a_census_with_a_bad_date_a_duplicate_id_and_a_missing_column_is_rejected_whole() {
    let mut f = Fixture::new();
    let first = f.csv("first.csv", &[&row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E")]);
    f.import(&first);
    let before = f.snapshot();

    // No 血液型 column; line 3 has an impossible date; lines 2 and 4 share an ID.
    let text = "患者ID,氏名,カナ氏名,生年月日,性別,病棟\n\
                2,佐藤 一郎,サトウ イチロウ,1960-01-01,M,5E\n\
                3,鈴木 次郎,スズキ ジロウ,1960-02-30,M,5E\n\
                2,田中 三郎,タナカ サブロウ,1960-03-01,M,5E\n";
    let path = f.write("bad.csv", text.as_bytes());
    let report = f.import(&path);
    assert!(report.rejected());
    let problems: Vec<(u64, &str)> = report.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
    assert_eq!(problems, [(1, "blood_type"), (2, "患者ID"), (3, "生年月日"), (4, "患者ID")]);
    assert!(report.errors[1].message.contains("duplicate ID (also on line 4)"));
    assert!(report.errors[2].message.contains("not a real date"));
    assert_eq!(f.snapshot(), before, "a refused import leaves the database as it was");
}

#[test]
fn one_bad_row_refuses_the_file_unless_skip_invalid_which_lists_it() {
    let mut f = Fixture::new();
    let path = f.csv(
        "mixed.csv",
        &[
            &row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E"),
            &row("2", "佐藤 花子", "佐藤 ハナコ", "1950-01-01", "5E"),
            &row("3", "鈴木 花子", "スズキ ハナコ", "2999-01-01", "5E"),
        ],
    );
    let refused = f.import(&path);
    assert!(refused.rejected());
    assert_eq!(refused.errors.len(), 2);
    assert!(f.all().is_empty());

    let mut options = ImportOptions::new(today());
    options.skip_invalid = true;
    let report = f.import_with(&path, options);
    assert_eq!(report.applied.unwrap().inserted, 1);
    assert_eq!(report.skipped, 2);
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4]);
    assert!(report.errors[0].message.contains("'佐'"));
    assert!(report.errors[1].message.contains("future"));
}

#[test]
fn reimport_updates_readmits_and_discharges_without_deleting() {
    let mut f = Fixture::new();
    let a = row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E");
    let b = row("2", "佐藤 花子", "サトウ ハナコ", "1951-01-01", "5E");
    let c = row("3", "鈴木 花子", "スズキ ハナコ", "1952-01-01", "5E");
    let first = f.csv("1.csv", &[&a, &b, &c]);
    assert_eq!(f.import(&first).applied.unwrap().inserted, 3);

    let b_moved = row("2", "佐藤 花子", "サトウ ハナコ", "1951-01-01", "ICU");
    let second = f.csv("2.csv", &[&a, &b_moved]);
    let counts = f.import(&second).applied.unwrap();
    assert_eq!((counts.unchanged, counts.updated, counts.discharged), (1, 1, 1));
    let all = f.all();
    assert_eq!(all.len(), 3, "discharged patients are kept");
    let three = all.iter().find(|r| r.patient.id.as_str() == "3").unwrap();
    assert_eq!(three.status, PatientStatus::Discharged);
    assert_eq!(f.store.patients(None, false).unwrap().len(), 2);
    assert_eq!(all.iter().find(|r| r.patient.id.as_str() == "2").unwrap().patient.location.ward, "ICU");

    let third = f.csv("3.csv", &[&a, &b_moved, &c]);
    assert_eq!(f.import(&third).applied.unwrap().readmitted, 1);
    assert!(f.store.verify_audit().unwrap().first_broken.is_none());
    let history = f.store.audit_of("patient", "3", 10).unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["readmit", "discharge", "insert"]);
    assert!(history.iter().all(|e| e.actor == "tester"));
}

#[test]
fn a_patient_whose_row_was_skipped_is_not_discharged() {
    let mut f = Fixture::new();
    let a = row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E");
    let b = row("2", "佐藤 花子", "サトウ ハナコ", "1951-01-01", "5E");
    f.import(&f.csv("1.csv", &[&a, &b]));
    let b_broken = row("2", "佐藤 花子", "サトウ ハナコ", "1951-13-01", "5E");
    let mut options = ImportOptions::new(today());
    options.skip_invalid = true;
    let report = f.import_with(&f.csv("2.csv", &[&a, &b_broken]), options);
    assert_eq!(report.applied.unwrap().discharged, 0);
    assert_eq!(f.store.patients(None, false).unwrap().len(), 2);
}

#[test]
fn a_file_without_patients_never_empties_the_census() {
    let mut f = Fixture::new();
    f.import(&f.csv("1.csv", &[&row("1", "山田 花子", "ヤマダ ハナコ", "1950-01-01", "5E")]));
    let empty = f.write("empty.csv", format!("{HEADER}\n").as_bytes());
    let err =
        import_file(&mut f.store, &f.tester, &empty, &ImportOptions::new(today()), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("would discharge all 1"), "{err}");
    assert_eq!(f.store.patients(None, false).unwrap().len(), 1);
}

#[test]
fn a_custom_mapping_file_renames_columns_and_a_broken_one_is_named() {
    let mut f = Fixture::new();
    let mapping = f.write(
        "m.toml",
        "id='MRN'\nname='Name'\nkana='Reading'\ndob='Born'\nsex='Sex'\nblood_type='ABO'\nward='Unit'\n"
            .as_bytes(),
    );
    let path = f.write(
        "c.csv",
        "MRN,Name,Reading,Born,Sex,ABO,Unit\n7,Ｊｏｈｎ Smith,ＳＭＩＴＨ ジョン,1970-07-07,M,,HCU\n"
            .as_bytes(),
    );
    let mut options = ImportOptions::new(today());
    options.mapping = Some(mapping);
    let report = f.import_with(&path, options.clone());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let p = &f.all()[0].patient;
    assert_eq!(p.kana.as_str(), "ＳＭＩＴＨ　ジョン");
    assert!(p.blood.is_unknown());
    assert!(report.warnings.iter().any(|w| w.contains("room")));

    let broken = f.write("broken.toml", b"id = 'MRN'\nwardd = 'x'\n");
    options.mapping = Some(broken);
    let err = import_file(&mut f.store, &f.tester, &path, &options, &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("broken.toml") && msg.contains("wardd"), "{msg}");
}

#[test]
fn the_shipped_sample_census_imports_cleanly() {
    let mut f = Fixture::new();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-census.csv");
    let report = f.import(&sample);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.applied.unwrap().inserted, 90);
    assert_eq!(f.store.wards().unwrap().len(), 3);
}

#[test]
fn export_then_import_round_trips_every_field() {
    let mut f = Fixture::new();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-census.csv");
    f.import(&sample);
    let out = f.dir.path().join("out.csv");
    let records = f.store.patients(None, false).unwrap();
    kamikarte::census::export_census_file(&records, &out).unwrap();
    let mut g = Fixture::new();
    g.import(&out);
    let again = g.store.patients(None, false).unwrap();
    let strip = |v: &[PatientRecord]| v.iter().map(|r| r.patient.clone()).collect::<Vec<_>>();
    assert_eq!(strip(&again), strip(&records));
}
