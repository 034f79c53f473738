//! What goes where on each kind of form: the A4 page (header, page barcode, fields), the
//! wristband and the label sheet. Everything a clerk needs to trust the paper is on it: the
//! hospital, the DOWNTIME mark, the patient header (blood type printed as unknown when unknown),
//! the print time and the serial.

use chrono::{DateTime, Local, NaiveDate};

use super::barcode::{QUIET_ZONE_MODULES, code128};
use super::canvas::Canvas;
use crate::domain::{PageCode, Patient, PatientId};
use crate::form::{FIELD_LABEL_MM, FieldType, FormDefinition, FormKind, Layout};

/// What is the same on every page of one kit.
#[derive(Debug, Clone)]
pub struct PrintContext {
    pub hospital: String,
    pub printed_at: DateTime<Local>,
    pub today: NaiveDate,
    /// How old the patient information is (`患者情報 2026-11-30 08:15 時点`), when it came from
    /// the SS-MIX2 snapshot: on every page, so nobody mistakes it for the EHR of this minute.
    pub snapshot: Option<String>,
    /// Each printed patient's medications, problems and results from the snapshot (by ID): the
    /// MAR's rows and the summary sheet are printed from them.
    pub clinical: std::collections::HashMap<String, crate::snapshot::ClinicalView>,
}

const DOWNTIME: &str = "DOWNTIME 紙運用";

/// Draws a barcode with its quiet zones from `x_mm` and its text below; returns its width.
fn barcode_with_text(
    c: &mut Canvas<'_>,
    text: &str,
    x_mm: f32,
    y_mm: f32,
    module_mm: f32,
    height_mm: f32,
    text_pt: f32,
) -> Result<f32, String> {
    let modules = code128(text)?;
    let quiet = QUIET_ZONE_MODULES as f32 * module_mm;
    c.bars(x_mm + quiet, y_mm, &modules, module_mm, height_mm);
    let width = modules.len() as f32 * module_mm + 2.0 * quiet;
    let text_w = c.font().width_mm(text, text_pt);
    c.text(x_mm + (width - text_w).max(0.0) / 2.0, y_mm + height_mm + text_pt * 0.4, text_pt, text);
    Ok(width)
}

fn sex_and_blood(p: &Patient) -> String {
    format!("{}  血液型 {}", p.sex.japanese(), p.blood.display())
}

fn dob_line(p: &Patient, today: NaiveDate) -> String {
    format!("{} ({}歳)", p.dob.iso(), p.dob.age_on(today))
}

/// Whom a printed page is for.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Patient(&'a Patient),
    /// A pre-printed packet (`kit --packets`): its reserved downtime ID is printed and carried
    /// by the barcodes; name, birth date and the rest are written by hand.
    Packet(&'a PatientId),
    /// A blank form: ID and all written by hand.
    Blank,
}

impl<'a> Subject<'a> {
    pub fn patient(self) -> Option<&'a Patient> {
        match self {
            Subject::Patient(p) => Some(p),
            _ => None,
        }
    }

    /// A packet's reserved ID.
    pub fn packet(self) -> Option<&'a PatientId> {
        match self {
            Subject::Packet(id) => Some(id),
            _ => None,
        }
    }

    /// The ID the page's code names.
    pub fn id(self) -> Option<&'a PatientId> {
        match self {
            Subject::Patient(p) => Some(&p.id),
            Subject::Packet(id) => Some(id),
            Subject::Blank => None,
        }
    }
}

/// One form for one patient (or a packet, or a blank one), drawn onto `c`.
pub fn render(
    c: &mut Canvas<'_>,
    form: &FormDefinition,
    subject: Subject<'_>,
    code: &PageCode,
    ctx: &PrintContext,
) -> Result<(), String> {
    match &form.layout {
        Layout::Page => page(c, form, subject.patient(), subject.packet(), code, ctx),
        Layout::Wristband => wristband(c, form, subject, code, ctx),
        Layout::Labels { .. } => labels(c, form, subject, code, ctx),
    }
}

