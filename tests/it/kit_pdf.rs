//! The downtime kit checked by tools not written here: qpdf, pdffonts, pdftotext and pdftoppm
//! (poppler), zbarimg (zbar) and zxing-cpp. CI installs them (see .ci/run).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use kamikarte::census::{ImportOptions, import_file};
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::domain::PageCode;
use kamikarte::print::{KitRequest, generate_kit};
use kamikarte::store::{Actor, PrintedPage, Store};

fn tool(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("`{name}` is needed for this test ({e}): apt-get install poppler-utils qpdf zbar-tools; pip install zxing-cpp pillow")
    })
}

fn text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Renders every page of `pdf` at `dpi` in grey; returns the PNGs in page order.
fn render(pdf: &Path, dpi: u32, dir: &Path) -> Vec<PathBuf> {
    let stem = dir.join(format!("{}-{dpi}", pdf.file_stem().unwrap().to_str().unwrap()));
    let out = tool(
        "pdftoppm",
        &["-r", &dpi.to_string(), "-gray", "-png", pdf.to_str().unwrap(), stem.to_str().unwrap()],
    );
    assert!(out.status.success(), "pdftoppm failed on {}", pdf.display());
    let prefix = stem.file_name().unwrap().to_str().unwrap().to_string();
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{prefix}-")))
        .collect();
    pngs.sort();
    pngs
}

/// Code 128 texts each reader finds on each image.
fn decode(pngs: &[PathBuf]) -> (BTreeMap<PathBuf, Vec<String>>, BTreeMap<PathBuf, Vec<String>>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/zxing_decode.py");
    let mut args = vec![script.to_str().unwrap().to_string()];
    args.extend(pngs.iter().map(|p| p.to_str().unwrap().to_string()));
    let zx = Command::new("python3").args(&args).output().expect("python3 runs");
    assert!(zx.status.success(), "zxing-cpp: {}", String::from_utf8_lossy(&zx.stderr));
    let mut zxing: BTreeMap<PathBuf, Vec<String>> = pngs.iter().map(|p| (p.clone(), vec![])).collect();
    for line in text(&zx).lines() {
        let parts: Vec<&str> = line.splitn(3, '\t').collect();
        assert_eq!(parts[1], "Code128", "{line}");
        zxing.get_mut(Path::new(parts[0])).unwrap().push(parts[2].to_string());
    }
    let mut zbar: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for png in pngs {
        let out = tool("zbarimg", &["-q", "--raw", "-Sdisable", "-Scode128.enable", png.to_str().unwrap()]);
        zbar.insert(png.clone(), text(&out).lines().map(str::to_string).collect());
    }
    (zxing, zbar)
}

