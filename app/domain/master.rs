//! Code masters (lab tests, drugs, charges): which masters there are and one item of one, with
//! the checks every value passes, whether it comes from a CSV file or back from the database.

use unicode_normalization::UnicodeNormalization;

use super::FieldError;
use super::kana::to_katakana;
use super::master_details::Details;
use super::text::clean_text;

/// The masters a `type = "code"` field can name (`master = "…"` in a form definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MasterKind {
    /// Procedures and fees (算定項目), e.g. receipt-computer codes.
    Charges,
    Drugs,
    LabTests,
    /// Departments (診療科) with the EHR's codes (HL7 table 0069, up to three characters in
    /// SS-MIX2 file names): what PV1-10 and ORC-17 carry.
    Departments,
    /// Dosing instructions (用法) with their JAMI standard usage codes.
    Usages,
    /// Doctors with the EHR's staff codes (医師): who ORC-12 and FT1-21 name.
    Doctors,
    /// The EHR's staff codes of this program's users (職員, by login): who ORC-10/11 and every
    /// "entered by" name.
    Staff,
}

impl MasterKind {
    pub const ALL: [MasterKind; 7] = [
        MasterKind::Charges,
        MasterKind::Drugs,
        MasterKind::LabTests,
        MasterKind::Departments,
        MasterKind::Usages,
        MasterKind::Doctors,
        MasterKind::Staff,
    ];

    /// The name used in form definitions, on the command line and in the database.
    pub fn code(self) -> &'static str {
        match self {
            MasterKind::Charges => "charges",
            MasterKind::Drugs => "drugs",
            MasterKind::LabTests => "lab_tests",
            MasterKind::Departments => "departments",
            MasterKind::Usages => "usages",
            MasterKind::Doctors => "doctors",
            MasterKind::Staff => "staff",
        }
    }

    /// For screens: Japanese first, as on the forms.
    pub fn label(self) -> &'static str {
        match self {
            MasterKind::Charges => "算定項目 Charges",
            MasterKind::Drugs => "薬剤 Drugs",
            MasterKind::LabTests => "検査 Lab tests",
            MasterKind::Departments => "診療科 Departments",
            MasterKind::Usages => "用法 Usages",
            MasterKind::Doctors => "医師 Doctors",
            MasterKind::Staff => "職員 Staff",
        }
    }

    /// Reads a master's code (case and `-` for `_` forgiven).
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let wanted = input.trim().to_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|k| k.code() == wanted).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|k| k.code()).collect();
            FieldError::new(format!("master '{}' is not one of {}", input.trim(), all.join(", ")))
        })
    }
}

impl std::fmt::Display for MasterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One code of a master, its values in their normal form (see the `parse_*` functions).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MasterItem {
    /// NFKC, upper case, `A–Z 0–9 - _ . /`, 1 to 20 characters.
    pub code: String,
    /// Display text (never NFKC-folded); half-width kana widened.
    pub name: String,
    /// The reading in full-width katakana (hiragana and half-width kana converted).
    pub kana: Option<String>,
    pub unit: Option<String>,
    /// Receipt points, a price, or whatever number the hospital's billing system uses.
    pub points: Option<f64>,
    /// How often the hospital uses the code: the ranking of search results.
    pub uses: u64,
    /// The master's own extra columns (`MasterKind::detail_columns`), in their normal form.
    #[serde(skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

const MAX_NAME_CHARS: usize = 200;
const MAX_KANA_CHARS: usize = 200;
const MAX_UNIT_CHARS: usize = 20;

impl MasterItem {
    pub const MAX_CODE_CHARS: usize = 20;
    /// Counts are stored as SQLite integers.
    pub const MAX_USES: u64 = i64::MAX as u64;

