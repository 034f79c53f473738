//! Code 128 symbols as bar modules. barcoders does the symbol encoding; this module picks the
//! code sets (set C packs digit pairs, so an 8-digit ID is half as wide) and never adds quiet
//! zones: the layout reserves them (10 modules each side).

use barcoders::sym::code128::Code128;

pub const QUIET_ZONE_MODULES: usize = 10;

const SET_B: char = 'Ɓ';
const SET_C: char = 'Ć';

/// barcoders' input: the text with a code-set marker before each run. Runs of 4 or more digits
/// go in set C (an even number of them; an odd leading digit stays in set B).
fn with_code_sets(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut current = None;
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 4 {
            let take = run - run % 2;
            let start = i + run % 2;
            if run % 2 == 1 {
                if current != Some(SET_B) {
                    out.push(SET_B);
                    current = Some(SET_B);
                }
                out.push(chars[i]);
            }
            if current != Some(SET_C) {
                out.push(SET_C);
                current = Some(SET_C);
            }
            out.extend(&chars[start..start + take]);
            i = start + take;
        } else {
            if current != Some(SET_B) {
                out.push(SET_B);
                current = Some(SET_B);
            }
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The modules of `text` as Code 128 (true = bar), without quiet zones. Only printable ASCII is
/// accepted: every payload kamikarte prints is.
pub fn code128(text: &str) -> Result<Vec<bool>, String> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(format!("'{text}' cannot be printed as Code 128 (printable ASCII only)"));
    }
    let symbol = Code128::new(with_code_sets(text)).map_err(|e| format!("Code 128 of '{text}': {e}"))?;
    Ok(symbol.encode().into_iter().map(|m| m == 1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_use_set_c() {
        assert_eq!(with_code_sets("10002326"), "Ć10002326");
        assert_eq!(with_code_sets("K1.PN.10002326.A1-000123X"), "ƁK1.PN.Ć10002326Ɓ.A1-Ć000123ƁX");
        assert_eq!(with_code_sets("12345"), "Ɓ1Ć2345");
        assert_eq!(with_code_sets("DT-12"), "ƁDT-12");
    }

    #[test]
    fn set_c_makes_numeric_ids_shorter() {
        let c = code128("10002326").unwrap().len();
        assert_eq!(c, 11 * (1 + 4 + 1) + 13, "start, 4 pairs, check, stop");
    }

    #[test]
    fn non_ascii_is_refused() {
        assert!(code128("山田").is_err());
        assert!(code128("").is_err());
    }
}
