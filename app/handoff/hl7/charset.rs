//! The bytes a message travels in. Japanese HL7 v2 (JAHIS) is ISO-2022-JP: ASCII, with runs of
//! JIS X 0208 (`ESC $ B` … `ESC ( B`), MSH-18 `~ISO IR87`, MSH-20 `ISO 2022-1994`. Receivers
//! decode it strictly (JIS X 0208 only), so nothing is sent that such a decoder cannot read:
//!
//! * encoding_rs implements the WHATWG index, which also encodes the NEC row-13 specials (①, ㈱,
//!   ㍻ …) and the IBM extension kanji (rows 89–92: 髙, 﨑 …). Only two-byte codes in JIS X 0208
//!   rows 1–8 and 16–84 are kept; the rest are mapped to what a JIS decoder can read, and
//!   reported.
//! * WHATWG names some JIS cells with other code points than JIS does (U+FF5E for the wave dash
//!   U+301C, U+2225 for ‖ U+2016, U+FFE0–FFE2 for ¢ £ ¬, U+2015 for the em dash U+2014, U+FFE5
//!   for ¥ U+00A5, U+FFE3 for ‾ U+203E). These are the same character, so they are encoded to
//!   the same bytes without being reported. ¥ and ‾ are never sent as JIS-Roman (`ESC ( J`): its
//!   0x5C and 0x7E would look like HL7's escape and repetition characters to a byte parser.
//! * Half-width katakana are widened first (ｶﾞ → ガ, not カ゛): JIS X 0208 has no half-width
//!   kana and ISO-2022-JP must not carry them.
//! * Anything else without a JIS X 0208 form becomes 〓 (U+3013, the geta mark, the Japanese
//!   convention for a character that could not be set) and is reported.
//!
//! Each character's bytes are worked out once per thread and kept: a hundred thousand charge
//! lines repeat the same few hundred characters, and ASCII runs are copied as they are.

use std::cell::RefCell;
use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Iso2022Jp,
    Utf8,
}

impl Charset {
    /// What MSH-18 says for this character set.
    pub fn msh18(self) -> &'static str {
        match self {
            Charset::Iso2022Jp => "~ISO IR87",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// What MSH-20 says (the code extension technique); UTF-8 needs none.
    pub fn msh20(self) -> &'static str {
        match self {
            Charset::Iso2022Jp => "ISO 2022-1994",
            Charset::Utf8 => "",
        }
    }
}

/// The geta mark: what an unencodable character becomes.
pub const GETA: char = '\u{3013}';

/// The same JIS X 0208 cell under the code point encoding_rs expects: not a substitution, the
/// receiver decodes the JIS form back.
const SAME_CELL: &[(char, &str)] = &[
    ('\u{301C}', "\u{FF5E}"), // 〜 wave dash
    ('\u{2016}', "\u{2225}"), // ‖ double vertical line
    ('\u{00A2}', "\u{FFE0}"), // ¢
    ('\u{00A3}', "\u{FFE1}"), // £
    ('\u{00AC}', "\u{FFE2}"), // ¬
    ('\u{2014}', "\u{2015}"), // — em dash (JIS 1-29)
    ('\u{00A5}', "\u{FFE5}"), // ¥ (JIS 1-79, never JIS-Roman)
    ('\u{203E}', "\u{FFE3}"), // ‾ (JIS 1-17, never JIS-Roman)
];

