//! What a 医事 (billing) system files a charge under, derived from the charge itself: ORCA's
//! 診療種別区分 (Medical_Class) from the fee schedule's section number (点数表区分番号: `A000`,
//! `G004`). No I/O.
//!
//! ORCA documents the classes only in its database table definitions, which were not available
//! here. The table below is the one third-party ORCA clients use (OpenDolphin's ClaimConst and
//! the samples on ORCA's API pages: 120 再診, 210 内服薬剤, 500 手術, 700 画像診断); see
//! docs/research/orca-medicalmodv2.md §6. A section it does not know goes under 800 その他.

/// ORCA's 診療種別区分 of a procedure: code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MedicalClass {
    pub code: &'static str,
    pub name: &'static str,
}

const fn class(code: &'static str, name: &'static str) -> MedicalClass {
    MedicalClass { code, name }
}

/// The class of a procedure with fee-schedule section `section` (`A001`, `G004`, `B001-2`),
/// charged to an inpatient or not.
pub fn medical_class(section: Option<&str>, inpatient: bool) -> MedicalClass {
    let Some(section) = section.map(str::trim).filter(|s| s.len() >= 4) else {
        return class("800", "その他");
    };
    let letter = section.as_bytes()[0];
    let number: u32 = section[1..4].parse().unwrap_or(0);
    match (letter, number) {
        (b'A', 0) => class("110", "初診"),
        (b'A', 1..=99) => class("120", "再診"),
        (b'A', 100..=199) => class("903", "入院料"),
        (b'A', _) => class("920", "特定入院料・その他"),
        (b'B', _) => class("130", "指導"),
        (b'C', _) => class("140", "在宅"),
        // 投薬: 調剤 and 薬剤 go with the drugs (outpatients' 210, inpatients' 調剤 240); 処方
        // and 処方箋 are 250.
        (b'F', 100..=199 | 400..=499) => class("250", "処方"),
        (b'F', _) if inpatient => class("240", "調剤(入院)"),
        (b'F', _) => class("210", "内服"),
        (b'G', 0) => class("310", "皮下筋肉内注射"),
        (b'G', 1) => class("320", "静脈内注射"),
        (b'G', _) => class("330", "その他注射"),
        (b'J', _) => class("400", "処置"),
        (b'K', _) => class("500", "手術"),
        (b'L', _) => class("540", "麻酔"),
        (b'D', _) => class("600", "検査"),
        (b'E', _) => class("700", "画像診断"),
        _ => class("800", "その他"),
    }
}

/// The 医事 system's insurance combination number (保険組合せ番号) as a slip gives it: 1 to 4
/// digits, full-width forgiven, zero-padded to ORCA's 4 (`1` → `0001`). Only a reference to the
/// combination 医事 holds for the patient; kamikarte keeps no insurance data of its own.
pub fn insurance_combination(input: &str) -> Result<String, crate::domain::FieldError> {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = input.nfkc().filter(|c| !c.is_whitespace()).collect();
    if folded.is_empty() || folded.len() > 4 || !folded.bytes().all(|b| b.is_ascii_digit()) {
        return Err(crate::domain::FieldError::new(format!(
            "'{}' is not a 保険組合せ番号 (1 to 4 digits, as 医事 numbers the patient's insurance combinations)",
            input.trim()
        )));
    }
    Ok(format!("{folded:0>4}"))
}

/// Where the charges master says a procedure may be charged (its 入外適用区分: `1` inpatients
/// only, `2` outpatients only), when that is not where this patient is: 医事 refuses such a
/// line, so billing must look before the hand-off. `None` when it fits or the master is silent.
pub fn inout_conflict(inout: Option<&str>, inpatient: bool) -> Option<&'static str> {
    match (inout.map(str::trim), inpatient) {
        (Some("1"), false) => Some("入院のみ inpatients only"),
        (Some("2"), true) => Some("入院外のみ outpatients only"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_section_as_orcas_samples_file_them() {
        assert_eq!(medical_class(Some("A000"), false).code, "110");
        assert_eq!(medical_class(Some("A001"), false).code, "120");
        assert_eq!(medical_class(Some("K000"), false).code, "500");
        assert_eq!(medical_class(Some("E001"), true).code, "700");
        assert_eq!(medical_class(Some("G004"), true).code, "330");
        assert_eq!(medical_class(Some("F000"), true).code, "240");
        assert_eq!(medical_class(Some("F000"), false).code, "210");
        assert_eq!(medical_class(Some("B001-2"), false).code, "130");
        assert_eq!(medical_class(None, false), class("800", "その他"));
    }

    #[test]
    fn a_procedure_is_flagged_only_where_the_master_forbids_it() {
        assert_eq!(inout_conflict(Some("1"), false), Some("入院のみ inpatients only"));
        assert_eq!(inout_conflict(Some("2"), true), Some("入院外のみ outpatients only"));
        for (inout, inpatient) in [(Some("1"), true), (Some("2"), false), (Some("0"), true), (None, false)] {
            assert_eq!(inout_conflict(inout, inpatient), None, "{inout:?} {inpatient}");
        }
    }

    #[test]
    fn an_insurance_combination_is_four_digits_as_orca_numbers_them() {
        assert_eq!(insurance_combination("1").unwrap(), "0001");
        assert_eq!(insurance_combination(" ０００２ ").unwrap(), "0002");
        for bad in ["", "12345", "国保", "1a"] {
            assert!(insurance_combination(bad).is_err(), "{bad}");
        }
    }
}
