//! `kamikarte kit` as a scheduler runs it: files named by ward and family, errors named precisely.

use crate::common;

use common::{CLERK, demo_db, run_as, stderr};

const NURSE: (&str, &str) = ("nurse", "kamikarte-demo-nurse");

#[test]
fn a_ward_kit_writes_one_file_per_family_plus_blanks() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "100");
    let out = dir.path().join("kit");
    let o = run_as(
        &db,
        CLERK,
        &["kit", "--out", out.to_str().unwrap(), "--ward", "3E", "--blanks", "1", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut names: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            std::path::Path::new(f["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "3E-charts.pdf",
            "3E-labels.pdf",
            "3E-slips.pdf",
            "3E-wristbands.pdf",
            "blank-charts.pdf",
            "blank-labels.pdf",
            "blank-slips.pdf",
            "blank-wristbands.pdf"
        ]
    );
    for name in &names {
        assert!(out.join(name).is_file());
        assert!(!out.join(format!("{name}.partial")).exists());
    }
}

#[test]
fn forms_patients_and_permissions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let out = dir.path().join("kit");
    let o = run_as(&db, CLERK, &["kit", "--out", out.to_str().unwrap(), "--forms", "progress_notes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown form 'progress_notes' (known: wristband_adult"), "{}", stderr(&o));
    let o = run_as(&db, CLERK, &["kit", "--out", out.to_str().unwrap(), "--patient", "99999999"]);
    assert!(stderr(&o).contains("no admitted patient with ID '99999999'"), "{}", stderr(&o));
    let o = run_as(&db, NURSE, &["kit", "--out", out.to_str().unwrap()]);
    assert!(stderr(&o).contains("may not print the downtime kit"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written by refused requests");

    let forms = dir.path().join("forms");
    std::fs::create_dir_all(&forms).unwrap();
    let broken =
        include_str!("../../forms/progress_note.toml").replace("module_mm = 0.33", "module_mm = 0.12");
    std::fs::write(forms.join("progress_note.toml"), broken).unwrap();
    let o =
        run_as(&db, CLERK, &["kit", "--out", out.to_str().unwrap(), "--forms-dir", forms.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("progress_note.toml: barcode.module_mm: 0.12 mm bars are too thin"), "{err}");
}
