//! The columns a master of one kind carries beyond code, name, reading, unit, points and uses:
//! what the hand-off needs to code a message the way the receiving EHR reads it (a lab test's
//! specimen and JLAC10 code, a drug's dosage form, a usage's JAMI code). Each has a key (the
//! CSV header and the stored name), the usual Japanese headings, and a check that gives the
//! value its normal form.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;

use super::FieldError;
use super::master::MasterKind;
use super::text::clean_text;

/// Extra values of one master item, by key (`specimen`, `jlac10`, …).
pub type Details = BTreeMap<String, String>;

/// One extra column of a master kind.
#[derive(Debug, Clone, Copy)]
pub struct DetailColumn {
    pub kind: MasterKind,
    pub key: &'static str,
    /// Header names read as this column besides `key`.
    pub aliases: &'static [&'static str],
    /// The value's normal form, or why it is refused; `None` for an empty cell.
    pub parse: fn(&str) -> Result<Option<String>, FieldError>,
    /// No two items may share a value (a login names one person).
    pub unique: bool,
}

/// Every extra column, by master.
pub const DETAIL_COLUMNS: &[DetailColumn] = &[
    DetailColumn {
        kind: MasterKind::LabTests,
        key: "specimen",
        aliases: &["検体", "材料", "検体材料"],
        parse: parse_specimen,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::LabTests,
        key: "jlac10",
        aliases: &["JLAC10コード"],
        parse: parse_jlac10,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Charges,
        key: "section",
        aliases: &["区分番号", "点数表区分番号"],
        parse: parse_section,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Charges,
        key: "inout",
        aliases: &["入外適用区分", "入外"],
        parse: parse_inout,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Charges,
        key: "time_addition",
        aliases: &["時間加算区分"],
        parse: parse_time_addition,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Drugs,
        key: "form",
        aliases: &["剤形", "剤型", "内外注区分", "区分"],
        parse: parse_dosage_form,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Drugs,
        key: "yj",
        aliases: &["YJコード"],
        parse: parse_yj,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Drugs,
        key: "hot",
        aliases: &["HOTコード", "HOT番号"],
        parse: parse_hot,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Usages,
        key: "jami",
        aliases: &["JAMI用法コード", "標準用法コード", "用法コード"],
        parse: parse_jami_usage,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Usages,
        key: "per_day",
        aliases: &["1日回数", "回数"],
        parse: parse_per_day,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Doctors,
        key: "department",
        aliases: &["診療科", "所属科", "科", "診療科コード"],
        parse: parse_department,
        unique: false,
    },
    DetailColumn {
        kind: MasterKind::Doctors,
        key: "billing",
        aliases: &["医事コード", "ドクターコード", "医師コード"],
        parse: parse_billing_code,
        unique: true,
    },
    DetailColumn {
        kind: MasterKind::Staff,
        key: "login",
        aliases: &["ログイン", "ログイン名", "利用者ID", "ユーザー名"],
        parse: parse_login,
        unique: true,
    },
];

impl MasterKind {
    /// The extra columns this master carries.
    pub fn detail_columns(self) -> impl Iterator<Item = &'static DetailColumn> {
        DETAIL_COLUMNS.iter().filter(move |c| c.kind == self)
    }
}

/// Checks that `details` holds only this kind's keys, each value in its normal form; names the
/// first that does not.
pub fn check_details(kind: MasterKind, details: &Details) -> Result<(), (String, FieldError)> {
    for (key, value) in details {
        let Some(column) = kind.detail_columns().find(|c| c.key == key) else {
            return Err((key.clone(), FieldError::new(format!("is not a column of the {kind} master"))));
        };
        match (column.parse)(value) {
            Ok(Some(v)) if &v == value => {}
            Ok(_) => return Err((key.clone(), FieldError::new("is not in its normal form"))),
            Err(e) => return Err((key.clone(), e)),
        }
    }
    Ok(())
}