#[test]
fn every_pdf_of_a_ward_kit_passes_the_peer_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
    let actor = Actor("kit-test".into());
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    // A small ward (6 beds) plus two patients a kit must get right: a newborn whose blood type
    // is not known yet, and the longest name of the demo's name parts.
    load_demo(&mut store, &actor, &DemoOptions { beds: 6, seed: 3, as_of }, &mut |_, _| {}).unwrap();
    let ward = store.wards().unwrap()[0].ward.clone();
    let today = chrono::Local::now().date_naive();
    let newborn_dob = today - chrono::Days::new(3);
    let csv = dir.path().join("extra.csv");
    std::fs::write(
        &csv,
        format!(
            "患者ID,氏名,カナ氏名,生年月日,性別,血液型,病棟,病室,ベッド\n\
             90000001,勅使河原　龍之介,テシガワラ　リュウノスケ,1931-01-02,M,AB-,{ward},399,399-1\n\
             90000002,五百旗頭　ベビー,イオキベ　ベビー,{newborn_dob},F,,{ward},399,399-2\n"
        ),
    )
    .unwrap();
    let mut options = ImportOptions::new(today);
    options.keep_absent = true;
    let clerk = common::person(&mut store, "kit-test", kamikarte::domain::Role::Clerk);
    let imported = import_file(&mut store, &clerk, &csv, &options, &mut |_| {}).unwrap();
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    let patients: Vec<_> =
        store.patients(Some(&ward), false).unwrap().into_iter().map(|r| r.patient).collect();
    let out = dir.path().join("kit");
    let request =
        KitRequest { out_dir: out.clone(), wards: vec![ward.clone()], blanks: 1, ..KitRequest::default() };
    let report = generate_kit(&mut store, &clerk, &request, &mut |_, _| {}).unwrap();
    let registry: Vec<PrintedPage> = store.printed_pages(None).unwrap();
    assert_eq!(registry.len(), report.pages);
    let pngs_dir = dir.path().join("png");
    std::fs::create_dir_all(&pngs_dir).unwrap();

    // One thread per file: the checks are external processes, and CI has two cores.
    std::thread::scope(|scope| {
        for file in &report.files {
            let (registry, pngs_dir) = (&registry, &pngs_dir);
            scope.spawn(move || {
                let pdf = file.path.to_str().unwrap();
                let check = tool("qpdf", &["--check", pdf]);
                assert!(check.status.success(), "qpdf --check {pdf}: {}", text(&check));
                let fonts = text(&tool("pdffonts", &[pdf]));
                let rows: Vec<&str> = fonts.lines().skip(2).collect();
                assert!(!rows.is_empty(), "{pdf} has text in an embedded font");
                for row in rows {
                    let cols: Vec<&str> = row.split_whitespace().collect();
                    let n = cols.len();
                    assert_eq!(
                        (cols[n - 5], cols[n - 4]),
                        ("yes", "yes"),
                        "{pdf}: every font embedded and subset: {row}"
                    );
                }

                // The pages of this file, in order, as the registry has them.
                let pages: Vec<&PrintedPage> = registry
                    .iter()
                    .filter(|p| p.file == file.path.file_name().unwrap().to_str().unwrap())
                    .collect();
                assert_eq!(pages.len(), file.pages);
                for dpi in [200, 300] {
                    let pngs = render(&file.path, dpi, pngs_dir);
                    assert_eq!(pngs.len(), file.pages, "{pdf} at {dpi} dpi");
                    let (zxing, zbar) = decode(&pngs);
                    for (png, page) in pngs.iter().zip(&pages) {
                        for (reader, found) in [("zxing-cpp", &zxing[png]), ("zbar", &zbar[png])] {
                            if page.form_id.starts_with("wristband") {
                                // The band carries the patient ID alone, exactly, for bedside scanners.
                                let expected: Vec<String> = page.patient_id.iter().cloned().collect();
                                assert_eq!(found, &expected, "{reader}, {} at {dpi} dpi", png.display());
                                continue;
                            }
                            let codes: Vec<PageCode> =
                                found.iter().filter_map(|t| PageCode::parse(t).ok()).collect();
                            assert_eq!(
                                codes.len(),
                                1,
                                "{reader}: one page code on {} at {dpi} dpi: {found:?}",
                                png.display()
                            );
                            let code = &codes[0];
                            assert_eq!(code.form.as_str(), page.form_code, "{reader} {}", png.display());
                            assert_eq!(
                                code.patient.as_ref().map(|p| p.to_string()),
                                page.patient_id,
                                "{reader} {}",
                                png.display()
                            );
                            assert_eq!(
                                (code.serial.station.as_str(), code.serial.number),
                                (page.station.as_str(), page.number)
                            );
                            if let (Some(id), "labels") = (&page.patient_id, page.form_id.as_str()) {
                                assert!(
                                    found.iter().any(|t| t == id),
                                    "{reader}: the labels carry the patient ID: {found:?}"
                                );
                            }
                        }
                    }
                    for png in pngs {
                        std::fs::remove_file(png).unwrap();
                    }
                }
            });
        }
    });

    // Kana names come out of the wristbands as text; a wristband is the band's size.
    let bands = out.join(format!("{ward}-wristbands.pdf"));
    let words = text(&tool("pdftotext", &["-raw", bands.to_str().unwrap(), "-"]));
    let compact: String = words.chars().filter(|c| !c.is_whitespace()).collect();
    for p in &patients {
        let kana: String = p.kana.as_str().chars().filter(|c| !c.is_whitespace()).collect();
        assert!(compact.contains(&kana), "{} in the wristbands' text", p.kana);
    }
    // The longest name fits the band: every word's box ends inside the page.
    let bbox = text(&tool("pdftotext", &["-bbox", bands.to_str().unwrap(), "-"]));
    for line in bbox.lines().filter(|l| l.contains("<word")) {
        let x_max: f32 = line.split("xMax=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(x_max <= 566.93, "a word runs off the band: {line}");
    }
    assert!(compact.contains("テシガワラリュウノスケ") && compact.contains("勅使河原龍之介"));
    // The newborn gets the infant band (120 × 16 mm), and unknown blood prints as unknown.
    let pages_of = |id: &str| {
        registry
            .iter()
            .filter(|p| p.patient_id.as_deref() == Some(id))
            .map(|p| p.form_id.clone())
            .collect::<Vec<_>>()
    };
    assert!(pages_of("90000002").contains(&"wristband_infant".to_string()));
    assert!(!pages_of("90000002").contains(&"wristband_adult".to_string()));
    assert!(!pages_of("90000001").contains(&"wristband_infant".to_string()));
    let charts =
        text(&tool("pdftotext", &["-raw", out.join(format!("{ward}-charts.pdf")).to_str().unwrap(), "-"]));
    let newborn_page =
        charts.split('\u{c}').find(|page| page.contains("90000002")).expect("the newborn's chart");
    assert!(newborn_page.contains("血液型 不明 unknown"), "{newborn_page}");
    let info = text(&tool("pdfinfo", &[bands.to_str().unwrap()]));
    assert!(
        info.contains("Page size:       566.929 x 70.8661 pts") || info.contains("566.929 x 70.866"),
        "200 × 25 mm: {info}"
    );
}