/// Vendor characters and look-alikes a strict JIS X 0208 decoder cannot read, mapped to the JIS
/// form a Japanese reader expects. Reported. Characters not listed fall back to their NFKC form
/// (㈱ → (株), ㍻ → 平成, ㎝ → cm, Ⅰ → I, ⅰ → i, ＂ → ") when that is encodable.
const REPORTED: &[(char, &str)] = &[
    ('①', "(1)"),
    ('②', "(2)"),
    ('③', "(3)"),
    ('④', "(4)"),
    ('⑤', "(5)"),
    ('⑥', "(6)"),
    ('⑦', "(7)"),
    ('⑧', "(8)"),
    ('⑨', "(9)"),
    ('⑩', "(10)"),
    ('⑪', "(11)"),
    ('⑫', "(12)"),
    ('⑬', "(13)"),
    ('⑭', "(14)"),
    ('⑮', "(15)"),
    ('⑯', "(16)"),
    ('⑰', "(17)"),
    ('⑱', "(18)"),
    ('⑲', "(19)"),
    ('⑳', "(20)"),
    ('№', "No."),
    ('∑', "Σ"),
    ('〝', "“"),
    ('〟', "”"),
    ('\u{FFE4}', "｜"), // ￤ broken bar (IBM)
    ('\u{00B7}', "・"), // · middle dot, as in foreign names
    ('\u{2013}', "‐"),  // – en dash
    ('\u{2011}', "‐"),  // non-breaking hyphen
    // IBM and NEC-selected IBM extension kanji (and a few outside CP932) seen in names, to the
    // JIS X 0208 kanji registries use for them.
    ('髙', "高"),
    ('﨑', "崎"),
    ('德', "徳"),
    ('𠮷', "吉"),
    ('𡈽', "土"),
    ('濵', "濱"),
    ('瀨', "瀬"),
    ('增', "増"),
    ('寬', "寛"),
    ('敎', "教"),
    ('橫', "横"),
    ('淸', "清"),
    ('綠', "緑"),
    ('緖', "緒"),
    ('賴', "頼"),
    ('郞', "郎"),
    ('鄕', "郷"),
    ('靑', "青"),
    ('黑', "黒"),
    ('昻', "昂"),
    ('凞', "熙"),
    ('栁', "柳"),
    ('桒', "桑"),
    ('甁', "瓶"),
    ('羡', "羨"),
    ('薰', "薫"),
];

#[derive(Clone, Copy)]
enum Unit {
    Ascii(u8),
    Jis(u8, u8),
}

/// How one character is sent: its units, and what to report when it is not sent as itself.
struct Mapping {
    units: Vec<Unit>,
    reported: Option<String>,
}

thread_local! {
    static CACHE: RefCell<HashMap<char, Mapping>> = RefCell::new(HashMap::new());
}

/// ESC, SO and SI would switch a receiver's decoder; they are never data.
fn plain_ascii(b: u8) -> bool {
    b < 0x80 && !matches!(b, 0x1B | 0x0E | 0x0F)
}

/// The JIS X 0208 code of `c`, when encoding_rs gives one in the standard's rows.
fn jis_code(c: char) -> Option<(u8, u8)> {
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(c.encode_utf8(&mut buf));
    if unmappable {
        return None;
    }
    match *bytes {
        [0x1B, b'$', b'B', hi, lo, 0x1B, b'(', b'B'] => {
            let row = hi.wrapping_sub(0x20);
            // Rows 9–15 and 85–94 are vendor extensions (NEC row 13, IBM rows 89–92).
            ((1..=8).contains(&row) || (16..=84).contains(&row)).then_some((hi, lo))
        }
        _ => None,
    }
}

fn units_of(text: &str) -> Option<Vec<Unit>> {
    text.chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if plain_ascii(b) => Some(Unit::Ascii(b)),
            _ => jis_code(c).map(|(hi, lo)| Unit::Jis(hi, lo)),
        })
        .collect()
}

