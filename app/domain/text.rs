//! Names and free text as they are displayed: never NFKC-folded (that is for keys only).

use super::FieldError;
use super::kana::{is_katakana, to_katakana, widen_half_width_kana};

const IDEOGRAPHIC_SPACE: char = '\u{3000}';
const MAX_NAME_CHARS: usize = 100;

/// Trims and collapses every run of white space (ASCII or full-width) into `sep`.
fn collapse_spaces(input: &str, sep: char) -> String {
    let mut out = String::with_capacity(input.len());
    for part in input.split(char::is_whitespace).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(sep);
        }
        out.push_str(part);
    }
    out
}

/// Trimmed free text with inner white space collapsed to one ASCII space; control characters
/// rejected; half-width katakana widened (legacy systems still send them). For departments,
/// wards, allergies and the like.
pub fn clean_text(input: &str, what: &str) -> Result<String, FieldError> {
    if let Some(c) = input.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(FieldError::new(format!("{what} contains a control character (U+{:04X})", c as u32)));
    }
    Ok(collapse_spaces(&widen_half_width_kana(input), ' '))
}

/// Splits a list typed in one cell ("ペニシリン;卵", "ペニシリン、卵") into cleaned items.
pub fn split_list(input: &str, what: &str) -> Result<Vec<String>, FieldError> {
    input
        .split([';', '；', '、', '，', '|'])
        .map(|item| clean_text(item, what))
        .filter(|item| !matches!(item, Ok(s) if s.is_empty()))
        .collect()
}

/// Orders labels the way people read them: digit runs by value, so ward 3E comes before 10E and
/// bed 501-2 before 501-10.
/// A cell for a CSV file that people open in a spreadsheet: text beginning with `= + - @`, a tab
/// or a carriage return would be run as a formula, so it gets a leading apostrophe (OWASP's
/// advice). Numbers, negative ones included, are left as they are.
pub fn formula_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.trim().parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Undoes `formula_safe` on a cell read back from such a file.
pub fn formula_unsafe(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digit = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digit).unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some((digit, run))
        })
    }
    let mut x = runs(a);
    let mut y = runs(b);
    loop {
        let ord = match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            (Some((dp, p)), Some((dq, q))) => dq.cmp(&dp).then_with(|| p.cmp(q)),
        };
        if ord.is_ne() {
            return ord;
        }
    }
}

/// A patient's name in kanji (or whatever script the EHR holds it in), as printed on paper.
/// Family and given name are separated by one full-width space, as Japanese records do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KanjiName(String);

impl KanjiName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let text = clean_text(input, "name")?;
        let name = collapse_spaces(&text, IDEOGRAPHIC_SPACE);
        if name.is_empty() {
            return Err(FieldError::new("name is empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(format!("name is longer than {MAX_NAME_CHARS} characters")));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name's reading in full-width katakana. Hiragana and half-width kana are converted;
/// full-width Latin letters and digits (foreign names) are kept as typed; kanji are refused,
/// because a reading that holds kanji cannot be sorted, searched or printed on a wristband.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KanaName(String);

impl KanaName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let text = clean_text(input, "kana name")?;
        let kana = collapse_spaces(&to_katakana(&text), IDEOGRAPHIC_SPACE);
        if kana.is_empty() {
            return Err(FieldError::new("kana name is empty"));
        }
        if kana.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(format!("kana name is longer than {MAX_NAME_CHARS} characters")));
        }
        if let Some(bad) = kana.chars().find(|&c| !allowed_in_kana(c)) {
            return Err(FieldError::new(format!(
                "kana name '{kana}' contains '{bad}', which is not kana (expected katakana or hiragana)"
            )));
        }
        Ok(Self(kana))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn allowed_in_kana(c: char) -> bool {
    is_katakana(c)
        || c == IDEOGRAPHIC_SPACE
        || c.is_ascii_alphanumeric()
        || matches!(c, '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
        || matches!(c, '゛' | '゜' | '-' | '－' | '=' | '＝' | '.' | '．')
}

impl std::fmt::Display for KanjiName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for KanaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_defused_and_numbers_are_not() {
        assert_eq!(formula_safe("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        for risky in ["+1+cmd", "-2+3", "@SUM(A1)", "\tx"] {
            assert!(formula_safe(risky).starts_with('\''), "{risky}");
            assert_eq!(formula_unsafe(&formula_safe(risky)), risky);
        }
        for plain in ["-1", "-2.5", "山田", "'quoted", ""] {
            assert_eq!(formula_safe(plain), plain);
            assert_eq!(formula_unsafe(plain), plain);
        }
    }

    #[test]
    fn kana_name_is_stored_as_full_width_katakana_with_one_full_width_space() {
        let k = KanaName::parse("  ﾔﾏﾀﾞ   ﾀﾛｳ ").unwrap();
        assert_eq!(k.as_str(), "ヤマダ　タロウ");
        assert_eq!(KanaName::parse("さとう　はなこ").unwrap().as_str(), "サトウ　ハナコ");
    }

    #[test]
    fn kana_name_keeps_full_width_latin_and_digits() {
        assert_eq!(KanaName::parse("ＳＭＩＴＨ　ジョン").unwrap().as_str(), "ＳＭＩＴＨ　ジョン");
    }

    #[test]
    fn kana_name_with_kanji_is_refused_naming_the_character() {
        let e = KanaName::parse("山田　タロウ").unwrap_err();
        assert!(e.message.contains("'山'"), "{e}");
        assert!(KanaName::parse("   ").is_err());
    }

    #[test]
    fn kanji_name_keeps_circled_digits_and_full_width_forms() {
        assert_eq!(KanjiName::parse("山田 ① 太郎").unwrap().as_str(), "山田　①　太郎");
        assert!(KanjiName::parse("").is_err());
        assert!(KanjiName::parse("山田\u{7}").is_err());
    }

    #[test]
    fn labels_sort_naturally_digits_before_letters() {
        let mut wards = vec!["NICU", "10E", "3W", "ICU", "3E", "HCU", "11W"];
        wards.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(wards, ["3E", "3W", "10E", "11W", "HCU", "ICU", "NICU"]);
        let mut beds = vec!["501-10", "501-2", "1001-1", "501-1"];
        beds.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(beds, ["501-1", "501-2", "501-10", "1001-1"]);
    }

    #[test]
    fn lists_split_on_japanese_and_ascii_separators() {
        assert_eq!(split_list("ペニシリン、 卵;;そば", "allergy").unwrap(), ["ペニシリン", "卵", "そば"]);
        assert!(split_list("", "allergy").unwrap().is_empty());
    }
}
