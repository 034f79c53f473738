//! What the SS-MIX2 snapshot puts on paper: the MAR's rows pre-filled with the medications
//! running today (drug and usage, dose, route; the boxes to chart against stay empty), and the
//! patient summary sheet — allergies in a heavy box at the top, open problems, the running
//! medications, the last results of each test with their dates, the diet.

use super::canvas::Canvas;
use crate::domain::Patient;
use crate::form::view::row_of;
use crate::form::{FormDefinition, keys};
use crate::snapshot::ClinicalView;

/// The text pre-printed in each field of a MAR (by field key): row N gets the Nth running
/// medication. Medications beyond the rows are counted in the returned number.
pub fn mar_prefill(form: &FormDefinition, view: &ClinicalView) -> (Vec<(String, String)>, usize) {
    let mut rows: Vec<String> = form
        .fields_with(&keys::GIVEN_DRUG)
        .map(|f| row_of(&f.key).to_string())
        .filter(|r| !r.is_empty())
        .collect();
    rows.sort_by_key(|r| r.parse::<u32>().unwrap_or(u32::MAX));
    rows.dedup();
    let mut out = Vec::new();
    for (row, med) in rows.iter().zip(&view.medications) {
        let in_row = |key: &crate::form::ExportKey| {
            form.fields_with(key).find(|f| row_of(&f.key) == row).map(|f| f.key.clone())
        };
        let drug = if med.schedule.is_empty() {
            med.name.clone()
        } else {
            format!("{} / {}", med.name, med.schedule)
        };
        for (key, text) in [
            (in_row(&keys::GIVEN_DRUG), drug),
            (in_row(&keys::GIVEN_AMOUNT), med.dose.clone()),
            (in_row(&keys::ROUTE), med.route.clone()),
        ] {
            if let Some(key) = key
                && !text.is_empty()
            {
                out.push((key, text));
            }
        }
    }
    (out, view.medications.len().saturating_sub(rows.len()))
}

/// Draws pre-printed values into their fields' boxes, under the label, small enough to leave
/// room for a nurse's mark.
pub fn draw_prefill(c: &mut Canvas<'_>, form: &FormDefinition, values: &[(String, String)]) {
    for (key, text) in values {
        let Some(f) = form.fields.iter().find(|f| &f.key == key) else { continue };
        c.text_fit(f.x_mm + 1.0, f.y_mm + f.height_mm - 1.5, f.width_mm - 2.0, 8.0, 4.5, text);
    }
}

/// The summary sheet's body, from `top` (below the patient header) to the footer.
pub fn draw_summary(
    c: &mut Canvas<'_>,
    form: &FormDefinition,
    patient: &Patient,
    view: &ClinicalView,
    top: f32,
) {
    let m = form.margin_mm;
    let width = form.width_mm - 2.0 * m;
    let bottom = form.height_mm - 10.0;
    let line = 4.6;

    // Allergies: a heavy box nobody can miss, even when there are none.
    let allergies: Vec<String> = patient.allergies.clone();
    let box_h = 11.0 + line * allergies.len().max(1) as f32;
    c.rect(m, top, width, box_h, 2.4);
    c.text(m + 3.0, top + 6.5, 12.0, "アレルギー ALLERGIES");
    if allergies.is_empty() {
        c.text(m + 3.0, top + 11.5, 10.0, "記録なし None recorded in the snapshot");
    } else {
        for (i, a) in allergies.iter().enumerate() {
            c.text_fit(m + 3.0, top + 11.5 + i as f32 * line, width - 6.0, 11.0, 6.0, &format!("■ {a}"));
        }
    }
    let mut y = top + box_h + 7.0;

    // Each section: a heading and its lines, stopping before the footer with how many are left.
    let section = |c: &mut Canvas<'_>, y: &mut f32, heading: &str, lines: Vec<String>| {
        if *y + line > bottom {
            return;
        }
        c.text(m, *y, 10.0, heading);
        c.line(m, *y + 1.2, m + width, *y + 1.2, 0.5);
        *y += line + 1.0;
        if lines.is_empty() {
            c.text(m + 2.0, *y, 8.0, "なし None");
            *y += line;
        }
        let count = lines.len();
        for (i, text) in lines.into_iter().enumerate() {
            if *y + line > bottom {
                c.text(m + 2.0, *y, 8.0, &format!("… ほか {} 件 more in the reference screen", count - i));
                *y = bottom;
                return;
            }
            c.text_fit(m + 2.0, *y, width - 4.0, 8.5, 5.0, &text);
            *y += line;
        }
        *y += 3.0;
    };
    section(
        c,
        &mut y,
        "病名 Problems",
        view.problems
            .iter()
            .map(|p| {
                let onset = p.onset.map(|d| format!("  (発症 {d})")).unwrap_or_default();
                format!("{}{onset}", if p.name.is_empty() { &p.code } else { &p.name })
            })
            .collect(),
    );
    section(
        c,
        &mut y,
        "投薬中 Medications running today",
        view.medications
            .iter()
            .map(|med| {
                let kind = if med.injection { "注" } else { "内" };
                let span = match (med.start, med.end) {
                    (Some(s), Some(e)) => format!("  {s} – {e}"),
                    (Some(s), None) => format!("  {s} –"),
                    _ => String::new(),
                };
                format!("[{kind}] {}  {}  {}  {}{span}", med.name, med.dose, med.route, med.schedule)
            })
            .collect(),
    );
    section(
        c,
        &mut y,
        "検査 Latest results (newest first)",
        view.results
            .iter()
            .map(|test| {
                let values: Vec<String> = test
                    .iter()
                    .map(|v| {
                        let flag = if v.flag.is_empty() || v.flag == "N" {
                            String::new()
                        } else {
                            format!(" {}", v.flag)
                        };
                        format!("{} {}{flag} ({})", v.value, v.unit, v.at.get(..10).unwrap_or(&v.at))
                    })
                    .collect();
                let range =
                    if test[0].range.is_empty() { String::new() } else { format!(" [{}]", test[0].range) };
                format!("{}{range}: {}", test[0].name, values.join(", "))
            })
            .collect(),
    );
    section(c, &mut y, "食事 Diet", view.diet.iter().map(|d| d.name.clone()).collect());
}