fn folded(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_uppercase()
}

fn fixed_code(input: &str, what: &str, lengths: &[usize]) -> Result<Option<String>, FieldError> {
    let code: String = folded(input).chars().filter(|c| *c != '-' && *c != ' ').collect();
    if code.is_empty() {
        return Ok(None);
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric()) || !lengths.contains(&code.chars().count()) {
        let lengths: Vec<String> = lengths.iter().map(usize::to_string).collect();
        return Err(FieldError::new(format!(
            "'{code}' is not a {what} ({} letters and digits)",
            lengths.join(" or ")
        )));
    }
    Ok(Some(code))
}

/// JLAC10: analyte 5, identification 4, specimen 3, method 3, result 2 — 17 characters
/// (hyphens between the parts are taken out).
fn parse_jlac10(input: &str) -> Result<Option<String>, FieldError> {
    fixed_code(input, "JLAC10 code", &[17])
}

/// The 12-character YJ code of a drug.
fn parse_yj(input: &str) -> Result<Option<String>, FieldError> {
    fixed_code(input, "YJ code", &[12])
}

/// The HOT number: 9 digits (HOT9) or 13 (HOT13).
fn parse_hot(input: &str) -> Result<Option<String>, FieldError> {
    match fixed_code(input, "HOT number", &[9, 13])? {
        Some(code) if !code.bytes().all(|b| b.is_ascii_digit()) => {
            Err(FieldError::new(format!("'{code}' is not a HOT number (9 or 13 digits)")))
        }
        other => Ok(other),
    }
}

/// The 16-character JAMI standard usage code (JAMI 処方・注射オーダ標準用法規格).
fn parse_jami_usage(input: &str) -> Result<Option<String>, FieldError> {
    fixed_code(input, "JAMI usage code", &[16])
}

fn parse_per_day(input: &str) -> Result<Option<String>, FieldError> {
    let text = folded(input);
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u8>() {
        Ok(n) if (1..=24).contains(&n) => Ok(Some(n.to_string())),
        _ => Err(FieldError::new(format!("'{text}' is not a number of times a day (1 to 24)"))),
    }
}

/// The fee schedule's section number (点数表区分番号): a letter, three digits, and a branch
/// (`A000`, `B001-2`).
fn parse_section(input: &str) -> Result<Option<String>, FieldError> {
    let text = folded(input);
    if text.is_empty() {
        return Ok(None);
    }
    let mut chars = text.chars();
    let letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let rest: String = chars.collect();
    let (number, branch) = rest.split_once('-').unwrap_or((&rest, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if letter && number.len() == 3 && digits(number) && (branch.is_empty() || digits(branch)) {
        Ok(Some(text))
    } else {
        Err(FieldError::new(format!(
            "'{text}' is not a section number (a letter and three digits, e.g. A000 or B001-2)"
        )))
    }
}

/// Where a procedure may be charged (入外適用区分): `0` both, `1` inpatients only, `2`
/// outpatients only.
fn parse_inout(input: &str) -> Result<Option<String>, FieldError> {
    match folded(input).as_str() {
        "" => Ok(None),
        "0" | "入外" | "両方" => Ok(Some("0".into())),
        "1" | "入院" => Ok(Some("1".into())),
        "2" | "外来" | "入院外" => Ok(Some("2".into())),
        other => {
            Err(FieldError::new(format!("'{other}' is not 0 (both), 1 (inpatients) or 2 (outpatients)")))
        }
    }
}

/// 時間加算区分: `1` on a service whose after-hours, holiday and late-night surcharges depend on
/// the time it was done (the other digits mark the surcharges themselves).
fn parse_time_addition(input: &str) -> Result<Option<String>, FieldError> {
    match folded(input).as_str() {
        "" => Ok(None),
        d if d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(d.to_string())),
        other => Err(FieldError::new(format!("'{other}' is not a 時間加算区分 digit (0–9)"))),
    }
}

/// A doctor's department as the departments master names it (its code or its name).
fn parse_department(input: &str) -> Result<Option<String>, FieldError> {
    let text = clean_text(input, "department")?;
    if text.chars().count() > 40 {
        return Err(FieldError::new(format!("'{text}' is longer than 40 characters")));
    }
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// A doctor's code in the billing system: letters and digits, at most 10 (ORCA's are 5).
fn parse_billing_code(input: &str) -> Result<Option<String>, FieldError> {
    fixed_code(input, "billing system's doctor code", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
}

/// A login of this program (`domain::UserName`'s normal form).
fn parse_login(input: &str) -> Result<Option<String>, FieldError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    super::UserName::parse(input).map(|n| Some(n.as_str().to_string()))
}

/// How a drug is given, as the receipt-computer drug master's 内外注 division says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DosageForm {
    /// 内用: by mouth.
    Internal,
    /// 外用: applied, inhaled, inserted, dropped.
    External,
    /// 注射: injected.
    Injection,
}

impl DosageForm {
    pub fn label(self) -> &'static str {
        match self {
            DosageForm::Internal => "内用",
            DosageForm::External => "外用",
            DosageForm::Injection => "注射",
        }
    }

    /// Reads a stored or typed form: the words, or the drug master's division digits (1 内用,
    /// 4 注射, 6 外用).
    pub fn parse(input: &str) -> Option<Self> {
        match folded(input).as_str() {
            "内用" | "内服" | "内用薬" | "1" => Some(DosageForm::Internal),
            "外用" | "外用薬" | "6" => Some(DosageForm::External),
            "注射" | "注射薬" | "4" => Some(DosageForm::Injection),
            _ => None,
        }
    }
}

