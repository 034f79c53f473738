//! The scanned-pages screen (F7) driven like a clerk: import a folder in the background, index a
//! page from the queue by keyboard, undo it.

use crate::common;

use std::time::{Duration, Instant};

use chrono::Local;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use kamikarte::auth::ensure_demo_users;
use kamikarte::demo::{DemoOptions, load_demo};
use kamikarte::scan::PageStore;
use kamikarte::store::{Actor, PageState, Store};
use kamikarte::ui::labels::{
    PAGES_FOLDER_LABEL, PAGES_IMPORT_BUTTON, PAGES_IMPORT_VIEW, PAGES_QUEUE_VIEW, PAGES_STATUS_VIEW,
    PAGES_TAB, QUEUE_FORM_LABEL, QUEUE_PATIENT_LABEL,
};

#[test]
fn a_clerk_imports_a_folder_then_indexes_a_page_by_keyboard_and_undoes_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite");
    let patient = {
        let mut store = Store::open(&db).unwrap();
        let actor = Actor("setup".into());
        let options = DemoOptions { beds: 45, seed: 2, as_of: Local::now().date_naive() };
        load_demo(&mut store, &actor, &options, &mut |_, _| {}).unwrap();
        ensure_demo_users(&mut store, &actor).unwrap();
        store.patients(None, false).unwrap()[2].patient.id.to_string()
    };
    // Two scans without a page code: a white sheet and a grey one.
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).unwrap();
    for (name, shade) in [("a.png", 255u8), ("b.png", 230)] {
        image::GrayImage::from_pixel(827, 1170, image::Luma([shade])).save(scans.join(name)).unwrap();
    }

    let mut harness = common::ui::log_in(&db, "clerk", "kamikarte-demo-clerk");
    harness.key_press(Key::F7);
    harness.run_steps(3);
    assert!(harness.query_by_label(PAGES_TAB).is_some());
    harness.get_by_label(PAGES_IMPORT_VIEW).click();
    harness.run_steps(2);
    common::ui::type_into(&mut harness, PAGES_FOLDER_LABEL, scans.to_str().unwrap());
    harness.get_by_label(PAGES_IMPORT_BUTTON).click();
    let start = Instant::now();
    harness.step();
    while harness.state().is_busy() {
        assert!(start.elapsed() < Duration::from_secs(120), "the import did not finish");
        std::thread::sleep(Duration::from_millis(50));
        harness.step();
    }
    harness.run_steps(3);
    assert!(
        harness.query_by_label_contains("取り込み完了 Import finished").is_some(),
        "the counts are shown when the import ends"
    );
    let queued = Store::open(&db).unwrap().scanned_pages(Some(PageState::Queued)).unwrap();
    assert_eq!(queued.len(), 2, "pages without a code wait in the queue");
    assert!(PageStore::beside(&db).path_of(&queued[0].image_file).is_file());

    harness.get_by_label(PAGES_QUEUE_VIEW).click();
    harness.run_steps(3);
    // A wrong form is refused with a message, then corrected; Enter files the page.
    common::ui::type_into(&mut harness, QUEUE_PATIENT_LABEL, &patient);
    common::ui::type_into(&mut harness, QUEUE_FORM_LABEL, "XX");
    harness.key_press(Key::Enter);
    harness.run_steps(3);
    assert!(harness.query_by_label_contains("'XX' is not a form").is_some(), "the mistake is named");
    common::ui::type_into(&mut harness, QUEUE_FORM_LABEL, "PN");
    harness.key_press(Key::Enter);
    harness.run_steps(3);
    let store = Store::open(&db).unwrap();
    let first = store.scanned_page(queued[0].id).unwrap().unwrap();
    assert_eq!(first.state, PageState::Filed);
    assert_eq!(first.patient_id.as_deref(), Some(patient.as_str()));
    assert_eq!(first.form_code.as_deref(), Some("PN"));
    assert!(first.manual);

    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run_steps(3);
    let back = store.scanned_page(queued[0].id).unwrap().unwrap();
    assert_eq!(back.state, PageState::Queued, "Ctrl+Z puts the page back in the queue");

    harness.get_by_label(PAGES_STATUS_VIEW).click();
    harness.run_steps(3);
    assert!(harness.query_by_label_contains("仕分け待ち queued 2").is_some(), "completeness shows the queue");
}
