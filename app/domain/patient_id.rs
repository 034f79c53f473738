use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// Longest ID accepted: HL7 v2's CX.1 allows 15 in SS-MIX2 practice, 20 leaves room for a
/// downtime prefix.
const MAX_LEN: usize = 20;

/// A patient's medical record number (or, later, a downtime ID). Normalised with NFKC (full-width
/// digits from a scanner or an IME become ASCII), trimmed and upper-cased, so the same ID typed,
/// scanned or imported always compares equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientId(String);

impl PatientId {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let id: String = input.nfkc().collect::<String>().trim().to_uppercase();
        if id.is_empty() {
            return Err(FieldError::new("patient ID is empty"));
        }
        if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(FieldError::new(format!(
                "patient ID '{id}' contains '{bad}' (allowed: letters A–Z, digits 0–9 and '-')"
            )));
        }
        if id.len() > MAX_LEN {
            return Err(FieldError::new(format!(
                "patient ID '{id}' is {} characters long (at most {MAX_LEN})",
                id.len()
            )));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_padded_ids_normalise_to_ascii() {
        assert_eq!(PatientId::parse(" ００１２３４ ").unwrap().as_str(), "001234");
        assert_eq!(PatientId::parse("dt-0001").unwrap().as_str(), "DT-0001");
    }

    #[test]
    fn empty_and_illegal_ids_are_refused_with_the_reason() {
        assert!(PatientId::parse("  ").unwrap_err().message.contains("empty"));
        let e = PatientId::parse("12 34").unwrap_err();
        assert!(e.message.contains("' '"), "{e}");
        assert!(PatientId::parse("あ123").is_err());
        assert!(PatientId::parse(&"9".repeat(21)).unwrap_err().message.contains("at most 20"));
    }
}
