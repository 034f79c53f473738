//! Step 5, and the whole: registers the page on its tick boxes, then reads each box's interior.

use image::GrayImage;

use super::detect::{Candidate, Work};
use super::register::{Affine, hough, plausible, refine, strays};
use super::*;
use crate::form::{FormDefinition, TickBox};

/// Reads every tick box of `form` on `page` (upright, the whole sheet).
pub fn read_ticks(page: &GrayImage, form: &FormDefinition) -> Result<OmrReading, OmrError> {
    let boxes: Vec<(String, TickBox)> = form
        .fields
        .iter()
        .flat_map(|f| f.tick_boxes().into_iter().map(move |b| (f.key.clone(), b)))
        .collect();
    if boxes.is_empty() {
        return Err(OmrError::NoTickBoxes { form: form.id.clone() });
    }
    let total = boxes.len();
    if total < MIN_LOCATED {
        return Err(OmrError::TooFewBoxes { form: form.id.clone(), total });
    }
    let needed = MIN_LOCATED.max(total.div_ceil(3));
    let refused = |found: usize| OmrError::NotRegistered { form: form.id.clone(), found, needed, total };
    let (width, height) = page.dimensions();
    let scale = width as f32 / form.width_mm;
    if !(form.width_mm > 0.0 && form.height_mm > 0.0 && scale.is_finite()) {
        return Err(refused(0));
    }
    if scale < MIN_PX_PER_MM || (height as f32) < form.height_mm * scale * 0.5 {
        return Err(OmrError::PageTooSmall { width, height });
    }
    let usable = |b: &TickBox| {
        [b.x_mm, b.y_mm, b.size_mm].iter().all(|v| v.is_finite() && v.abs() < 10_000.0) && b.size_mm > 0.5
    };
    if !boxes.iter().all(|(_, b)| usable(b)) {
        return Err(refused(0));
    }
    let centre = (form.width_mm / 2.0, form.height_mm / 2.0);
    let expected: Vec<(f32, f32)> =
        boxes.iter().map(|(_, b)| (b.x_mm + b.size_mm / 2.0, b.y_mm + b.size_mm / 2.0)).collect();

    let Some(work) = Work::new(page, scale, &boxes, centre) else { return Err(refused(0)) };
    // One detection per printed box size (in practice one: 4 mm).
    let mut sizes: Vec<f32> = Vec::new();
    for (_, b) in &boxes {
        if !sizes.iter().any(|s| (s - b.size_mm).abs() < 0.05) {
            sizes.push(b.size_mm);
        }
    }
    let size_of: Vec<usize> = boxes
        .iter()
        .map(|(_, b)| sizes.iter().position(|s| (s - b.size_mm).abs() < 0.05).unwrap_or(0))
        .collect();
    let limit = 8 * total + 64;
    let cands: Vec<Vec<Candidate>> = sizes.iter().map(|&s| work.detect(s, limit)).collect();

    let initial = hough(&expected, &size_of, &cands, centre, scale).map_err(refused)?;
    let (fit, located) = refine(initial, &expected, &size_of, &cands, centre, scale);
    if !plausible(&fit, scale) {
        return Err(refused(0));
    }
    if located < needed {
        return Err(refused(located));
    }
    let strays = strays(&fit, &expected, &size_of, &sizes, &cands, centre, scale);
    if strays > 0 {
        return Err(OmrError::Ambiguous { form: form.id.clone(), strays });
    }

    let ticks = boxes
        .iter()
        .map(|(field, b)| {
            let (ink, span) = work.interior(&fit, b, centre);
            TickReading {
                field: field.clone(),
                code: b.code.clone(),
                label: b.label.clone(),
                ticked: ink >= INK_TICKED || (ink >= INK_MIN && span >= SPAN_MIN_MM),
                ink,
            }
        })
        .collect();
    Ok(OmrReading { ticks, located, total })
}

