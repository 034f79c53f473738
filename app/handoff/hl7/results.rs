//! What was observed and written: vital signs (ORU^R01), progress notes and scanned pages as
//! documents (MDM^T02, or T10 when it replaces a delivered version).

use super::er7::{self, Seg, join};
use super::paper::{Paper, value_text};
use super::{Draft, Hl7Context, Hl7Error};
use crate::form::view::row_of;
use crate::form::{ExportKey, keys};
use crate::handoff::{HandoffItem, Page};

/// LOINC 85353-1: the vital-signs panel each round is reported under.
const VITALS_PANEL: (&str, &str) = ("85353-1", "バイタルサイン");
const FORM_ITEMS: &str = "99KKF";

/// The LOINC codes the shipped vital-sign sheet uses, their Japanese names and the JLAC10 code
/// SS-MIX2 implementers file vital signs under (the national hospital organisation's SS-MIX2
/// specification: coding system `JC10`). OBX-3 carries the JLAC10 code first and the LOINC
/// code as the alternate, so a receiver keyed to either finds it; a code not listed here is
/// sent as LOINC alone with its field's label.
const VITAL_CODES: [(&str, &str, &str); 6] = [
    ("8310-5", "体温", "9P100000000000001"),
    ("8867-4", "脈拍数", "9P300000000000001"),
    ("8480-6", "収縮期血圧", "9A751000000000001"),
    ("8462-4", "拡張期血圧", "9A761000000000001"),
    ("9279-1", "呼吸数", "9P200000000000001"),
    ("59408-5", "SpO2", "3H065000000000001"),
];

fn result_status(update: bool) -> &'static str {
    if update { "C" } else { "F" }
}

/// ORU^R01: for each round, ORC and OBR (the round's time in OBR-7), its note, and one NM OBX
/// per value with the JLAC10 and LOINC codes of its export key; the page's own values (intake and output)
/// under one more OBR.
pub fn vitals(item: &HandoffItem, paper: &Paper, update: bool, ctx: &Hl7Context) -> Vec<Draft> {
    let observer = paper.text(&keys::OBSERVER, "").map(|s| er7::person(&s));
    let status = result_status(update);
    let mut rows: Vec<(u32, String)> = paper
        .form
        .fields
        .iter()
        .filter(|f| f.export.as_ref().and_then(ExportKey::loinc).is_some())
        .filter(|f| paper.value(f).and_then(value_text).is_some())
        .map(|f| row_of(&f.key).to_string())
        .map(|r| (r.parse().unwrap_or(u32::MAX), r))
        .collect();
    rows.sort();
    rows.dedup();
    let mut segs = vec![er7::pid(&item.patient, true), er7::pv1(&item.patient, item.patient.outpatient)];
    let mut set = 0;
    let mut order = |segs: &mut Vec<Seg>, key: &str, at: Option<String>| {
        set += 1;
        let placer =
            if key.is_empty() { paper.item().to_string() } else { format!("{}-{key}", paper.item()) };
        let k = paper.keyed;
        segs.push(
            Seg::new("ORC")
                .raw(1, "RE")
                .raw(2, er7::placer(&placer))
                .raw(4, er7::placer(paper.item()))
                .opt(9, paper.event())
                .opt(10, Some(k.entered_by.as_str()).filter(|s| !s.is_empty()).map(|u| er7::user(u, ctx)))
                .opt(11, k.verified_by.as_deref().filter(|s| !s.is_empty()).map(|u| er7::user(u, ctx))),
        );
        segs.push(
            Seg::new("OBR")
                .raw(1, set.to_string())
                .raw(2, er7::placer(&placer))
                .raw(4, er7::coded(VITALS_PANEL.0, VITALS_PANEL.1, "LN"))
                .opt(7, at),
        );
    };
    for (_, row) in &rows {
        let at = paper.row_at(row);
        order(&mut segs, row, at.clone());
        if let Some(memo) = paper.text(&keys::COMMENT, row) {
            segs.push(Seg::new("NTE").raw(1, "1").text(3, &memo));
        }
        let mut n = 0;
        for field in paper.form.fields.iter().filter(|f| row_of(&f.key) == row) {
            let Some(loinc) = field.export.as_ref().and_then(ExportKey::loinc) else {
                continue;
            };
            let Some(value) = paper.value(field).and_then(value_text) else { continue };
            let unit = match &field.kind {
                crate::form::FieldType::Number { unit: Some(u), .. } => er7::coded(u, u, "UCUM"),
                _ => String::new(),
            };
            n += 1;
            segs.push(
                Seg::new("OBX")
                    .raw(1, n.to_string())
                    .raw(2, "NM")
                    .raw(3, vital_code(loinc, field))
                    .text(5, &value)
                    .raw(6, unit)
                    .raw(11, status)
                    .opt(14, at.clone())
                    .opt(16, observer.clone()),
            );
        }
    }
    let page_values: Vec<(String, String)> = paper
        .fields(&keys::OBSERVATION, "")
        .filter_map(|f| Some((f.key.clone(), Paper::short_label(f), paper.value(f).and_then(value_text)?)))
        .map(|(key, label, value)| (er7::coded(&key, &label, FORM_ITEMS), value))
        .collect();
    if !page_values.is_empty() {
        let at = paper.event();
        order(&mut segs, "", at.clone());
        for (i, (code, value)) in page_values.into_iter().enumerate() {
            segs.push(
                Seg::new("OBX")
                    .raw(1, (i + 1).to_string())
                    .raw(2, "ST")
                    .raw(3, code)
                    .text(5, &value)
                    .raw(11, status)
                    .opt(14, at.clone())
                    .opt(16, observer.clone()),
            );
        }
    }
    if set == 0 {
        return Vec::new();
    }
    vec![Draft::new("ORU^R01^ORU_R01", segs)]
}

