//! The scanned image on each page of a scanner's PDF. A scanner writes one image per page:
//! JPEG (`DCTDecode`) for grey and colour, CCITT Group 4 for black and white, sometimes raw
//! samples behind `FlateDecode`. The largest image on a page is the scan.

use image::ImageFormat;
use lopdf::{Document, Object, ObjectId};

use super::pages::{PageImage, SourcePage, checked_size, decode_image, samples_to_luma, unpack_bits};

pub(super) fn pdf_pages(
    bytes: &[u8],
    skip: &dyn Fn(u32) -> bool,
    each: &mut dyn FnMut(u32, SourcePage),
) -> Result<(), String> {
    let doc = Document::load_mem(bytes).map_err(|e| format!("not a readable PDF file: {e}"))?;
    let pages = doc.get_pages();
    // lopdf skips page entries it cannot read; a page must never vanish unreported.
    let declared = doc
        .catalog()
        .and_then(|c| c.get(b"Pages"))
        .and_then(Object::as_reference)
        .and_then(|id| doc.get_dictionary(id))
        .and_then(|d| d.get_deref(b"Count", &doc))
        .and_then(Object::as_i64)
        .ok();
    // A page tree listing one page twice must not make up for a page lost.
    let distinct = pages.values().collect::<std::collections::BTreeSet<_>>().len();
    for (&number, &page_id) in &pages {
        let page = if skip(number) {
            SourcePage::Skipped
        } else {
            super::pages::guarded(|| page_image(&doc, page_id))
        };
        each(number, page);
    }
    match declared {
        _ if pages.is_empty() => Err("the PDF has no readable pages".into()),
        Some(n) if n > distinct as i64 => {
            Err(format!("the PDF says it has {n} pages but only {distinct} could be read; rescan it"))
        }
        _ => Ok(()),
    }
}

fn page_image(doc: &Document, page_id: ObjectId) -> Result<PageImage, String> {
    let images = doc.get_page_images(page_id).map_err(|e| format!("cannot list the page's images: {e}"))?;
    let image = images
        .iter()
        .max_by_key(|i| i.width.saturating_mul(i.height))
        .ok_or("the page holds no scanned image (a printed PDF rather than a scan?)")?;
    let (width, height) = (u32::try_from(image.width).unwrap_or(0), u32::try_from(image.height).unwrap_or(0));
    checked_size(width, height)?;
    let filters: Vec<&str> = image.filters.iter().flatten().map(String::as_str).collect();
    let dict = image.origin_dict;
    match filters.as_slice() {
        ["DCTDecode"] => {
            let page = decode_image(image.content, ImageFormat::Jpeg)?;
            Ok(PageImage { original: Some((image.content.to_vec(), "jpeg")), ..page })
        }
        ["CCITTFaxDecode"] => ccitt(image.content, dict, width, height),
        [.., "JPXDecode"] => Err("JPEG 2000 pages are not supported: scan to JPEG, TIFF or PNG".into()),
        [.., other @ ("DCTDecode" | "CCITTFaxDecode" | "JBIG2Decode")] => {
            Err(format!("images compressed as {other} behind another filter are not supported"))
        }
        _ => {
            let stream = doc
                .get_object(image.id)
                .and_then(Object::as_stream)
                .map_err(|e| format!("cannot read the page's image: {e}"))?;
            let limit = width as usize * height as usize * 4 + 1024;
            let samples = stream
                .decompressed_content_with_limit(limit)
                .map_err(|e| format!("cannot decompress the page's image: {e}"))?;
            raw_samples(doc, &samples, dict, image.bits_per_component, width, height)
        }
    }
}

/// Whether the image's decode array inverts it (`/Decode [1 0]`).
fn inverted(dict: &lopdf::Dictionary) -> bool {
    dict.get(b"Decode")
        .and_then(Object::as_array)
        .ok()
        .and_then(|a| a.first())
        .and_then(|v| v.as_float().ok())
        .is_some_and(|first| first > 0.5)
}

fn raw_samples(
    doc: &Document,
    samples: &[u8],
    dict: &lopdf::Dictionary,
    bits: Option<i64>,
    width: u32,
    height: u32,
) -> Result<PageImage, String> {
    let mask = dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
    let pixels = width as usize * height as usize;
    let luma = if mask || bits == Some(1) {
        // A 1-bit grey image is white where a bit is 1; a stencil mask paints (black) where a
        // bit is 0 and leaves the paper white where it is 1. A decode array of [1 0] swaps both.
        unpack_bits(samples, width, height, !inverted(dict))?
    } else if bits.unwrap_or(8) == 8 {
        let channels = channels(doc, dict)?;
        samples_to_luma(samples, channels, pixels, channels == 4)?
    } else {
        return Err(format!("images of {} bits per sample are not supported", bits.unwrap_or(0)));
    };
    Ok(PageImage { luma, width, height, original: None })
}

