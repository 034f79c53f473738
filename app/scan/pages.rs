//! Page images out of the files a document scanner writes: PNG, JPEG, TIFF (one page or many)
//! and PDF (one scanned image per page). Files are recognised by their content, not their name.

use std::io::Cursor;

use image::ImageFormat;

/// A page ready for the barcode search: grey pixels, and the bytes to keep when the scanner's
/// own PNG or JPEG can be kept as it came (everything else is stored as PNG).
pub struct PageImage {
    pub luma: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub original: Option<(Vec<u8>, &'static str)>,
}

/// One page of a source file.
pub enum SourcePage {
    Image(PageImage),
    /// Imported by an earlier run: not decoded again.
    Skipped,
    /// This page cannot be read; the rest of the file goes on.
    Unreadable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Png,
    Jpeg,
    Tiff,
    Pdf,
}

/// A scanner page is a few thousand pixels a side; anything far larger is not a page (and would
/// exhaust memory).
const MAX_SIDE: u32 = 20_000;
/// Several workers hold a page each; a limit on pixels bounds the memory an import can take.
const MAX_PIXELS: u64 = 80_000_000;

pub fn sniff(bytes: &[u8]) -> Option<SourceKind> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some(SourceKind::Png),
        [0xFF, 0xD8, 0xFF, ..] => Some(SourceKind::Jpeg),
        [b'I', b'I', 42, 0, ..]
        | [b'M', b'M', 0, 42, ..]
        | [b'I', b'I', 43, 0, ..]
        | [b'M', b'M', 0, 43, ..] => Some(SourceKind::Tiff),
        _ if bytes.starts_with(b"%PDF-") => Some(SourceKind::Pdf),
        _ => None,
    }
}

/// Calls `each` with every page of a source file, numbered from 1, in order. Pages for which
/// `skip` says yes are passed as `Skipped` without being decoded. An error is returned only when
/// the file as a whole cannot be read (not an image, corrupt container).
pub fn for_each_page(
    bytes: &[u8],
    kind: SourceKind,
    skip: &dyn Fn(u32) -> bool,
    each: &mut dyn FnMut(u32, SourcePage),
) -> Result<(), String> {
    match kind {
        SourceKind::Png | SourceKind::Jpeg if skip(1) => {
            each(1, SourcePage::Skipped);
            Ok(())
        }
        SourceKind::Png | SourceKind::Jpeg => {
            let (format, name) =
                if kind == SourceKind::Png { (ImageFormat::Png, "png") } else { (ImageFormat::Jpeg, "jpeg") };
            let page = decode_image(bytes, format)?;
            each(1, SourcePage::Image(PageImage { original: Some((bytes.to_vec(), name)), ..page }));
            Ok(())
        }
        SourceKind::Tiff => tiff_pages(bytes, skip, each),
        SourceKind::Pdf => super::pdf_images::pdf_pages(bytes, skip, each),
    }
}

/// Decodes one page, turning a decoder's panic on a malformed page into a page error, so the
/// rest of the file goes on.
pub(super) fn guarded(decode: impl FnOnce() -> Result<PageImage, String>) -> SourcePage {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)) {
        Ok(Ok(image)) => SourcePage::Image(image),
        Ok(Err(e)) => SourcePage::Unreadable(e),
        Err(_) => SourcePage::Unreadable("the decoder failed on this page (malformed?)".into()),
    }
}

pub(super) fn checked_size(width: u32, height: u32) -> Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || pixels > MAX_PIXELS {
        return Err(format!(
            "a page of {width} × {height} pixels is not a scanned page (at most {} megapixels: A3 at 600 dpi is 70)",
            MAX_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

/// A PNG or JPEG (a whole file, or a JPEG out of a PDF) to grey pixels.
pub(super) fn decode_image(bytes: &[u8], format: ImageFormat) -> Result<PageImage, String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| format!("cannot decode the {format:?} image: {e}"))?;
    checked_size(image.width(), image.height())?;
    let luma = image.into_luma8();
    let (width, height) = luma.dimensions();
    Ok(PageImage { luma: luma.into_raw(), width, height, original: None })
}

/// Packed 1-bit rows (set bit = white, as TIFF gives them after its photometric fix and PDF
/// with the default decode array) to grey.
pub(super) fn unpack_bits(
    packed: &[u8],
    width: u32,
    height: u32,
    one_is_white: bool,
) -> Result<Vec<u8>, String> {
    let row_bytes = width.div_ceil(8) as usize;
    if packed.len() < row_bytes * height as usize {
        return Err("the image data is shorter than its size says".into());
    }
    let mut luma = Vec::with_capacity(width as usize * height as usize);
    for row in packed.chunks(row_bytes).take(height as usize) {
        for x in 0..width as usize {
            let bit = row[x / 8] >> (7 - x % 8) & 1 == 1;
            luma.push(if bit == one_is_white { 255 } else { 0 });
        }
    }
    Ok(luma)
}

/// Interleaved 8-bit samples (grey, grey+alpha, RGB, RGBA, CMYK) to grey.
pub(super) fn samples_to_luma(
    samples: &[u8],
    channels: usize,
    pixels: usize,
    cmyk: bool,
) -> Result<Vec<u8>, String> {
    if samples.len() < channels * pixels {
        return Err("the image data is shorter than its size says".into());
    }
    let luma = samples
        .chunks_exact(channels)
        .take(pixels)
        .map(|p| match (channels, cmyk) {
            (1 | 2, _) => p[0],
            (4, true) => {
                255 - ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3).max(u16::from(p[3])) as u8
            }
            _ => ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8,
        })
        .collect();
    Ok(luma)
}

