//! Writing ER7 (HL7's pipe-and-hat text): escaping data, segments with numbered fields,
//! components, times, and the segments every message shares (MSH, EVN, PID, PV1).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::Hl7Context;
use crate::domain::paper_time::japan_time;
use crate::domain::staff::{StaffMember, Written, split_name, without_title};
use crate::handoff::PatientFacts;

/// Namespace of the placer numbers and document numbers this program assigns.
pub const NAMESPACE: &str = "KAMIKARTE";

/// Escapes data for any field: the delimiters become `\F\ \S\ \T\ \R\ \E\`, and a line break
/// (CR, LF or CRLF) `\.br\`, so no data can end a segment.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\.br\\");
            }
            other => out.push(other),
        }
    }
    out
}

/// Already-escaped parts joined by `sep`, without trailing empty parts.
pub fn join(sep: char, parts: &[String]) -> String {
    let used = parts.iter().rposition(|p| !p.is_empty()).map_or(0, |i| i + 1);
    let mut out = String::new();
    for (i, p) in parts[..used].iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(p);
    }
    out
}

/// Data as components (`a^b^c`), each escaped.
pub fn comps(parts: &[&str]) -> String {
    join('^', &parts.iter().map(|p| esc(p)).collect::<Vec<_>>())
}

/// Data as subcomponents (`a&b&c`), each escaped.
pub fn subs(parts: &[&str]) -> String {
    join('&', &parts.iter().map(|p| esc(p)).collect::<Vec<_>>())
}

/// A coded element: code, text, coding system (CE/CWE).
pub fn coded(code: &str, text: &str, system: &str) -> String {
    comps(&[code, text, system])
}

/// XCN-15, how the name is written: `I` ideographic (kanji), `P` phonetic (kana), `A` alphabetic.
fn representation(name: &str) -> &'static str {
    if name.chars().any(|c| matches!(c as u32, 0x3400..=0x9FFF | 0xF900..=0xFAFF)) {
        "I"
    } else if name.is_ascii() {
        "A"
    } else {
        "P"
    }
}

/// XCN: an ID (empty when none is known), family and given name (split at the first space of
/// either width), name type `L` and its representation, as JAHIS writes staff
/// (`110^医師^一郎^^^^^^^L^^^^^I`).
fn xcn(id: &str, name: &str) -> String {
    let (family, given) = split_name(name);
    let kind = if family.is_empty() { "" } else { "L" };
    let written = if family.is_empty() { "" } else { representation(name) };
    comps(&[id, family, given, "", "", "", "", "", "", kind, "", "", "", "", written])
}

/// A person who signed, as PPN (TXA-22): XCN's first 14 components, then when they signed
/// (component 15), then the name's representation (16).
pub fn signer(name: &str, at: Option<&str>) -> String {
    let name = without_title(name);
    let (family, given) = split_name(&name);
    let written = if family.is_empty() { "" } else { representation(&name) };
    let kind = if family.is_empty() { "" } else { "L" };
    let mut parts = vec!["", family, given, "", "", "", "", "", "", kind, "", "", "", ""];
    parts.push(at.unwrap_or(""));
    parts.push(written);
    comps(&parts)
}

/// A person written by name on paper (XCN with no ID), the title (医師, 先生 …) taken off.
pub fn person(name: &str) -> String {
    xcn("", &without_title(name))
}

/// Someone the EHR knows: their staff code and name.
pub fn staff(member: &StaffMember) -> String {
    xcn(&member.code, &member.name)
}

/// A user of this program as the EHR knows them: the staff master's code and name. The
/// hand-off refuses to run while a user it would name has no staff code (`run`), so the login
/// stands in only for callers that build messages without that check (tests).
pub fn user(login: &str, ctx: &Hl7Context) -> String {
    match ctx.staff.user(login) {
        Some(member) => staff(member),
        None => comps(&[login]),
    }
}

/// A doctor as written on the paper: coded from the doctors master when it knows them (by
/// name, reading, or a family name one doctor of the paper's department has), else the name.
pub fn doctor(written: &str, department: Option<&str>, ctx: &Hl7Context) -> String {
    let mut departments: Vec<&str> = department.into_iter().collect();
    if let Some(code) = department.and_then(|d| ctx.departments.get(d.trim())) {
        departments.push(code);
    }
    match ctx.staff.doctor(written, &departments) {
        Written::Known(member) => staff(&member),
        Written::Unknown(name) => xcn("", &name),
    }
}

