//! Doses and routes as the paper writes them: the one reading both the entry checks and the
//! hand-off use, so a dose or route refused at entry is the same one the messages code.

/// The leading number of an amount written on paper (`1錠`, `0.5 g`, `５００mL`) and the rest as
/// its unit (trimmed, possibly empty); None when it does not start with a number.
pub fn split_amount(text: &str) -> Option<(f64, String)> {
    let narrow: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' => '.',
            other => other,
        })
        .collect();
    let end = narrow.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(narrow.len());
    let number: f64 = narrow[..end].parse().ok()?;
    Some((number, narrow[end..].trim().to_string()))
}

/// A unit as the MERIT-9 unit table (MR9P, JAHIS's and JP Core's) codes it, for the units whose
/// codes appear in JAHIS's published samples (錠 `TAB`, 本 `HON`, mL `ML`, アンプル `AMP`); None
/// for any other unit, which must travel as text rather than under a guessed code.
pub fn mr9p_unit(text: &str) -> Option<(&'static str, &'static str)> {
    match text.trim() {
        "錠" => Some(("TAB", "錠")),
        "本" => Some(("HON", "本")),
        "mL" | "ml" | "ML" | "ｍＬ" | "ミリリットル" => Some(("ML", "ミリリットル")),
        "A" | "アンプル" | "管" => Some(("AMP", "アンプル")),
        _ => None,
    }
}

/// A route written on paper, as HL7 table 0162 codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HL7 table 0162 (`IV`, `PO`, …).
    pub code: &'static str,
    /// The Japanese name sent beside the code.
    pub name: &'static str,
}

impl Route {
    /// The route a word names (`IV`, `DIV`, `点滴`, `筋注`, `内服`, `外用` …), or None for words
    /// kamikarte does not code.
    pub fn parse(text: &str) -> Option<Route> {
        let (code, name) = match text.trim().to_uppercase().as_str() {
            "IV" | "静注" | "静脈注射" | "点滴" | "点滴静注" | "DIV" => ("IV", "静脈内"),
            "IM" | "筋注" | "筋肉注射" => ("IM", "筋肉内"),
            "SC" | "皮下" | "皮下注" | "皮下注射" => ("SC", "皮下"),
            "ID" | "皮内" | "皮内注射" => ("ID", "皮内"),
            "PO" | "内服" | "経口" => ("PO", "経口"),
            "SL" | "舌下" => ("SL", "舌下"),
            "PR" | "坐剤" | "直腸" => ("PR", "直腸"),
            "TP" | "外用" | "塗布" | "貼付" => ("TP", "局所"),
            "IH" | "吸入" => ("IH", "吸入"),
            "OP" | "点眼" => ("OP", "眼"),
            _ => return None,
        };
        Some(Route { code, name })
    }

    /// Whether the route puts the drug through the skin or into a vein.
    pub fn injected(self) -> bool {
        matches!(self.code, "IV" | "IM" | "SC" | "ID")
    }

    /// Whether the drug is swallowed (or dissolved under the tongue).
    pub fn by_mouth(self) -> bool {
        matches!(self.code, "PO" | "SL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_split_into_number_and_unit() {
        assert_eq!(split_amount("1錠"), Some((1.0, "錠".into())));
        assert_eq!(split_amount("０．５ g"), Some((0.5, "g".into())));
        assert_eq!(split_amount("500mL"), Some((500.0, "mL".into())));
        assert_eq!(split_amount("適量"), None);
    }

    #[test]
    fn route_words_are_coded_and_classed() {
        assert_eq!(Route::parse("点滴").unwrap().code, "IV");
        assert!(Route::parse("筋注").unwrap().injected());
        assert!(Route::parse("内服").unwrap().by_mouth());
        assert!(!Route::parse("外用").unwrap().injected());
        assert_eq!(Route::parse("おまじない"), None);
    }
}