fn lookup(table: &[(char, &'static str)], c: char) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)
}

fn map_char(c: char) -> Mapping {
    let quiet = |units| Mapping { units, reported: None };
    if let Some(units) = lookup(SAME_CELL, c).and_then(units_of) {
        return quiet(units);
    }
    if let Some(text) = lookup(REPORTED, c)
        && let Some(units) = units_of(text)
    {
        return Mapping { units, reported: Some(text.to_string()) };
    }
    if let Some((hi, lo)) = jis_code(c) {
        return quiet(vec![Unit::Jis(hi, lo)]);
    }
    let one = c.to_string();
    // A CJK compatibility ideograph (塚 U+FA10) is canonically the unified one (塚): the same
    // character, not a substitution.
    let nfc: String = one.nfc().collect();
    if nfc != one
        && let Some(units) = units_of(&nfc)
    {
        return quiet(units);
    }
    let nfkc: String = one.nfkc().collect();
    // The body is escaped already: a fallback that turns into an HL7 delimiter (﹠ → &, ﹨ → \)
    // would break the message's structure, so it becomes the geta mark instead.
    if nfkc != one
        && !nfkc.is_empty()
        && !nfkc.contains(['|', '^', '~', '\\', '&', '\r', '\n'])
        && let Some(units) = units_of(&nfkc)
    {
        return Mapping { units, reported: Some(nfkc) };
    }
    Mapping { units: units_of(&GETA.to_string()).unwrap_or_default(), reported: Some(GETA.to_string()) }
}

struct Writer {
    out: Vec<u8>,
    in_jis: bool,
}

impl Writer {
    fn ascii(&mut self, bytes: &[u8]) {
        if self.in_jis {
            self.out.extend_from_slice(b"\x1B(B");
            self.in_jis = false;
        }
        self.out.extend_from_slice(bytes);
    }

    fn jis(&mut self, hi: u8, lo: u8) {
        if !self.in_jis {
            self.out.extend_from_slice(b"\x1B$B");
            self.in_jis = true;
        }
        self.out.extend_from_slice(&[hi, lo]);
    }
}

/// Encodes a message body (Unicode, HL7-escaped, segments separated by `\r`). For UTF-8, MSH-18
/// becomes `UNICODE UTF-8` and MSH-20 empty. Returns the bytes and the characters that could not
/// be sent as themselves (each once, in order of appearance) with what was sent instead.
pub fn encode(body: &str, charset: Charset) -> (Vec<u8>, Vec<(char, String)>) {
    match charset {
        Charset::Utf8 => (with_charset(body, Charset::Utf8).into_bytes(), Vec::new()),
        Charset::Iso2022Jp => encode_iso2022jp(body),
    }
}

/// `body` with MSH-18 and MSH-20 saying `charset`.
fn with_charset(body: &str, charset: Charset) -> String {
    let (msh, rest) = match body.find('\r') {
        Some(i) => body.split_at(i),
        None => (body, ""),
    };
    if !msh.starts_with("MSH") {
        return body.to_string();
    }
    // MSH-1 is the separator itself, so MSH-n is the n-1th piece after splitting on it.
    let mut fields: Vec<String> = msh.split('|').map(str::to_string).collect();
    if fields.len() < 20 {
        fields.resize(20, String::new());
    }
    fields[17] = charset.msh18().to_string();
    fields[19] = charset.msh20().to_string();
    while fields.len() > 12 && fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    format!("{}{rest}", fields.join("|"))
}

fn encode_iso2022jp(body: &str) -> (Vec<u8>, Vec<(char, String)>) {
    let widened;
    let body = if body.chars().any(|c| matches!(c, '\u{FF61}'..='\u{FF9F}' | '\u{3099}' | '\u{309A}')) {
        widened = crate::domain::kana::widen_half_width_kana(body);
        widened.as_str()
    } else {
        body
    };
    let bytes = body.as_bytes();
    let mut w = Writer { out: Vec::with_capacity(bytes.len() + bytes.len() / 4), in_jis: false };
    let mut substituted: Vec<(char, String)> = Vec::new();
    let mut reported = std::collections::HashSet::new();
    let mut i = 0;
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        while i < bytes.len() {
            if plain_ascii(bytes[i]) {
                let start = i;
                while i < bytes.len() && plain_ascii(bytes[i]) {
                    i += 1;
                }
                w.ascii(&bytes[start..i]);
                continue;
            }
            let Some(c) = body[i..].chars().next() else { break };
            i += c.len_utf8();
            let mapping = cache.entry(c).or_insert_with(|| map_char(c));
            for unit in &mapping.units {
                match *unit {
                    Unit::Ascii(b) => w.ascii(&[b]),
                    Unit::Jis(hi, lo) => w.jis(hi, lo),
                }
            }
            if let Some(shown) = &mapping.reported
                && reported.insert(c)
            {
                substituted.push((c, shown.clone()));
            }
        }
    });
    // A message ends in ASCII (RFC 1468), so the next one starts in a known state.
    w.ascii(&[]);
    (w.out, substituted)
}