/// An entity identifier in this program's namespace (EI).
pub fn placer(id: &str) -> String {
    comps(&[id, NAMESPACE])
}

/// One segment, fields numbered as the standard numbers them.
pub struct Seg {
    id: &'static str,
    fields: Vec<String>,
}

impl Seg {
    pub fn new(id: &'static str) -> Self {
        Seg { id, fields: Vec::new() }
    }

    /// Sets field `n` to ER7 text that is already escaped and composed.
    pub fn raw(mut self, n: usize, value: impl Into<String>) -> Self {
        if n == 0 {
            return self;
        }
        if self.fields.len() < n {
            self.fields.resize(n, String::new());
        }
        self.fields[n - 1] = value.into();
        self
    }

    /// Sets field `n` to data, escaped.
    pub fn text(self, n: usize, value: &str) -> Self {
        self.raw(n, esc(value))
    }

    /// Sets field `n` only when there is a value.
    pub fn opt(self, n: usize, value: Option<String>) -> Self {
        match value {
            Some(v) => self.raw(n, v),
            None => self,
        }
    }

    pub fn render(&self) -> String {
        let used = self.fields.iter().rposition(|f| !f.is_empty()).map_or(0, |i| i + 1);
        let mut out = String::from(self.id);
        // MSH-1 is the field separator itself: MSH's first stored field is MSH-2.
        let skip = usize::from(self.id == "MSH");
        for f in &self.fields[skip.min(used)..used] {
            out.push('|');
            out.push_str(f);
        }
        if self.id == "MSH" && used == 0 {
            out.push('|');
        }
        out
    }
}

/// Segments joined as a message body: each ends in `\r`.
pub fn body(segments: &[Seg]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push_str(&s.render());
        out.push('\r');
    }
    out
}

/// A moment as HL7 writes it, in Japan time: `YYYYMMDDHHMMSS+0900`.
pub fn ts(at: DateTime<Utc>) -> String {
    at.with_timezone(&japan_time()).format("%Y%m%d%H%M%S%z").to_string()
}

/// The message's own time (MSH-7) as SS-MIX2 names its file: Japan time to the millisecond,
/// `YYYYMMDDHHMMSS.fff`, without an offset (the storage's 17-digit file-name timestamp is this
/// with the dot taken out, so a file's name can be checked against its message).
pub fn message_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&japan_time()).format("%Y%m%d%H%M%S%.3f").to_string()
}

/// A stamp this program wrote (RFC 3339, UTC) in Japan time; a paper time is passed on.
pub fn stamp(text: &str) -> Option<String> {
    match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(at) => Some(ts(at.with_timezone(&Utc))),
        Err(_) => paper(text),
    }
}

/// A time as the paper says it (`YYYY-MM-DDTHH:MM` or `YYYY-MM-DD`): local wall-clock time,
/// written without an offset at the precision the paper has (`YYYYMMDDHHMM`, `YYYYMMDD`).
pub fn paper(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Some(at.format("%Y%m%d%H%M").to_string());
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(at.format("%Y%m%d%H%M%S").to_string());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.format("%Y%m%d").to_string())
}

/// A paper date and an optional paper time (`HH:MM`) on it.
pub fn paper_at(date: Option<&str>, time: Option<&str>) -> Option<String> {
    let date = date?;
    match time {
        Some(t) if !t.trim().is_empty() => {
            paper(&format!("{}T{}", date.trim(), t.trim())).or_else(|| paper(date))
        }
        _ => paper(date),
    }
}

/// A number as HL7 NM: no exponent, no trailing `.0`.
pub fn num(v: f64) -> String {
    crate::form::view::number_text(v)
}

/// An amount written on paper as HL7 NM and its unit (`domain::dose::split_amount`).
pub fn amount(text: &str) -> Option<(String, String)> {
    crate::domain::dose::split_amount(text).map(|(n, unit)| (num(n), unit))
}

/// MSH for `message_type` (`ADT^A04^ADT_A01`), ISO-2022-JP as JAHIS sends it.
pub fn msh(ctx: &Hl7Context, message_type: &str, control_id: &str) -> Seg {
    Seg::new("MSH")
        .raw(2, "^~\\&")
        .text(3, "KAMIKARTE")
        .text(4, ctx.sending_facility)
        .text(5, ctx.receiving_application)
        .text(6, ctx.receiving_facility)
        .raw(7, message_time(ctx.now))
        .raw(9, message_type)
        .text(10, control_id)
        .raw(11, "P")
        .raw(12, "2.5")
        .raw(17, "JPN")
        .raw(18, super::charset::Charset::Iso2022Jp.msh18())
        .raw(20, super::charset::Charset::Iso2022Jp.msh20())
}

