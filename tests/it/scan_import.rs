//! Bringing paper back: a kit is printed, rendered by poppler's `pdftoppm` at 200 and 300 dpi,
//! degraded the way scanners degrade pages (Pillow, `tests/peers/degrade_pages.py`: skew, pages
//! upside down, noise, JPEG quality 50, black and white, multi-page TIFF and PDF), shuffled, and
//! imported through the binary. Every page must land on the right patient, form and serial.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{CLERK, command, demo_db, run_as, stderr, stdout};
use kamikarte::store::{PageState, Store};

/// What a rendered page should be filed as.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    serial: String,
    form: String,
    patient: Option<String>,
}

/// Which patients a kit is printed for.
enum Whom {
    /// A whole ward.
    Ward(&'static str),
    /// The first N patients of the census.
    First(usize),
}

/// Prints a kit (plus one blank of each form), renders it alternately at 200 and 300 dpi into
/// `out`, and says what each PNG is.
fn printed_pages(db: &Path, dir: &Path, whom: Whom, out: &Path) -> BTreeMap<String, Expected> {
    let mut args: Vec<String> = vec!["kit".into(), "--out".into(), dir.join("kit").display().to_string()];
    match whom {
        Whom::Ward(ward) => args.extend(["--ward".to_string(), ward.to_string()]),
        Whom::First(n) => {
            for p in common::list_json(db).iter().take(n) {
                args.push("--patient".into());
                args.push(p["id"].as_str().unwrap().to_string());
            }
        }
    }
    args.extend(
        ["--forms", "progress_note,lab_order,vital_signs,charge_slip,labels", "--blanks", "1"]
            .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let kit = run_as(db, CLERK, &args);
    assert!(kit.status.success(), "{}", stderr(&kit));

    let registry = Store::open(db).unwrap().printed_pages(None).unwrap();
    let mut by_file: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for page in registry {
        by_file.entry(page.file.clone()).or_default().push(page);
    }
    std::fs::create_dir_all(out).unwrap();
    let mut expected = BTreeMap::new();
    let mut k = 0;
    for (file, mut pages) in by_file {
        pages.sort_by_key(|p| p.number);
        let pdf = dir.join("kit").join(&file);
        let mut renders: HashMap<u32, Vec<PathBuf>> = HashMap::new();
        for dpi in [200u32, 300] {
            let prefix = dir.join(format!("render{dpi}")).join(file.trim_end_matches(".pdf"));
            std::fs::create_dir_all(prefix.parent().unwrap()).unwrap();
            let status = Command::new("pdftoppm")
                .args([
                    "-gray",
                    "-png",
                    "-r",
                    &dpi.to_string(),
                    pdf.to_str().unwrap(),
                    prefix.to_str().unwrap(),
                ])
                .status()
                .expect("pdftoppm is needed: apt-get install poppler-utils");
            assert!(status.success());
            let mut names: Vec<PathBuf> = std::fs::read_dir(prefix.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .starts_with(prefix.file_name().unwrap().to_str().unwrap())
                })
                .collect();
            names.sort();
            renders.insert(dpi, names);
        }
        assert_eq!(renders[&200].len(), pages.len(), "{file}: one render per registered page");
        for (i, page) in pages.iter().enumerate() {
            let dpi = if k % 2 == 0 { 200 } else { 300 };
            let name = format!("page-{k:03}.png");
            std::fs::copy(&renders[&dpi][i], out.join(&name)).unwrap();
            expected.insert(
                name,
                Expected {
                    serial: format!("{}-{:06}", page.station, page.number),
                    form: page.form_code.clone(),
                    patient: page.patient_id.clone(),
                },
            );
            k += 1;
        }
    }
    expected
}

/// A white page, and a page with another system's Code 128 where the page code would be.
fn foreign_pages(out: &Path) {
    let (w, h) = (1654u32, 2339u32);
    image::GrayImage::from_pixel(w, h, image::Luma([255])).save(out.join("zz-blank.png")).unwrap();
    let mut page = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let modules = kamikarte::print::code128("INV-2026-0001").unwrap();
    for (i, bar) in modules.iter().enumerate() {
        if *bar {
            for x in 0..3 {
                for y in 80..170 {
                    page.put_pixel(900 + i as u32 * 3 + x, y, image::Luma([0]));
                }
            }
        }
    }
    page.save(out.join("zz-foreign.png")).unwrap();
}

fn degrade(input: &Path, out: &Path, seed: u32) -> Vec<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/degrade_pages.py");
    let run = Command::new("python3")
        .args([
            script.to_str().unwrap(),
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            "--seed",
            &seed.to_string(),
            "--containers",
        ])
        .output()
        .expect("python3 with Pillow is needed: pip install pillow");
    assert!(run.status.success(), "degrade_pages.py: {}", String::from_utf8_lossy(&run.stderr));
    // The manifest is the test's, not a scan: out of the folder with it.
    let manifest = out.join("manifest.json");
    let entries = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    std::fs::remove_file(manifest).unwrap();
    entries
}