impl Work {
    /// The dark fraction of a box's interior at its fitted place, and how far that ink reaches
    /// (mm, along its main direction: the middle 80 % of it, scaled to the whole of a stroke;
    /// specks smaller than `SPECK_MM2` left out, so noise beside a dot does not stretch it). A
    /// box mostly off the page reads as empty.
    fn interior(&self, fit: &Affine, b: &TickBox, centre: (f32, f32)) -> (f32, f32) {
        let side = b.size_mm - 2.0 * INSET_MM;
        if side <= 0.0 || !side.is_finite() {
            return (0.0, 0.0);
        }
        let n = ((side * self.sw).round() as usize).clamp(2, 400);
        let step = side / n as f32;
        let mut inside = 0usize;
        // Per sample: None off the page, else whether it is ink.
        let mut grid: Vec<Option<bool>> = Vec::with_capacity(n * n);
        for j in 0..n {
            for i in 0..n {
                let (u, v) = ((i as f32 + 0.5) * step, (j as f32 + 0.5) * step);
                let p = fit.apply((b.x_mm + INSET_MM + u, b.y_mm + INSET_MM + v), centre);
                let x = (p.0 - self.ox as f32) / self.k as f32;
                let y = (p.1 - self.oy as f32) / self.k as f32;
                if !(x >= 0.0 && y >= 0.0 && x < self.w as f32 && y < self.h as f32) {
                    grid.push(None);
                    continue;
                }
                inside += 1;
                grid.push(Some(self.grey[y as usize * self.w + x as usize] < self.dark_below));
            }
        }
        let dark_count = grid.iter().filter(|g| **g == Some(true)).count();
        if inside == 0 || inside * 2 < n * n {
            return (0.0, 0.0);
        }
        let ink = dark_count as f32 / inside as f32;
        // The ink in pieces (8-connected) big enough to be pen, as positions in mm.
        let speck = (SPECK_MM2 / (step * step)).ceil() as usize;
        let mut seen = vec![false; n * n];
        let mut kept: Vec<(f32, f32)> = Vec::new();
        let mut stack = Vec::new();
        let mut piece = Vec::new();
        for start in 0..n * n {
            if seen[start] || grid[start] != Some(true) {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            piece.clear();
            while let Some(at) = stack.pop() {
                piece.push(at);
                let (i, j) = ((at % n) as i64, (at / n) as i64);
                for (di, dj) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (x, y) = (i + di, j + dj);
                    if x < 0 || y < 0 || x >= n as i64 || y >= n as i64 {
                        continue;
                    }
                    let next = y as usize * n + x as usize;
                    if !seen[next] && grid[next] == Some(true) {
                        seen[next] = true;
                        stack.push(next);
                    }
                }
            }
            if piece.len() >= speck {
                kept.extend(piece.iter().map(|&at| ((at % n) as f32 * step, (at / n) as f32 * step)));
            }
        }
        if kept.len() < 5 {
            return (ink, 0.0);
        }
        let d = kept.len() as f32;
        let (mu, mv) = (kept.iter().map(|p| p.0).sum::<f32>() / d, kept.iter().map(|p| p.1).sum::<f32>() / d);
        let (mut cuu, mut cvv, mut cuv) = (0f32, 0f32, 0f32);
        for &(u, v) in &kept {
            cuu += (u - mu) * (u - mu);
            cvv += (v - mv) * (v - mv);
            cuv += (u - mu) * (v - mv);
        }
        let angle = 0.5 * (2.0 * cuv).atan2(cuu - cvv);
        let (s, c) = angle.sin_cos();
        let mut along: Vec<f32> = kept.iter().map(|&(u, v)| (u - mu) * c + (v - mv) * s).collect();
        along.sort_by(f32::total_cmp);
        let (lo, hi) = (along[along.len() / 10], along[along.len() * 9 / 10]);
        (ink, (hi - lo) / 0.8)
    }
}
