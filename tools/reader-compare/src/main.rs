//! Page-barcode bench: rxing vs zxing-cpp on A4 page images.
//! Usage: bench DATASET_NAME DIR > out.tsv
//! Prints one TSV line per (file, decoder, strategy): text found (K1 preferred), stage, micros.
use std::collections::HashSet;
use std::time::Instant;

use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader, Reader};

struct Page {
    name: String,
    w: u32,
    h: u32,
    luma: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Dec {
    RxHybTh,
    RxHybNoTh,
    RxGlobTh,
    RxMultiTh,
    Zx,
}

impl Dec {
    fn name(self) -> &'static str {
        match self {
            Dec::RxHybTh => "rxing-hybrid-tryharder",
            Dec::RxHybNoTh => "rxing-hybrid-notryharder",
            Dec::RxGlobTh => "rxing-globalhist-tryharder",
            Dec::RxMultiTh => "rxing-multi-hybrid-tryharder",
            Dec::Zx => "zxingcpp",
        }
    }
}

/// All texts found (rxing gives at most one).
fn decode(d: Dec, px: &[u8], w: u32, h: u32) -> Vec<String> {
    match d {
        Dec::Zx => {
            let iv = zxingcpp::ImageView::from_slice(px, w, h, zxingcpp::ImageFormat::Lum).unwrap();
            let reader = zxingcpp::BarcodeReader::new().formats(zxingcpp::BarcodeFormat::Code128);
            reader.from(iv).map(|v| v.iter().map(|b| b.text()).collect()).unwrap_or_default()
        }
        _ => {
            let mut hints = DecodeHints {
                PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])),
                TryHarder: Some(!matches!(d, Dec::RxHybNoTh)),
                ..Default::default()
            };
            let source = Luma8Source::new_with_slice(px, w, h).unwrap();
            if matches!(d, Dec::RxMultiTh) {
                use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
                let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
                let mut reader = GenericMultipleBarcodeReader::new(MultiFormatReader::default());
                return reader
                    .decode_multiple_with_hints(&mut bitmap, &hints)
                    .map(|v| v.iter().map(|r| r.getText().to_string()).collect())
                    .unwrap_or_default();
            }
            let r = if matches!(d, Dec::RxGlobTh) {
                MultiFormatReader::default().decode_with_hints(
                    &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
                    &mut hints,
                )
            } else {
                MultiFormatReader::default()
                    .decode_with_hints(&mut BinaryBitmap::new(HybridBinarizer::new(source)), &mut hints)
            };
            r.map(|r| vec![r.getText().to_string()]).unwrap_or_default()
        }
    }
}

fn crop(p: &Page, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h) as usize);
    for row in y..y + h {
        let s = (row * p.w + x) as usize;
        out.extend_from_slice(&p.luma[s..s + w as usize]);
    }
    out
}

/// Returns (best text, stage, all non-K1 texts seen).
fn run(d: Dec, p: &Page, with_crops: bool) -> (String, &'static str, Vec<String>) {
    let mut other = Vec::new();
    if with_crops {
        let s = p.w as f32 / 210.0;
        let x0 = (62.0 * s) as u32;
        let hh = ((32.0 * s) as u32).min(p.h);
        let rects = [("R", x0, 0, p.w - x0, hh), ("R'", 0, p.h - hh, ((148.0 * s) as u32).min(p.w), hh)];
        for (stage, x, y, w, h) in rects {
            let px = crop(p, x, y, w, h);
            for t in decode(d, &px, w, h) {
                if t.starts_with("K1.") {
                    return (t, stage, other);
                }
                other.push(t);
            }
        }
    }
    for t in decode(d, &p.luma, p.w, p.h) {
        if t.starts_with("K1.") {
            return (t, "page", other);
        }
        other.push(t);
    }
    (String::new(), "none", other)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (set, dir) = (&args[1], &args[2]);
    let only: Option<Vec<String>> = args.get(3).map(|s| s.split(',').map(String::from).collect());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    files.sort();
    let mut pages = Vec::new();
    for f in files {
        let t = Instant::now();
        let img = image::open(&f).unwrap().into_luma8();
        let us = t.elapsed().as_micros();
        let (w, h) = img.dimensions();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        println!("{set}\t{name}\tfiledecode\t-\t-\t-\t-\t{us}");
        pages.push(Page { name, w, h, luma: img.into_raw() });
    }
    for d in [Dec::RxHybTh, Dec::RxHybNoTh, Dec::RxGlobTh, Dec::RxMultiTh, Dec::Zx] {
        if let Some(o) = &only {
            if !o.iter().any(|n| n == d.name()) {
                continue;
            }
        }
        for with_crops in [true, false] {
            for p in &pages {
                let t = Instant::now();
                let (text, stage, other) = run(d, p, with_crops);
                let us = t.elapsed().as_micros();
                let strat = if with_crops { "crop" } else { "whole" };
                println!(
                    "{set}\t{}\t{}\t{strat}\t{text}\t{stage}\t{}\t{us}",
                    p.name,
                    d.name(),
                    other.join("|")
                );
            }
        }
    }
}