fn parse_dosage_form(input: &str) -> Result<Option<String>, FieldError> {
    if folded(input).is_empty() {
        return Ok(None);
    }
    DosageForm::parse(input).map(|f| Some(f.label().to_string())).ok_or_else(|| {
        FieldError::new(format!(
            "'{}' is not a dosage form (内用, 外用 or 注射; or the drug master's 1, 6, 4)",
            input.trim()
        ))
    })
}

/// A specimen as HL7 table 0487 codes it (the type SPM-4 carries), with the JLAC10 material
/// code where the JLAC10 table has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specimen {
    /// The word the master and the screens use.
    pub name: &'static str,
    /// HL7 table 0487.
    pub hl7: &'static str,
    pub hl7_name: &'static str,
    /// The JLAC10 material code and its name (the 10th–12th characters of a JLAC10 code; SPM-4
    /// in JAHIS's lab messages, coding system `JC10`).
    pub jlac10: Option<(&'static str, &'static str)>,
}

/// The specimens a lab master may name, each with the words read as it.
const SPECIMENS: &[(&[&str], Specimen)] = &[
    (&["血清"], Specimen { name: "血清", hl7: "SER", hl7_name: "Serum", jlac10: Some(("023", "血清")) }),
    (&["血漿"], Specimen { name: "血漿", hl7: "PLAS", hl7_name: "Plasma", jlac10: Some(("022", "血漿")) }),
    (
        &["全血", "血液"],
        Specimen {
            name: "全血",
            hl7: "BLD",
            hl7_name: "Whole blood",
            jlac10: Some(("019", "全血(添加物入り)")),
        },
    ),
    (
        &["動脈血"],
        Specimen {
            name: "動脈血", hl7: "BLDA", hl7_name: "Blood arterial", jlac10: Some(("020", "動脈血"))
        },
    ),
    (&["静脈血"], Specimen { name: "静脈血", hl7: "BLDV", hl7_name: "Blood venous", jlac10: None }),
    (
        &["尿", "随時尿", "尿一般"],
        Specimen { name: "尿", hl7: "UR", hl7_name: "Urine", jlac10: Some(("001", "尿(含むその他)")) },
    ),
    (&["喀痰", "痰"], Specimen { name: "喀痰", hl7: "SPT", hl7_name: "Sputum", jlac10: None }),
    (
        &["鼻咽頭", "鼻咽頭ぬぐい液", "鼻腔"],
        Specimen { name: "鼻咽頭", hl7: "NOS", hl7_name: "Nose (nasal passage)", jlac10: None },
    ),
    (&["咽頭", "咽頭ぬぐい液"], Specimen { name: "咽頭", hl7: "THRT", hl7_name: "Throat", jlac10: None }),
    (&["便", "糞便"], Specimen { name: "便", hl7: "STL", hl7_name: "Stool = Fecal", jlac10: None }),
    (
        &["髄液", "脳脊髄液"],
        Specimen { name: "髄液", hl7: "CSF", hl7_name: "Cerebral spinal fluid", jlac10: None },
    ),
];

