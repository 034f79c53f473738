//! The kit screen driven from the keyboard and mouse: choose a ward, see the preview, generate.

use crate::common;

use std::time::{Duration, Instant};

use chrono::Local;
use egui_kittest::kittest::Queryable;
use kamikarte::auth::ensure_demo_users;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::store::{Actor, Store};
use kamikarte::ui::labels::{KIT_GENERATE_BUTTON, KIT_OUT_LABEL, KIT_TAB};

#[test]
fn a_clerk_picks_a_ward_previews_and_generates_its_kit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    {
        let mut store = Store::open(&db).unwrap();
        let actor = Actor("setup".into());
        let options = DemoOptions { beds: 45, seed: 2, as_of: Local::now().date_naive() };
        load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
        ensure_demo_users(&mut store, &actor).unwrap();
    }
    let mut harness = common::ui::log_in(&db, "clerk", "kamikarte-demo-clerk");
    harness.get_by_label(KIT_TAB).click();
    harness.run_steps(3);

    harness.get_by_label_contains("3E (").click();
    harness.run_steps(3);
    assert!(
        harness.query_by_label_contains("プレビュー Preview — リストバンド（成人）").is_some(),
        "the first page is previewed"
    );

    let out = dir.path().join("kit-out");
    common::ui::type_into(&mut harness, KIT_OUT_LABEL, out.to_str().unwrap());
    harness.run_steps(1);
    generate(&mut harness);
    assert!(harness.query_by_label_contains("ページ pages").is_some(), "the result is shown");
    for family in ["wristbands", "labels", "charts", "slips"] {
        assert!(out.join(format!("3E-{family}.pdf")).is_file(), "{family}");
    }
    assert!(out.join("blank-charts.pdf").is_file());
    let store = Store::open(&db).unwrap();
    assert!(store.printed_pages(None).unwrap().iter().all(|p| p.ward == "3E" || p.ward == "blank"));
}

/// Runs the generation job the button started to its end.
fn generate(harness: &mut common::ui::Screen) {
    harness.get_by_label(KIT_GENERATE_BUTTON).click();
    let start = Instant::now();
    harness.step();
    while harness.state().is_busy() {
        assert!(start.elapsed() < Duration::from_secs(180), "the kit did not finish");
        std::thread::sleep(Duration::from_millis(50));
        harness.step();
    }
    harness.run_steps(3);
}

#[test]
fn a_clerk_prints_a_days_outpatients_and_pre_printed_packets_from_the_kit_screen() {
    use kamikarte::ui::labels::{KIT_BLANKS_LABEL, KIT_OUTPATIENTS_LABEL, KIT_PACKETS_LABEL};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let tree = dir.path().join("ssmix2");
    let out = common::run(
        &db,
        &["demo", "--beds", "12", "--downtime", "--ssmix2", tree.to_str().unwrap(), "--outpatients", "150"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    // A recent day the storage files outpatient visits under.
    let store = Store::open(&db).unwrap();
    let day = (0..30)
        .map(|back| Local::now().date_naive() - chrono::Days::new(back))
        .find(|d| !store.snapshot_visits_on(&d.to_string()).unwrap().is_empty())
        .expect("the demo storage has visits");
    drop(store);

    let mut harness = common::ui::log_in(&db, "clerk", "kamikarte-demo-clerk");
    harness.get_by_label(KIT_TAB).click();
    harness.run_steps(3);
    let opd = dir.path().join("opd");
    common::ui::type_into(&mut harness, KIT_OUT_LABEL, opd.to_str().unwrap());
    common::ui::type_into(&mut harness, KIT_OUTPATIENTS_LABEL, &day.to_string());
    common::ui::type_into(&mut harness, KIT_BLANKS_LABEL, "0");
    generate(&mut harness);
    assert!(opd.join("OPD-charts.pdf").is_file() && opd.join("OPD-slips.pdf").is_file());
    assert!(!opd.join("OPD-wristbands.pdf").exists(), "outpatients wear no band");

    let packets = dir.path().join("packets");
    common::ui::type_into(&mut harness, KIT_OUT_LABEL, packets.to_str().unwrap());
    common::ui::type_into(&mut harness, KIT_PACKETS_LABEL, "3");
    generate(&mut harness);
    assert!(harness.query_by_label_contains("not both").is_some(), "packets and a day are refused together");
    common::ui::type_into(&mut harness, KIT_OUTPATIENTS_LABEL, "x");
    harness.key_press(egui::Key::Backspace);
    harness.run_steps(1);
    generate(&mut harness);
    assert!(harness.query_by_label_contains("パケット 3 件 packets").is_some(), "the reserved IDs are shown");
    for family in ["wristbands", "labels", "charts", "slips"] {
        assert!(
            packets.join(format!("packets-{family}.pdf")).is_file(),
            "{family}: {:?}",
            std::fs::read_dir(&packets).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>()
        );
    }
    let store = Store::open(&db).unwrap();
    let pages = store.printed_pages(None).unwrap();
    assert_eq!(pages.iter().filter(|p| p.ward == "packets" && p.form_id == "wristband_adult").count(), 3);
    assert!(pages.iter().any(|p| p.ward == "OPD"));
}
