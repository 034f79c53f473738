//! Reading a keyboard-wedge scanner from raw key events.
//!
//! A wedge scanner "types" its code as key presses and ends it with Enter. With a Japanese IME on,
//! the text those presses produce is not the code: `A` arrives as `あ`, digits as full-width `１`.
//! The key presses themselves are untouched by the IME, so they are the source of truth; text
//! is used only when a platform (or a scanner in HID-text mode) delivers no key presses at all,
//! and then folded with NFKC (full-width digits and Latin to ASCII) — kana in such text cannot be
//! read back and is reported, never guessed.

use unicode_normalization::UnicodeNormalization;

/// One input event as the UI sees it, stripped of the toolkit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WedgeInput {
    /// A key press that stands for one code character (A–Z, 0–9, `-`, `.`).
    Key(char),
    /// Text the platform produced (typed, or committed by an IME).
    Text(String),
    /// Enter: the end of a scan.
    Enter,
}

/// What one scan produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WedgeScan {
    /// The code, upper-case ASCII.
    Code(String),
    /// Text arrived without key presses and held characters a code cannot contain (e.g. kana
    /// from an IME): the scan is refused, with what arrived.
    Unreadable(String),
}

/// Collects key presses and text between two Enters.
#[derive(Debug, Default, Clone)]
pub struct WedgeReader {
    keys: String,
    text: String,
}

/// Longest code accepted; anything longer is a stuck key or a pasted page, not a barcode.
const MAX_CODE: usize = 64;

impl WedgeReader {
    /// Feeds one event; returns a scan when Enter ends one.
    pub fn push(&mut self, input: WedgeInput) -> Option<WedgeScan> {
        match input {
            WedgeInput::Key(c) => {
                if self.keys.len() < MAX_CODE {
                    self.keys.push(c.to_ascii_uppercase());
                }
                None
            }
            WedgeInput::Text(t) => {
                if self.text.chars().count() < MAX_CODE {
                    self.text.push_str(&t);
                }
                None
            }
            WedgeInput::Enter => {
                let keys = std::mem::take(&mut self.keys);
                let text = std::mem::take(&mut self.text);
                if !keys.is_empty() {
                    return Some(WedgeScan::Code(keys));
                }
                let folded: String =
                    text.nfkc().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
                if folded.is_empty() {
                    None
                } else if folded.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                    Some(WedgeScan::Code(folded))
                } else {
                    Some(WedgeScan::Unreadable(text))
                }
            }
        }
    }

    /// Something is half-scanned.
    pub fn is_pending(&self) -> bool {
        !self.keys.is_empty() || !self.text.is_empty()
    }

    pub fn clear(&mut self) {
        self.keys.clear();
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(reader: &mut WedgeReader, inputs: Vec<WedgeInput>) -> Option<WedgeScan> {
        inputs.into_iter().find_map(|i| reader.push(i))
    }

    #[test]
    fn key_presses_win_over_the_text_an_ime_made_of_them() {
        let mut r = WedgeReader::default();
        let inputs = vec![
            WedgeInput::Key('d'),
            WedgeInput::Text("あ".into()),
            WedgeInput::Key('1'),
            WedgeInput::Text("１".into()),
            WedgeInput::Enter,
        ];
        assert_eq!(feed(&mut r, inputs), Some(WedgeScan::Code("D1".into())));
        assert!(!r.is_pending());
    }

    #[test]
    fn text_alone_is_folded_to_ascii() {
        let mut r = WedgeReader::default();
        let inputs =
            vec![WedgeInput::Text("ｄｔ１０".into()), WedgeInput::Text("0".into()), WedgeInput::Enter];
        assert_eq!(feed(&mut r, inputs), Some(WedgeScan::Code("DT100".into())));
    }

    #[test]
    fn kana_text_without_keys_is_unreadable_not_guessed() {
        let mut r = WedgeReader::default();
        let inputs = vec![WedgeInput::Text("だ１".into()), WedgeInput::Enter];
        assert_eq!(feed(&mut r, inputs), Some(WedgeScan::Unreadable("だ１".into())));
    }

    #[test]
    fn a_lone_enter_is_no_scan() {
        assert_eq!(WedgeReader::default().push(WedgeInput::Enter), None);
    }
}
