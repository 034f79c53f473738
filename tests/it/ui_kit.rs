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
    harness.get_by_label(KIT_GENERATE_BUTTON).click();
    let start = Instant::now();
    harness.step();
    while harness.state().is_busy() {
        assert!(start.elapsed() < Duration::from_secs(180), "the kit did not finish");
        std::thread::sleep(Duration::from_millis(50));
        harness.step();
    }
    harness.run_steps(3);
    assert!(harness.query_by_label_contains("ページ pages").is_some(), "the result is shown");
    for family in ["wristbands", "labels", "charts", "slips"] {
        assert!(out.join(format!("3E-{family}.pdf")).is_file(), "{family}");
    }
    assert!(out.join("blank-charts.pdf").is_file());
    let store = Store::open(&db).unwrap();
    assert!(store.printed_pages(None).unwrap().iter().all(|p| p.ward == "3E" || p.ward == "blank"));
}
