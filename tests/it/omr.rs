//! OMR on a real charge slip: a kit is printed through the binary, rendered by poppler's
//! `pdftoppm` at 300 and 200 dpi, marked by "hand", skewed, shifted and degraded by Pillow
//! (`tests/peers/tick_slip.py`), and read back with `entry::omr::read_ticks`. The ticked set must
//! be exactly the marked set; an unmarked slip must pre-fill nothing. And every shipped form with
//! tick boxes registers on its own unmarked blank.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use common::{CLERK, demo_db, run_as, stderr};
use kamikarte::entry::omr::{OmrError, OmrReading, read_ticks};
use kamikarte::form::{FormDefinition, TickBox};

/// The printed charge slip of one demo patient, rendered at 300 and 200 dpi (shared by the
/// tests of this file, in the target's test scratch folder).
struct Renders {
    dir: PathBuf,
    db: PathBuf,
    patient: String,
    dpi300: PathBuf,
    dpi200: PathBuf,
}

fn renders() -> &'static Renders {
    static RENDERS: OnceLock<Renders> = OnceLock::new();
    RENDERS.get_or_init(|| {
        // One folder, emptied at each run: the last run's scans stay there to look at.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("omr");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = demo_db(&dir, "12");
        let patient = common::list_json(&db)[0]["id"].as_str().unwrap().to_string();
        let kit = dir.join("kit");
        let out = run_as(
            &db,
            CLERK,
            &["kit", "--out", kit.to_str().unwrap(), "--patient", &patient, "--forms", "charge_slip"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        // One file for the patient's ward (one page: the slip) and one of blanks.
        let pdf = std::fs::read_dir(&kit)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.ends_with(".pdf") && !name.starts_with("blank-")
            })
            .expect("the kit has the patient's slips");
        let (dpi300, dpi200) =
            (render(&pdf, 300, &dir.join("slip300")), render(&pdf, 200, &dir.join("slip200")));
        Renders { dpi300, dpi200, dir, db, patient }
    })
}