/// OBX-3 of a vital sign: `JLAC10^name^JC10^LOINC^name^LN`, or the LOINC code alone.
fn vital_code(loinc: &str, field: &crate::form::FieldDef) -> String {
    match VITAL_CODES.iter().find(|(c, _, _)| *c == loinc) {
        Some((_, name, jlac10)) => {
            format!("{}^{}", er7::coded(jlac10, name, "JC10"), er7::coded(loinc, name, "LN"))
        }
        None => er7::coded(loinc, &Paper::short_label(field), "LN"),
    }
}

fn document_number(base: &str, version: u32) -> String {
    er7::placer(&format!("{base}.{version}"))
}

/// TXA-1..TXA-22 common to notes and pages.
struct Document<'a> {
    kind: &'static str,
    presentation: &'static str,
    at: Option<String>,
    author: Option<String>,
    transcriptionist: Option<String>,
    number_base: String,
    version: u32,
    update: bool,
    item: &'a str,
    authenticated: bool,
    authenticator: Option<String>,
}

fn txa(d: &Document) -> Seg {
    Seg::new("TXA")
        .raw(1, "1")
        .raw(2, d.kind)
        .raw(3, d.presentation)
        .opt(4, d.at.clone())
        .opt(5, d.author.clone())
        .opt(6, d.at.clone())
        .opt(9, d.author.clone())
        .opt(11, d.transcriptionist.clone())
        .raw(12, document_number(&d.number_base, d.version))
        .opt(13, (d.update && d.version > 1).then(|| document_number(&d.number_base, d.version - 1)))
        .raw(14, er7::placer(d.item))
        .raw(17, if d.authenticated { "AU" } else { "DO" })
        .raw(19, "AV")
        .opt(22, d.authenticator.clone())
}

fn mdm_structure(update: bool) -> (&'static str, &'static str) {
    if update { ("T10", "MDM^T10^MDM_T02") } else { ("T02", "MDM^T02^MDM_T02") }
}