/// Samples per pixel of the image's colour space.
fn channels(doc: &Document, dict: &lopdf::Dictionary) -> Result<usize, String> {
    let space = dict.get(b"ColorSpace").map_err(|_| "the image has no colour space")?;
    let space = match space {
        Object::Reference(id) => doc.get_object(*id).map_err(|e| e.to_string())?,
        other => other,
    };
    let name = match space {
        Object::Name(n) => n.as_slice(),
        Object::Array(a) => a.first().and_then(|o| o.as_name().ok()).unwrap_or(b""),
        _ => b"",
    };
    match name {
        b"DeviceGray" | b"CalGray" => Ok(1),
        b"DeviceRGB" | b"CalRGB" => Ok(3),
        b"DeviceCMYK" => Ok(4),
        b"ICCBased" => {
            let n = match space {
                Object::Array(a) => a
                    .get(1)
                    .and_then(|o| o.as_reference().ok())
                    .and_then(|id| doc.get_object(id).ok())
                    .and_then(|o| o.as_stream().ok())
                    .and_then(|s| s.dict.get(b"N").and_then(Object::as_i64).ok()),
                _ => None,
            };
            match n {
                Some(n @ (1 | 3 | 4)) => Ok(n as usize),
                _ => Err("an ICC colour space without 1, 3 or 4 components is not supported".into()),
            }
        }
        other => Err(format!("images in colour space {} are not supported", String::from_utf8_lossy(other))),
    }
}

/// CCITT Group 4 (what scanners use for black and white); Group 3 is refused by name.
fn ccitt(data: &[u8], dict: &lopdf::Dictionary, width: u32, height: u32) -> Result<PageImage, String> {
    // One filter: its parameters are a dictionary, or an array holding one (Pillow writes that).
    let params = match dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => Some(d),
        Ok(Object::Array(a)) => a.first().and_then(|o| o.as_dict().ok()),
        _ => None,
    };
    let int = |key: &[u8], default: i64| {
        params.and_then(|p| p.get(key).and_then(Object::as_i64).ok()).unwrap_or(default)
    };
    if int(b"K", 0) >= 0 {
        return Err("CCITT Group 3 pages are not supported: scan black and white as Group 4".into());
    }
    let columns = u16::try_from(int(b"Columns", 1728)).map_err(|_| "the CCITT image is too wide")?;
    let rows = u16::try_from(height).map_err(|_| "the CCITT image is too tall")?;
    if u32::from(columns) != width {
        return Err(format!("the CCITT image is {columns} columns wide, its page image says {width}"));
    }
    // The filter turns a white run into 1 bits, or into 0 bits with BlackIs1; the image then
    // paints 0 as black (or as white under a decode array of [1 0]). Pillow writes BlackIs1.
    let black_is_1 = params.and_then(|p| p.get(b"BlackIs1").and_then(Object::as_bool).ok()).unwrap_or(false);
    let (black, white) = if black_is_1 != inverted(dict) { (255, 0) } else { (0, 255) };
    let mut luma = Vec::with_capacity(width as usize * height as usize);
    fax::decoder::decode_g4(data.iter().copied(), columns, Some(rows), |transitions| {
        luma.extend(fax::decoder::pels(transitions, columns).map(|c| match c {
            fax::Color::Black => black,
            fax::Color::White => white,
        }));
    })
    .ok_or("the CCITT Group 4 data is corrupt")?;
    luma.truncate(width as usize * height as usize);
    if luma.len() != width as usize * height as usize {
        return Err("the CCITT Group 4 data ends early".into());
    }
    Ok(PageImage { luma, width, height, original: None })
}

#[cfg(test)]
mod tests {
    use lopdf::{Stream, dictionary};

    use super::*;

    /// A one-page PDF holding a 4 × 2 grey image, whose page tree claims `count` pages.
    fn pdf(count: i64) -> Vec<u8> {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let image = Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => 4, "Height" => 2,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
            vec![0, 255, 0, 255, 255, 0, 255, 0],
        );
        let image_id = doc.add_object(image);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => count },
            ),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    /// Each page's grey pixels (or its error), and the file's result.
    type Read = (Vec<(u32, Result<Vec<u8>, String>)>, Result<(), String>);

    fn read(bytes: &[u8]) -> Read {
        let mut pages = Vec::new();
        let result = pdf_pages(bytes, &|_| false, &mut |n, page| {
            pages.push((
                n,
                match page {
                    SourcePage::Image(image) => Ok(image.luma),
                    SourcePage::Unreadable(e) => Err(e),
                    SourcePage::Skipped => Err("skipped".into()),
                },
            ))
        });
        (pages, result)
    }

    #[test]
    fn a_pages_raw_grey_image_is_read() {
        let (pages, result) = read(&pdf(1));
        assert_eq!(result, Ok(()));
        assert_eq!(pages, [(1, Ok(vec![0, 255, 0, 255, 255, 0, 255, 0]))]);
    }

    #[test]
    fn pages_the_parser_cannot_find_are_reported_not_lost() {
        let (pages, result) = read(&pdf(3));
        assert_eq!(pages.len(), 1);
        assert!(result.unwrap_err().contains("says it has 3 pages but only 1"));
        let (pages, result) = read(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF");
        assert!(pages.is_empty() && result.is_err(), "a broken PDF is an error, not a panic");
    }
}
