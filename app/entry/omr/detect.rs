//! Steps 1 to 3: the working copy of where the boxes can be, its ink, and the box outlines on it.

use image::GrayImage;

use super::register::Affine;
use super::*;
use crate::form::TickBox;

/// The working copy of the region where the boxes can be: grey, averaged down by `k`, its ink
/// threshold and the integral image of its ink.
pub(super) struct Work {
    pub(super) w: usize,
    pub(super) h: usize,
    /// Page pixels per working pixel.
    pub(super) k: usize,
    /// The region's top-left corner in page pixels.
    pub(super) ox: usize,
    pub(super) oy: usize,
    /// Page pixels per mm divided by `k`.
    pub(super) sw: f32,
    pub(super) grey: Vec<u8>,
    /// Grey values below this are ink.
    pub(super) dark_below: u8,
    pub(super) integral: Vec<u32>,
}

impl Work {
    pub(super) fn new(
        page: &GrayImage,
        scale: f32,
        boxes: &[(String, TickBox)],
        centre: (f32, f32),
    ) -> Option<Self> {
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
    pub(super) fn rect(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> (u32, u32) {
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

    pub(super) fn frac(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> f32 {
        let (s, a) = self.rect(x0, y0, x1, y1);
        if a == 0 { 0.0 } else { s as f32 / a as f32 }
    }

    /// Box outlines of side `size_mm`, best first, at most `limit`.
    pub(super) fn detect(&self, size_mm: f32, limit: usize) -> Vec<Candidate> {
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
    pub(super) fn score(&self, g: &Geometry, cx: i64, cy: i64) -> Option<f32> {
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
    pub(super) fn centre(&self, g: &Geometry, cx: i64, cy: i64) -> (f32, f32) {
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
}

/// A box outline found on the page: its centre in page pixels and its score.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) score: f32,
}

/// A box's measuring bands in working pixels.
pub(super) struct Geometry {
    /// Half the side: from the centre to the middle of the outline.
    pub(super) hs: i64,
    /// Half the width of a side band.
    pub(super) bw: i64,
    pub(super) gap: i64,
    pub(super) outer: i64,
}

impl Geometry {
    pub(super) fn new(size_mm: f32, sw: f32) -> Self {
        let px = |mm: f32| ((mm * sw).round() as i64).max(1);
        Geometry { hs: px(size_mm / 2.0), bw: px(BAND_MM), gap: px(GAP_MM), outer: px(OUTER_MM) }
    }
}

/// Otsu's threshold over the region, kept at least `MIN_CONTRAST` below the paper (the
/// median): grey values below the result are ink.
pub(super) fn threshold(grey: &[u8]) -> u8 {
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
