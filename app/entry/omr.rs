//! Reading tick boxes from a scanned page (OMR), at the positions the form printed them.
//!
//! The caller hands over an upright grey image of the whole sheet (any resolution, skewed by a
//! few degrees, shifted by a few millimetres, noisy). The page is registered on the tick boxes
//! themselves, so nothing but the form definition is needed:
//!
//! 1. Scale: image width / form width (px per mm). Only the region where the boxes can be
//!    (every box under ±4° about the page centre, ±3 % of scale and ±12 mm of shift) is looked
//!    at, averaged down to about 12 px/mm when the scan is finer (≥ 450 dpi).
//! 2. Ink: Otsu's threshold over that region, kept at least 48 grey levels below the paper
//!    (the median), so a blank or noise-only page has no ink.
//! 3. Outlines: every position (0.17 mm steps) is scored, in O(1) with an integral image of the
//!    ink, as a box of the printed size: the least inked of its four side bands (0.8 mm wide)
//!    minus the ink in a 0.6 mm ring just outside. The inside is not looked at, so a ticked box
//!    is found as well as an empty one. The separated local maxima are candidates, each centred
//!    to a fraction of a pixel on its four sides' ink profiles.
//! 4. Registration: a vote over rotation (±4° in 0.25° steps), scale (±3 %) and shift (±12 mm
//!    in 0.5 mm bins) of which candidates sit where boxes should be; ties go to the smallest
//!    change. Then least squares (affine with six or more boxes spread both ways, else a
//!    similarity), outliers dropped, matched again closer, refitted. A box is *located* when a
//!    candidate lies within 0.6 mm of its fitted place. Refused, never guessed: fewer than four
//!    boxes located or fewer than a third; a fit far from a rotated page; or strong box
//!    outlines near the boxes where the form has none (the grid matched a row off, a page
//!    shifted further than the search).
//! 5. Reading: each box's interior from 0.6 mm inside the outline's middle (a 2.8 mm square),
//!    sampled about once per pixel through the fitted transform. `ink` is its dark fraction.
//!    Ticked: `ink` ≥ 0.15, or `ink` ≥ 0.04 with the ink reaching over 1.5 mm (specks left
//!    out). Measured on hand-marked renders (`tests/omr.rs`): empty boxes ≤ 0.01, stray dots
//!    0.03–0.095 reaching ≤ 0.9 mm, short slashes ≥ 0.12 reaching ≥ 2.4 mm, check marks ≥ 0.17,
//!    crosses ≥ 0.24, fills ≥ 0.6.
//!
//! A form with fewer than four tick boxes cannot be registered this way.

use image::GrayImage;

use crate::form::{FormDefinition, TickBox};

/// One tick box as read from the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TickReading {
    /// The form field's key.
    pub field: String,
    /// The option's code (a single `tick` field: its key).
    pub code: String,
    pub label: String,
    pub ticked: bool,
    /// dark fraction inside the box
    pub ink: f32,
}

/// Every tick box of a form, in the form's order, and how well the page was registered.
#[derive(Debug, Clone, PartialEq)]
pub struct OmrReading {
    pub ticks: Vec<TickReading>,
    /// boxes whose outline was found
    pub located: usize,
    pub total: usize,
}

impl OmrReading {
    /// The codes of the ticked boxes, in the form's order.
    pub fn ticked_codes(&self) -> Vec<&str> {
        self.ticks.iter().filter(|t| t.ticked).map(|t| t.code.as_str()).collect()
    }
}

/// Why a page's ticks were not read. The clerk enters them by hand instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OmrError {
    #[error("the form {form} has no tick boxes, so there is nothing to read automatically")]
    NoTickBoxes { form: String },
    #[error(
        "the form {form} has only {total} tick box(es), too few to line the page up by (at least \
         {MIN_LOCATED} are needed): enter the ticks by hand"
    )]
    TooFewBoxes { form: String, total: usize },
    #[error(
        "the page image ({width} × {height} pixels) is too small or not a whole page: scan the \
         whole sheet at 200 dpi or more, or enter the ticks by hand"
    )]
    PageTooSmall { width: u32, height: u32 },
    #[error(
        "the page could not be lined up with the form {form}: {found} of its {total} tick boxes \
         were found, at least {needed} are needed. Check that the page is this form, the right way \
         up and not cut off, or enter the ticks by hand"
    )]
    NotRegistered { form: String, found: usize, needed: usize, total: usize },
    #[error(
        "the page could not be lined up with the form {form} for certain: {strays} box outline(s) \
         lie where the form has none, as if the page were shifted a whole row. Check that the page \
         is this form and lay it straight on the scanner, or enter the ticks by hand"
    )]
    Ambiguous { form: String, strays: usize },
}

