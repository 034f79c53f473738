//! Census files come as UTF-8 (with or without BOM) or as Shift_JIS / CP932 from older EHRs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8 (or start with a BOM), CP932 otherwise.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    #[serde(rename = "UTF-8")]
    Utf8,
    /// Windows' Shift_JIS, as Japanese EHRs write it.
    #[value(name = "cp932", alias = "shift_jis", alias = "sjis", alias = "shift-jis")]
    #[serde(rename = "CP932")]
    Cp932,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "UTF-8",
            Encoding::Cp932 => "CP932",
        })
    }
}

/// A byte sequence the encoding cannot read, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub encoding: Encoding,
    pub line: usize,
}

/// Decodes the whole file, returning the text and the encoding actually used.
pub fn decode(bytes: &[u8], wanted: Encoding) -> Result<(String, Encoding), DecodeError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF");
    match wanted {
        Encoding::Utf8 => decode_utf8(body.unwrap_or(bytes)),
        Encoding::Cp932 => decode_cp932(bytes),
        Encoding::Auto => match body {
            Some(body) => decode_utf8(body),
            None => decode_utf8(bytes).or_else(|_| decode_cp932(bytes)),
        },
    }
}

fn decode_utf8(bytes: &[u8]) -> Result<(String, Encoding), DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_string(), Encoding::Utf8)),
        Err(e) => Err(DecodeError { encoding: Encoding::Utf8, line: line_of(bytes, e.valid_up_to()) }),
    }
}

fn decode_cp932(bytes: &[u8]) -> Result<(String, Encoding), DecodeError> {
    // encoding_rs's Shift_JIS is the WHATWG one, which is CP932 (NEC and IBM extensions included).
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        let line = text.lines().position(|l| l.contains('\u{FFFD}')).map_or(1, |i| i + 1);
        return Err(DecodeError { encoding: Encoding::Cp932, line });
    }
    Ok((text.into_owned(), Encoding::Cp932))
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp932(text: &str) -> Vec<u8> {
        encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
    }

    #[test]
    fn utf8_with_and_without_bom_is_detected() {
        let (t, e) = decode("\u{FEFF}患者ID\n".as_bytes(), Encoding::Auto).unwrap();
        assert_eq!((t.as_str(), e), ("患者ID\n", Encoding::Utf8));
        let (t, e) = decode("患者ID\n".as_bytes(), Encoding::Auto).unwrap();
        assert_eq!((t.as_str(), e), ("患者ID\n", Encoding::Utf8));
    }

    #[test]
    fn cp932_with_half_width_kana_and_nec_specials_is_detected() {
        let (t, e) = decode(&cp932("ﾔﾏﾀﾞ,①髙\n"), Encoding::Auto).unwrap();
        assert_eq!((t.as_str(), e), ("ﾔﾏﾀﾞ,①髙\n", Encoding::Cp932));
    }

    #[test]
    fn forcing_utf8_on_cp932_names_the_bad_line() {
        let bytes = cp932("id\n1\n山田\n");
        assert_eq!(decode(&bytes, Encoding::Utf8).unwrap_err().line, 3);
    }

    #[test]
    fn bytes_that_are_neither_name_the_line() {
        let bytes = b"id\nok\n\x81\x20bad\n";
        let err = decode(bytes, Encoding::Auto).unwrap_err();
        assert_eq!(err, DecodeError { encoding: Encoding::Cp932, line: 3 });
    }
}