    /// A code as typed or read from a file: trimmed, NFKC (full-width `Ａ０００` is `A000`),
    /// upper case.
    pub fn parse_code(input: &str) -> Result<String, FieldError> {
        let code: String = input.nfkc().collect::<String>().trim().to_uppercase();
        if code.is_empty() {
            return Err(FieldError::new("is empty (every item needs its code)"));
        }
        if let Some(bad) =
            code.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
        {
            return Err(FieldError::new(format!(
                "'{code}' contains '{bad}' (allowed: A–Z, 0–9, '-', '_', '.', '/')"
            )));
        }
        let chars = code.chars().count();
        if chars > Self::MAX_CODE_CHARS {
            return Err(FieldError::new(format!(
                "'{code}' has {chars} characters (at most {})",
                Self::MAX_CODE_CHARS
            )));
        }
        Ok(code)
    }

    /// A detail's value, if the item has it.
    pub fn detail(&self, key: &str) -> Option<&str> {
        self.details.get(key).map(String::as_str)
    }

    pub fn parse_name(input: &str) -> Result<String, FieldError> {
        let name = clean_text(input, "name")?;
        if name.is_empty() {
            return Err(FieldError::new("is empty (every item needs its name)"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(format!("is longer than {MAX_NAME_CHARS} characters")));
        }
        Ok(name)
    }

    /// The reading: katakana, hiragana or half-width kana (converted to full-width katakana);
    /// Latin letters, digits and signs are kept, as real masters have them (`ｹﾂｴｷ(CBC)`). Kanji
    /// are refused: a reading holding kanji is most likely the name in the wrong column.
    pub fn parse_kana(input: &str) -> Result<Option<String>, FieldError> {
        let kana = to_katakana(&clean_text(input, "reading")?);
        if kana.is_empty() {
            return Ok(None);
        }
        if let Some(bad) = kana.chars().find(|&c| is_ideograph(c)) {
            return Err(FieldError::new(format!(
                "'{kana}' contains '{bad}', which is not kana (expected the reading in katakana or hiragana)"
            )));
        }
        if kana.chars().count() > MAX_KANA_CHARS {
            return Err(FieldError::new(format!("is longer than {MAX_KANA_CHARS} characters")));
        }
        Ok(Some(kana))
    }

    pub fn parse_unit(input: &str) -> Result<Option<String>, FieldError> {
        let unit = clean_text(input, "unit")?;
        if unit.chars().count() > MAX_UNIT_CHARS {
            return Err(FieldError::new(format!("'{unit}' is longer than {MAX_UNIT_CHARS} characters")));
        }
        Ok(Some(unit).filter(|u| !u.is_empty()))
    }

    /// A plain decimal number (`288`, `12.5`, `-10`; full-width digits accepted); empty is none.
    pub fn parse_points(input: &str) -> Result<Option<f64>, FieldError> {
        let text: String = input.nfkc().collect::<String>().trim().to_string();
        if text.is_empty() {
            return Ok(None);
        }
        let plain = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
        match text.parse::<f64>() {
            Ok(n) if plain && n.is_finite() => Ok(Some(n)),
            _ => Err(FieldError::new(format!("'{text}' is not a number (expected e.g. 288 or 12.5)"))),
        }
    }

    /// A whole number of 0 or more; empty is 0.
    pub fn parse_uses(input: &str) -> Result<u64, FieldError> {
        let text: String = input.nfkc().collect::<String>().trim().to_string();
        if text.is_empty() {
            return Ok(0);
        }
        match text.parse::<u64>() {
            Ok(n) if n <= Self::MAX_USES => Ok(n),
            _ => Err(FieldError::new(format!("'{text}' is not a whole number of 0 or more"))),
        }
    }

    /// Checks that every value is in the form the `parse_*` functions give, naming the first
    /// field that is not: for items built by hand or read back from the database.
    /// (The details are checked against their master: `master_details::check_details`.)
    pub fn check(&self) -> Result<(), (&'static str, FieldError)> {
        fn same<T: PartialEq>(
            field: &'static str,
            value: &T,
            parsed: Result<T, FieldError>,
        ) -> Result<(), (&'static str, FieldError)> {
            match parsed {
                Ok(p) if &p == value => Ok(()),
                Ok(_) => Err((field, FieldError::new("is not in its normal form"))),
                Err(e) => Err((field, e)),
            }
        }
        same("code", &self.code, Self::parse_code(&self.code))?;
        same("name", &self.name, Self::parse_name(&self.name))?;
        same("kana", &self.kana, Self::parse_kana(self.kana.as_deref().unwrap_or("")))?;
        same("unit", &self.unit, Self::parse_unit(self.unit.as_deref().unwrap_or("")))?;
        if self.points.is_some_and(|p| !p.is_finite()) {
            return Err(("points", FieldError::new("is not a finite number")));
        }
        if self.uses > Self::MAX_USES {
            return Err(("uses", FieldError::new(format!("is more than {}", Self::MAX_USES))));
        }
        Ok(())
    }
}

/// CJK ideographs (kanji), including extension A and the compatibility block.
fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}' | '々')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_their_codes_and_nothing_else() {
        for kind in MasterKind::ALL {
            assert_eq!(MasterKind::parse(kind.code()).unwrap(), kind);
        }
        assert_eq!(MasterKind::parse(" Lab-Tests ").unwrap(), MasterKind::LabTests);
        assert!(MasterKind::parse("diseases").unwrap_err().message.contains("charges, drugs, lab_tests"));
    }

    #[test]
    fn codes_are_folded_and_checked() {
        assert_eq!(MasterItem::parse_code(" ａ０００ ").unwrap(), "A000");
        assert_eq!(MasterItem::parse_code("111000110").unwrap(), "111000110");
        assert_eq!(MasterItem::parse_code("3d010-0000").unwrap(), "3D010-0000");
        assert!(MasterItem::parse_code("").unwrap_err().message.contains("empty"));
        assert!(MasterItem::parse_code("A 000").unwrap_err().message.contains("' '"));
        assert!(MasterItem::parse_code("血算").is_err());
        assert!(MasterItem::parse_code(&"9".repeat(21)).unwrap_err().message.contains("at most 20"));
        assert!(MasterItem::parse_code(&"9".repeat(20)).is_ok());
    }

    #[test]
    fn readings_become_katakana_and_refuse_kanji() {
        assert_eq!(MasterItem::parse_kana("しょしんりょう").unwrap().unwrap(), "ショシンリョウ");
        assert_eq!(MasterItem::parse_kana("ｹﾂｴｷｶﾞｸ(CBC)").unwrap().unwrap(), "ケツエキガク(CBC)");
        assert_eq!(MasterItem::parse_kana("  ").unwrap(), None);
        assert!(MasterItem::parse_kana("初診料").unwrap_err().message.contains("not kana"));
    }

    #[test]
    fn numbers_are_plain_and_counts_whole() {
        assert_eq!(MasterItem::parse_points("288").unwrap(), Some(288.0));
        assert_eq!(MasterItem::parse_points("１２.５").unwrap(), Some(12.5));
        assert_eq!(MasterItem::parse_points("").unwrap(), None);
        for bad in ["inf", "NaN", "1e5", "12点", "1,000"] {
            assert!(MasterItem::parse_points(bad).is_err(), "{bad}");
        }
        assert_eq!(MasterItem::parse_uses(" 1200 ").unwrap(), 1200);
        assert_eq!(MasterItem::parse_uses("").unwrap(), 0);
        for bad in ["-3", "1.5", "many", "99999999999999999999"] {
            assert!(MasterItem::parse_uses(bad).unwrap_err().message.contains("whole number"), "{bad}");
        }
    }

    #[test]
    fn check_names_the_first_field_out_of_form() {
        let item = MasterItem {
            code: "A000".into(),
            name: "初診料".into(),
            kana: Some("ショシンリョウ".into()),
            unit: Some("回".into()),
            points: Some(291.0),
            uses: 10,
            details: Details::new(),
        };
        assert!(item.check().is_ok());
        let lower = MasterItem { code: "a000".into(), ..item.clone() };
        assert_eq!(lower.check().unwrap_err().0, "code");
        let hiragana = MasterItem { kana: Some("しょしん".into()), ..item.clone() };
        assert_eq!(hiragana.check().unwrap_err().0, "kana");
        let empty = MasterItem { name: String::new(), ..item };
        assert_eq!(empty.check().unwrap_err().0, "name");
    }
}