/// The first page of `pdf` rendered by poppler: `prefix`.png.
fn render(pdf: &Path, dpi: u32, prefix: &Path) -> PathBuf {
    let status = Command::new("pdftoppm")
        .args(["-gray", "-png", "-r", &dpi.to_string(), "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(prefix)
        .status()
        .unwrap_or_else(|e| panic!("pdftoppm is needed ({e}): apt-get install poppler-utils"));
    assert!(status.success(), "pdftoppm failed on {}", pdf.display());
    prefix.with_extension("png")
}

/// Runs `tests/peers/tick_slip.py` on `input`; returns what it drew (its stdout).
fn tick_slip(input: &Path, output: &Path, marks: &serde_json::Value, args: &[String]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/tick_slip.py");
    let run = Command::new("python3")
        .arg(&script)
        .arg(input)
        .arg(output)
        .args(["--marks", &marks.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 with Pillow is needed ({e}): pip install pillow"));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!err.contains("No module named 'PIL'"), "Pillow is needed: pip install pillow");
    assert!(run.status.success(), "tick_slip.py ({}): {err}", output.display());
    String::from_utf8_lossy(&run.stdout).into_owned()
}

fn charge_slip() -> FormDefinition {
    kamikarte::form::built_in().into_iter().find(|f| f.id == "charge_slip").unwrap()
}

fn boxes() -> Vec<TickBox> {
    charge_slip().fields.iter().flat_map(|f| f.tick_boxes()).collect()
}

/// How the page is marked and scanned.
struct Case {
    name: &'static str,
    dpi: u32,
    /// Marks: box index and kind (`None`: the seed chooses a check, a cross or a scribble).
    marks: Vec<(usize, Option<&'static str>)>,
    rotate: f32,
    shift_mm: (f32, f32),
    seed: u32,
    noise: bool,
    jpeg: Option<u8>,
}

impl Case {
    fn new(name: &'static str, dpi: u32, boxes: &[usize], rotate: f32, seed: u32) -> Self {
        Case {
            name,
            dpi,
            marks: boxes.iter().map(|&b| (b, None)).collect(),
            rotate,
            shift_mm: (0.0, 0.0),
            seed,
            noise: false,
            jpeg: None,
        }
    }

    /// The ticks a reader must find: every mark but stray dots.
    fn ticked(&self) -> BTreeSet<String> {
        let boxes = boxes();
        self.marks.iter().filter(|(_, k)| *k != Some("dot")).map(|(b, _)| boxes[*b].code.clone()).collect()
    }

    /// Marks, skews and degrades the render; returns the scanned page's path and what the
    /// script drew.
    fn scan(&self) -> (PathBuf, String) {
        let r = renders();
        let input = if self.dpi == 300 { &r.dpi300 } else { &r.dpi200 };
        let boxes = boxes();
        let marks: Vec<serde_json::Value> = self
            .marks
            .iter()
            .map(|&(i, kind)| {
                let b = &boxes[i];
                let (x, y) = (b.x_mm + b.size_mm / 2.0, b.y_mm + b.size_mm / 2.0);
                match kind {
                    Some(kind) => serde_json::json!({"x": x, "y": y, "kind": kind}),
                    None => serde_json::json!([x, y]),
                }
            })
            .collect();
        let out = r.dir.join(format!("{}.png", self.name));
        // `=`: a negative value must not look like an option.
        let mut args = vec![
            format!("--rotate={}", self.rotate),
            format!("--shift-mm={},{}", self.shift_mm.0, self.shift_mm.1),
            format!("--seed={}", self.seed),
        ];
        if self.noise {
            args.push("--noise".into());
        }
        if let Some(q) = self.jpeg {
            args.push(format!("--jpeg={q}"));
        }
        let drawn = tick_slip(input, &out, &serde_json::Value::from(marks), &args);
        (out, drawn)
    }

    /// Scans the case and reads it: the reading and the ticked codes.
    fn read(&self) -> (OmrReading, BTreeSet<String>, String) {
        let (path, drawn) = self.scan();
        let page = image::open(&path).unwrap().to_luma8();
        let started = Instant::now();
        let reading = read_ticks(&page, &charge_slip())
            .unwrap_or_else(|e| panic!("{}: {e}\ndrawn: {drawn}", self.name));
        eprintln!(
            "{}: {}×{} read in {:.1} ms, {} of {} boxes located",
            self.name,
            page.width(),
            page.height(),
            started.elapsed().as_secs_f64() * 1000.0,
            reading.located,
            reading.total
        );
        let ticked = reading.ticks.iter().filter(|t| t.ticked).map(|t| t.code.clone()).collect();
        (reading, ticked, drawn)
    }

    fn check(&self) {
        let (reading, ticked, drawn) = self.read();
        let inks: Vec<String> = reading.ticks.iter().map(|t| format!("{} {:.3}", t.code, t.ink)).collect();
        assert_eq!(ticked, self.ticked(), "{}: drawn {drawn}\ninks: {}", self.name, inks.join(", "));
        assert!(reading.located >= 16, "{}: only {} boxes located", self.name, reading.located);
    }
}

#[test]
fn three_ticks_at_300_dpi_turned_one_and_a_half_degrees() {
    let mut case = Case::new("three-300-p1.5", 300, &[1, 10, 18], 1.5, 1);
    case.shift_mm = (2.0, -1.5);
    case.noise = true;
    case.check();
}

#[test]
fn three_ticks_at_200_dpi_turned_minus_two_degrees() {
    let mut case = Case::new("three-200-m2", 200, &[4, 12, 21], -2.0, 2);
    case.shift_mm = (-3.0, 2.5);
    case.jpeg = Some(75);
    case.check();
}

#[test]
fn eight_ticks_across_all_three_columns() {
    let eight = [0, 3, 7, 8, 13, 15, 16, 22];
    for (name, dpi, rotate, seed) in
        [("eight-300-m2", 300, -2.0, 3), ("eight-200-p1.5", 200, 1.5, 4), ("eight-200-m2", 200, -2.0, 5)]
    {
        let mut case = Case::new(name, dpi, &eight, rotate, seed);
        case.shift_mm = (1.5, 3.0);
        case.noise = seed % 2 == 1;
        case.jpeg = (seed >= 4).then_some(70);
        case.check();
    }
}

#[test]
fn the_first_and_the_last_box() {
    for (name, dpi, rotate, seed) in [("ends-300-p1.5", 300, 1.5, 6), ("ends-200-m2", 200, -2.0, 7)] {
        let mut case = Case::new(name, dpi, &[0, 23], rotate, seed);
        case.shift_mm = (-2.0, -2.0);
        case.noise = true;
        case.check();
    }
}

#[test]
fn every_kind_of_mark_reads_as_a_tick_and_stray_dots_do_not() {
    let kinds =
        [(2, "check"), (6, "x"), (9, "scribble"), (14, "fill"), (19, "slash"), (11, "dot"), (20, "dot")];
    for (name, dpi, rotate, seed) in [("kinds-300-m2", 300, -2.0, 8), ("kinds-200-p1.5", 200, 1.5, 9)] {
        let mut case = Case::new(name, dpi, &[], rotate, seed);
        case.marks = kinds.iter().map(|&(b, k)| (b, Some(k))).collect();
        case.noise = true;
        case.jpeg = Some(80);
        case.check();
    }
}

#[test]
fn an_unmarked_slip_turned_either_way_prefills_nothing() {
    for (name, dpi, rotate, seed) in [("empty-300-p1.5", 300, 1.5, 10), ("empty-200-m2", 200, -2.0, 11)] {
        let mut case = Case::new(name, dpi, &[], rotate, seed);
        case.shift_mm = (3.0, 1.0);
        case.noise = true;
        let (reading, ticked, _) = case.read();
        assert!(ticked.is_empty(), "{name}: {ticked:?}");
        assert_eq!(reading.located, 24, "{name}: every empty box is found");
    }
}

#[test]
fn every_shipped_form_with_tick_boxes_registers_on_its_own_blank() {
    let r = renders();
    for form in kamikarte::form::built_in() {
        let total: usize = form.fields.iter().map(|f| f.tick_boxes().len()).sum();
        if total == 0 {
            continue;
        }
        let kit = r.dir.join(format!("kit-{}", form.id));
        let args = [
            "kit",
            "--out",
            kit.to_str().unwrap(),
            "--patient",
            &r.patient,
            "--forms",
            &form.id,
            "--blanks",
            "1",
        ];
        let out = run_as(&r.db, CLERK, &args);
        assert!(out.status.success(), "{}: {}", form.id, stderr(&out));
        let blank = std::fs::read_dir(&kit)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("blank-"))
            .unwrap_or_else(|| panic!("{}: no blank printed", form.id));
        let clean = render(&blank, 200, &r.dir.join(format!("blank-{}", form.id)));
        let scanned = r.dir.join(format!("blank-{}-scan.png", form.id));
        tick_slip(
            &clean,
            &scanned,
            &serde_json::json!([]),
            &["--rotate=-1.5".into(), "--seed=12".into(), "--noise".into()],
        );
        let page = image::open(&scanned).unwrap().to_luma8();
        match read_ticks(&page, &form) {
            Ok(reading) => {
                assert!(total >= 4, "{}: {total} boxes cannot register a page", form.id);
                assert_eq!(reading.located, total, "{}", form.id);
                let ticked: Vec<_> = reading.ticks.iter().filter(|t| t.ticked).map(|t| &t.code).collect();
                assert!(ticked.is_empty(), "{}: {ticked:?}", form.id);
                eprintln!("{}: {total} boxes, all located, none ticked", form.id);
            }
            Err(e) => {
                assert!(matches!(e, OmrError::TooFewBoxes { .. }), "{} ({total} boxes): {e}", form.id);
                eprintln!("{}: {total} box(es): {e}", form.id);
            }
        }
    }
}

/// The scans behind the thresholds in `entry::omr`: 36 slips at 300 and 200 dpi, turned up to
/// ±3.5°, shifted up to ±7 mm, with noise and JPEG (quality 50–90) in turn, each with 15 marks of
/// five kinds and stray dots. Every page must read exactly. With `--nocapture` (and `--release`
/// for the timing) it prints the ink per kind of mark and the time per page.
#[test]
fn thirty_six_marked_scans_read_exactly() {
    use std::collections::BTreeMap;
    const KINDS: [&str; 6] = ["check", "x", "scribble", "fill", "slash", "dot"];
    let mut inks: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let mut times = Vec::new();
    for seed in 100..136u32 {
        let mut rng = fastrand::Rng::with_seed(seed as u64);
        let mut order: Vec<usize> = (0..24).collect();
        rng.shuffle(&mut order);
        let dpi = if seed % 2 == 0 { 300 } else { 200 };
        let mut case = Case::new("measure", dpi, &[], rng.f32() * 7.0 - 3.5, seed);
        case.shift_mm = (rng.f32() * 14.0 - 7.0, rng.f32() * 14.0 - 7.0);
        case.noise = seed % 3 != 0;
        case.jpeg = (seed % 4 < 2).then_some(50 + (seed % 5) as u8 * 10);
        case.marks = order.iter().take(15).enumerate().map(|(k, &b)| (b, Some(KINDS[k % 6]))).collect();
        let (path, drawn) = case.scan();
        let page = image::open(&path).unwrap().to_luma8();
        let started = Instant::now();
        let reading = read_ticks(&page, &charge_slip()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let ticked: BTreeSet<String> =
            reading.ticks.iter().filter(|t| t.ticked).map(|t| t.code.clone()).collect();
        assert_eq!(ticked, case.ticked(), "seed {seed}: {drawn}");
        for (i, t) in reading.ticks.iter().enumerate() {
            let kind = case.marks.iter().find(|(b, _)| *b == i).and_then(|(_, k)| *k).unwrap_or("none");
            inks.entry(kind).or_default().push(t.ink);
        }
    }
    for (kind, v) in &mut inks {
        v.sort_by(f32::total_cmp);
        let at = |q: usize| v[(v.len() - 1) * q / 100];
        eprintln!(
            "{kind:9} n={:3} ink min {:.3} p10 {:.3} median {:.3} max {:.3}",
            v.len(),
            at(0),
            at(10),
            at(50),
            at(100)
        );
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "read_ticks: median {:.1} ms, slowest {:.1} ms",
        times[times.len() / 2],
        times[times.len() - 1]
    );
}
