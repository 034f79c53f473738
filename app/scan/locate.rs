//! Finding the page barcode on a scanned page. kamikarte printed the page, so it knows where the
//! code is: first the band where the forms print it, then the same band turned 180° (a page fed
//! upside down), and only then the whole page. A scanner's page is about 14 times the band's area,
//! and a whole-page search is where false reads come from.

use std::collections::HashSet;

use rxing::common::HybridBinarizer;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader, Reader};

use crate::domain::PageCode;
use crate::form::{FormDefinition, Layout};
use crate::store::Reading;

/// A4 portrait, which every returnable form is.
const PAGE_W_MM: f32 = 210.0;
const PAGE_H_MM: f32 = 297.0;
/// Slack around the printed place: the scanner's feed offset and a few degrees of skew.
const SLACK_MM: f32 = 10.0;

/// Where to look first, in millimetres from the page's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchBand {
    pub left_mm: f32,
    pub top_mm: f32,
    pub bottom_mm: f32,
}

impl SearchBand {
    /// The band holding every A4 form's page barcode (with its text), widened by the slack and
    /// running to the right edge (a code is as long as its payload).
    pub fn from_forms(forms: &[FormDefinition]) -> Self {
        let specs: Vec<_> = forms
            .iter()
            .filter(|f| matches!(f.layout, Layout::Page | Layout::Labels { .. }))
            .filter(|f| (f.width_mm - PAGE_W_MM).abs() < 1.0 && (f.height_mm - PAGE_H_MM).abs() < 1.0)
            .filter_map(|f| f.barcode.as_ref())
            .collect();
        if specs.is_empty() {
            return Self { left_mm: 0.0, top_mm: 0.0, bottom_mm: 40.0 };
        }
        let left = specs.iter().map(|s| s.x_mm).fold(f32::MAX, f32::min);
        let top = specs.iter().map(|s| s.y_mm).fold(f32::MAX, f32::min);
        // The human-readable text sits under the bars.
        let bottom = specs.iter().map(|s| s.y_mm + s.height_mm + 4.0).fold(0.0, f32::max);
        Self {
            left_mm: (left - SLACK_MM).max(0.0),
            top_mm: (top - SLACK_MM).max(0.0),
            bottom_mm: (bottom + SLACK_MM).min(PAGE_H_MM),
        }
    }
}

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

/// The band on a page of `width` × `height` pixels, upright and turned 180°. None for a
/// landscape image, which is searched whole.
fn band_rects(band: &SearchBand, width: u32, height: u32) -> Option<[Rect; 2]> {
    if width >= height {
        return None;
    }
    let px = width as f32 / PAGE_W_MM;
    let x = (band.left_mm * px) as u32;
    let y0 = (band.top_mm * px) as u32;
    let y1 = ((band.bottom_mm * px) as u32).min(height);
    let upright = Rect { x, y: y0, w: width - x, h: y1.saturating_sub(y0) };
    let turned = Rect { x: 0, y: height - y1, w: width - x, h: y1.saturating_sub(y0) };
    Some([upright, turned])
}

fn crop(luma: &[u8], width: u32, r: Rect) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.w as usize * r.h as usize);
    for row in r.y..r.y + r.h {
        let start = row as usize * width as usize + r.x as usize;
        out.extend_from_slice(&luma[start..start + r.w as usize]);
    }
    out
}

/// The Code 128 symbol rxing reads in `pixels`: (text, mean y of its points).
fn decode(pixels: &[u8], width: u32, height: u32) -> Option<(String, f32)> {
    if width == 0 || height == 0 {
        return None;
    }
    let hints = DecodeHints {
        PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])),
        TryHarder: Some(true),
        ..Default::default()
    };
    let source = Luma8Source::new_with_slice(pixels, width, height).ok()?;
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let result = MultiFormatReader::default().decode_with_hints(&mut bitmap, &hints).ok()?;
    let points = result.getPoints();
    let y = points.iter().map(|p| p.y).sum::<f32>() / points.len().max(1) as f32;
    Some((result.getText().to_string(), y))
}

/// Every Code 128 symbol in `pixels`. Slower than `decode` (it searches again around each symbol
/// it finds), so only used where another barcode hid the page code: on a skewed label sheet the
/// first row of labels reaches into the band.
fn decode_all(pixels: &[u8], width: u32, height: u32) -> Vec<String> {
    let hints = DecodeHints {
        PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])),
        TryHarder: Some(true),
        ..Default::default()
    };
    let Ok(source) = Luma8Source::new_with_slice(pixels, width, height) else { return Vec::new() };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    GenericMultipleBarcodeReader::new(MultiFormatReader::default())
        .decode_multiple_with_hints(&mut bitmap, &hints)
        .map(|all| all.iter().map(|r| r.getText().to_string()).collect())
        .unwrap_or_default()
}

/// Reads the page barcode of a grey page.
pub fn find_page_code(luma: &[u8], width: u32, height: u32, band: &SearchBand) -> Reading {
    let mut foreign = None;
    if let Some(rects) = band_rects(band, width, height) {
        for (turned, rect) in [false, true].into_iter().zip(rects) {
            let pixels = crop(luma, width, rect);
            let Some((text, _)) = decode(&pixels, rect.w, rect.h) else { continue };
            if let Ok(code) = PageCode::parse(&text) {
                return Reading::Code { code, upside_down: turned };
            }
            let hidden =
                decode_all(&pixels, rect.w, rect.h).into_iter().find_map(|t| PageCode::parse(&t).ok());
            if let Some(code) = hidden {
                return Reading::Code { code, upside_down: turned };
            }
            foreign = Some(text);
        }
    }
    match decode(luma, width, height) {
        Some((text, y)) => match PageCode::parse(&text) {
            Ok(code) => Reading::Code { code, upside_down: y > height as f32 / 2.0 },
            Err(_) => Reading::Foreign(text),
        },
        None => foreign.map_or(Reading::Nothing, Reading::Foreign),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_covers_every_a4_forms_barcode_and_its_turned_place() {
        let forms = crate::form::load(None).unwrap();
        let band = SearchBand::from_forms(&forms);
        for f in forms.iter().filter(|f| f.height_mm > 200.0) {
            let spec = f.barcode.as_ref().unwrap();
            assert!(band.left_mm <= spec.x_mm - 5.0, "{}", f.id);
            assert!(
                band.top_mm <= spec.y_mm && band.bottom_mm >= spec.y_mm + spec.height_mm + 5.0,
                "{}",
                f.id
            );
        }
        // 300 dpi A4: 2480 × 3508 pixels.
        let [up, turned] = band_rects(&band, 2480, 3508).unwrap();
        assert_eq!(up.x + up.w, 2480, "the band runs to the right edge");
        assert_eq!(turned.x, 0, "turned, it starts at the left edge");
        assert_eq!(turned.y + turned.h, 3508, "and ends at the bottom");
        assert!(up.w * up.h * 10 < 2480 * 3508, "the band is a small part of the page");
        assert!(band_rects(&band, 3508, 2480).is_none(), "a landscape image is searched whole");
    }

    #[test]
    fn a_blank_page_reads_nothing() {
        let (w, h) = (420, 594);
        let blank = vec![255u8; (w * h) as usize];
        let band = SearchBand::from_forms(&crate::form::load(None).unwrap());
        assert_eq!(find_page_code(&blank, w, h, &band), Reading::Nothing);
    }
}