#[test]
fn the_mar_and_summary_printed_from_the_snapshot_carry_the_running_medications_and_pass_the_peer_checks() {
    use kamikarte::demo::ssmix2_tree::{TreeOptions, write_tree};
    use kamikarte::snapshot::{ImportOptions, clinical_view, import};
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
    let today = chrono::Local::now().date_naive();
    let inpatients = kamikarte::demo::generate(&DemoOptions { beds: 6, seed: 11, as_of: today });
    let root = dir.path().join("ssmix2");
    write_tree(
        &root,
        &TreeOptions { inpatients, others: 0, messages_per_patient: 24, today, seed: 11 },
        &|_, _| {},
    )
    .unwrap();
    let clerk = common::person(&mut store, "kit-test", kamikarte::domain::Role::Clerk);
    store.set_station_code(&kamikarte::store::Actor("test-admin".into()), "K1").unwrap();
    let options = ImportOptions { today, demo: false, full: true };
    let report = import(&mut store, &clerk, &root, &options, &mut |_| {}).unwrap();
    assert!(report.inpatients > 0 && report.unreadable.is_empty(), "{report:?}");
    // A patient with medications running today.
    let patient = store
        .patients(None, false)
        .unwrap()
        .into_iter()
        .map(|r| r.patient)
        .find(|p| !clinical_view(&store, p.id.as_str(), today, 3).unwrap().medications.is_empty())
        .expect("a patient with running medications");
    let view = clinical_view(&store, patient.id.as_str(), today, 3).unwrap();

    let out = dir.path().join("kit");
    let request = KitRequest {
        out_dir: out.clone(),
        patients: vec![patient.id.to_string()],
        forms: vec!["mar".into(), "summary".into()],
        ..KitRequest::default()
    };
    let kit = generate_kit(&mut store, &clerk, &request, &mut |_, _| {}).unwrap();
    assert_eq!(kit.pages, 2, "one MAR, one summary");
    let pdf = &kit.files[0].path;
    let check = tool("qpdf", &["--check", pdf.to_str().unwrap()]);
    assert!(check.status.success(), "qpdf --check: {}", text(&check));
    for row in text(&tool("pdffonts", &[pdf.to_str().unwrap()])).lines().skip(2) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let n = cols.len();
        assert_eq!((cols[n - 5], cols[n - 4]), ("yes", "yes"), "embedded and subset: {row}");
    }
    let words = text(&tool("pdftotext", &["-raw", pdf.to_str().unwrap(), "-"]));
    let first = &view.medications[0];
    assert!(words.contains(&first.name), "the MAR names {} :\n{words}", first.name);
    assert!(words.contains("アレルギー ALLERGIES") && words.contains("投薬中"), "{words}");
    assert!(words.contains("患者情報 ") && words.contains(" 時点"), "the snapshot's age is printed: {words}");
    let pngs_dir = dir.path().join("png");
    std::fs::create_dir_all(&pngs_dir).unwrap();
    let pngs = render(pdf, 200, &pngs_dir);
    assert_eq!(pngs.len(), 2);
    let (zxing, zbar) = decode(&pngs);
    for (png, form) in pngs.iter().zip(["MAR", "SUM"]) {
        for found in [&zxing[png], &zbar[png]] {
            let codes: Vec<PageCode> = found.iter().filter_map(|t| PageCode::parse(t).ok()).collect();
            assert_eq!(codes.len(), 1, "{found:?}");
            assert_eq!(codes[0].form.as_str(), form);
            assert_eq!(codes[0].patient.as_ref(), Some(&patient.id));
        }
    }
}