/// EVN: the event code, when it was recorded, and by whom.
pub fn evn(event: &str, recorded: Option<String>, operator: Option<&str>, ctx: &Hl7Context) -> Seg {
    Seg::new("EVN")
        .raw(1, event)
        .raw(2, recorded.unwrap_or_else(|| ts(ctx.now)))
        .opt(5, operator.filter(|o| !o.is_empty()).map(|o| user(o, ctx)))
}

/// PID: the identifier messages carry (`PI`), the downtime ID beside it (`PT`) once it is not
/// that identifier any more, the kanji name (`I`) then the kana (`P`), birth date and sex.
pub fn pid(p: &PatientFacts, with_downtime_id: bool) -> Seg {
    let mut ids = vec![comps(&[&p.id, "", "", "", "PI"])];
    if with_downtime_id && let Some(dt) = p.downtime_id.as_deref().filter(|d| *d != p.id && !d.is_empty()) {
        ids.push(comps(&[dt, "", "", "", "PT"]));
    }
    let mut names = Vec::new();
    if p.ideographic_name().is_some() {
        let (family, given) = p.name_parts();
        names.push(comps(&[&family, &given, "", "", "", "", "L", "I"]));
    }
    let (kana_family, kana_given) = p.kana_parts();
    if !kana_family.is_empty() {
        names.push(comps(&[&kana_family, &kana_given, "", "", "", "", "L", "P"]));
    }
    Seg::new("PID")
        .raw(1, "1")
        .raw(3, ids.join("~"))
        .raw(5, names.join("~"))
        .opt(7, paper(&p.dob).filter(|d| d.len() == 8))
        .text(8, &p.sex)
}

/// PV1: inpatient or outpatient, and where the patient lies.
pub fn pv1(p: &PatientFacts, outpatient: bool) -> Seg {
    Seg::new("PV1")
        .raw(1, "1")
        .raw(2, if outpatient { "O" } else { "I" })
        .raw(3, comps(&[&p.ward, &p.room, &p.bed]))
        .text(10, p.department_code.as_deref().unwrap_or(&p.department))
}

/// PV1 of a visit that began at `admitted` (PV1-44, what SS-MIX2 dates an ADT-12 visit by).
pub fn pv1_visit(p: &PatientFacts, outpatient: bool, admitted: Option<String>) -> Seg {
    pv1(p, outpatient).opt(44, admitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_line_breaks_in_data_are_escaped() {
        assert_eq!(esc("a|b^c&d~e\\f"), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
        assert_eq!(esc("一行目\r\n二行目\n三"), "一行目\\.br\\二行目\\.br\\三");
    }

    #[test]
    fn trailing_empty_fields_and_components_are_left_off() {
        let seg = Seg::new("OBX").raw(1, "1").raw(3, comps(&["8310-5", "体温", "LN", "", ""])).raw(9, "");
        assert_eq!(seg.render(), "OBX|1||8310-5^体温^LN");
        let msh = Seg::new("MSH").raw(2, "^~\\&").raw(3, "KAMIKARTE");
        assert_eq!(msh.render(), "MSH|^~\\&|KAMIKARTE");
    }

    #[test]
    fn paper_times_keep_their_precision_and_stamps_turn_to_japan_time() {
        assert_eq!(paper("2026-11-05T09:30").as_deref(), Some("202611050930"));
        assert_eq!(paper("2026-11-05").as_deref(), Some("20261105"));
        assert_eq!(paper("5 Nov"), None);
        assert_eq!(paper_at(Some("2026-11-05"), Some("06:00")).as_deref(), Some("202611050600"));
        assert_eq!(stamp("2026-11-05T00:30:12.345Z").as_deref(), Some("20261105093012+0900"));
    }

    #[test]
    fn amounts_written_on_paper_split_into_number_and_unit() {
        assert_eq!(amount("1錠"), Some(("1".into(), "錠".into())));
        assert_eq!(amount("０．５ g"), Some(("0.5".into(), "g".into())));
        assert_eq!(amount("適量"), None);
        assert_eq!(num(36.8), "36.8");
        assert_eq!(num(72.0), "72");
    }
}
