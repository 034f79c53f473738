//! Scan import against zxing-cpp: a kit of A4 pages and label sheets is rendered at 300 dpi by
//! poppler, degraded by `tests/peers/degrade_pages.py` (skew, upside down, noise, JPEG 50,
//! black and white), and the same files are (a) imported by kamikarte end to end — decode,
//! barcode, hash, store, file in the database — and (b) read whole-page by zxing-cpp's Python
//! package (`tests/peers/zxing_pages.py`, image loading included). Counted: pages whose code
//! names the right serial. Target: at least as many as zxing-cpp, at no less than its speed.
//!
//! Needs pdftoppm and python3 with Pillow and zxing-cpp. Run with `cargo bench --bench
//! scan_import`; figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::Local;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::domain::PageCode;
use kamikarte::print::{KitRequest, generate_kit};
use kamikarte::scan::{ImportRequest, PageStore, import_pages};
use kamikarte::store::{Actor, Filing, Store};

const PATIENTS: usize = 20;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Renders the kit at 300 dpi into `clean/`; returns what serial each PNG carries.
fn render(dir: &Path, store: &Store) -> BTreeMap<String, String> {
    let clean = dir.join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    let mut by_file: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for page in store.printed_pages(None).unwrap() {
        by_file.entry(page.file.clone()).or_default().push(page);
    }
    let mut serials = BTreeMap::new();
    for (file, mut pages) in by_file {
        pages.sort_by_key(|p| p.number);
        let stem = file.trim_end_matches(".pdf");
        run(Command::new("pdftoppm")
            .args(["-gray", "-png", "-r", "300"])
            .arg(dir.join("kit").join(&file))
            .arg(clean.join(stem)));
        let mut names: Vec<String> = std::fs::read_dir(&clean)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{stem}-")))
            .collect();
        names.sort();
        for (name, page) in names.into_iter().zip(pages) {
            serials.insert(name, format!("{}-{:06}", page.station, page.number));
        }
    }
    serials
}

struct Measured {
    seconds: f64,
    right: usize,
    wrong: usize,
}

fn ours(db: &Path, folder: &Path, expected: &HashMap<String, String>, workers: usize) -> Measured {
    let mut store = Store::open(db).unwrap();
    let pages = PageStore::beside(db);
    let request =
        ImportRequest { paths: vec![folder.to_path_buf()], forms_dir: None, workers: Some(workers) };
    let clerk = common::session(&mut store, kamikarte::domain::Role::Clerk);
    let started = Instant::now();
    let report =
        import_pages(&mut store, &clerk, &pages, &request, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let (mut right, mut wrong) = (0, 0);
    for p in &report.pages {
        let name = Path::new(&p.file).file_name().unwrap().to_string_lossy().into_owned();
        let read = match &p.filing {
            Filing::Filed { .. } | Filing::Queued { .. } => {
                p.barcode.as_deref().and_then(|b| PageCode::parse(b).ok())
            }
            _ => None,
        };
        match read {
            Some(code) if Some(&code.serial.to_string()) == expected.get(&name) => right += 1,
            Some(_) => wrong += 1,
            None => {}
        }
    }
    Measured { seconds, right, wrong }
}

fn zxing(folder: &Path, expected: &HashMap<String, String>) -> Measured {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/zxing_pages.py");
    let out = run(Command::new("python3").arg(script).arg(folder));
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (mut right, mut wrong) = (0, 0);
    for (name, texts) in json["pages"].as_object().unwrap() {
        let codes: Vec<PageCode> = texts
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| PageCode::parse(t.as_str().unwrap()).ok())
            .collect();
        match codes.first() {
            Some(code) if Some(&code.serial.to_string()) == expected.get(name) => right += 1,
            Some(_) => wrong += 1,
            None => {}
        }
    }
    Measured { seconds: json["seconds"].as_f64().unwrap(), right, wrong }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.sqlite");
    let actor = Actor("bench".into());
    let mut store = Store::open(&base).unwrap();
    let options = DemoOptions { beds: 60, seed: 7, as_of: Local::now().date_naive() };
    load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
    let patients: Vec<String> = store
        .patients(None, false)
        .unwrap()
        .into_iter()
        .take(PATIENTS)
        .map(|r| r.patient.id.to_string())
        .collect();
    let request = KitRequest {
        out_dir: dir.path().join("kit"),
        patients,
        forms: ["progress_note", "lab_order", "vital_signs", "charge_slip", "labels"]
            .map(String::from)
            .to_vec(),
        ..KitRequest::default()
    };
    let clerk = common::session(&mut store, kamikarte::domain::Role::Clerk);
    generate_kit(&mut store, &clerk, &request, &mut |_, _| {}).unwrap();
    let clean_serials = render(dir.path(), &store);
    drop(store);

    let degraded = dir.path().join("degraded");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/degrade_pages.py");
    run(Command::new("python3")
        .arg(script)
        .arg(dir.path().join("clean"))
        .arg(&degraded)
        .args(["--seed", "3"]));
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(degraded.join("manifest.json")).unwrap()).unwrap();
    std::fs::rename(degraded.join("manifest.json"), dir.path().join("manifest.json")).unwrap();
    let degraded_serials: HashMap<String, String> = manifest
        .iter()
        .map(|e| {
            (e["file"].as_str().unwrap().to_string(), clean_serials[e["source"].as_str().unwrap()].clone())
        })
        .collect();
    let clean_serials: HashMap<String, String> = clean_serials.into_iter().collect();

    println!("{} pages at 300 dpi ({PATIENTS} patients × 4 A4 forms + label sheets)", clean_serials.len());
    println!(
        "{:<10} {:<34} {:>8} {:>6} {:>8} {:>9}",
        "pages", "reader", "right", "wrong", "seconds", "pages/s"
    );
    for (set, folder, expected) in
        [("clean", dir.path().join("clean"), &clean_serials), ("degraded", degraded, &degraded_serials)]
    {
        let n = expected.len();
        let mut rows: Vec<(String, Measured)> = Vec::new();
        for workers in [1, 2] {
            let db: PathBuf = dir.path().join(format!("{set}-{workers}.sqlite"));
            for suffix in ["", ".key", ".anchor"] {
                std::fs::copy(format!("{}{suffix}", base.display()), format!("{}{suffix}", db.display()))
                    .unwrap();
            }
            rows.push((
                format!("kamikarte import, {workers} thread(s)"),
                ours(&db, &folder, expected, workers),
            ));
        }
        rows.push(("zxing-cpp (Python), whole page".into(), zxing(&folder, expected)));
        for (name, m) in rows {
            println!(
                "{set:<10} {name:<34} {:>5}/{n:<3} {:>5} {:>8.2} {:>9.1}",
                m.right,
                m.wrong,
                m.seconds,
                n as f64 / m.seconds
            );
        }
    }
}
