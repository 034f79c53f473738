//! Scanned pages drawn for the demo, as a document scanner would deliver them.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use serde_json::Value;

use crate::entry::fields::Values;
use crate::form::FormDefinition;
use crate::print::{QUIET_ZONE_MODULES, code128};

/// Scanned images are drawn at this resolution: enough for the page barcode, small and fast.
pub(super) const SCAN_DPI: f32 = 100.0;

/// A scanned page as the scanner would deliver it: white A4 in grey at `dpi`, the form's field
/// outlines and tick boxes (ticked as keyed), and the page barcode where the form prints it.
/// Returns the PNG bytes.
pub fn scanned_image(
    form: &FormDefinition,
    code: &str,
    values: Option<&Values>,
    dpi: f32,
) -> Result<Vec<u8>, String> {
    let px = dpi / 25.4;
    let (width, height) = ((form.width_mm * px).round() as u32, (form.height_mm * px).round() as u32);
    if width == 0 || height == 0 || width > 10_000 || height > 10_000 {
        return Err(format!("{}: a page of {width} × {height} pixels cannot be drawn", form.id));
    }
    let mut luma = vec![255u8; width as usize * height as usize];
    let mut fill = |x0: f32, y0: f32, x1: f32, y1: f32, ink: u8| {
        let clamp = |v: f32, max: u32| (v.round().max(0.0) as u32).min(max);
        let (x0, x1) = (clamp(x0, width), clamp(x1, width));
        let (y0, y1) = (clamp(y0, height), clamp(y1, height));
        if x1 <= x0 {
            return;
        }
        for y in y0..y1 {
            let row = y as usize * width as usize;
            luma[row + x0 as usize..row + x1 as usize].fill(ink);
        }
    };
    let outline = |fill: &mut dyn FnMut(f32, f32, f32, f32, u8), x: f32, y: f32, w: f32, h: f32, ink: u8| {
        let (x0, y0, x1, y1) = (x * px, y * px, (x + w) * px, (y + h) * px);
        fill(x0, y0, x1, y0 + 1.0, ink);
        fill(x0, y1 - 1.0, x1, y1, ink);
        fill(x0, y0, x0 + 1.0, y1, ink);
        fill(x1 - 1.0, y0, x1, y1, ink);
    };
    for field in &form.fields {
        let boxes = field.tick_boxes();
        if boxes.is_empty() {
            outline(&mut fill, field.x_mm, field.y_mm, field.width_mm, field.height_mm, 170);
            continue;
        }
        let ticked: Vec<&str> = match values.and_then(|v| v.get(&field.key)) {
            Some(Value::Array(codes)) => codes.iter().filter_map(Value::as_str).collect(),
            Some(Value::Bool(true)) => vec![field.key.as_str()],
            _ => Vec::new(),
        };
        for b in boxes {
            outline(&mut fill, b.x_mm, b.y_mm, b.size_mm, b.size_mm, 40);
            if ticked.contains(&b.code.as_str()) {
                let inset = b.size_mm * 0.25;
                fill(
                    (b.x_mm + inset) * px,
                    (b.y_mm + inset) * px,
                    (b.x_mm + b.size_mm - inset) * px,
                    (b.y_mm + b.size_mm - inset) * px,
                    30,
                );
            }
        }
    }
    let spec = form.barcode.as_ref().ok_or_else(|| format!("{} prints no page barcode", form.id))?;
    let modules = code128(code)?;
    // Whole pixels per bar: a scanner resolves the printed modules no finer than this.
    let module_px = (spec.module_mm * px).round().max(1.0);
    let x0 = ((spec.x_mm + QUIET_ZONE_MODULES as f32 * spec.module_mm) * px).round();
    let right = x0 + (modules.len() + QUIET_ZONE_MODULES) as f32 * module_px;
    if right > width as f32 {
        return Err(format!("{}: the page barcode runs off a page drawn at {dpi} dpi", form.id));
    }
    let (y0, y1) = (spec.y_mm * px, (spec.y_mm + spec.height_mm) * px);
    for (i, bar) in modules.iter().enumerate() {
        if *bar {
            let x = x0 + i as f32 * module_px;
            fill(x, y0, x + module_px, y1, 0);
        }
    }
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(&luma, width, height, image::ExtendedColorType::L8)
        .map_err(|e| format!("cannot encode the page as PNG: {e}"))?;
    Ok(png)
}