fn tiff_pages(
    bytes: &[u8],
    skip: &dyn Fn(u32) -> bool,
    each: &mut dyn FnMut(u32, SourcePage),
) -> Result<(), String> {
    use tiff::decoder::{Decoder, DecodingResult};

    let mut decoder =
        Decoder::new(Cursor::new(bytes)).map_err(|e| format!("not a readable TIFF file: {e}"))?;
    let mut number = 1;
    loop {
        let page = if skip(number) {
            SourcePage::Skipped
        } else {
            let mut read = || -> Result<PageImage, String> {
                let (width, height) = decoder.dimensions().map_err(|e| e.to_string())?;
                checked_size(width, height)?;
                let color = decoder.colortype().map_err(|e| e.to_string())?;
                let data = decoder.read_image().map_err(|e| e.to_string())?;
                let pixels = width as usize * height as usize;
                use tiff::ColorType::*;
                let luma = match (color, data) {
                    (Gray(1), DecodingResult::U8(d)) => unpack_bits(&d, width, height, true)?,
                    (Gray(8), DecodingResult::U8(d)) => samples_to_luma(&d, 1, pixels, false)?,
                    (GrayA(8), DecodingResult::U8(d)) => samples_to_luma(&d, 2, pixels, false)?,
                    (RGB(8), DecodingResult::U8(d)) => samples_to_luma(&d, 3, pixels, false)?,
                    (RGBA(8), DecodingResult::U8(d)) => samples_to_luma(&d, 4, pixels, false)?,
                    (CMYK(8), DecodingResult::U8(d)) => samples_to_luma(&d, 4, pixels, true)?,
                    (Gray(16), DecodingResult::U16(d)) if d.len() >= pixels => {
                        d.iter().take(pixels).map(|v| (v >> 8) as u8).collect()
                    }
                    (other, _) => {
                        return Err(format!("TIFF pages of colour type {other:?} are not supported"));
                    }
                };
                Ok(PageImage { luma, width, height, original: None })
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut read)) {
                Ok(Ok(image)) => SourcePage::Image(image),
                Ok(Err(e)) => SourcePage::Unreadable(format!("cannot decode this TIFF page: {e}")),
                // The page chain is read apart from the page's data, so the next page can still
                // be found (and if it cannot, next_image says so below).
                Err(_) => SourcePage::Unreadable("the decoder failed on this page (malformed?)".into()),
            }
        };
        each(number, page);
        if !decoder.more_images() {
            return Ok(());
        }
        decoder.next_image().map_err(|e| format!("cannot find TIFF page {}: {e}", number + 1))?;
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recognised_by_content_not_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(SourceKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(SourceKind::Jpeg));
        assert_eq!(sniff(b"II*\0...."), Some(SourceKind::Tiff));
        assert_eq!(sniff(b"MM\0*...."), Some(SourceKind::Tiff));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(SourceKind::Pdf));
        assert_eq!(sniff(b"[{\"file\": 1}]"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn one_bit_rows_unpack_with_their_padding() {
        // 10 pixels a row: two bytes, the last six bits padding.
        let packed = [0b1010_0000, 0b1100_0000, 0b0000_0000, 0b0100_0000];
        let luma = unpack_bits(&packed, 10, 2, true).unwrap();
        assert_eq!(&luma[..10], &[255, 0, 255, 0, 0, 0, 0, 0, 255, 255]);
        assert_eq!(&luma[10..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 255]);
        assert!(unpack_bits(&packed[..3], 10, 2, true).is_err(), "short data is an error, not a panic");
    }

    #[test]
    fn a_corrupt_png_is_an_error_naming_the_format() {
        let e = for_each_page(b"\x89PNG\r\n\x1a\nnot really", SourceKind::Png, &|_| false, &mut |_, _| {})
            .err()
            .unwrap();
        assert!(e.contains("Png"), "{e}");
    }
}