/// Below this a 4 mm box is under 12 pixels across (about 76 dpi).
const MIN_PX_PER_MM: f32 = 3.0;
/// Finer scans are averaged down to about this before anything is measured.
const WORK_PX_PER_MM: f32 = 12.0;
const MAX_ANGLE_DEG: f32 = 4.0;
const ANGLE_STEP_DEG: f32 = 0.25;
/// Shift of the page after its rotation about the centre.
const MAX_SHIFT_MM: f32 = 12.0;
const SCALES: [f32; 5] = [1.0, 0.985, 1.015, 0.97, 1.03];
const BIN_MM: f32 = 0.5;
/// Half the width of the band in which a box side is looked for.
const BAND_MM: f32 = 0.4;
const GAP_MM: f32 = 0.2;
const OUTER_MM: f32 = 0.6;
/// The least inked side of a candidate box (a 0.25 mm line in a 0.8 mm band is about 0.3).
const MIN_SIDE: f32 = 0.15;
const MIN_SCORE: f32 = 0.12;
/// A located box: a candidate this close to the box's fitted place.
const LOCATED_MM: f32 = 0.6;
const MIN_LOCATED: usize = 4;
/// A box-like outline near the boxes (within `STRAY_REACH_MM`) but on none of them, scoring at
/// least this share of the located boxes' median, means the grid may be matched one row off.
const STRAY_SCORE: f32 = 0.6;
const STRAY_REACH_MM: f32 = 15.0;
/// Ink is at least this many grey levels darker than the paper (the region's median).
const MIN_CONTRAST: u8 = 48;
/// How far inside the printed outline (its middle) the interior starts.
const INSET_MM: f32 = 0.6;
const INK_TICKED: f32 = 0.15;
const INK_MIN: f32 = 0.04;
const SPAN_MIN_MM: f32 = 1.5;
/// Ink pieces smaller than this (mm²) are specks, not pen: a 0.4 mm pen's dot is 0.13 mm².
const SPECK_MM2: f32 = 0.1;

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

/// A position: (x, y), in mm on the form or in pixels on the page.
type Point = (f32, f32);

/// Page pixels (continuous, pixel i covering [i, i+1)) from form millimetres:
/// `p = a · (e − centre) + b`.
#[derive(Debug, Clone, Copy)]
struct Affine {
    a: [[f32; 2]; 2],
    b: [f32; 2],
}

impl Affine {
    fn apply(&self, e: (f32, f32), centre: (f32, f32)) -> (f32, f32) {
        let (x, y) = (e.0 - centre.0, e.1 - centre.1);
        (self.a[0][0] * x + self.a[0][1] * y + self.b[0], self.a[1][0] * x + self.a[1][1] * y + self.b[1])
    }

    fn similarity(scale: f32, angle_rad: f32, b: [f32; 2]) -> Self {
        let (s, c) = angle_rad.sin_cos();
        Affine { a: [[scale * c, -scale * s], [scale * s, scale * c]], b }
    }
}

/// Close to a rotation of at most 6° at the expected scale (±7 %, no shear to speak of).
fn plausible(fit: &Affine, scale: f32) -> bool {
    let [[a, b], [c, d]] = fit.a;
    let sx = (a * a + c * c).sqrt() / scale;
    let sy = (b * b + d * d).sqrt() / scale;
    let angle = c.atan2(a).to_degrees();
    let shear = (a * b + c * d) / (scale * scale);
    [a, b, c, d, fit.b[0], fit.b[1]].iter().all(|v| v.is_finite())
        && (0.93..=1.07).contains(&sx)
        && (0.93..=1.07).contains(&sy)
        && angle.abs() <= 6.0
        && shear.abs() <= 0.05
}

/// The working copy of the region where the boxes can be: grey, averaged down by `k`, its ink
/// threshold and the integral image of its ink.
struct Work {
    w: usize,
    h: usize,
    /// Page pixels per working pixel.
    k: usize,
    /// The region's top-left corner in page pixels.
    ox: usize,
    oy: usize,
    /// Page pixels per mm divided by `k`.
    sw: f32,
    grey: Vec<u8>,
    /// Grey values below this are ink.
    dark_below: u8,
    integral: Vec<u32>,
}

