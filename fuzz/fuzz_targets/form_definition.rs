//! Any text as a form definition: parsing never panics, and an accepted definition lays out its
//! tick boxes inside the page.
#![no_main]

use kamikarte::form::FormDefinition;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(form) = FormDefinition::parse(text, "fuzz.toml", "fuzz") {
        for field in &form.fields {
            for b in field.tick_boxes() {
                assert!(b.x_mm >= 0.0 && b.y_mm >= 0.0, "{b:?}");
            }
        }
    }
});
