//! Reading a receiver's acknowledgement (ACK): MSA and ERR, in whatever separators and
//! character set it uses, with its reason text made safe to show and store.

use super::charset;
use crate::domain::er7_read::Separators;

/// How long a reason text from the receiver may be in the report and the database.
const MAX_REASON_CHARS: usize = 1000;

/// The parts of an acknowledgement the sender acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// MSA-1: AA, AE, AR, CA, CE or CR.
    pub code: String,
    /// MSA-2: the control ID of the message acknowledged.
    pub control_id: String,
    /// MSA-3.
    pub text: Option<String>,
    /// What the ERR segments say, in order.
    pub errors: Vec<String>,
}

impl Ack {
    /// MSA-3 and the ERR texts in one line, or `None` when the receiver said nothing.
    pub fn reason(&self) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        for part in self.text.iter().chain(&self.errors) {
            if !part.is_empty() && !parts.contains(&part.as_str()) {
                parts.push(part);
            }
        }
        (!parts.is_empty()).then(|| parts.join(" / "))
    }
}

/// Reads an acknowledgement (the content of its frame). The error says what is wrong with it.
/// What is wrong with an answer that is not a usable acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("the answer is not an HL7 message (it starts with '{0}')")]
    NotHl7(String),
    #[error("the answer's MSH segment has no field separator")]
    NoSeparator,
    #[error("the answer has no MSA segment (not an acknowledgement)")]
    NoMsa,
    #[error("the acknowledgement code (MSA-1) '{0}' is not AA, AE, AR, CA, CE or CR")]
    UnknownCode(String),
    #[error("the acknowledgement names no message (MSA-2 is empty)")]
    NoControlId,
}

pub fn parse_ack(bytes: &[u8]) -> Result<Ack, AckError> {
    let text = charset::decode(bytes);
    let mut segments = text.split(['\r', '\n']).map(str::trim).filter(|s| !s.is_empty());
    let msh = segments.next().unwrap_or("");
    if !msh.starts_with("MSH") {
        let start: String = msh.chars().take(20).collect();
        return Err(AckError::NotHl7(clean(&start)));
    }
    let Some(field_sep) = msh.chars().nth(3).filter(|c| !c.is_alphanumeric() && !c.is_whitespace()) else {
        return Err(AckError::NoSeparator);
    };
    let encoding: Vec<char> = msh.split(field_sep).nth(1).unwrap_or("").chars().collect();
    let seps = Separators {
        field: field_sep,
        component: encoding.first().copied().unwrap_or('^'),
        repetition: encoding.get(1).copied().unwrap_or('~'),
        escape: encoding.get(2).copied().unwrap_or('\\'),
        subcomponent: encoding.get(3).copied().unwrap_or('&'),
    };
    let mut msa = None;
    let mut errors = Vec::new();
    for segment in segments {
        let fields: Vec<&str> = segment.split(seps.field).collect();
        match fields.first().copied().unwrap_or("") {
            "MSA" if msa.is_none() => msa = Some(fields),
            "ERR" => errors.extend(err_text(&fields, &seps)),
            _ => {}
        }
    }
    let Some(msa) = msa else {
        return Err(AckError::NoMsa);
    };
    let field = |i: usize| msa.get(i).copied().unwrap_or("");
    let code = field(1).split(seps.component).next().unwrap_or("").trim().to_ascii_uppercase();
    if !matches!(code.as_str(), "AA" | "AE" | "AR" | "CA" | "CE" | "CR") {
        return Err(AckError::UnknownCode(clean(&code)));
    }
    let control_id = unescape(field(2).trim(), &seps);
    if control_id.is_empty() {
        return Err(AckError::NoControlId);
    }
    let text = Some(clean(&unescape(field(3), &seps))).filter(|t| !t.is_empty());
    Ok(Ack { code, control_id, text, errors })
}

