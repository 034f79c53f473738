//! A small drawing surface over printpdf's operations, in millimetres from the page's top-left
//! corner (as form definitions are written), with text measured so long text shrinks to fit.

use printpdf::{
    Color, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    Point, Polygon, PolygonRing, Pt, TextItem, WindingOrder,
};

use crate::assets::BIZ_UD_PGOTHIC;

/// The embedded font, parsed once per document (printpdf subsets it when saving).
pub struct PdfFont {
    parsed: ParsedFont,
    id: FontId,
    units_per_em: f32,
}

impl PdfFont {
    pub fn add_to(doc: &mut PdfDocument) -> Result<Self, String> {
        let parsed = ParsedFont::from_bytes(BIZ_UD_PGOTHIC, 0, &mut Vec::new())
            .ok_or_else(|| "the embedded font cannot be parsed".to_string())?;
        let id = doc.add_font(&parsed);
        let units_per_em = f32::from(parsed.as_azul().pdf_font_metrics.units_per_em.max(1));
        Ok(Self { parsed, id, units_per_em })
    }

    /// Width of `text` set at `size_pt`, in millimetres.
    pub fn width_mm(&self, text: &str, size_pt: f32) -> f32 {
        let font = self.parsed.as_azul();
        let units: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(c as u32)
                    .map_or(self.units_per_em as u32, |g| u32::from(font.get_horizontal_advance(g)))
            })
            .sum();
        units as f32 / self.units_per_em * size_pt * 25.4 / 72.0
    }
}

pub fn pt(mm: f32) -> Pt {
    Mm(mm).into_pt()
}

/// One thing drawn, in millimetres from the top-left corner. The same marks become PDF
/// operations for print and egui shapes for the app's preview, so the preview is the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// Text with its baseline at `y`; `scale` is horizontal scaling in percent; `white` on black.
    Text {
        x: f32,
        y: f32,
        size_pt: f32,
        scale: f32,
        text: String,
        white: bool,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        line_pt: f32,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        line_pt: f32,
    },
}

pub struct Canvas<'a> {
    font: &'a PdfFont,
    pub marks: Vec<Mark>,
}

impl<'a> Canvas<'a> {
    pub fn new(font: &'a PdfFont) -> Self {
        Self { font, marks: Vec::new() }
    }

    pub fn font(&self) -> &PdfFont {
        self.font
    }

    /// Text with its baseline at `y_mm`.
    pub fn text(&mut self, x_mm: f32, y_mm: f32, size_pt: f32, text: &str) {
        self.push_text(x_mm, y_mm, size_pt, 100.0, text, false);
    }

    /// White text (on a black box).
    pub fn text_inverse(&mut self, x_mm: f32, y_mm: f32, size_pt: f32, text: &str) {
        self.push_text(x_mm, y_mm, size_pt, 100.0, text, true);
    }

    fn push_text(&mut self, x: f32, y: f32, size_pt: f32, scale: f32, text: &str, white: bool) {
        self.marks.push(Mark::Text { x, y, size_pt, scale, text: text.to_string(), white });
    }

    /// Text that must fit in `max_width_mm`: set at `size_pt` if it fits, else smaller down to
    /// `min_pt`, and below that narrowed horizontally. It is never cut and never overflows.
    /// Returns the size used.
    pub fn text_fit(
        &mut self,
        x_mm: f32,
        y_mm: f32,
        max_width_mm: f32,
        size_pt: f32,
        min_pt: f32,
        text: &str,
    ) -> f32 {
        let width = self.font.width_mm(text, size_pt);
        if width <= max_width_mm || width == 0.0 {
            self.text(x_mm, y_mm, size_pt, text);
            return size_pt;
        }
        let fitted = (size_pt * max_width_mm / width).max(min_pt);
        let width_at_fitted = self.font.width_mm(text, fitted);
        let scale =
            if width_at_fitted > max_width_mm { 100.0 * max_width_mm / width_at_fitted } else { 100.0 };
        self.push_text(x_mm, y_mm, fitted, scale, text, false);
        fitted
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, line_pt: f32) {
        self.marks.push(Mark::Rect { x, y, w, h, line_pt });
    }

    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.marks.push(Mark::Fill { x, y, w, h });
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, line_pt: f32) {
        self.marks.push(Mark::Line { x1, y1, x2, y2, line_pt });
    }

    /// Bars of a symbol from `x_mm` (the quiet zone is the caller's), one rectangle per bar.
    pub fn bars(&mut self, x_mm: f32, y_mm: f32, modules: &[bool], module_mm: f32, height_mm: f32) {
        let mut i = 0;
        while i < modules.len() {
            if !modules[i] {
                i += 1;
                continue;
            }
            let run = modules[i..].iter().take_while(|&&m| m).count();
            self.fill_rect(x_mm + i as f32 * module_mm, y_mm, run as f32 * module_mm, height_mm);
            i += run;
        }
    }
}

/// The marks of one page as PDF operations, for a page `height_mm` tall.
pub fn to_pdf_ops(marks: &[Mark], font: &PdfFont, height_mm: f32) -> Vec<Op> {
    let point = |x: f32, y: f32| Point { x: pt(x), y: pt(height_mm - y) };
    let grey = |g: f32| Color::Greyscale(Greyscale::new(g, None));
    let mut ops = Vec::with_capacity(marks.len() * 4);
    for mark in marks {
        match mark {
            Mark::Text { x, y, size_pt, scale, text, white } => ops.extend([
                Op::StartTextSection,
                Op::SetFillColor { col: grey(if *white { 1.0 } else { 0.0 }) },
                Op::SetFont { font: PdfFontHandle::External(font.id.clone()), size: Pt(*size_pt) },
                Op::SetHorizontalScaling { percent: *scale },
                Op::SetTextCursor { pos: point(*x, *y) },
                Op::ShowText { items: vec![TextItem::Text(text.clone())] },
                Op::SetHorizontalScaling { percent: 100.0 },
                Op::EndTextSection,
                Op::SetFillColor { col: grey(0.0) },
            ]),
            Mark::Rect { x, y, w, h, line_pt } => {
                let corners = [(*x, *y), (x + w, *y), (x + w, y + h), (*x, y + h)];
                let points =
                    corners.iter().map(|&(x, y)| LinePoint { p: point(x, y), bezier: false }).collect();
                ops.push(Op::SetOutlineThickness { pt: Pt(*line_pt) });
                ops.push(Op::DrawLine { line: Line { points, is_closed: true } });
            }
            Mark::Fill { x, y, w, h } => {
                let corners = [(*x, y + h), (x + w, y + h), (x + w, *y), (*x, *y)];
                let points =
                    corners.iter().map(|&(x, y)| LinePoint { p: point(x, y), bezier: false }).collect();
                ops.push(Op::DrawPolygon {
                    polygon: Polygon {
                        rings: vec![PolygonRing { points }],
                        mode: PaintMode::Fill,
                        winding_order: WindingOrder::NonZero,
                    },
                });
            }
            Mark::Line { x1, y1, x2, y2, line_pt } => {
                let points = vec![
                    LinePoint { p: point(*x1, *y1), bezier: false },
                    LinePoint { p: point(*x2, *y2), bezier: false },
                ];
                ops.push(Op::SetOutlineThickness { pt: Pt(*line_pt) });
                ops.push(Op::DrawLine { line: Line { points, is_closed: false } });
            }
        }
    }
    ops
}
