//! Any bytes as a census file: decoding and parsing never panic, and every row the parser
//! accepts is stored and read back unchanged (the store re-validates what it reads).
#![no_main]

use chrono::NaiveDate;
use kamikarte::census::{ColumnMapping, Encoding, decode, parse_census};
use kamikarte::store::{Actor, CensusApply, Store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let mapping = ColumnMapping::default_mapping();
    for encoding in [Encoding::Auto, Encoding::Utf8, Encoding::Cp932] {
        let Ok((text, _)) = decode(data, encoding) else { continue };
        let parsed = parse_census(&text, &mapping, today);
        assert!(parsed.patients.len() <= parsed.rows);
        if parsed.patients.is_empty() || encoding != Encoding::Auto {
            continue;
        }
        let patients: Vec<_> = parsed.patients.into_iter().map(|(_, p)| p).collect();
        let mut store = Store::open_in_memory().unwrap();
        let apply = CensusApply {
            file: "fuzz.csv",
            encoding: "fuzz",
            rows: patients.len(),
            ..CensusApply::default()
        };
        store.apply_census(&Actor("fuzz".into()), &patients, &apply, &mut |_, _| {}).unwrap();
        let mut stored: Vec<_> = store.patients(None, true).unwrap().into_iter().map(|r| r.patient).collect();
        let mut expected = patients;
        stored.sort_by(|a, b| a.id.cmp(&b.id));
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(stored, expected);
    }
});