/// Decodes received bytes (an ACK comes in ISO-2022-JP or UTF-8): MSH-18 decides when it names
/// UTF-8, else escape sequences mean ISO-2022-JP. JIS cells come back under the code points JIS
/// names them with (〜 U+301C, not WHATWG's U+FF5E), as a strict JIS decoder returns them.
pub fn decode(bytes: &[u8]) -> String {
    let head_len = bytes.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_len]);
    let says_utf8 = head.split('|').nth(17).is_some_and(|f| f.to_ascii_uppercase().contains("UTF-8"));
    if !says_utf8 && bytes.contains(&0x1B) {
        let (text, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(bytes);
        return text
            .chars()
            .map(|c| match c {
                '\u{FF5E}' => '\u{301C}',
                '\u{2225}' => '\u{2016}',
                '\u{FF0D}' => '\u{2212}',
                '\u{FFE0}' => '\u{00A2}',
                '\u{FFE1}' => '\u{00A3}',
                '\u{FFE2}' => '\u{00AC}',
                other => other,
            })
            .collect();
    }
    let (text, _) = encoding_rs::UTF_8.decode_without_bom_handling(bytes);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSH: &str = "MSH|^~\\&|KAMIKARTE|1312345678|EHR|HOSP|20261105093000+0900||ADT^A04^ADT_A01|K1|P|2.5|||||JPN|~ISO IR87||ISO 2022-1994";

    fn jis(text: &str) -> (Vec<u8>, Vec<(char, String)>) {
        encode(text, Charset::Iso2022Jp)
    }

    #[test]
    fn ascii_passes_through_unchanged() {
        let (bytes, subs) = jis("PID|1||A-001^^^^PI\r");
        assert_eq!(bytes, b"PID|1||A-001^^^^PI\r");
        assert!(subs.is_empty());
    }

    #[test]
    fn kanji_and_kana_are_jis_x_0208_runs_that_end_in_ascii() {
        let (bytes, subs) = jis("PID|山田^太郎~ヤマダ^タロウ\r");
        assert!(subs.is_empty());
        assert_eq!(&bytes[..4], b"PID|");
        assert_eq!(&bytes[4..7], b"\x1B$B");
        assert!(bytes.ends_with(b"\x1B(B\r"));
        assert_eq!(decode(&bytes), "PID|山田^太郎~ヤマダ^タロウ\r");
    }

    #[test]
    fn whatwg_names_of_jis_cells_encode_to_the_jis_bytes_without_a_report() {
        let (bytes, subs) = jis("〜‖¢£¬—¥‾～−");
        assert!(subs.is_empty(), "{subs:?}");
        assert!(!bytes.windows(3).any(|w| w == b"\x1B(J"), "never JIS-Roman");
        // Row 1 cells 33, 34, 81, 82; row 2 cell 44; 1-29; 1-79; 1-17; 1-33 again; 1-61.
        let expected: &[u8] =
            b"\x1B$B\x21\x41\x21\x42\x21\x71\x21\x72\x22\x4C\x21\x3D\x21\x6F\x21\x31\x21\x41\x21\x5D\x1B(B";
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes), "〜‖¢£¬―￥￣〜−");
    }

    #[test]
    fn vendor_characters_become_their_jis_forms_and_are_reported() {
        let (bytes, subs) = jis("髙橋 﨑 德 \u{FA10} 𠮷 ①⑳ Ⅲ ⅳ ㈱ ㍻ ㎝ №");
        assert_eq!(decode(&bytes), "高橋 崎 徳 塚 吉 (1)(20) III iv (株) 平成 cm No.");
        let reported: Vec<char> = subs.iter().map(|(c, _)| *c).collect();
        assert_eq!(reported, vec!['髙', '﨑', '德', '𠮷', '①', '⑳', 'Ⅲ', 'ⅳ', '㈱', '㍻', '㎝', '№']);
        assert!(subs.contains(&('㈱', "(株)".to_string())));
    }

    #[test]
    fn every_emitted_two_byte_code_is_in_the_jis_x_0208_rows() {
        // Every block with JIS X 0208 or vendor characters, and some beyond them.
        let blocks = [
            0x80..0x250,
            0x370..0x460,
            0x2000..0x2700,
            0x3000..0x3400,
            0x4E00..0x5400,
            0x9F00..0xA000,
            0xF900..0xFB00,
            0xFF00..0xFFF0,
            0x20B00..0x20C00,
        ];
        let sample: String = blocks.into_iter().flatten().filter_map(char::from_u32).collect();
        let (bytes, _) = jis(&sample);
        let mut in_jis = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i..] {
                [0x1B, b'$', b'B', ..] => (in_jis, i) = (true, i + 3),
                [0x1B, b'(', b'B', ..] => (in_jis, i) = (false, i + 3),
                [0x1B, ..] => panic!("unexpected escape at {i}"),
                [hi, _, ..] if in_jis => {
                    let row = hi.wrapping_sub(0x20);
                    assert!((1..=8).contains(&row) || (16..=84).contains(&row), "row {row} at {i}");
                    i += 2;
                }
                [b, ..] => {
                    assert!(b < 0x80 && !in_jis, "byte {b:#x} at {i}");
                    i += 1;
                }
                [] => break,
            }
        }
        assert!(!in_jis);
    }

    #[test]
    fn unencodable_characters_become_geta_and_are_reported_once() {
        let (bytes, subs) = jis("café é ∮ \u{1B}");
        assert_eq!(decode(&bytes), "caf〓 〓 〓 〓");
        assert_eq!(
            subs,
            vec![('é', "〓".to_string()), ('∮', "〓".to_string()), ('\u{1B}', "〓".to_string())]
        );
    }

    #[test]
    fn half_width_katakana_are_widened_with_their_voiced_marks() {
        let (bytes, subs) = jis("ﾔﾏﾀﾞ ﾀﾛｳ ﾊﾟﾝ");
        assert!(subs.is_empty());
        assert_eq!(decode(&bytes), "ヤマダ タロウ パン");
    }

    #[test]
    fn utf8_rewrites_msh_18_and_20_and_keeps_every_character() {
        let body = format!("{MSH}\rPID|1||X||髙橋^①\r");
        let (bytes, subs) = encode(&body, Charset::Utf8);
        assert!(subs.is_empty());
        let text = String::from_utf8(bytes).unwrap_or_default();
        let msh: Vec<&str> = text.split('\r').next().unwrap_or_default().split('|').collect();
        assert_eq!(msh[17], "UNICODE UTF-8");
        assert_eq!(msh.get(19).copied().unwrap_or(""), "");
        assert!(text.contains("PID|1||X||髙橋^①\r"));
    }

    #[test]
    fn decode_follows_msh_18_and_the_escape_sequences() {
        let body = format!("{MSH}\rMSA|AA|K1|受信しました\r");
        let (jis_bytes, _) = jis(&body);
        assert_eq!(decode(&jis_bytes), body);
        let (utf8, _) = encode(&body, Charset::Utf8);
        assert!(decode(&utf8).contains("MSA|AA|K1|受信しました"));
    }
}
