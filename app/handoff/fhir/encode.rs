//! The few encodings a bundle needs, written here rather than pulled in as dependencies:
//! name-based UUIDs, base64, search-parameter escaping, FHIR dates and quantities.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const UCUM: &str = "http://unitsofmeasure.org";

/// The UUID named by `name`: the first 128 bits of its SHA-256 with the RFC 9562 version 8 and
/// variant bits set. Version 8 (custom) rather than 5, because version 5 promises SHA-1.
pub fn uuid_for(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format_uuid(bytes)
}

/// 8-4-4-4-12 lower-case hex, with the version nibble set to 8 and the variant to `10`.
pub fn format_uuid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0F) | 0x80;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4), as FHIR's `base64Binary` wants it: the same
/// encoding HL7's ED carries.
pub use crate::handoff::hl7::base64;

/// Escapes a value for a search URL (`ifNoneExist`, a conditional update's URL): identifier
/// values carry `#`, which would otherwise end the query.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A paper time as a FHIR `dateTime`: a date stays a date (the element allows it, and inventing
/// midnight would claim a time nobody wrote); a date and time gets seconds and Japan's offset,
/// because the paper was written on the hospital's clock.
pub fn date_time(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.format("%Y-%m-%d").to_string());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .ok()
        .map(|t| t.format("%Y-%m-%dT%H:%M:00+09:00").to_string())
}

/// The date alone, for elements that mean a day (`birthDate`, when an order was written).
pub fn date_only(s: &str) -> Option<String> {
    let s = s.trim();
    let day = s.split_once('T').map_or(s, |(d, _)| d);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().map(|d| d.format("%Y-%m-%d").to_string())
}

/// Whether a converted `dateTime` carries a time (and so is also a valid `instant`).
pub fn has_time(fhir_date_time: &str) -> bool {
    fhir_date_time.contains('T')
}

/// A quantity; the unit is claimed as UCUM only when it could be a UCUM code (printable ASCII
/// without spaces) — a form's `回/分` stays a display unit rather than a wrong code.
pub fn quantity(value: f64, unit: Option<&str>) -> Value {
    let mut q = json!({ "value": value });
    if let Some(unit) = unit.map(str::trim).filter(|u| !u.is_empty()) {
        q["unit"] = json!(unit);
        if unit.bytes().all(|b| b.is_ascii_graphic()) {
            q["system"] = json!(UCUM);
            q["code"] = json!(unit);
        }
    }
    q
}

/// Drops what FHIR JSON forbids: nulls, empty strings, empty arrays and empty objects (at every
/// depth), so that a field left blank on paper never becomes an invalid element.
pub fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => {
            items.retain_mut(prune);
            !items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|_, v| prune(v));
            !map.is_empty()
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_8_4_4_4_12_with_version_8_and_the_rfc_variant() {
        let u = format_uuid([0xFF; 16]);
        assert_eq!(u, "ffffffff-ffff-8fff-bfff-ffffffffffff");
        let u = format_uuid([0; 16]);
        assert_eq!(u, "00000000-0000-8000-8000-000000000000");
        let named = uuid_for("Patient|sys|1");
        let groups: Vec<usize> = named.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert_eq!(&named[14..15], "8");
        assert!(matches!(&named[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn the_same_name_always_gives_the_same_uuid_and_another_name_another() {
        assert_eq!(uuid_for("Observation|x|keyed:A-1#1/temp"), uuid_for("Observation|x|keyed:A-1#1/temp"));
        assert_ne!(uuid_for("Observation|x|keyed:A-1#1/temp"), uuid_for("Observation|x|keyed:A-1#2/temp"));
    }

    #[test]
    fn search_values_escape_the_fragment_mark_and_spaces() {
        assert_eq!(query_escape("keyed:A-000123#3/temp"), "keyed:A-000123%233/temp");
        assert_eq!(query_escape("a b|c"), "a%20b%7Cc");
    }

    #[test]
    fn paper_times_become_japan_time_and_dates_stay_dates() {
        assert_eq!(date_time("2026-11-05T06:00").as_deref(), Some("2026-11-05T06:00:00+09:00"));
        assert_eq!(date_time("2026-11-05").as_deref(), Some("2026-11-05"));
        assert_eq!(date_time("11/05"), None);
        assert_eq!(date_only("2026-11-05T06:00").as_deref(), Some("2026-11-05"));
    }

    #[test]
    fn only_ascii_units_are_claimed_as_ucum() {
        assert_eq!(quantity(36.8, Some("Cel"))["system"], UCUM);
        assert!(quantity(3.0, Some("回/分")).get("system").is_none());
        assert!(quantity(3.0, None).get("unit").is_none());
    }

    #[test]
    fn blank_elements_are_pruned_at_every_depth() {
        let mut v = json!({"a": "", "b": [{}, {"c": null}], "d": {"e": [""]}, "f": 0, "g": "x"});
        prune(&mut v);
        assert_eq!(v, json!({"f": 0, "g": "x"}));
    }
}