impl Work {
    fn new(page: &GrayImage, scale: f32, boxes: &[(String, TickBox)], centre: (f32, f32)) -> Option<Self> {
        let (pw, ph) = (page.width() as usize, page.height() as usize);
        // Where any box can be: each corner under the extreme rotations, plus the shift and
        // room for the rings around a box.
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        let home = [centre.0 * scale, centre.1 * scale];
        for (_, b) in boxes {
            let (l, t, r, btm) = (b.x_mm, b.y_mm, b.x_mm + b.size_mm, b.y_mm + b.size_mm);
            for corner in [(l, t), (r, t), (l, btm), (r, btm)] {
                for deg in [-MAX_ANGLE_DEG, 0.0, MAX_ANGLE_DEG] {
                    for s in [SCALES[3], SCALES[4]] {
                        let p = Affine::similarity(s * scale, deg.to_radians(), home).apply(corner, centre);
                        x0 = x0.min(p.0);
                        y0 = y0.min(p.1);
                        x1 = x1.max(p.0);
                        y1 = y1.max(p.1);
                    }
                }
            }
        }
        let margin = (MAX_SHIFT_MM + 3.0) * scale;
        let clamp = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
        let (rx0, ry0) = (clamp(x0 - margin, pw), clamp(y0 - margin, ph));
        let (rx1, ry1) = (clamp(x1 + margin + 1.0, pw), clamp(y1 + margin + 1.0, ph));
        let k = ((scale / WORK_PX_PER_MM).round() as usize).max(1);
        let (w, h) = ((rx1.saturating_sub(rx0)) / k, (ry1.saturating_sub(ry0)) / k);
        if w < 8 || h < 8 {
            return None;
        }
        let raw = page.as_raw();
        let mut grey = vec![0u8; w * h];
        if k == 1 {
            for y in 0..h {
                let src = (ry0 + y) * pw + rx0;
                grey[y * w..(y + 1) * w].copy_from_slice(&raw[src..src + w]);
            }
        } else {
            let mut row = vec![0u32; w];
            for y in 0..h {
                row.iter_mut().for_each(|v| *v = 0);
                for dy in 0..k {
                    let src = &raw[(ry0 + y * k + dy) * pw + rx0..];
                    for (x, v) in row.iter_mut().enumerate() {
                        *v += src[x * k..x * k + k].iter().map(|&g| g as u32).sum::<u32>();
                    }
                }
                let n = (k * k) as u32;
                for (x, v) in row.iter().enumerate() {
                    grey[y * w + x] = (v / n) as u8;
                }
            }
        }
        let dark_below = threshold(&grey);
        let mut integral = vec![0u32; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut run = 0u32;
            for x in 0..w {
                run += u32::from(grey[y * w + x] < dark_below);
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1].wrapping_add(run);
            }
        }
        Some(Work { w, h, k, ox: rx0, oy: ry0, sw: scale / k as f32, grey, dark_below, integral })
    }

    /// Inked pixels and area of the half-open rectangle, clipped to the region.
    fn rect(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> (u32, u32) {
        let cx = |v: i64| v.clamp(0, self.w as i64) as usize;
        let cy = |v: i64| v.clamp(0, self.h as i64) as usize;
        let (x0, x1, y0, y1) = (cx(x0), cx(x1), cy(y0), cy(y1));
        if x1 <= x0 || y1 <= y0 {
            return (0, 0);
        }
        let s = self.w + 1;
        let i = &self.integral;
        let sum = i[y1 * s + x1]
            .wrapping_sub(i[y0 * s + x1])
            .wrapping_sub(i[y1 * s + x0])
            .wrapping_add(i[y0 * s + x0]);
        (sum, ((x1 - x0) * (y1 - y0)) as u32)
    }

    fn frac(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> f32 {
        let (s, a) = self.rect(x0, y0, x1, y1);
        if a == 0 { 0.0 } else { s as f32 / a as f32 }
    }

    /// Box outlines of side `size_mm`, best first, at most `limit`.
    fn detect(&self, size_mm: f32, limit: usize) -> Vec<Candidate> {
        let g = Geometry::new(size_mm, self.sw);
        let reach = g.hs + g.bw + g.gap + g.outer;
        let (w, h) = (self.w as i64, self.h as i64);
        if g.hs < 4 || w <= 2 * reach || h <= 2 * reach {
            return Vec::new();
        }
        // Scored every 0.17 mm or less: a side band tolerates 0.27 mm, 0.1 of it taken by a 3°
        // skew along a 4 mm side.
        let stride = ((0.17 * self.sw).floor() as i64).max(1);
        let (gw, gh) = ((w - 2 * reach + stride - 1) / stride, (h - 2 * reach + stride - 1) / stride);
        let mut map = vec![0f32; (gw * gh) as usize];
        for gy in 0..gh {
            for gx in 0..gw {
                if let Some(score) = self.score(&g, reach + gx * stride, reach + gy * stride) {
                    map[(gy * gw + gx) as usize] = score;
                }
            }
        }
        // Local maxima of the map only (a page of graph paper must not make millions of peaks).
        let mut peaks: Vec<(f32, i64, i64)> = Vec::new();
        for gy in 0..gh {
            for gx in 0..gw {
                let score = map[(gy * gw + gx) as usize];
                if score <= 0.0 {
                    continue;
                }
                let highest = (gy.max(1) - 1..(gy + 2).min(gh))
                    .all(|y| (gx.max(1) - 1..(gx + 2).min(gw)).all(|x| map[(y * gw + x) as usize] <= score));
                if highest {
                    peaks.push((score, reach + gx * stride, reach + gy * stride));
                }
            }
        }
        peaks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)).then(a.1.cmp(&b.1)));
        // Greedy non-maximum suppression: boxes are further apart than 0.6 of their side.
        let apart = (1.2 * g.hs as f32) as i64;
        let mut kept: Vec<(f32, i64, i64)> = Vec::new();
        for &(score, cx, cy) in &peaks {
            if kept.len() >= limit {
                break;
            }
            if kept.iter().all(|&(_, x, y)| (x - cx).abs() > apart || (y - cy).abs() > apart) {
                kept.push((score, cx, cy));
            }
        }
        kept.into_iter()
            .map(|(score, cx, cy)| {
                let (x, y) = self.centre(&g, cx, cy);
                Candidate {
                    x: x * self.k as f32 + self.ox as f32,
                    y: y * self.k as f32 + self.oy as f32,
                    score,
                }
            })
            .collect()
    }

    /// How much a box of geometry `g` centred at (cx, cy) looks like an outline.
    fn score(&self, g: &Geometry, cx: i64, cy: i64) -> Option<f32> {
        let (hs, bw) = (g.hs, g.bw);
        let sides = [
            (cx - hs, cy - hs - bw, cx + hs + 1, cy - hs + bw + 1),
            (cx - hs, cy + hs - bw, cx + hs + 1, cy + hs + bw + 1),
            (cx - hs - bw, cy - hs, cx - hs + bw + 1, cy + hs + 1),
            (cx + hs - bw, cy - hs, cx + hs + bw + 1, cy + hs + 1),
        ];
        let mut least = f32::MAX;
        for (x0, y0, x1, y1) in sides {
            let f = self.frac(x0, y0, x1, y1);
            if f < MIN_SIDE {
                return None;
            }
            least = least.min(f);
        }
        let r1 = hs + bw + g.gap;
        let r2 = r1 + g.outer;
        let (s2, a2) = self.rect(cx - r2, cy - r2, cx + r2 + 1, cy + r2 + 1);
        let (s1, a1) = self.rect(cx - r1, cy - r1, cx + r1 + 1, cy + r1 + 1);
        let outer = if a2 > a1 { s2.saturating_sub(s1) as f32 / (a2 - a1) as f32 } else { 0.0 };
        // The inside is not looked at: a ticked box is still a box.
        let score = least - outer;
        (score >= MIN_SCORE).then_some(score)
    }

    /// The centre of the outline near (cx, cy), to a fraction of a pixel: the middle of each
    /// side's ink profile across it (working pixels, continuous).
    fn centre(&self, g: &Geometry, cx: i64, cy: i64) -> (f32, f32) {
        let (hs, reach, along) = (g.hs, g.bw + g.gap, g.hs - g.bw - g.gap);
        // Mean position of the ink in rows (or columns) from..=to, over a span along the side.
        let profile = |from: i64, to: i64, vertical: bool, fallback: f32| {
            let (mut weight, mut sum) = (0f32, 0f32);
            for r in from..=to {
                let (s, _) = if vertical {
                    self.rect(cx - along, r, cx + along + 1, r + 1)
                } else {
                    self.rect(r, cy - along, r + 1, cy + along + 1)
                };
                weight += s as f32;
                sum += s as f32 * (r as f32 + 0.5);
            }
            if weight > 0.0 { sum / weight } else { fallback }
        };
        let top = profile(cy - hs - reach, cy - hs + reach, true, (cy - hs) as f32 + 0.5);
        let bottom = profile(cy + hs - reach, cy + hs + reach, true, (cy + hs) as f32 + 0.5);
        let left = profile(cx - hs - reach, cx - hs + reach, false, (cx - hs) as f32 + 0.5);
        let right = profile(cx + hs - reach, cx + hs + reach, false, (cx + hs) as f32 + 0.5);
        ((left + right) / 2.0, (top + bottom) / 2.0)
    }

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

