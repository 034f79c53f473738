//! A printable list: A4 landscape, a title, a header row repeated on every page, the rows, and
//! "page n / N" with the time printed — for lists a person works through on paper (the
//! downtime patients 医事 must register).

use printpdf::{Mm, PdfDocument, PdfPage, PdfSaveOptions};

use super::canvas::{Canvas, PdfFont, to_pdf_ops};

const WIDTH: f32 = 297.0;
const HEIGHT: f32 = 210.0;
const MARGIN: f32 = 10.0;
const ROW: f32 = 7.5;
const TOP: f32 = 30.0;

/// One column: its heading and its share of the printable width (the shares need not add up
/// to anything: they are scaled to the page).
pub struct Column<'a> {
    pub heading: &'a str,
    pub share: f32,
}

/// The PDF of `rows` under `columns`, `title` and `subtitle` on every page. A cell's text
/// shrinks to fit its column, never overflows into the next.
pub fn table_pdf(
    title: &str,
    subtitle: &str,
    columns: &[Column<'_>],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, String> {
    let mut doc = PdfDocument::new(title);
    let font = PdfFont::add_to(&mut doc)?;
    let total: f32 = columns.iter().map(|c| c.share).sum::<f32>().max(1.0);
    let widths: Vec<f32> = columns.iter().map(|c| c.share / total * (WIDTH - 2.0 * MARGIN)).collect();
    let per_page = (((HEIGHT - TOP - 15.0) / ROW).floor() as usize).max(1);
    let chunks: Vec<&[Vec<String>]> =
        if rows.is_empty() { vec![&[]] } else { rows.chunks(per_page).collect() };
    let mut pages = Vec::with_capacity(chunks.len());
    for (n, chunk) in chunks.iter().enumerate() {
        let mut canvas = Canvas::new(&font);
        canvas.text_fit(MARGIN, 15.0, WIDTH - 2.0 * MARGIN, 14.0, 8.0, title);
        canvas.text_fit(MARGIN, 22.0, WIDTH - 2.0 * MARGIN - 30.0, 9.0, 6.0, subtitle);
        canvas.text(WIDTH - MARGIN - 25.0, 22.0, 9.0, &format!("{} / {}", n + 1, chunks.len()));
        let mut y = TOP;
        draw_row(&mut canvas, y, &widths, columns.iter().map(|c| c.heading), true);
        for row in chunk.iter() {
            y += ROW;
            draw_row(&mut canvas, y, &widths, row.iter().map(String::as_str), false);
        }
        pages.push(PdfPage::new(Mm(WIDTH), Mm(HEIGHT), to_pdf_ops(&canvas.marks, &font, HEIGHT)));
    }
    Ok(doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new()))
}

fn draw_row<'t>(
    canvas: &mut Canvas<'_>,
    y: f32,
    widths: &[f32],
    cells: impl Iterator<Item = &'t str>,
    heading: bool,
) {
    let mut x = MARGIN;
    if heading {
        canvas.rect(MARGIN, y, widths.iter().sum(), ROW, 1.0);
    }
    for (w, text) in widths.iter().zip(cells) {
        canvas.rect(x, y, *w, ROW, 0.4);
        canvas.text_fit(x + 1.0, y + ROW - 2.2, w - 2.0, if heading { 8.5 } else { 9.0 }, 4.0, text);
        x += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_makes_a_pdf_even_when_empty() {
        let rows: Vec<Vec<String>> =
            (0..50).map(|i| vec![format!("DT{i:06}"), "ヤマダ　タロウ".into()]).collect();
        let columns = [Column { heading: "ID", share: 1.0 }, Column { heading: "カナ", share: 2.0 }];
        assert!(table_pdf("一覧", "2026-12-04", &columns, &rows).unwrap().starts_with(b"%PDF"));
        assert!(table_pdf("一覧", "2026-12-04", &columns, &[]).unwrap().starts_with(b"%PDF"));
    }
}
