//! Luhn mod N check characters over the alphabet 0–9 A–Z (N = 36): one character that catches
//! every single-character typo and every swap of two adjacent characters, for codes a clerk may
//! type by hand (page codes, downtime IDs). Characters outside the alphabet (separators) are
//! skipped.

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn value(c: char) -> Option<u32> {
    ALPHABET.iter().position(|&a| a as char == c.to_ascii_uppercase()).map(|p| p as u32)
}

/// The check character for `payload`.
pub fn luhn36(payload: &str) -> char {
    let n = ALPHABET.len() as u32;
    let mut sum = 0;
    // From the right, the rightmost payload character is doubled (it sits left of the check).
    for (i, v) in payload.chars().rev().filter_map(value).enumerate() {
        let mut addend = if i % 2 == 0 { v * 2 } else { v };
        addend = addend / n + addend % n;
        sum += addend;
    }
    ALPHABET[((n - sum % n) % n) as usize] as char
}

/// True when the last character of `code` is the right check character for the rest.
pub fn is_valid_luhn36(code: &str) -> bool {
    let mut chars = code.chars();
    match chars.next_back() {
        Some(check) => value(check).is_some() && luhn36(chars.as_str()) == check.to_ascii_uppercase(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_with_its_check_character_validates() {
        for payload in ["K1.PN.10002326.A1-000123", "DT-0001", "0", "ZZZZ"] {
            let code = format!("{payload}{}", luhn36(payload));
            assert!(is_valid_luhn36(&code), "{code}");
        }
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        let payload = "PN10002326A1000123";
        let code = format!("{payload}{}", luhn36(payload));
        let chars: Vec<char> = code.chars().collect();
        for i in 0..chars.len() {
            for &a in ALPHABET {
                let mut typo = chars.clone();
                if typo[i] == a as char {
                    continue;
                }
                typo[i] = a as char;
                assert!(!is_valid_luhn36(&typo.iter().collect::<String>()), "substitution at {i}");
            }
            if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                let mut swap = chars.clone();
                swap.swap(i, i + 1);
                assert!(!is_valid_luhn36(&swap.iter().collect::<String>()), "swap at {i}");
            }
        }
    }
}
