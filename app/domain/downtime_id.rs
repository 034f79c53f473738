//! Downtime IDs: patient IDs drawn, during an outage, from a block of numbers the EHR reserved.
//!
//! Format: `<PREFIX><NUMBER><CHECK>`, e.g. `DT1000073`:
//! * `PREFIX` — the block's prefix, 1–4 letters `A–Z`;
//! * `NUMBER` — decimal, zero-padded to the number of digits of the block's last number, so every
//!   ID of a block has the same length (a dropped digit is a wrong length, not another patient);
//! * `CHECK` — one Luhn mod 36 character over prefix and number (`check_digit::luhn36`): it
//!   catches every single-character error and every swap of two adjacent characters. The one swap
//!   Luhn mod 36 cannot see (`0` with `Z`) cannot stay inside the format: letters only in the
//!   prefix, digits only in the number.

use super::check_digit::{is_valid_luhn36, luhn36};
use super::{FieldError, PatientId};

/// Largest number a block may reach: 9 digits keep a downtime ID within HL7's 15-character habit.
pub const MAX_NUMBER: u64 = 999_999_999;

/// A range of numbers the EHR reserved for one station, under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdBlock {
    pub prefix: String,
    pub first: u64,
    pub last: u64,
}

impl IdBlock {
    pub fn new(prefix: &str, first: u64, last: u64) -> Result<Self, FieldError> {
        let prefix = prefix.trim().to_uppercase();
        if !(1..=4).contains(&prefix.len()) || !prefix.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(FieldError::new(format!("block prefix '{prefix}' must be 1–4 letters A–Z")));
        }
        if first == 0 || first > last {
            return Err(FieldError::new(format!(
                "block range {first}–{last} is empty or starts at 0 (the first number must be ≥ 1 and ≤ the last)"
            )));
        }
        if last > MAX_NUMBER {
            return Err(FieldError::new(format!("block end {last} is larger than {MAX_NUMBER}")));
        }
        Ok(Self { prefix, first, last })
    }

    /// Digits of every number of this block.
    pub fn width(&self) -> usize {
        digits(self.last)
    }

    pub fn size(&self) -> u64 {
        self.last - self.first + 1
    }

    pub fn contains(&self, number: u64) -> bool {
        (self.first..=self.last).contains(&number)
    }

    pub fn overlaps(&self, other: &IdBlock) -> bool {
        self.prefix == other.prefix && self.first <= other.last && other.first <= self.last
    }

    /// The downtime ID of `number` (which must lie in the block).
    pub fn id_of(&self, number: u64) -> PatientId {
        debug_assert!(self.contains(number));
        let body = format!("{}{:0width$}", self.prefix, number, width = self.width());
        let check = luhn36(&body);
        PatientId::parse(&format!("{body}{check}")).expect("prefix, digits and a check character form an ID")
    }

    /// Reads a typed or scanned ID of this block's shape: `Ok(None)` when it is not of this
    /// block's shape at all (another prefix or length: an ordinary record number) or its number
    /// lies outside the block, `Ok(Some(n))` for a right downtime ID of this block, an error when
    /// it has this block's shape but a wrong check character.
    pub fn read(&self, id: &PatientId) -> Result<Option<u64>, FieldError> {
        let text = id.as_str();
        let Some(rest) = text.strip_prefix(self.prefix.as_str()) else { return Ok(None) };
        if rest.len() != self.width() + 1 || !rest[..self.width()].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        if !is_valid_luhn36(text) {
            return Err(FieldError::new(format!(
                "downtime ID '{text}' has a wrong check character: mistyped or misread (block {})",
                self.describe()
            )));
        }
        let number: u64 = rest[..self.width()].parse().expect("all digits");
        // A right check but a number outside the range: another block's ID with the same prefix.
        Ok(Some(number).filter(|n| self.contains(*n)))
    }

    pub fn describe(&self) -> String {
        format!("{}{:0w$}–{}{:0w$}", self.prefix, self.first, self.prefix, self.last, w = self.width())
    }
}

fn digits(n: u64) -> usize {
    n.max(1).ilog10() as usize + 1
}

