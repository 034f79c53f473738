//! Any text as a column-mapping file: parsing never panics, and a mapping that parses can locate
//! columns in any header.
#![no_main]

use kamikarte::census::ColumnMapping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(mapping) = ColumnMapping::parse(text, "fuzz.toml") {
        let header: Vec<&str> = text.lines().take(20).collect();
        let _ = mapping.locate(&header);
        let _ = mapping.locate(&["患者ID", "氏名", "カナ氏名", "生年月日", "性別", "血液型", "病棟"]);
    }
});
