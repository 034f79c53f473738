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

mod detect;
mod read;
mod register;

pub use read::read_ticks;

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
pub(super) const MIN_PX_PER_MM: f32 = 3.0;
/// Finer scans are averaged down to about this before anything is measured.
pub(super) const WORK_PX_PER_MM: f32 = 12.0;
pub(super) const MAX_ANGLE_DEG: f32 = 4.0;
pub(super) const ANGLE_STEP_DEG: f32 = 0.25;
/// Shift of the page after its rotation about the centre.
pub(super) const MAX_SHIFT_MM: f32 = 12.0;
pub(super) const SCALES: [f32; 5] = [1.0, 0.985, 1.015, 0.97, 1.03];
pub(super) const BIN_MM: f32 = 0.5;
/// Half the width of the band in which a box side is looked for.
pub(super) const BAND_MM: f32 = 0.4;
pub(super) const GAP_MM: f32 = 0.2;
pub(super) const OUTER_MM: f32 = 0.6;
/// The least inked side of a candidate box (a 0.25 mm line in a 0.8 mm band is about 0.3).
pub(super) const MIN_SIDE: f32 = 0.15;
pub(super) const MIN_SCORE: f32 = 0.12;
/// A located box: a candidate this close to the box's fitted place.
pub(super) const LOCATED_MM: f32 = 0.6;
pub(super) const MIN_LOCATED: usize = 4;
/// A box-like outline near the boxes (within `STRAY_REACH_MM`) but on none of them, scoring at
/// least this share of the located boxes' median, means the grid may be matched one row off.
pub(super) const STRAY_SCORE: f32 = 0.6;
pub(super) const STRAY_REACH_MM: f32 = 15.0;
/// Ink is at least this many grey levels darker than the paper (the region's median).
pub(super) const MIN_CONTRAST: u8 = 48;
/// How far inside the printed outline (its middle) the interior starts.
pub(super) const INSET_MM: f32 = 0.6;
pub(super) const INK_TICKED: f32 = 0.15;
pub(super) const INK_MIN: f32 = 0.04;
pub(super) const SPAN_MIN_MM: f32 = 1.5;
/// Ink pieces smaller than this (mm²) are specks, not pen: a 0.4 mm pen's dot is 0.13 mm².
pub(super) const SPECK_MM2: f32 = 0.1;

#[cfg(test)]
mod tests {
    use super::detect::threshold;
    use super::register::distance;
    use super::*;
    use crate::form::built_in;
    use crate::form::{FormDefinition, TickBox};
    use image::GrayImage;
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
            assert_eq!(
                reading.ticked_codes(),
                ["111000110", "199900120", "199900230", "199900320", "199900500"],
                "{what}"
            );
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
            assert_eq!(read_ticks(&page, &slip).unwrap().ticked_codes(), ["199900070"], "{shift:?}");
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
