//! What a keyboard-wedge scanner sent: a page barcode, or a patient ID (wristband or label).

use super::{FieldError, PageCode, PatientId, page_code};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// A printed page or slip of the kit.
    Page(PageCode),
    /// A wristband or a label: Code 128 of the patient ID alone.
    Patient(PatientId),
}

impl Scanned {
    /// Text starting with the page-code prefix must be a whole, valid page code (a misread page
    /// is not a patient ID); anything else is read as a patient ID.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let id = PatientId::parse(text);
        let looks_like_page = text.trim().to_uppercase().starts_with(&format!("{}.", page_code::PREFIX))
            || (text.contains('.') && id.is_err());
        if looks_like_page {
            return PageCode::parse(text).map(Scanned::Page);
        }
        id.map(Scanned::Patient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FormCode, Serial};

    #[test]
    fn page_codes_and_patient_ids_are_told_apart() {
        let code = PageCode {
            form: FormCode::parse("LAB").unwrap(),
            patient: Some(PatientId::parse("10002326").unwrap()),
            serial: Serial::new("A", 7).unwrap(),
        };
        assert_eq!(Scanned::parse(&code.encode()).unwrap(), Scanned::Page(code.clone()));
        assert_eq!(
            Scanned::parse("１０００２３２６").unwrap(),
            Scanned::Patient(PatientId::parse("10002326").unwrap())
        );
        let broken = code.encode().replace("LAB", "LAX");
        assert!(Scanned::parse(&broken).unwrap_err().message.contains("check character"));
        assert!(Scanned::parse("").is_err());
    }
}
