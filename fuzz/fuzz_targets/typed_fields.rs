//! Anything typed into a back-entry field: every typed field of every shipped form checks it
//! without a panic, a value it accepts types back as the same value, and a date it accepts is
//! never more than a month after today. A code master CSV of any bytes is parsed or refused.
#![no_main]

use chrono::NaiveDate;
use kamikarte::domain::MasterKind;
use kamikarte::domain::paper_time::{parse_paper_date_time, parse_paper_time};
use kamikarte::entry::fields::{CodeLookup, check_typed, split_date_time, value_as_text};
use kamikarte::entry::masters::parse_master_csv;
use kamikarte::form::{FieldType, FormDefinition, built_in};
use libfuzzer_sys::fuzz_target;

struct AnyCode;

impl CodeLookup for AnyCode {
    fn name_of(&self, _: &str, code: &str) -> Option<String> {
        (code.len() < 8).then(|| "name".to_string())
    }
    fn has_master(&self, _: &str) -> bool {
        true
    }
}

static FORMS: std::sync::OnceLock<Vec<FormDefinition>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // Every master, each with its own columns (specimen, JLAC10, dosage form, JAMI code…).
    for kind in MasterKind::ALL {
        let _ = parse_master_csv(kind, data, "fuzz.csv");
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let _ = parse_paper_time(text);
    if let Ok((date, _)) = parse_paper_date_time(text, today) {
        assert!(date <= today + chrono::Duration::days(31), "{date}");
    }
    let _ = split_date_time(text, today);
    for form in FORMS.get_or_init(built_in) {
        for field in
            form.fields.iter().filter(|f| !matches!(f.kind, FieldType::Tick | FieldType::Ticks { .. }))
        {
            if let Ok(Some(checked)) = check_typed(field, text, today, &AnyCode) {
                let again = value_as_text(field, &checked.value);
                let round = check_typed(field, &again, today, &AnyCode);
                assert!(
                    matches!(&round, Ok(Some(c)) if c.value == checked.value),
                    "{}: {text:?} → {again:?} → {round:?}",
                    field.key
                );
            }
        }
    }
});