/// Checks a typed or scanned ID against every known block: an ID shaped like a downtime ID of a
/// block but with a wrong check character is refused; anything else passes (record numbers of
/// the EHR carry no check here).
pub fn check_typed_id(id: &PatientId, blocks: &[IdBlock]) -> Result<(), FieldError> {
    for block in blocks {
        block.read(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> IdBlock {
        IdBlock::new("dt", 100_000, 100_999).unwrap()
    }

    #[test]
    fn ids_carry_prefix_padded_number_and_check() {
        let b = IdBlock::new("T", 1, 500).unwrap();
        let id = b.id_of(7);
        assert!(id.as_str().starts_with("T007"), "{id}");
        assert_eq!(id.as_str().len(), 5);
        assert_eq!(b.read(&id).unwrap(), Some(7));
        assert_eq!(block().read(&block().id_of(100_999)).unwrap(), Some(100_999));
        let other = IdBlock::new("DT", 200_000, 200_999).unwrap().id_of(200_000);
        assert_eq!(block().read(&other).unwrap(), None, "same prefix, another block's number");
    }

    #[test]
    fn bad_blocks_are_refused() {
        assert!(IdBlock::new("D1", 1, 2).is_err());
        assert!(IdBlock::new("", 1, 2).is_err());
        assert!(IdBlock::new("DTXYZ", 1, 2).is_err());
        assert!(IdBlock::new("DT", 5, 4).is_err());
        assert!(IdBlock::new("DT", 0, 4).is_err());
        assert!(IdBlock::new("DT", 1, MAX_NUMBER + 1).is_err());
    }

    #[test]
    fn overlap_needs_the_same_prefix_and_a_shared_number() {
        let a = IdBlock::new("DT", 1, 100).unwrap();
        assert!(a.overlaps(&IdBlock::new("DT", 100, 200).unwrap()));
        assert!(a.overlaps(&IdBlock::new("DT", 50, 60).unwrap()));
        assert!(!a.overlaps(&IdBlock::new("DT", 101, 200).unwrap()));
        assert!(!a.overlaps(&IdBlock::new("DX", 1, 100).unwrap()));
    }

    #[test]
    fn record_numbers_of_another_shape_are_not_downtime_ids() {
        let b = block();
        for other in ["10002326", "DT12", "DX1000073", "DT10000A7"] {
            let id = PatientId::parse(other).unwrap();
            assert_eq!(b.read(&id).unwrap(), None, "{other}");
            assert!(check_typed_id(&id, std::slice::from_ref(&b)).is_ok());
        }
    }

    /// Property: for every ID of a block, every single-character substitution and every swap of
    /// two adjacent different characters is refused — either by the check character or because it
    /// no longer has the block's shape and so is no ID of the block.
    #[test]
    fn every_single_error_and_adjacent_swap_is_caught() {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let blocks = [block(), IdBlock::new("Z", 1, 999).unwrap(), IdBlock::new("ABCD", 1, 99).unwrap()];
        let mut rng = fastrand::Rng::with_seed(5);
        let mut checked = 0;
        for b in &blocks {
            // Every number of the small blocks, a random thousand of the large one.
            let numbers: Vec<u64> = if b.size() <= 10_000 {
                (b.first..=b.last).collect()
            } else {
                (0..1000).map(|_| rng.u64(b.first..=b.last)).collect()
            };
            for n in numbers {
                let id = b.id_of(n);
                let chars: Vec<char> = id.as_str().chars().collect();
                let caught = |text: String| match PatientId::parse(&text) {
                    Err(_) => true,
                    Ok(typo) => !matches!(b.read(&typo), Ok(Some(_))),
                };
                for i in 0..chars.len() {
                    for &a in ALPHABET {
                        if chars[i] != a as char {
                            let mut typo = chars.clone();
                            typo[i] = a as char;
                            assert!(caught(typo.iter().collect()), "substitution {i} of {id}");
                            checked += 1;
                        }
                    }
                    if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                        let mut swap = chars.clone();
                        swap.swap(i, i + 1);
                        assert!(caught(swap.iter().collect()), "swap {i} of {id}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 400_000, "{checked}");
    }
}