/// The readable text of an ERR segment: v2.5's user message (ERR-8), diagnostics (ERR-7) and
/// error code text (ERR-3), or the older ERR-1's code text.
fn err_text(fields: &[&str], seps: &Separators) -> Vec<String> {
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let component = |value: &str, i: usize| value.split(seps.component).nth(i).unwrap_or("").to_string();
    let mut out = Vec::new();
    for value in [field(8), field(7)] {
        for repeat in value.split(seps.repetition) {
            out.push(repeat.to_string());
        }
    }
    let code = field(3);
    let code_text = component(code, 1);
    out.push(if code_text.is_empty() { component(code, 0) } else { code_text });
    // ERR-1 (before v2.5): segment^sequence^field^code&text&system.
    let old = component(field(1), 3);
    let mut old = old.split(seps.subcomponent);
    let (old_code, old_text) = (old.next().unwrap_or(""), old.next().unwrap_or(""));
    out.push(if old_text.is_empty() { old_code.to_string() } else { old_text.to_string() });
    out.into_iter().map(|t| clean(&unescape(&t, seps))).filter(|t| !t.is_empty()).collect()
}

/// HL7's escapes undone, as every message kamikarte reads (`domain::er7_read`).
fn unescape(value: &str, seps: &Separators) -> String {
    seps.unescape(value)
}

/// A receiver's text as it may be shown and stored: no control characters (they could rewrite
/// a terminal line), bounded in length.
pub(crate) fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON_CHARS)
        .collect::<String>()
        .trim()
        .to_string();
    if text.chars().count() > MAX_REASON_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::charset::Charset;
    use super::*;

    fn ack(segments: &[&str]) -> Vec<u8> {
        segments.join("\r").into_bytes()
    }

    #[test]
    fn an_aa_acknowledgement_names_its_message() {
        let a = parse_ack(&ack(&["MSH|^~\\&|EHR|H|KK|H|20261122||ACK^P03^ACK|A1|P|2.5", "MSA|AA|K0001"]))
            .unwrap();
        assert_eq!(a.code, "AA");
        assert_eq!(a.control_id, "K0001");
        assert_eq!(a.reason(), None);
    }

    #[test]
    fn an_ar_acknowledgement_gives_msa3_and_err_text_as_its_reason() {
        let a = parse_ack(&ack(&[
            "MSH|^~\\&|EHR|H|KK|H|20261122||ACK^P03^ACK|A1|P|2.5",
            "MSA|AR|K0004|Unknown patient",
            "ERR|||204^Unknown key identifier^HL70357|E||||患者 P1 \\T\\ 記録なし",
        ]))
        .unwrap();
        assert_eq!(a.code, "AR");
        assert_eq!(a.control_id, "K0004");
        assert_eq!(a.reason().unwrap(), "Unknown patient / 患者 P1 & 記録なし / Unknown key identifier");
    }

    #[test]
    fn an_iso_2022_jp_acknowledgement_is_read() {
        let (bytes, _) =
            charset::encode("MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AR|K1|患者不明\r", Charset::Iso2022Jp);
        assert!(bytes.contains(&0x1B), "really ISO-2022-JP");
        assert_eq!(parse_ack(&bytes).unwrap().text.as_deref(), Some("患者不明"));
    }

    #[test]
    fn garbage_and_half_acknowledgements_are_refused_with_what_is_wrong() {
        for (bytes, expected) in [
            (&b"HTTP/1.1 400 Bad Request\r\n"[..], AckError::NotHl7(String::new())),
            (&b""[..], AckError::NotHl7(String::new())),
            (b"\xff\xfe\x00garbage", AckError::NotHl7("\u{fffd}\u{fffd} garbage".into())),
            (b"MSH|^~\\&|||||||ACK|1|P|2.5", AckError::NoMsa),
            (b"MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|OK|K1", AckError::UnknownCode("OK".into())),
            (b"MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AA|", AckError::NoControlId),
            (b"MSH", AckError::NoSeparator),
        ] {
            let err = parse_ack(bytes).unwrap_err();
            assert!(
                matches!((&err, &expected), (AckError::NotHl7(_), AckError::NotHl7(_))) || err == expected,
                "{err:?} should be {expected:?}"
            );
        }
    }

    #[test]
    fn reason_text_from_the_receiver_loses_control_characters() {
        let a = parse_ack(b"MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AE|K1|bad\x08\x07thing").unwrap();
        assert_eq!(a.text.as_deref(), Some("bad  thing"));
    }
}