/// A box outline found on the page: its centre in page pixels and its score.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    x: f32,
    y: f32,
    score: f32,
}

/// A box's measuring bands in working pixels.
struct Geometry {
    /// Half the side: from the centre to the middle of the outline.
    hs: i64,
    /// Half the width of a side band.
    bw: i64,
    gap: i64,
    outer: i64,
}

impl Geometry {
    fn new(size_mm: f32, sw: f32) -> Self {
        let px = |mm: f32| ((mm * sw).round() as i64).max(1);
        Geometry { hs: px(size_mm / 2.0), bw: px(BAND_MM), gap: px(GAP_MM), outer: px(OUTER_MM) }
    }
}

/// Otsu's threshold over the region, kept at least `MIN_CONTRAST` below the paper (the
/// median): grey values below the result are ink.
fn threshold(grey: &[u8]) -> u8 {
    let mut hist = [0u64; 256];
    for &g in grey {
        hist[g as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0;
    }
    let mut seen = 0u64;
    let mut median = 255u8;
    for (v, &c) in hist.iter().enumerate() {
        seen += c;
        if seen * 2 >= total {
            median = v as u8;
            break;
        }
    }
    let sum_all: f64 = hist.iter().enumerate().map(|(v, &c)| v as f64 * c as f64).sum();
    let (mut w0, mut sum0, mut best, mut otsu) = (0f64, 0f64, -1f64, 0u8);
    for (v, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += v as f64 * c as f64;
        let w1 = total as f64 - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let between = w0 * w1 * (sum0 / w0 - (sum_all - sum0) / w1).powi(2);
        if between > best {
            best = between;
            // Class 0 is 0..=v: ink is below v + 1.
            otsu = (v as u8).saturating_add(1);
        }
    }
    otsu.min(median.saturating_sub(MIN_CONTRAST))
}

/// The vote: which rotation, scale and shift put the most candidates where boxes should be.
/// Too few: how many the best put there.
fn hough(
    expected: &[(f32, f32)],
    size_of: &[usize],
    cands: &[Vec<Candidate>],
    centre: (f32, f32),
    scale: f32,
) -> Result<Affine, usize> {
    let bin = BIN_MM * scale;
    let reach = MAX_SHIFT_MM * scale;
    let n = (2.0 * MAX_SHIFT_MM / BIN_MM).round() as usize + 1;
    let steps = (MAX_ANGLE_DEG / ANGLE_STEP_DEG).round() as i32;
    let mut votes = vec![0u16; n * n];
    let mut best: Option<(f32, Affine)> = None;
    let home = [centre.0 * scale, centre.1 * scale];
    for &s in &SCALES {
        for step in -steps..=steps {
            let deg = step as f32 * ANGLE_STEP_DEG;
            let guess = Affine::similarity(s * scale, deg.to_radians(), home);
            votes.iter_mut().for_each(|v| *v = 0);
            for (e, &group) in expected.iter().zip(size_of) {
                let q = guess.apply(*e, centre);
                for c in &cands[group] {
                    let (dx, dy) = (c.x - q.0, c.y - q.1);
                    if dx.abs() > reach || dy.abs() > reach {
                        continue;
                    }
                    let bx = (((dx + reach) / bin).round() as usize).min(n - 1);
                    let by = (((dy + reach) / bin).round() as usize).min(n - 1);
                    votes[by * n + bx] = votes[by * n + bx].saturating_add(1);
                }
            }
            for by in 0..n {
                for bx in 0..n {
                    let mut sum = 0u32;
                    for y in by.saturating_sub(1)..(by + 2).min(n) {
                        for x in bx.saturating_sub(1)..(bx + 2).min(n) {
                            sum += u32::from(votes[y * n + x]);
                        }
                    }
                    if sum == 0 {
                        continue;
                    }
                    let (tx, ty) = (bx as f32 * bin - reach, by as f32 * bin - reach);
                    // Ties go to the smallest shift, rotation and change of scale.
                    let shift_mm = (tx * tx + ty * ty).sqrt() / scale;
                    let value = sum as f32 - 0.01 * shift_mm - 0.02 * deg.abs() - 2.0 * (s - 1.0).abs();
                    if best.is_none_or(|(v, _)| value > v) {
                        let b = [home[0] + tx, home[1] + ty];
                        best = Some((value, Affine::similarity(s * scale, deg.to_radians(), b)));
                    }
                }
            }
        }
    }
    match best {
        Some((v, a)) if v >= MIN_LOCATED as f32 - 0.5 => Ok(a),
        Some((v, _)) => Err(v.round().max(0.0) as usize),
        None => Err(0),
    }
}

/// Least squares from the vote's guess: match, fit, drop outliers, match again. Returns the
/// fit and how many boxes have a candidate within `LOCATED_MM` of their fitted place.
fn refine(
    mut fit: Affine,
    expected: &[(f32, f32)],
    size_of: &[usize],
    cands: &[Vec<Candidate>],
    centre: (f32, f32),
    scale: f32,
) -> (Affine, usize) {
    let nearest = |fit: &Affine, i: usize| -> Option<((f32, f32), f32)> {
        let q = fit.apply(expected[i], centre);
        cands[size_of[i]]
            .iter()
            .map(|c| ((c.x, c.y), distance((c.x, c.y), q)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    for radius_mm in [2.0, 1.2, 0.8, 0.8] {
        let mut pairs: Vec<(Point, Point)> = (0..expected.len())
            .filter_map(|i| {
                nearest(&fit, i).filter(|(_, d)| *d <= radius_mm * scale).map(|(c, _)| (expected[i], c))
            })
            .collect();
        if pairs.len() < 3 {
            break;
        }
        for _ in 0..2 {
            let Some(f) = fit_pairs(&pairs, centre) else { break };
            let residuals: Vec<f32> = pairs.iter().map(|(e, c)| distance(f.apply(*e, centre), *c)).collect();
            let limit = {
                let mut sorted = residuals.clone();
                sorted.sort_by(f32::total_cmp);
                (3.0 * sorted[sorted.len() / 2]).max(0.4 * scale)
            };
            fit = f;
            let before = pairs.len();
            let mut k = 0;
            pairs.retain(|_| {
                let keep = residuals[k] <= limit;
                k += 1;
                keep
            });
            if pairs.len() == before || pairs.len() < 3 {
                break;
            }
        }
        if let Some(f) = fit_pairs(&pairs, centre) {
            fit = f;
        }
    }
    let located = (0..expected.len())
        .filter(|&i| nearest(&fit, i).is_some_and(|(_, d)| d <= LOCATED_MM * scale))
        .count();
    (fit, located)
}

/// Box outlines as clear as the located ones where the form has none, near its boxes: what a
/// grid matched one row or column off leaves over (a page shifted further than the search).
fn strays(
    fit: &Affine,
    expected: &[(f32, f32)],
    size_of: &[usize],
    sizes: &[f32],
    cands: &[Vec<Candidate>],
    centre: (f32, f32),
    scale: f32,
) -> usize {
    let mut count = 0;
    for (group, list) in cands.iter().enumerate() {
        let placed: Vec<(f32, f32)> = expected
            .iter()
            .zip(size_of)
            .filter(|(_, g)| **g == group)
            .map(|(e, _)| fit.apply(*e, centre))
            .collect();
        let nearest =
            |c: &Candidate| placed.iter().map(|p| distance(*p, (c.x, c.y))).fold(f32::MAX, f32::min);
        let mut located: Vec<f32> =
            list.iter().filter(|c| nearest(c) <= LOCATED_MM * scale).map(|c| c.score).collect();
        if located.is_empty() {
            continue;
        }
        located.sort_by(f32::total_cmp);
        let clear = STRAY_SCORE * located[located.len() / 2];
        let size = sizes.get(group).copied().unwrap_or(0.0) * scale;
        count += list
            .iter()
            .filter(|c| c.score >= clear && (size..=STRAY_REACH_MM * scale).contains(&nearest(c)))
            .count();
    }
    count
}

fn distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Affine from six or more boxes spread in both directions, else a similarity (two or more).
fn fit_pairs(pairs: &[(Point, Point)], centre: Point) -> Option<Affine> {
    if pairs.len() < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let pts: Vec<(f64, f64, f64, f64)> = pairs
        .iter()
        .map(|(e, c)| ((e.0 - centre.0) as f64, (e.1 - centre.1) as f64, c.0 as f64, c.1 as f64))
        .collect();
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let (mu, mv) = (pts.iter().map(|p| p.2).sum::<f64>() / n, pts.iter().map(|p| p.3).sum::<f64>() / n);
    let (mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64);
    let (mut sxu, mut syu, mut sxv, mut syv) = (0f64, 0f64, 0f64, 0f64);
    for &(x, y, u, v) in &pts {
        let (x, y, u, v) = (x - mx, y - my, u - mu, v - mv);
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
        sxu += x * u;
        syu += y * u;
        sxv += x * v;
        syv += y * v;
    }
    // The smaller principal spread of the boxes, in mm (standard deviation).
    let spread = ((sxx + syy) / 2.0 - (((sxx - syy) / 2.0).powi(2) + sxy * sxy).sqrt()).max(0.0) / n;
    let det = sxx * syy - sxy * sxy;
    let a = if pairs.len() >= 6 && spread.sqrt() >= 5.0 && det.abs() > 1e-9 {
        [
            [(sxu * syy - syu * sxy) / det, (syu * sxx - sxu * sxy) / det],
            [(sxv * syy - syv * sxy) / det, (syv * sxx - sxv * sxy) / det],
        ]
    } else {
        let norm = sxx + syy;
        if norm <= 1e-9 {
            return None;
        }
        let p = (sxu + syv) / norm;
        let q = (sxv - syu) / norm;
        [[p, -q], [q, p]]
    };
    let b = [mu - a[0][0] * mx - a[0][1] * my, mv - a[1][0] * mx - a[1][1] * my];
    let f = Affine {
        a: [[a[0][0] as f32, a[0][1] as f32], [a[1][0] as f32, a[1][1] as f32]],
        b: [b[0] as f32, b[1] as f32],
    };
    f.a.iter().flatten().chain(f.b.iter()).all(|v| v.is_finite()).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::built_in;
    use image::Luma;

    fn form(id: &str) -> FormDefinition {
        built_in().into_iter().find(|f| f.id == id).unwrap()
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Mark {
        Check,
        Cross,
        Fill,
        Slash,
        Dot,
        Speckle,
    }

    impl Mark {
        fn is_tick(self) -> bool {
            matches!(self, Mark::Check | Mark::Cross | Mark::Fill | Mark::Slash)
        }

        /// Strokes in mm from the box centre, and the pen's radius.
        fn strokes(self) -> (Vec<[(f32, f32); 2]>, f32) {
            match self {
                Mark::Check => (vec![[(-1.2, 0.1), (-0.3, 1.2)], [(-0.3, 1.2), (1.8, -2.6)]], 0.25),
                Mark::Cross => (vec![[(-1.6, -1.6), (1.7, 1.5)], [(1.6, -1.7), (-1.5, 1.6)]], 0.25),
                Mark::Fill => (
                    (0..8).map(|i| [(-1.8, -1.8 + i as f32 * 0.5), (1.8, -1.6 + i as f32 * 0.5)]).collect(),
                    0.3,
                ),
                Mark::Slash => (vec![[(-0.7, 0.8), (0.8, -0.7)]], 0.25),
                Mark::Dot => (vec![[(0.2, -0.1), (0.2, -0.1)]], 0.3),
                Mark::Speckle => (vec![[(-0.9, -0.6), (-0.9, -0.6)], [(0.7, 0.8), (0.7, 0.8)]], 0.08),
            }
        }
    }

    fn seg_distance(p: (f32, f32), [a, b]: [(f32, f32); 2]) -> f32 {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        distance(p, (a.0 + t * dx, a.1 + t * dy))
    }

    /// A scanned page drawn in Rust: the form's tick boxes (0.25 mm outlines) with label-like
    /// clutter beside them, the given marks (slightly off-centre), rotated about the page
    /// centre, shifted, with noise.
    struct Scan {
        dpi: f32,
        angle_deg: f32,
        shift_mm: (f32, f32),
        noise: u8,
        seed: u64,
    }

    impl Scan {
        fn draw(&self, form: &FormDefinition, marks: &[(usize, Mark)]) -> GrayImage {
            let scale = self.dpi / 25.4;
            let (w, h) = ((form.width_mm * scale).round() as u32, (form.height_mm * scale).round() as u32);
            let mut img = GrayImage::from_pixel(w, h, Luma([245]));
            let centre = (form.width_mm / 2.0, form.height_mm / 2.0);
            let (s, c) = self.angle_deg.to_radians().sin_cos();
            let boxes: Vec<TickBox> = form.fields.iter().flat_map(|f| f.tick_boxes()).collect();
            // Page pixel → form mm (the inverse of rotate-then-shift).
            let to_mm = |px: f32, py: f32| {
                let (x, y) =
                    (px / scale - self.shift_mm.0 - centre.0, py / scale - self.shift_mm.1 - centre.1);
                (c * x + s * y + centre.0, -s * x + c * y + centre.1)
            };
            let to_px = |x: f32, y: f32| {
                let (x, y) = (x - centre.0, y - centre.1);
                (
                    (c * x - s * y + centre.0 + self.shift_mm.0) * scale,
                    (s * x + c * y + centre.1 + self.shift_mm.1) * scale,
                )
            };
            let mut paint = |x0: f32, y0: f32, x1: f32, y1: f32, ink: &dyn Fn((f32, f32)) -> Option<u8>| {
                let corners = [to_px(x0, y0), to_px(x1, y0), to_px(x0, y1), to_px(x1, y1)];
                let lo_x = corners.iter().map(|p| p.0).fold(f32::MAX, f32::min).max(0.0) as u32;
                let hi_x = (corners.iter().map(|p| p.0).fold(f32::MIN, f32::max) + 1.0).min(w as f32) as u32;
                let lo_y = corners.iter().map(|p| p.1).fold(f32::MAX, f32::min).max(0.0) as u32;
                let hi_y = (corners.iter().map(|p| p.1).fold(f32::MIN, f32::max) + 1.0).min(h as f32) as u32;
                for py in lo_y..hi_y {
                    for px in lo_x..hi_x {
                        if let Some(v) = ink(to_mm(px as f32 + 0.5, py as f32 + 0.5)) {
                            let old = img.get_pixel(px, py)[0];
                            img.put_pixel(px, py, Luma([old.min(v)]));
                        }
                    }
                }
            };
            for (i, b) in boxes.iter().enumerate() {
                let (x0, y0, x1, y1) = (b.x_mm, b.y_mm, b.x_mm + b.size_mm, b.y_mm + b.size_mm);
                paint(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0, &|(x, y)| {
                    let d = (x - x0).abs().min((x - x1).abs()).min((y - y0).abs()).min((y - y1).abs());
                    let inside = x >= x0 - 0.2 && x <= x1 + 0.2 && y >= y0 - 0.2 && y <= y1 + 0.2;
                    (inside && d <= 0.125).then_some(20)
                });
                // Label clutter: box-like glyphs (田) 2.6 mm, 1.5 mm to the right.
                for g in 0..6 {
                    let gx = x1 + 1.5 + g as f32 * 2.9;
                    let gy = y0 + 0.7;
                    paint(gx, gy, gx + 2.6, gy + 2.6, &|(x, y)| {
                        let (u, v) = (x - gx, y - gy);
                        let line = |t: f32| {
                            (t.abs() <= 0.12) || ((t - 1.3).abs() <= 0.12) || ((t - 2.6).abs() <= 0.12)
                        };
                        let on =
                            (line(u) && (0.0..=2.6).contains(&v)) || (line(v) && (0.0..=2.6).contains(&u));
                        on.then_some(30)
                    });
                }
                for &(_, mark) in marks.iter().filter(|(m, _)| *m == i) {
                    let (strokes, pen) = mark.strokes();
                    // Slightly off-centre, by box.
                    let off = (((i * 7) % 5) as f32 * 0.15 - 0.3, ((i * 3) % 5) as f32 * 0.15 - 0.3);
                    let (cx, cy) = (x0 + b.size_mm / 2.0 + off.0, y0 + b.size_mm / 2.0 + off.1);
                    paint(x0 - 2.0, y0 - 2.0, x1 + 2.0, y1 + 2.0, &|(x, y)| {
                        let p = (x - cx, y - cy);
                        strokes.iter().any(|st| seg_distance(p, *st) <= pen).then_some(50)
                    });
                }
            }
            if self.noise > 0 {
                let mut rng = fastrand::Rng::with_seed(self.seed);
                let n = self.noise as i32;
                for p in img.pixels_mut() {
                    p[0] = (p[0] as i32 + rng.i32(-n..=n)).clamp(0, 255) as u8;
                }
            }
            img
        }
    }

    fn scan(dpi: f32, angle_deg: f32, shift_mm: (f32, f32)) -> Scan {
        Scan { dpi, angle_deg, shift_mm, noise: 30, seed: 7 }
    }

    fn assert_reads(reading: &OmrReading, marks: &[(usize, Mark)], what: &str) {
        for (i, t) in reading.ticks.iter().enumerate() {
            let want = marks.iter().any(|(m, k)| *m == i && k.is_tick());
            assert_eq!(t.ticked, want, "{what}: box {i} {} ink {:.3} ({:?})", t.code, t.ink, reading);
        }
    }

    #[test]
    fn reads_checks_crosses_fills_and_slashes_but_not_dots_on_a_skewed_shifted_page() {
        let slip = form("charge_slip");
        let marks = [
            (0, Mark::Check),
            (5, Mark::Cross),
            (9, Mark::Fill),
            (13, Mark::Slash),
            (23, Mark::Check),
            (2, Mark::Dot),
            (17, Mark::Dot),
            (20, Mark::Speckle),
        ];
        for (dpi, angle, shift) in [
            (300.0, 0.0, (0.0, 0.0)),
            (300.0, 2.5, (3.0, -2.0)),
            (200.0, -3.0, (-4.0, 3.5)),
            (150.0, 1.0, (1.0, 1.0)),
            (600.0, -1.5, (2.0, 2.0)),
        ] {
            let page = scan(dpi, angle, shift).draw(&slip, &marks);
            let reading = read_ticks(&page, &slip).unwrap();
            let what = format!("{dpi} dpi, {angle}°, {shift:?}");
            assert_eq!(reading.total, 24, "{what}");
            assert!(reading.located >= 20, "{what}: located {}", reading.located);
            assert_reads(&reading, &marks, &what);
            assert_eq!(reading.ticked_codes(), ["A000", "C000", "D026", "E202", "K000"], "{what}");
        }
    }

    #[test]
    fn an_unmarked_page_reads_nothing_ticked_and_every_box_located() {
        let slip = form("charge_slip");
        let page = scan(300.0, -2.0, (5.0, -5.0)).draw(&slip, &[]);
        let reading = read_ticks(&page, &slip).unwrap();
        assert_eq!(reading.located, 24);
        assert!(reading.ticks.iter().all(|t| !t.ticked && t.ink < 0.02), "{reading:?}");
    }

    #[test]
    fn a_page_with_most_boxes_ticked_still_registers() {
        let slip = form("charge_slip");
        let marks: Vec<(usize, Mark)> = (0..24)
            .filter(|i| i % 3 != 0)
            .map(|i| (i, if i % 2 == 0 { Mark::Check } else { Mark::Cross }))
            .collect();
        let page = scan(200.0, 1.5, (-2.0, 2.0)).draw(&slip, &marks);
        let reading = read_ticks(&page, &slip).unwrap();
        assert_reads(&reading, &marks, "16 of 24 ticked");
    }

    #[test]
    fn a_form_with_a_few_single_ticks_reads() {
        let mar = form("mar");
        let page = scan(200.0, 1.0, (1.0, -1.0)).draw(&mar, &[(3, Mark::Check)]);
        let reading = read_ticks(&page, &mar).unwrap();
        assert_eq!(reading.total, 10);
        assert_reads(&reading, &[(3, Mark::Check)], "mar");
    }

    #[test]
    fn a_page_shifted_further_than_the_search_is_refused_not_read_a_row_off() {
        let slip = form("charge_slip");
        let marks = [(3, Mark::Check)];
        for shift in [(0.0, 10.0), (-9.0, -9.5), (11.0, 0.0)] {
            let page = scan(200.0, 1.0, shift).draw(&slip, &marks);
            assert_eq!(read_ticks(&page, &slip).unwrap().ticked_codes(), ["A300"], "{shift:?}");
        }
        // A row (10 mm) and a bit further than the search reaches: matched a row off, the grid
        // would fit all but three boxes.
        for shift in [(0.0, 13.0), (0.0, -13.5), (2.0, 14.0)] {
            let page = scan(200.0, 1.0, shift).draw(&slip, &marks);
            let err = read_ticks(&page, &slip).unwrap_err();
            assert!(matches!(err, OmrError::Ambiguous { strays: 3.., .. }), "{shift:?}: {err}");
        }
    }

    #[test]
    fn a_form_without_tick_boxes_or_with_too_few_is_refused() {
        let note = form("progress_note");
        let page = GrayImage::from_pixel(1654, 2339, Luma([255]));
        let err = read_ticks(&page, &note).unwrap_err();
        assert_eq!(err, OmrError::NoTickBoxes { form: "progress_note".into() });
        assert!(err.to_string().contains("no tick boxes"));
        // One box cannot line a page up.
        let prescription = form("prescription");
        let page = scan(200.0, 0.0, (0.0, 0.0)).draw(&prescription, &[(0, Mark::Check)]);
        let err = read_ticks(&page, &prescription).unwrap_err();
        assert_eq!(err, OmrError::TooFewBoxes { form: "prescription".into(), total: 1 });
        assert!(err.to_string().contains("at least 4 are needed"), "{err}");
    }

    #[test]
    fn blank_black_and_noise_pages_are_not_registered() {
        let slip = form("charge_slip");
        let mut noise = GrayImage::new(1654, 2339);
        let mut rng = fastrand::Rng::with_seed(3);
        noise.pixels_mut().for_each(|p| p[0] = rng.u8(..));
        for (what, page) in [
            ("white", GrayImage::from_pixel(1654, 2339, Luma([255]))),
            ("black", GrayImage::from_pixel(1654, 2339, Luma([0]))),
            ("grey", GrayImage::from_pixel(1654, 2339, Luma([128]))),
            ("noise", noise),
        ] {
            match read_ticks(&page, &slip) {
                Err(OmrError::NotRegistered { found, needed, total, .. }) => {
                    assert!(found < needed, "{what}");
                    assert_eq!((needed, total), (8, 24), "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let err = read_ticks(&GrayImage::from_pixel(1654, 2339, Luma([255])), &slip).unwrap_err();
        assert!(err.to_string().contains("could not be lined up"), "{err}");
    }

    #[test]
    fn graph_paper_is_refused() {
        let slip = form("charge_slip");
        let scale = 200.0 / 25.4;
        let (w, h) = ((210.0 * scale) as u32, (297.0 * scale) as u32);
        for pitch in [4.0f32, 5.0] {
            // Lines 0.25 mm wide every `pitch` mm.
            let on = |p: u32| {
                let f = ((p as f32 + 0.5) / scale / pitch).fract();
                f.min(1.0 - f) * pitch <= 0.13
            };
            let page = GrayImage::from_fn(w, h, |x, y| Luma([if on(x) || on(y) { 40 } else { 250 }]));
            let err = read_ticks(&page, &slip).unwrap_err();
            assert!(
                matches!(err, OmrError::Ambiguous { .. } | OmrError::NotRegistered { .. }),
                "{pitch} mm: {err}"
            );
        }
    }

    #[test]
    fn tiny_and_odd_images_are_refused_without_panicking() {
        let slip = form("charge_slip");
        for (w, h) in
            [(0, 0), (1, 1), (0, 100), (100, 0), (10, 10), (300, 5), (620, 20), (630, 900), (5000, 3)]
        {
            let page = GrayImage::from_pixel(w, h, Luma([200]));
            assert!(read_ticks(&page, &slip).is_err(), "{w}×{h}");
        }
        let err = read_ticks(&GrayImage::new(10, 10), &slip).unwrap_err();
        assert!(matches!(err, OmrError::PageTooSmall { width: 10, height: 10 }), "{err}");
        // A strip of the page (the top half only): the boxes that are there are not enough.
        let page = scan(200.0, 0.0, (0.0, 0.0)).draw(&slip, &[(0, Mark::Check)]);
        let top = image::imageops::crop_imm(&page, 0, 0, page.width(), 700).to_image();
        assert!(read_ticks(&top, &slip).is_err());
    }

    #[test]
    fn a_page_of_another_form_is_not_read_as_this_one() {
        let slip = form("charge_slip");
        // The same number of boxes, elsewhere on the page.
        let mut other = slip.clone();
        other.fields.iter_mut().filter(|f| f.key == "charges").for_each(|f| f.y_mm += 95.0);
        let page = scan(200.0, 1.0, (0.0, 0.0)).draw(&other, &[(1, Mark::Check)]);
        assert!(matches!(read_ticks(&page, &slip), Err(OmrError::NotRegistered { .. })));
        // And a form with a zero page size does not divide by zero.
        let mut broken = slip.clone();
        broken.width_mm = 0.0;
        assert!(read_ticks(&page, &broken).is_err());
    }

    #[test]
    fn the_threshold_keeps_clear_of_the_paper() {
        assert_eq!(threshold(&[]), 0);
        assert_eq!(threshold(&[255; 100]), 0, "one grey: nothing is ink");
        let mut mixed = vec![250u8; 900];
        mixed.extend([10u8; 100]);
        let t = threshold(&mixed);
        assert!(t > 10 && t <= 202, "{t}");
    }
}