impl Specimen {
    /// The specimen a word names, or an HL7 0487 code (`SER`).
    pub fn parse(input: &str) -> Option<Specimen> {
        let text = clean_text(input, "specimen").ok()?;
        let upper = folded(&text);
        SPECIMENS.iter().find(|(words, s)| words.contains(&text.as_str()) || s.hl7 == upper).map(|(_, s)| *s)
    }
}

fn parse_specimen(input: &str) -> Result<Option<String>, FieldError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    Specimen::parse(input).map(|s| Some(s.name.to_string())).ok_or_else(|| {
        let known: Vec<&str> = SPECIMENS.iter().map(|(_, s)| s.name).collect();
        FieldError::new(format!(
            "'{}' is not a specimen kamikarte codes (one of {})",
            input.trim(),
            known.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: MasterKind, key: &str, value: &str) -> Result<Option<String>, FieldError> {
        (kind.detail_columns().find(|c| c.key == key).unwrap().parse)(value)
    }

    #[test]
    fn specimens_are_named_by_word_or_hl7_code() {
        assert_eq!(parse(MasterKind::LabTests, "specimen", "血液").unwrap().unwrap(), "全血");
        assert_eq!(parse(MasterKind::LabTests, "specimen", "ser").unwrap().unwrap(), "血清");
        assert_eq!(Specimen::parse("尿").unwrap().hl7, "UR");
        assert!(parse(MasterKind::LabTests, "specimen", "涙").unwrap_err().message.contains("血清"));
    }

    #[test]
    fn codes_keep_their_published_lengths() {
        assert_eq!(
            parse(MasterKind::LabTests, "jlac10", "3B035-0000-023-271-01").unwrap().unwrap(),
            "3B035000002327101"
        );
        assert!(parse(MasterKind::LabTests, "jlac10", "3B035").is_err());
        assert!(parse(MasterKind::Drugs, "hot", "12345678").is_err());
        assert_eq!(parse(MasterKind::Drugs, "hot", "１２３４５６７８９").unwrap().unwrap(), "123456789");
        assert!(parse(MasterKind::Usages, "jami", "1013044400000000").unwrap().is_some());
    }

    #[test]
    fn dosage_forms_read_words_and_the_drug_masters_digits() {
        assert_eq!(parse(MasterKind::Drugs, "form", "4").unwrap().unwrap(), "注射");
        assert_eq!(parse(MasterKind::Drugs, "form", "内服").unwrap().unwrap(), "内用");
        assert!(parse(MasterKind::Drugs, "form", "点滴").is_err());
    }

    #[test]
    fn details_of_another_master_are_refused() {
        let mut details = Details::new();
        details.insert("jlac10".into(), "3B035000002327101".into());
        assert!(check_details(MasterKind::LabTests, &details).is_ok());
        assert_eq!(check_details(MasterKind::Drugs, &details).unwrap_err().0, "jlac10");
        details.insert("specimen".into(), "血液".into());
        assert_eq!(check_details(MasterKind::LabTests, &details).unwrap_err().0, "specimen");
    }
}
