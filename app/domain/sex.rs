use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// Administrative sex as HL7 v2 table 0001 codes it (M, F, O, U).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    /// Accepts HL7 codes, English words, Japanese (男/女/男性/女性/その他/不明) and the JAHIS
    /// numeric codes 1 (male), 2 (female), 3 (other), 9 (unknown).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let text: String = input.nfkc().collect::<String>().trim().to_lowercase();
        Ok(match text.as_str() {
            "m" | "male" | "男" | "男性" | "1" => Sex::Male,
            "f" | "female" | "女" | "女性" | "2" => Sex::Female,
            "o" | "other" | "その他" | "3" => Sex::Other,
            "u" | "unknown" | "不明" | "9" => Sex::Unknown,
            "" => return Err(FieldError::new("sex is empty (use U or 不明 when unknown)")),
            _ => {
                return Err(FieldError::new(format!(
                    "sex '{}' is not one of M, F, O, U (or 男, 女, その他, 不明)",
                    input.trim()
                )));
            }
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Other => "O",
            Sex::Unknown => "U",
        }
    }

    pub fn japanese(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Other => "他",
            Sex::Unknown => "不明",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_words_and_japanese_are_understood() {
        assert_eq!(Sex::parse(" 女 ").unwrap(), Sex::Female);
        assert_eq!(Sex::parse("Ｍ").unwrap(), Sex::Male);
        assert_eq!(Sex::parse("9").unwrap(), Sex::Unknown);
        assert!(Sex::parse("x").unwrap_err().message.contains("'x'"));
        assert!(Sex::parse("").is_err());
    }
}
