//! Any keystrokes as a keyboard-wedge scan: the wedge reader and the scan parser never panic; a
//! code it reads is ASCII; a patient ID it accepts passes through downtime-ID checking without a
//! panic, and a downtime ID drawn from a block is read back as the same number.
#![no_main]

use kamikarte::domain::{IdBlock, Scanned, check_typed_id};
use kamikarte::scan::{WedgeInput, WedgeReader, WedgeScan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let block = IdBlock::new("DT", 100_000, 100_999).unwrap();
    // The first byte chooses how the text arrives: as key presses or as IME text.
    let mut reader = WedgeReader::default();
    let as_keys = data.first().is_some_and(|b| b % 2 == 0);
    for c in text.chars() {
        let input = match c {
            '\n' => WedgeInput::Enter,
            c if as_keys && (c.is_ascii_alphanumeric() || c == '-' || c == '.') => WedgeInput::Key(c),
            c => WedgeInput::Text(c.to_string()),
        };
        if let Some(scan) = reader.push(input) {
            if let WedgeScan::Code(code) = &scan {
                assert!(code.is_ascii(), "{code:?}");
            }
            let code = match scan {
                WedgeScan::Code(c) | WedgeScan::Unreadable(c) => c,
            };
            if let Ok(Scanned::Patient(id)) = Scanned::parse(&code) {
                let _ = check_typed_id(&id, std::slice::from_ref(&block));
            }
        }
    }
    if let Ok(Scanned::Patient(id)) = Scanned::parse(text) {
        if let Ok(Some(n)) = block.read(&id) {
            assert!(block.contains(n));
            assert_eq!(block.id_of(n), id);
        }
    }
});
