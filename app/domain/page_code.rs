//! The page barcode's payload: which form, which patient, which printed page — readable on its
//! own, without the database of the station that printed it.
//!
//! Format (version 1): `K1.<FORM>.<PATIENT>.<SERIAL><CHECK>`
//! * `K1` — kamikarte, payload version 1;
//! * `FORM` — the form's code from its definition, 2–4 characters `A–Z 0–9` (e.g. `PN`);
//! * `PATIENT` — the patient ID (`A–Z 0–9 -`), or `BLANK` on a form printed for a patient not yet
//!   registered;
//! * `SERIAL` — `<STATION>-<NUMBER>`: the printing station's code (1–4 characters `A–Z 0–9`) and
//!   a decimal number that station never reuses, so a serial is unique across stations;
//! * `CHECK` — one Luhn mod 36 character over everything before it (see `check_digit`), so a
//!   code typed by hand with a typo is refused.
//!
//! `.` separates fields because no field may contain it. Scanned text is NFKC-folded and
//! upper-cased first (a scanner behind a Japanese IME may send full-width or lower-case text).

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::check_digit::{is_valid_luhn36, luhn36};
use super::{FieldError, PatientId};

pub const PREFIX: &str = "K1";
pub const BLANK_PATIENT: &str = "BLANK";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormCode(String);

impl FormCode {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_uppercase();
        if !(2..=4).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(format!("form code '{code}' must be 2–4 characters A–Z, 0–9")));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A printed page's serial: station code and number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial {
    pub station: String,
    pub number: u64,
}

impl Serial {
    pub fn new(station: &str, number: u64) -> Result<Self, FieldError> {
        let station = station.trim().to_uppercase();
        if !(1..=4).contains(&station.len()) || !station.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(format!("station code '{station}' must be 1–4 characters A–Z, 0–9")));
        }
        Ok(Self { station, number })
    }

    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let (station, number) =
            text.split_once('-').ok_or_else(|| FieldError::new(format!("serial '{text}' has no '-'")))?;
        let number = number
            .parse::<u64>()
            .ok()
            .filter(|_| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| FieldError::new(format!("serial number '{number}' is not a number")))?;
        Self::new(station, number)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:06}", self.station, self.number)
    }
}

/// What a page barcode says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageCode {
    pub form: FormCode,
    /// `None` on a blank form (patient not yet registered).
    pub patient: Option<PatientId>,
    pub serial: Serial,
}

impl PageCode {
    /// The text the barcode carries.
    pub fn encode(&self) -> String {
        let patient = self.patient.as_ref().map_or(BLANK_PATIENT, PatientId::as_str);
        let body = format!("{PREFIX}.{}.{patient}.{}", self.form.as_str(), self.serial);
        let check = luhn36(&body);
        format!("{body}{check}")
    }

    /// Reads scanned or typed text back, refusing anything that is not exactly a version-1
    /// page code with a right check character.
    pub fn parse(scanned: &str) -> Result<Self, FieldError> {
        let text: String = scanned.nfkc().collect::<String>().trim().to_uppercase();
        // A printed code has no blanks; inside the text one means a misread or a hand-typed
        // code, and each field's own parser would trim it away and read a different page.
        if text.chars().any(char::is_whitespace) {
            return Err(FieldError::new(format!("'{text}' has a blank inside; a page code has none")));
        }
        let fields: Vec<&str> = text.split('.').collect();
        let [prefix, form, patient, serial_and_check] = fields.as_slice() else {
            return Err(FieldError::new(format!(
                "'{text}' is not a kamikarte page code (expected K1.FORM.PATIENT.SERIAL)"
            )));
        };
        if *prefix != PREFIX {
            return Err(FieldError::new(format!("'{text}' is not a version-1 kamikarte page code")));
        }
        if !is_valid_luhn36(&text) {
            return Err(FieldError::new(format!("'{text}': check character wrong (mistyped or misread)")));
        }
        let serial_text = &serial_and_check[..serial_and_check.len().saturating_sub(1)];
        let patient = match *patient {
            BLANK_PATIENT => None,
            id => Some(PatientId::parse(id)?),
        };
        Ok(Self { form: FormCode::parse(form)?, patient, serial: Serial::parse(serial_text)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> PageCode {
        PageCode {
            form: FormCode::parse("PN").unwrap(),
            patient: Some(PatientId::parse("10002326").unwrap()),
            serial: Serial::new("A1", 123).unwrap(),
        }
    }

    #[test]
    fn encoding_then_parsing_gives_the_same_code() {
        let text = code().encode();
        assert!(text.starts_with("K1.PN.10002326.A1-000123"), "{text}");
        assert_eq!(PageCode::parse(&text).unwrap(), code());
        let blank = PageCode { patient: None, ..code() };
        assert_eq!(PageCode::parse(&blank.encode()).unwrap(), blank);
    }

    #[test]
    fn full_width_and_lower_case_scans_are_read() {
        let text = code().encode();
        let wide: String = text
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
            .collect();
        assert_eq!(PageCode::parse(&wide).unwrap(), code());
    }

    #[test]
    fn typos_and_foreign_codes_are_refused() {
        let text = code().encode();
        let typo = text.replace("10002326", "10002362");
        assert!(PageCode::parse(&typo).unwrap_err().message.contains("check character"));
        assert!(PageCode::parse("10002326").is_err(), "a wristband's ID is not a page code");
        assert!(PageCode::parse("K2.PN.1.A-1X").is_err());
        assert!(PageCode::parse("").is_err());
    }

    #[test]
    fn blanks_inside_a_code_are_refused() {
        // Found by the page_code fuzz target: `BLANK ` was trimmed to the blank-form marker.
        let blank = PageCode { patient: None, ..code() }.encode();
        let spaced = blank.replace("BLANK", "BLANK ");
        let spaced = format!("{}{}", &spaced[..spaced.len() - 1], luhn36(&spaced[..spaced.len() - 1]));
        assert!(PageCode::parse(&spaced).unwrap_err().message.contains("blank inside"));
        assert!(PageCode::parse(" K1.LBL.BLANK .A-10X").is_err());
        assert!(PageCode::parse(&format!("  {blank}\n")).is_ok(), "blanks around a scan are trimmed");
    }
}