fn page(
    c: &mut Canvas<'_>,
    form: &FormDefinition,
    patient: Option<&Patient>,
    packet: Option<&PatientId>,
    code: &PageCode,
    ctx: &PrintContext,
) -> Result<(), String> {
    let m = form.margin_mm;
    let right = form.width_mm - m;
    // The page barcode first: the header's text must leave its place free.
    let spec = form.barcode.as_ref().ok_or("a page needs a barcode")?;
    let payload = code.encode();
    let bar_w = barcode_with_text(c, &payload, spec.x_mm, spec.y_mm, spec.module_mm, spec.height_mm, 7.0)?;
    if spec.x_mm + bar_w > form.width_mm {
        return Err(format!(
            "{}: the page barcode ({bar_w:.0} mm with quiet zones) runs off the page",
            form.id
        ));
    }
    let text_right = spec.x_mm - 2.0;
    c.text_fit(m, m + 3.0, text_right - m, 9.0, 6.0, &ctx.hospital);
    c.fill_rect(m, m + 5.0, 40.0, 7.0);
    c.text_inverse(m + 1.5, m + 10.5, 10.0, DOWNTIME);
    c.text_fit(
        m + 43.0,
        m + 11.0,
        text_right - m - 43.0,
        15.0,
        8.0,
        &format!("{}  {}", form.title, form.title_en),
    );
    c.text(
        m,
        m + 16.5,
        7.0,
        &format!(
            "印刷 Printed {}   No. {}{}",
            ctx.printed_at.with_timezone(&crate::domain::paper_time::japan_time()).format("%Y-%m-%d %H:%M"),
            code.serial,
            ctx.snapshot.as_deref().map(|s| format!("   {s}")).unwrap_or_default()
        ),
    );

    // Patient header box.
    let (top, h) = (m + 19.0, 22.0);
    c.rect(m, top, right - m, h, 0.8);
    match patient {
        Some(p) => {
            c.text(m + 2.0, top + 6.0, 8.0, "ID");
            c.text(m + 8.0, top + 6.5, 13.0, p.id.as_str());
            c.text_fit(m + 45.0, top + 6.5, right - m - 47.0, 11.0, 6.0, p.kana.as_str());
            c.text_fit(m + 45.0, top + 14.0, right - m - 47.0, 15.0, 7.0, p.name.as_str());
            c.text(m + 2.0, top + 13.5, 8.0, &dob_line(p, ctx.today));
            let ward = format!("{} {}", p.location.ward, p.location.bed);
            c.text_fit(
                m + 2.0,
                top + 20.0,
                right - m - 4.0,
                8.0,
                6.0,
                &format!("{}   病棟/ベッド {ward}   {}", sex_and_blood(p), p.department),
            );
        }
        None if packet.is_some() => {
            let id = packet.map(PatientId::as_str).unwrap_or_default();
            c.text(m + 2.0, top + 6.0, 8.0, "ID");
            c.text(m + 8.0, top + 6.5, 13.0, id);
            c.text_fit(
                m + 45.0,
                top + 6.0,
                right - m - 47.0,
                8.0,
                5.0,
                "ダウンタイムパケット: 氏名・生年月日を記入、後でこのIDで登録 Packet: write name and DOB; registered later under this ID",
            );
            for (i, label) in ["氏名 Name", "カナ Kana", "生年月日 DOB", "性別 Sex"].iter().enumerate()
            {
                let x = m + 2.0 + i as f32 * (right - m - 4.0) / 4.0;
                c.text(x, top + 18.0, 7.0, label);
                c.line(x, top + 19.0, x + (right - m - 4.0) / 4.0 - 3.0, top + 19.0, 0.5);
            }
        }
        None => {
            c.text(
                m + 2.0,
                top + 6.0,
                8.0,
                "未登録患者用 For a patient not yet registered — write ID, name, DOB:",
            );
            for (i, label) in ["ID", "氏名 Name", "カナ Kana", "生年月日 DOB"].iter().enumerate() {
                let x = m + 2.0 + i as f32 * (right - m - 4.0) / 4.0;
                c.text(x, top + 18.0, 7.0, label);
                c.line(x, top + 19.0, x + (right - m - 4.0) / 4.0 - 3.0, top + 19.0, 0.5);
            }
        }
    }
    for f in &form.fields {
        field(c, f);
    }
    if let Some(p) = patient {
        let view = ctx.clinical.get(p.id.as_str());
        match (form.kind, view) {
            (FormKind::Mar, Some(view)) => {
                let (values, more) = super::clinical::mar_prefill(form, view);
                super::clinical::draw_prefill(c, form, &values);
                if more > 0 {
                    c.text(
                        m,
                        form.height_mm - 8.0,
                        8.0,
                        &format!("ほか {more} 剤: 患者サマリー参照 {more} more medications: see the patient summary"),
                    );
                }
            }
            (FormKind::Summary, view) => {
                let empty = crate::snapshot::ClinicalView::default();
                super::clinical::draw_summary(c, form, p, view.unwrap_or(&empty), top + h + 6.0);
            }
            _ => {}
        }
    }
    c.text(
        m,
        form.height_mm - 4.0,
        6.0,
        &format!(
            "kamikarte {}  form {} ({})  {}",
            env!("CARGO_PKG_VERSION"),
            form.code.as_str(),
            form.id,
            payload
        ),
    );
    Ok(())
}