/// MDM: a progress note typed from handwriting. TXA-5/9 the writer (their profession as XCN-21,
/// the professional suffix), TXA-11 the clerk who typed it (the transcriptionist), TXA-17 `AU`
/// once verified, TXA-22 who signed the paper; one TX OBX per line.
pub fn note(item: &HandoffItem, paper: &Paper, version: u32, update: bool, ctx: &Hl7Context) -> Vec<Draft> {
    let k = paper.keyed;
    let profession = paper.nth_text(&keys::NOTE_AUTHOR, 1);
    let author = paper.nth_text(&keys::NOTE_AUTHOR, 0).map(|name| {
        // A doctor's note names the doctor as the EHR knows them (the doctors master).
        let mut xcn = match profession.as_deref() {
            Some("医師") => er7::doctor(&name, None, ctx),
            _ => er7::person(&name),
        };
        if let Some(profession) = &profession {
            let mut parts: Vec<String> = xcn.split('^').map(str::to_string).collect();
            parts.resize(20, String::new());
            parts.push(er7::esc(profession));
            xcn = join('^', &parts);
        }
        xcn
    });
    let (event, structure) = mdm_structure(update);
    let doc = Document {
        kind: "PN",
        presentation: "TX",
        at: paper.event(),
        author,
        transcriptionist: Some(k.entered_by.as_str()).filter(|s| !s.is_empty()).map(|u| er7::user(u, ctx)),
        number_base: paper.item().to_string(),
        version,
        update,
        item: paper.item(),
        authenticated: k.verified_by.is_some(),
        authenticator: paper.text(&keys::NOTE_SIGNED_BY, "").map(|s| er7::signer(&s, None)),
    };
    let text = paper.text(&keys::OBSERVATION, "").unwrap_or_default();
    let mut segs = vec![
        er7::evn(event, er7::stamp(&k.entered_at), Some(&k.entered_by), ctx),
        er7::pid(&item.patient, true),
        er7::pv1(&item.patient, item.patient.outpatient),
        txa(&doc),
    ];
    let code = er7::coded(paper.form.code.as_str(), &paper.form.title, FORM_ITEMS);
    let lines: Vec<&str> = text.lines().collect();
    let lines = if lines.is_empty() { vec![""] } else { lines };
    for (i, line) in lines.iter().enumerate() {
        segs.push(
            Seg::new("OBX")
                .raw(1, (i + 1).to_string())
                .raw(2, "TX")
                .raw(3, code.clone())
                .text(5, line.trim_end_matches('\r'))
                .raw(11, result_status(update)),
        );
    }
    vec![Draft::new(structure, segs)]
}

/// Standard base64 (RFC 4648, padded). Its alphabet (A–Z a–z 0–9 + / =) holds none of HL7's
/// delimiters, so the image needs no escaping.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// MDM: a scanned page as a document — TXA-2 `SCAN`, TXA-3 `IM`, and one ED OBX carrying the
/// image (`^IM^PNG^Base64^…`: table 0191's image type, table 0291's subtype) under the page's
/// form code, dated by the care on the paper (or the day it was printed), not by the scan.
pub fn page(
    item: &HandoffItem,
    page: &Page,
    version: u32,
    update: bool,
    ctx: &Hl7Context,
) -> Result<Draft, Hl7Error> {
    let image = std::fs::read(&page.image_path)
        .map_err(|e| Hl7Error::Image { path: page.image_path.clone(), message: e.to_string() })?;
    // HL7 table 0191 `IM` (image) with the table 0291 subtype, as an ED carries a picture.
    let subtype = match page.image_format.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "JPEG".to_string(),
        other => other.to_ascii_uppercase(),
    };
    let form_code = page.form_code.clone().unwrap_or_else(|| "SCAN".to_string());
    let title = ctx
        .forms
        .iter()
        .find(|f| f.code.as_str() == form_code)
        .map_or_else(|| "スキャン文書".to_string(), |f| f.title.clone());
    let (event, structure) = mdm_structure(update);
    let at = er7::stamp(page.document_time());
    let doc = Document {
        kind: "SCAN",
        presentation: "IM",
        at: at.clone(),
        author: None,
        transcriptionist: None,
        number_base: format!("{}.IMG{}", page.item, page.page_id),
        version,
        update,
        item: &page.item,
        authenticated: false,
        authenticator: None,
    };
    let ed = join(
        '^',
        &[String::new(), "IM".to_string(), er7::esc(&subtype), "Base64".to_string(), base64(&image)],
    );
    let segs = vec![
        er7::evn(event, at, None, ctx),
        er7::pid(&item.patient, true),
        er7::pv1(&item.patient, item.patient.outpatient),
        txa(&doc),
        Seg::new("OBX")
            .raw(1, "1")
            .raw(2, "ED")
            .raw(3, er7::coded(&form_code, &title, FORM_ITEMS))
            .raw(5, ed)
            .raw(11, result_status(update)),
    ];
    Ok(Draft::new(structure, segs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_has_no_hl7_delimiters() {
        let all: Vec<u8> = (0..=255).collect();
        assert!(!base64(&all).contains(['|', '^', '&', '~', '\\', '\r']));
    }
}
