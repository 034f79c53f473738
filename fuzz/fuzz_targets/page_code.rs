//! Any scanned text as a page barcode payload: parsing never panics, and whatever parses encodes
//! back to a code that parses to the same page.
#![no_main]

use kamikarte::domain::PageCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(code) = PageCode::parse(text) {
        let again = PageCode::parse(&code.encode()).expect("an encoded code parses");
        assert_eq!(again, code);
    }
});