fn field(c: &mut Canvas<'_>, f: &crate::form::FieldDef) {
    let label_pt = 7.0;
    match &f.kind {
        FieldType::Tick | FieldType::Ticks { .. } => {
            if matches!(f.kind, FieldType::Ticks { .. }) {
                c.text_fit(f.x_mm, f.y_mm + 3.5, f.width_mm, 8.0, 5.0, &f.label);
            }
            for b in f.tick_boxes() {
                c.rect(b.x_mm, b.y_mm, b.size_mm, b.size_mm, 0.7);
                let label = if matches!(f.kind, FieldType::Tick) { f.label.clone() } else { b.label.clone() };
                let room = f.width_mm - (b.x_mm - f.x_mm) - b.size_mm - 2.0;
                let room = match &f.kind {
                    FieldType::Ticks { columns, .. } => {
                        (f.width_mm / (*columns).max(1) as f32 - b.size_mm - 3.0).min(room)
                    }
                    _ => room,
                };
                c.text_fit(
                    b.x_mm + b.size_mm + 1.5,
                    b.y_mm + b.size_mm - 0.6,
                    room.max(5.0),
                    8.0,
                    4.5,
                    &label,
                );
            }
        }
        FieldType::Area { lines } => {
            c.rect(f.x_mm, f.y_mm, f.width_mm, f.height_mm, 0.6);
            c.text(f.x_mm + 1.0, f.y_mm + 3.5, label_pt, &f.label);
            let body = f.height_mm - FIELD_LABEL_MM;
            let step = body / *lines as f32;
            for i in 1..*lines {
                let y = f.y_mm + FIELD_LABEL_MM + i as f32 * step;
                c.line(f.x_mm + 1.0, y, f.x_mm + f.width_mm - 1.0, y, 0.25);
            }
        }
        other => {
            c.rect(f.x_mm, f.y_mm, f.width_mm, f.height_mm, 0.6);
            c.text_fit(f.x_mm + 0.8, f.y_mm + 2.8, f.width_mm - 1.6, label_pt - 1.0, 4.0, &f.label);
            let hint = match other {
                FieldType::Date => Some("    年    月    日".to_string()),
                FieldType::Time => Some("    :".to_string()),
                FieldType::Number { unit: Some(u), .. } => Some(u.clone()),
                _ => None,
            };
            if let Some(hint) = hint {
                let w = c.font().width_mm(&hint, 7.0);
                c.text(f.x_mm + f.width_mm - w - 1.0, f.y_mm + f.height_mm - 1.2, 7.0, &hint);
            }
        }
    }
}

/// A band: the ID's barcode (a patient's or a packet's), the DOWNTIME mark, and the patient's
/// name and details — or, for a packet or a blank band, where to write them.
fn wristband(
    c: &mut Canvas<'_>,
    form: &FormDefinition,
    subject: Subject<'_>,
    _code: &PageCode,
    ctx: &PrintContext,
) -> Result<(), String> {
    let (w, h, m) = (form.width_mm, form.height_mm, form.margin_mm);
    let small = h < 20.0;
    // The patient ID as Code 128 — what the bedside scanners and the EHR read. 0.375 mm modules
    // are 3 dots on a 203-dpi printer.
    let module = if small { 0.3 } else { 0.375 };
    let bar_h = if small { h - 2.0 * m - 3.5 } else { h - 2.0 * m - 5.0 };
    let bar_w = match subject.id() {
        Some(id) => barcode_with_text(c, id.as_str(), m, m, module, bar_h, if small { 6.0 } else { 8.0 })?,
        None => 40.0,
    };
    let x = m + bar_w + 2.0;
    let mark_w = if small { 16.0 } else { 24.0 };
    let text_w = w - x - mark_w - m - 2.0;
    if text_w < 30.0 {
        return Err(format!("{}: the band is too short for the barcode and the name", form.id));
    }
    // DOWNTIME mark at the far end, white on black.
    c.fill_rect(w - m - mark_w, m, mark_w, h - 2.0 * m);
    let size = if small { 6.0 } else { 8.0 };
    let size = size * ((mark_w - 2.0) / c.font().width_mm("DOWNTIME", size)).min(1.0);
    c.text_inverse(w - m - mark_w + 1.0, h / 2.0 + size * 0.15, size, "DOWNTIME");
    match subject {
        Subject::Packet(id) => {
            c.text_fit(x, m + 3.0, text_w, 7.0, 3.5, "氏名 Name");
            c.line(x + 12.0, m + 3.5, x + text_w, m + 3.5, 0.3);
            c.text_fit(x, h / 2.0 + 1.5, text_w, 7.0, 3.5, "生年月日 DOB        血液型");
            c.text_fit(x, h - m - 0.5, text_w, 6.0, 3.0, &format!("ID {id}  {}", ctx.hospital));
        }
        Subject::Patient(p) => {
            let (kana_pt, name_pt, info_pt) = if small { (9.0, 7.0, 5.5) } else { (13.0, 10.0, 7.0) };
            c.text_fit(x, m + kana_pt * 0.36, text_w, kana_pt, 4.0, p.kana.as_str());
            c.text_fit(x, m + kana_pt * 0.36 + name_pt * 0.4, text_w, name_pt, 4.0, p.name.as_str());
            let info = format!("ID {}  {}  {}", p.id, dob_line(p, ctx.today), sex_and_blood(p));
            c.text_fit(x, h - m - info_pt * 0.45, text_w, info_pt, 3.5, &info);
            if !small {
                c.text_fit(x + text_w * 0.6, m + 2.6, text_w * 0.4, 5.5, 3.5, &ctx.hospital);
            } else {
                c.text_fit(x, h - m + 0.2, text_w, 4.0, 3.0, &ctx.hospital);
            }
        }
        Subject::Blank => {
            c.text(x, m + 4.0, 7.0, "未登録 ID / 氏名 / 生年月日 / 血液型 を記入");
            c.text_fit(x, h - m - 1.0, text_w, 6.0, 3.5, &ctx.hospital);
        }
    }
    Ok(())
}