fn import_json(db: &Path, paths: &[&Path]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec!["scan".to_string(), "import".into(), "--json".into()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_as(db, CLERK, &args);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out, json)
}

fn status_json(db: &Path) -> serde_json::Value {
    let out = run_as(db, CLERK, &["scan", "status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_wards_kit_scanned_degraded_and_shuffled_is_filed_to_the_right_patient_form_and_serial() {
    let dir = tempfile::tempdir().unwrap();
    // A small demo hospital: one ward (3E) of nine patients, its whole kit.
    let db = demo_db(dir.path(), "12");
    let clean = dir.path().join("clean");
    let mut expected = printed_pages(&db, dir.path(), Whom::Ward("3E"), &clean);
    assert!(expected.len() >= 40, "the ward's kit: {} pages", expected.len());
    // One progress note never comes back.
    let (removed_name, removed) = expected
        .iter()
        .find(|(_, e)| e.form == "PN" && e.patient.is_some())
        .map(|(n, e)| (n.clone(), e.clone()))
        .unwrap();
    std::fs::remove_file(clean.join(&removed_name)).unwrap();
    expected.remove(&removed_name);
    foreign_pages(&clean);

    let scans = dir.path().join("scans");
    let manifest = degrade(&clean, &scans, 11);
    assert_eq!(manifest.len(), expected.len() + 2);
    std::fs::write(scans.join("broken.jpg"), b"\xFF\xD8\xFF\xE0 this is not a whole JPEG").unwrap();
    std::fs::write(scans.join("notes.txt"), "scanner settings: 300 dpi").unwrap();

    let (out, report) = import_json(&db, &[&scans]);
    assert_eq!(out.status.code(), Some(1), "unreadable files make the exit status 1");
    let err = stderr(&out);
    assert!(err.contains("broken.jpg") && err.contains("notes.txt: not a PNG, JPEG, TIFF or PDF"), "{err}");

    // What the import says of each scanned page, against what the page was.
    let outcomes: HashMap<(String, u64), &serde_json::Value> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let file =
                Path::new(p["file"].as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string();
            ((file, p["source_page"].as_u64().unwrap()), p)
        })
        .collect();
    let store = Store::open(&db).unwrap();
    let mut blank_forms = 0;
    for entry in &manifest {
        let key = (entry["file"].as_str().unwrap().to_string(), entry["page"].as_u64().unwrap());
        let source = entry["source"].as_str().unwrap();
        let outcome =
            outcomes.get(&key).unwrap_or_else(|| panic!("{key:?} ({source}) was not imported: {report}"));
        let page = store.scanned_page(outcome["page"].as_i64().unwrap()).unwrap().unwrap();
        let what = format!("{key:?} from {source} ({}, {}°)", entry["kind"], entry["rotated_deg"]);
        if source.starts_with("zz-") {
            assert_eq!(page.state, PageState::Queued, "{what}: a blank or foreign page waits in the queue");
            if source == "zz-foreign.png" {
                assert!(
                    page.reason.as_deref().unwrap().contains("INV-2026-0001"),
                    "{what}: {:?}",
                    page.reason
                );
            }
            continue;
        }
        let want = &expected[source];
        assert_eq!(page.serial.as_deref(), Some(want.serial.as_str()), "{what}");
        assert_eq!(page.form_code.as_deref(), Some(want.form.as_str()), "{what}");
        assert_eq!(page.upside_down, entry["upside_down"].as_bool().unwrap(), "{what}");
        match &want.patient {
            Some(patient) => {
                assert_eq!(page.state, PageState::Filed, "{what}");
                assert_eq!(page.patient_id.as_ref(), Some(patient), "{what}");
                assert_eq!(page.warning, None, "{what}");
            }
            None => {
                blank_forms += 1;
                assert_eq!(page.state, PageState::Queued, "{what}: a blank form waits for its patient");
            }
        }
        assert!(dir.path().join("k-pages").join(&page.image_file).is_file(), "{what}: the image is stored");
    }
    assert_eq!(blank_forms, 5, "one blank of each of the five forms");

    let status = status_json(&db);
    let filed = (expected.len() - blank_forms) as u64;
    assert_eq!(status["filed"], filed);
    assert_eq!(status["queued"], blank_forms as u64 + 2);
    assert_eq!(status["duplicates"], 0);
    let missing: Vec<&str> =
        status["missing"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(
        missing.contains(&removed.serial.as_str()),
        "the page that never came back is missing: {missing:?}"
    );
    // Label sheets do not come back; of the others only the removed page is missing. The blank
    // forms are back, waiting in the queue for their patient.
    assert_eq!(missing, [removed.serial.as_str()]);
    assert_eq!(status["returned_not_filed"], 4);

    // The same folder again: nothing new. A copy under another name is the same file; the same
    // page scanned again (another degradation) is a duplicate of its serial.
    std::fs::remove_file(scans.join("broken.jpg")).unwrap();
    std::fs::remove_file(scans.join("notes.txt")).unwrap();
    let (again, report) = import_json(&db, &[&scans]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(report["counts"]["already_imported"], manifest.len() as u64);
    assert_eq!(report["counts"]["filed"], 0);
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    let single = manifest.iter().find(|e| e["file"].as_str().unwrap().starts_with("scan-")).unwrap();
    std::fs::copy(scans.join(single["file"].as_str().unwrap()), extra.join("copy-of-a-scan")).unwrap();
    let rescan_src = dir.path().join("rescan-src");
    std::fs::create_dir_all(&rescan_src).unwrap();
    let name = expected.iter().find(|(_, e)| e.patient.is_some()).unwrap().0;
    std::fs::copy(clean.join(name), rescan_src.join(name)).unwrap();
    let rescan = dir.path().join("rescan");
    let rescan_manifest = degrade(&rescan_src, &rescan, 99);
    assert_eq!(rescan_manifest.len(), 1);
    let (third, report) = import_json(&db, &[&extra, &rescan]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(report["counts"]["already_imported"], 1, "a copy of a file is the file: {report}");
    assert_eq!(report["counts"]["duplicates"], 1, "{report}");
    let status = status_json(&db);
    assert_eq!(status["filed"], filed, "nothing is filed twice");
    assert_eq!(status["duplicates"], 1);
}

#[test]
fn a_queued_page_is_indexed_by_hand_and_the_indexing_can_be_undone() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let clean = dir.path().join("clean");
    let expected = printed_pages(&db, dir.path(), Whom::First(1), &clean);
    let (blank_name, blank) = expected.iter().find(|(_, e)| e.patient.is_none() && e.form == "PN").unwrap();
    let only = dir.path().join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(clean.join(blank_name), only.join("blank-note.png")).unwrap();
    let (out, report) = import_json(&db, &[&only]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = report["pages"][0]["page"].as_i64().unwrap().to_string(); // the scanned page's number
    let patient = common::list_json(&db)[3]["id"].as_str().unwrap().to_string();

    let typo = run_as(&db, CLERK, &["scan", "index", &page, "--patient", "99999999"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("not in the census"), "{}", stderr(&typo));
    let indexed = run_as(&db, CLERK, &["scan", "index", &page, "--patient", &patient]);
    assert!(indexed.status.success(), "{}", stderr(&indexed));
    let status = status_json(&db);
    assert_eq!((status["filed"].as_u64(), status["queued"].as_u64()), (Some(1), Some(0)));
    assert!(
        !status["missing"].as_array().unwrap().iter().any(|s| s == blank.serial.as_str()),
        "the blank form keeps its serial once indexed"
    );
    let nurse = run_as(&db, ("nurse", "kamikarte-demo-nurse"), &["scan", "requeue", &page]);
    assert_eq!(nurse.status.code(), Some(1), "a nurse may not file pages");
    let undo = run_as(&db, CLERK, &["scan", "requeue", &page]);
    assert!(undo.status.success(), "{}", stderr(&undo));
    let status = status_json(&db);
    assert_eq!((status["filed"].as_u64(), status["queued"].as_u64()), (Some(0), Some(1)));
    let back = Store::open(&db).unwrap().scanned_page(page.parse().unwrap()).unwrap().unwrap();
    assert_eq!(back.serial.as_deref(), Some(blank.serial.as_str()), "the blank form keeps its serial");
    assert_eq!((back.form_code.as_deref(), back.patient_id.as_deref()), (Some("PN"), None));
    assert!(back.reason.unwrap().contains("blank form"));
    let wrong_form = run_as(&db, CLERK, &["scan", "index", &page, "--patient", &patient, "--form", "LAB"]);
    assert!(stderr(&wrong_form).contains("own barcode says it is PN"), "{}", stderr(&wrong_form));
    let audit = run_as(&db, ("admin", "kamikarte-demo-admin"), &["audit", "verify"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
}

/// Rows in `scanned_pages`, read beside the running import (WAL lets a reader in).
fn scanned_rows(db: &Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM scanned_pages", [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn an_import_killed_at_any_moment_and_run_again_files_every_page_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path(), "45");
    let clean = dir.path().join("clean");
    let expected = printed_pages(&db, dir.path(), Whom::First(4), &clean);
    let scans = dir.path().join("scans");
    degrade(&clean, &scans, 5);

    // Kill it three times, each time a little further in, then let it finish.
    let mut killed_running = 0;
    for after in [1, 6, 14] {
        let mut child = command(&db)
            .env("KAMIKARTE_USER", CLERK.0)
            .env("KAMIKARTE_PASSWORD", CLERK.1)
            .args(["scan", "import", scans.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while scanned_rows(&db) < after && start.elapsed() < Duration::from_secs(120) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
    }
    assert!(killed_running >= 2, "the import was killed mid-way at least twice ({killed_running})");
    let before = scanned_rows(&db) as usize;
    assert!(before > 0 && before < expected.len(), "killed part-way: {before} of {}", expected.len());
    let out = run_as(&db, CLERK, &["scan", "import", scans.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let store = Store::open(&db).unwrap();
    let rows = store.scanned_pages(None).unwrap();
    assert_eq!(rows.len(), expected.len(), "one row per page, none twice");
    assert!(rows.iter().all(|r| r.state != PageState::Duplicate), "a resumed import makes no duplicates");
    let mut serials: Vec<&str> = rows.iter().filter_map(|r| r.serial.as_deref()).collect();
    serials.sort();
    let mut want: Vec<&str> = expected.values().map(|e| e.serial.as_str()).collect();
    want.sort();
    assert_eq!(serials, want, "every page, exactly once");
    for r in &rows {
        assert!(dir.path().join("k-pages").join(&r.image_file).is_file(), "page {} has its image", r.id);
    }
    let audit = run_as(&db, ("admin", "kamikarte-demo-admin"), &["audit", "verify"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
}
