//! Small pieces several screens draw the same way.

use chrono::Local;
use egui::RichText;

use crate::domain::Patient;

/// A single-line text field with an accessible label (what egui_kittest and screen readers find).
pub fn labelled_text(ui: &mut egui::Ui, label: &str, value: &mut String, width: f32) -> egui::Response {
    let label = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(width)).labelled_by(label.id)
}

/// The identity check of the case hospital: ID, full name (kanji and kana) and date of birth in
/// the Western calendar, large; then sex, blood type and ward. `scale` 1.0 is body text.
pub fn identity_block(ui: &mut egui::Ui, p: &Patient, scale: f32) {
    let big = 18.0 * scale;
    let today = Local::now().date_naive();
    ui.label(RichText::new(format!("ID {}", p.id)).size(big * 1.2).strong().monospace());
    ui.label(RichText::new(p.name.as_str()).size(big).strong());
    ui.label(RichText::new(p.kana.as_str()).size(big * 0.8));
    ui.label(
        RichText::new(format!("生年月日 DOB {}（{}歳 years）", p.dob.iso(), p.dob.age_on(today)))
            .size(big * 0.9)
            .strong(),
    );
    ui.label(
        RichText::new(format!(
            "{} {} ・ 血液型 blood {} ・ {} {}",
            p.sex.japanese(),
            p.sex.code(),
            p.blood.display(),
            p.location.ward,
            p.location.bed
        ))
        .size(big * 0.7),
    );
    if !p.allergies.is_empty() {
        ui.label(
            RichText::new(format!("アレルギー Allergies: {}", p.allergies.join("、")))
                .size(big * 0.8)
                .strong()
                .color(egui::Color32::from_rgb(255, 90, 90)),
        );
    }
}

/// A table of text, drawn only where it is visible (thousands of rows stay fast).
pub fn text_table<const N: usize>(
    ui: &mut egui::Ui,
    id: &str,
    headers: [&str; N],
    rows: usize,
    row: impl Fn(usize) -> [String; N],
) {
    use egui_extras::{Column, TableBuilder};
    TableBuilder::new(ui)
        .id_salt(id)
        .columns(Column::auto().at_least(70.0), N)
        .header(20.0, |mut h| {
            for t in headers {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(18.0, rows, |mut r| {
                for t in row(r.index()) {
                    r.col(|ui| {
                        ui.label(t);
                    });
                }
            });
        });
}

/// A striped table of patients, one row each, the highlighted one marked; returns the row
/// clicked. `cells(i)` gives row `i`'s texts, one per column of `titles`.
pub fn patient_table(
    ui: &mut egui::Ui,
    columns: &[egui_extras::Column],
    titles: &[&str],
    rows: usize,
    selected: Option<usize>,
    cells: impl Fn(usize) -> Vec<String>,
) -> Option<usize> {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    let mut table = egui_extras::TableBuilder::new(ui).striped(true).sense(egui::Sense::click());
    for c in columns {
        table = table.column(*c);
    }
    table
        .header(row_height, |mut header| {
            for title in titles {
                header.col(|ui| {
                    ui.strong(*title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows, |mut row| {
                let pos = row.index();
                row.set_selected(selected == Some(pos));
                for text in cells(pos) {
                    row.col(|ui| {
                        ui.add(egui::Label::new(text).selectable(false));
                    });
                }
                if row.response().clicked() {
                    clicked = Some(pos);
                }
            });
        });
    clicked
}