fn labels(
    c: &mut Canvas<'_>,
    form: &FormDefinition,
    subject: Subject<'_>,
    code: &PageCode,
    ctx: &PrintContext,
) -> Result<(), String> {
    let Layout::Labels {
        columns,
        rows,
        label_width_mm,
        label_height_mm,
        left_mm,
        top_mm,
        gap_x_mm,
        gap_y_mm,
    } = form.layout.clone()
    else {
        return Err("not a label sheet".into());
    };
    let spec = form.barcode.as_ref().ok_or("a label sheet needs its page barcode")?;
    barcode_with_text(c, &code.encode(), spec.x_mm, spec.y_mm, spec.module_mm, spec.height_mm, 6.0)?;
    c.text(form.margin_mm, spec.y_mm + 4.0, 7.0, &format!("{}  {}", form.title, DOWNTIME));
    c.text(
        form.margin_mm,
        spec.y_mm + 8.0,
        5.5,
        &format!(
            "{}{}",
            ctx.printed_at.with_timezone(&crate::domain::paper_time::japan_time()).format("%Y-%m-%d %H:%M"),
            ctx.snapshot.as_deref().map(|s| format!("  {s}")).unwrap_or_default()
        ),
    );
    if matches!(subject, Subject::Blank) {
        return Ok(());
    }
    for r in 0..rows {
        for col in 0..columns {
            let x = left_mm + col as f32 * (label_width_mm + gap_x_mm) + 2.0;
            let y = top_mm + r as f32 * (label_height_mm + gap_y_mm) + 2.0;
            let w = label_width_mm - 4.0;
            match subject {
                Subject::Patient(p) => {
                    c.text_fit(x, y + 3.5, w, 9.0, 4.0, p.kana.as_str());
                    c.text_fit(x, y + 8.0, w, 10.0, 4.0, p.name.as_str());
                    c.text_fit(
                        x,
                        y + 12.0,
                        w,
                        6.5,
                        3.5,
                        &format!("{}  {}", dob_line(p, ctx.today), sex_and_blood(p)),
                    );
                    c.text_fit(
                        x,
                        y + 15.5,
                        w,
                        6.0,
                        3.5,
                        &format!("{} {}  DOWNTIME", p.location.ward, p.location.bed),
                    );
                }
                // A packet's label: the reserved ID, and lines for what is written by hand.
                Subject::Packet(id) => {
                    c.text_fit(x, y + 3.5, w, 9.0, 4.0, &format!("ID {id}"));
                    c.text(x, y + 9.5, 6.0, "氏名");
                    c.line(x + 6.0, y + 10.0, x + w, y + 10.0, 0.3);
                    c.text(x, y + 14.5, 6.0, "生年月日");
                    c.line(x + 10.0, y + 15.0, x + w, y + 15.0, 0.3);
                }
                Subject::Blank => {}
            }
            let id = subject.id().map(PatientId::as_str).unwrap_or_default();
            barcode_with_text(c, id, x - 2.0 + 1.0, y + 17.0, 0.25, label_height_mm - 23.0, 6.5)?;
        }
    }
    Ok(())
}
