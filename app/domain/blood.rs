use unicode_normalization::UnicodeNormalization;

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abo {
    A,
    B,
    O,
    AB,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rh {
    Positive,
    Negative,
}

/// ABO and Rh, each possibly unknown. Nothing here ever guesses: a blank cell, "不明" or "unknown"
/// is unknown, and unknown prints as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BloodType {
    pub abo: Option<Abo>,
    pub rh: Option<Rh>,
}

impl BloodType {
    pub const UNKNOWN: BloodType = BloodType { abo: None, rh: None };

    /// Accepts `A+`, `AB-`, `O Rh+`, `B型 Rh(-)`, `A RhD+`, `A` (Rh unknown), `Rh-` (ABO unknown),
    /// and blank / `unknown` / `不明` / `未検` for unknown. Full-width forms are folded first.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let folded: String = input.nfkc().collect::<String>().to_uppercase();
        let compact: String = folded
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '型'))
            .map(|c| if c == '−' { '-' } else { c })
            .collect();
        if matches!(compact.as_str(), "" | "UNKNOWN" | "不明" | "未検" | "未検査" | "?") {
            return Ok(Self::UNKNOWN);
        }
        let (abo_part, rh_part) = match compact.find("RH") {
            Some(i) => (&compact[..i], Some(compact[i + 2..].trim_start_matches('D'))),
            None => match compact.strip_suffix(['+', '-']) {
                Some(head) => (head, Some(&compact[head.len()..])),
                None => (compact.as_str(), None),
            },
        };
        let abo = match abo_part {
            "A" => Some(Abo::A),
            "B" => Some(Abo::B),
            "O" => Some(Abo::O),
            "AB" => Some(Abo::AB),
            "" | "不明" => None,
            _ => return Err(bad(input)),
        };
        let rh = match rh_part {
            None | Some("" | "不明" | "?") => None,
            Some("+" | "POS" | "陽性") => Some(Rh::Positive),
            Some("-" | "NEG" | "陰性") => Some(Rh::Negative),
            Some(_) => return Err(bad(input)),
        };
        Ok(Self { abo, rh })
    }

    pub fn is_unknown(&self) -> bool {
        self.abo.is_none() && self.rh.is_none()
    }

    /// Compact code for files and JSON: `A+`, `AB-`, `O` (Rh unknown), `Rh-` (ABO unknown),
    /// `unknown`. `parse` reads every code back.
    pub fn code(&self) -> String {
        let rh = match self.rh {
            Some(Rh::Positive) => "+",
            Some(Rh::Negative) => "-",
            None => "",
        };
        match self.abo {
            Some(abo) => format!("{}{rh}", abo_str(abo)),
            None if self.rh.is_some() => format!("Rh{rh}"),
            None => "unknown".to_string(),
        }
    }

    /// What a person reads on screen or paper: `A Rh+`, `O Rh不明`, `不明 unknown`.
    pub fn display(&self) -> String {
        let rh = match self.rh {
            Some(Rh::Positive) => "Rh+",
            Some(Rh::Negative) => "Rh−",
            None => "Rh不明",
        };
        match self.abo {
            Some(abo) => format!("{} {rh}", abo_str(abo)),
            None if self.rh.is_some() => format!("ABO不明 {rh}"),
            None => "不明 unknown".to_string(),
        }
    }
}

fn abo_str(abo: Abo) -> &'static str {
    match abo {
        Abo::A => "A",
        Abo::B => "B",
        Abo::O => "O",
        Abo::AB => "AB",
    }
}

fn bad(input: &str) -> FieldError {
    FieldError::new(format!(
        "blood type '{}' is not understood (expected e.g. A+, AB-, O Rh+, or 不明 / unknown)",
        input.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bt(abo: Option<Abo>, rh: Option<Rh>) -> BloodType {
        BloodType { abo, rh }
    }

    #[test]
    fn written_forms_parse_to_abo_and_rh() {
        assert_eq!(BloodType::parse("A+").unwrap(), bt(Some(Abo::A), Some(Rh::Positive)));
        assert_eq!(BloodType::parse("AB型 Rh(-)").unwrap(), bt(Some(Abo::AB), Some(Rh::Negative)));
        assert_eq!(BloodType::parse("ｏ rhd+").unwrap(), bt(Some(Abo::O), Some(Rh::Positive)));
        assert_eq!(BloodType::parse("B").unwrap(), bt(Some(Abo::B), None));
        assert_eq!(BloodType::parse("Rh−").unwrap(), bt(None, Some(Rh::Negative)));
    }

    #[test]
    fn blank_and_unknown_stay_unknown_never_guessed() {
        for s in ["", "  ", "不明", "unknown", "UNKNOWN", "未検"] {
            assert!(BloodType::parse(s).unwrap().is_unknown(), "{s}");
        }
        assert_eq!(BloodType::UNKNOWN.code(), "unknown");
    }

    #[test]
    fn every_code_reads_back_to_itself() {
        let abos = [None, Some(Abo::A), Some(Abo::B), Some(Abo::O), Some(Abo::AB)];
        let rhs = [None, Some(Rh::Positive), Some(Rh::Negative)];
        for abo in abos {
            for rh in rhs {
                let t = bt(abo, rh);
                assert_eq!(BloodType::parse(&t.code()).unwrap(), t, "{}", t.code());
            }
        }
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(BloodType::parse("C+").is_err());
        assert!(BloodType::parse("A*").is_err());
    }
}