#[test]
fn a_pre_printed_packet_carries_its_reserved_id_and_is_registered_later_by_scanning_it() {
    use crate::common::{CLERK, run_as, stderr, stdout};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let out = common::run(&db, &["demo", "--beds", "20", "--downtime"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kit = dir.path().join("packets");
    let out = run_as(&db, CLERK, &["kit", "--out", kit.to_str().unwrap(), "--packets", "2", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> =
        report["packets"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(report["patients"], 0);

    // Each file passes the peer checks, and every barcode names a packet's ID: the bands carry
    // the bare ID, every page a page code naming it.
    let pngs_dir = dir.path().join("png");
    std::fs::create_dir_all(&pngs_dir).unwrap();
    let mut page_codes = Vec::new();
    for family in ["wristbands", "labels", "charts", "slips"] {
        let pdf = kit.join(format!("packets-{family}.pdf"));
        let check = tool("qpdf", &["--check", pdf.to_str().unwrap()]);
        assert!(check.status.success(), "qpdf --check {family}: {}", text(&check));
        for row in text(&tool("pdffonts", &[pdf.to_str().unwrap()])).lines().skip(2) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let n = cols.len();
            assert_eq!((cols[n - 5], cols[n - 4]), ("yes", "yes"), "embedded and subset: {row}");
        }
        let words = text(&tool("pdftotext", &["-raw", pdf.to_str().unwrap(), "-"]));
        assert!(words.contains(&ids[0]) && words.contains(&ids[1]), "{family} prints the IDs: {words}");
        let pngs = render(&pdf, 200, &pngs_dir);
        let (zxing, zbar) = decode(&pngs);
        for png in &pngs {
            for found in [&zxing[png], &zbar[png]] {
                assert!(!found.is_empty(), "{} has a readable code", png.display());
                for t in found {
                    match PageCode::parse(t) {
                        Ok(code) => {
                            let id = code.patient.expect("a packet page names its ID");
                            assert!(ids.contains(&id.to_string()), "{t}");
                            page_codes.push(t.clone());
                        }
                        Err(_) => assert!(ids.contains(t), "a band or label carries a packet's ID: {t}"),
                    }
                }
            }
        }
    }

    // Before registration the scan station says what to do; the first packet's progress note,
    // scanned into the register form, registers the patient under its ID.
    {
        use kamikarte::scan::{Outcome, Station};
        let mut store = Store::open(&db).unwrap();
        let nurse =
            kamikarte::auth::login(&mut store, "nurse", "kamikarte-demo-nurse", chrono::Utc::now()).unwrap();
        let mut station = Station::open(&store, kamikarte::form::load(None).unwrap()).unwrap();
        match station.scan(&mut store, &nurse, &ids[0], chrono::Utc::now()).unwrap() {
            Outcome::Refused(why) => assert!(why.contains("not registered yet"), "{why}"),
            other => panic!("an unregistered packet's band is refused: {other:?}"),
        }
    }
    let note = page_codes
        .iter()
        .find(|t| t.contains(".PN.") && t.contains(&ids[0]))
        .expect("the first packet's progress note")
        .clone();
    let out = run_as(
        &db,
        CLERK,
        &["register", "--packet", &note, "--kana", "みほん　はなこ", "--sex", "F", "--age", "40"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), ids[0]);
    let again = run_as(
        &db,
        CLERK,
        &["register", "--packet", &ids[0], "--kana", "ミホン", "--sex", "F", "--age", "40"],
    );
    assert!(!again.status.success() && stderr(&again).contains("registered already"), "{}", stderr(&again));
    // The next registration draws past the reserved IDs.
    let out = run_as(&db, CLERK, &["register", "--kana", "ミホン ジロウ", "--sex", "M", "--age", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!ids.contains(&stdout(&out).trim().to_string()));

    // Reconciliation lists the packet's patient as any downtime registration.
    let list = dir.path().join("list");
    let out = run_as(&db, CLERK, &["handoff", "registrations", "--out", list.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(list.join("registrations.csv")).unwrap();
    assert!(csv.contains(&ids[0]) && csv.contains("ミホン　ハナコ"), "{csv}");
    assert!(!csv.contains(&ids[1]), "an unused packet is nobody: {csv}");
}
