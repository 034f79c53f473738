//! Step 4: the transform from the form's millimetres to the page's pixels, found by a vote and
//! refined by least squares.

use super::detect::Candidate;
use super::*;

/// A position: (x, y), in mm on the form or in pixels on the page.
pub(super) type Point = (f32, f32);

/// Page pixels (continuous, pixel i covering [i, i+1)) from form millimetres:
/// `p = a · (e − centre) + b`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Affine {
    pub(super) a: [[f32; 2]; 2],
    pub(super) b: [f32; 2],
}

impl Affine {
    pub(super) fn apply(&self, e: (f32, f32), centre: (f32, f32)) -> (f32, f32) {
        let (x, y) = (e.0 - centre.0, e.1 - centre.1);
        (self.a[0][0] * x + self.a[0][1] * y + self.b[0], self.a[1][0] * x + self.a[1][1] * y + self.b[1])
    }

    pub(super) fn similarity(scale: f32, angle_rad: f32, b: [f32; 2]) -> Self {
        let (s, c) = angle_rad.sin_cos();
        Affine { a: [[scale * c, -scale * s], [scale * s, scale * c]], b }
    }
}

/// Close to a rotation of at most 6° at the expected scale (±7 %, no shear to speak of).
pub(super) fn plausible(fit: &Affine, scale: f32) -> bool {
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

/// The vote: which rotation, scale and shift put the most candidates where boxes should be.
/// Too few: how many the best put there.
pub(super) fn hough(
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
pub(super) fn refine(
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
pub(super) fn strays(
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

pub(super) fn distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// Affine from six or more boxes spread in both directions, else a similarity (two or more).
pub(super) fn fit_pairs(pairs: &[(Point, Point)], centre: Point) -> Option<Affine> {
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
