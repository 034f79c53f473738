#!/usr/bin/env python3
"""Turn clean page renders into plausible "scans" for testing the page-barcode import.

Usage: degrade_pages.py IN_DIR OUT_DIR --seed N [--containers]

IN_DIR holds grey PNG renders of A4 pages (e.g. `pdftoppm -gray -png -r 300 kit.pdf p`).
Each input PNG, taken in name order, becomes ONE degraded scan in OUT_DIR:
  * every page is rotated by 1-4 degrees either way (white fill, same size);
  * every third page (the 3rd, 6th, ...) is also turned 180 degrees (fed upside down);
  * then one of four kinds, dealt out in a shuffled cycle so every kind appears:
      noise        Gaussian-like noise (sigma ~20 grey levels) + sparse salt-and-pepper, PNG
      jpeg50       JPEG quality 50
      bw140        black and white, threshold 140 (mode "1"), PNG
      noise+jpeg50 the noise above, then JPEG quality 50
Output names do not reveal the source: scan-0001.png, scan-0002.jpg, ... numbered in a
shuffled order. With --containers about a quarter of the pages go into one multi-page TIFF
(batch-a.tif: grey pages deflate, B/W pages group4) and about a quarter into one multi-page
PDF (batch-b.pdf, Pillow save_all: grey pages become DCTDecode (JPEG, Pillow's default
quality), B/W pages CCITTFaxDecode (group4) when Pillow has libtiff).

OUT_DIR/manifest.json lists every output page:
  {"file": "scan-0003.jpg", "page": 1, "source": "p-03.png", "rotated_deg": 2.7,
   "upside_down": false, "kind": "jpeg50"}
where "page" is 1-based within the file. The output depends only on the inputs and --seed.
Uses Pillow only (no numpy): noise comes from random.Random bytes, so it is reproducible.
"""
import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, TiffImagePlugin

KINDS = ["noise", "jpeg50", "bw140", "noise+jpeg50"]
A4_WIDTH_IN = 210 / 25.4
FIXED_DATE = time.gmtime(0)


def dpi_of(image):
    """The page's resolution: from the PNG's pHYs, else from the A4 width."""
    dpi = image.info.get("dpi")
    return round(dpi[0]) if dpi else round(image.width / A4_WIDTH_IN)


def add_noise(image, rng):
    """Add Gaussian-like noise (sigma ~20) and sparse black/white specks to an "L" image."""
    size = image.size
    n = size[0] * size[1]
    # Mean of four uniform byte planes: near-Gaussian around 127.5 with sigma ~36.9.
    planes = [Image.frombytes("L", size, rng.randbytes(n)) for _ in range(4)]
    mean = ImageChops.add(
        ImageChops.add(planes[0], planes[1], scale=2),
        ImageChops.add(planes[2], planes[3], scale=2),
        scale=2,
    )
    noise = mean.point(lambda v: round(128 + (v - 127) * 20 / 36.9))  # sigma ~20
    noisy = ImageChops.add(image, noise, offset=-128)  # image + noise - 128, clipped
    draw = ImageDraw.Draw(noisy)
    for _ in range(n // 4000):  # salt and pepper: ~1 speck per 4000 pixels
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randint(0, 2)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice((0, 255)))
    return noisy


def jpeg_round_trip(image, quality=50):
    """What the page looks like after being saved as JPEG at this quality."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("L")


def degrade(image, kind, angle, upside_down, rng):
    """The degraded page as a Pillow image (mode "L" or "1"), before any JPEG step."""
    page = image.convert("L")
    if upside_down:
        page = page.transpose(Image.Transpose.ROTATE_180)
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
    if kind.startswith("noise"):
        page = add_noise(page, rng)
    if kind == "bw140":
        page = page.point(lambda v: 255 if v >= 140 else 0).convert("1", dither=Image.Dither.NONE)
    return page  # the JPEG step of the jpeg kinds happens when the page is saved


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("in_dir", type=Path, help="folder of grey PNG page renders")
    parser.add_argument("out_dir", type=Path, help="folder for the scans (created if needed)")
    parser.add_argument("--seed", type=int, required=True, help="random seed (integer)")
    parser.add_argument("--containers", action="store_true",
                        help="also pack pages into batch-a.tif and batch-b.pdf")
    args = parser.parse_args(argv)
    if not args.in_dir.is_dir():
        parser.error(f"IN_DIR {args.in_dir} is not a folder")
    if not sorted(args.in_dir.glob("*.png")):
        parser.error(f"IN_DIR {args.in_dir} holds no .png files")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        parser.error(f"OUT_DIR {args.out_dir} exists and is not a folder")
    if args.out_dir.resolve() == args.in_dir.resolve():
        parser.error("OUT_DIR must differ from IN_DIR")
    return args


def main(argv):
    args = parse_args(argv)
    sources = sorted(args.in_dir.glob("*.png"))
    rng = random.Random(args.seed)
    n = len(sources)

    # Deal the kinds in a shuffled cycle (each kind appears once n >= 4).
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]
    rng.shuffle(kinds)
    # Which pages go into containers: a quarter each into the TIFF and the PDF.
    order = list(range(n))
    rng.shuffle(order)
    quarter = n // 4 if args.containers else 0
    in_tiff, in_pdf = order[:quarter], order[quarter:2 * quarter]
    singles = sorted(set(range(n)) - set(in_tiff) - set(in_pdf))
    numbers = list(range(1, len(singles) + 1))
    rng.shuffle(numbers)
    number_of = dict(zip(singles, numbers))

    args.out_dir.mkdir(parents=True, exist_ok=True)
    manifest, pages, dpis = [], {}, {}
    for i, src in enumerate(sources):
        with Image.open(src) as image:
            dpis[i] = dpi_of(image)
            angle = round(rng.uniform(1, 4), 2) * rng.choice((-1, 1))
            upside_down = i % 3 == 2
            kind = kinds[i]
            page = degrade(image, kind, angle, upside_down, rng)
        entry = {"source": src.name, "rotated_deg": angle, "upside_down": upside_down, "kind": kind}
        if i in number_of:
            is_jpeg = kind.endswith("jpeg50")
            name = f"scan-{number_of[i]:04d}.{'jpg' if is_jpeg else 'png'}"
            options = {"quality": 50} if is_jpeg else {}
            page.save(args.out_dir / name, dpi=(dpis[i], dpis[i]), **options)
            manifest.append({"file": name, "page": 1, **entry})
        else:  # container pages are stored losslessly (TIFF) or re-encoded (PDF) later
            pages[i] = (jpeg_round_trip(page) if kind.endswith("jpeg50") else page, entry)

    if in_tiff:
        name = "batch-a.tif"
        with TiffImagePlugin.AppendingTiffWriter(str(args.out_dir / name), True) as tiff:
            for number, i in enumerate(in_tiff, 1):
                page, entry = pages[i]
                compression = "group4" if page.mode == "1" else "tiff_deflate"
                page.save(tiff, "TIFF", compression=compression, dpi=(dpis[i], dpis[i]))
                tiff.newFrame()
                manifest.append({"file": name, "page": number, **entry})
    if in_pdf:
        name = "batch-b.pdf"
        images = [pages[i][0] for i in in_pdf]
        images[0].save(args.out_dir / name, save_all=True, append_images=images[1:],
                       resolution=float(dpis[in_pdf[0]]),
                       creationDate=FIXED_DATE, modDate=FIXED_DATE)  # reproducible bytes
        for number, i in enumerate(in_pdf, 1):
            manifest.append({"file": name, "page": number, **pages[i][1]})

    manifest.sort(key=lambda e: (e["file"], e["page"]))
    (args.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(sources)} pages -> {args.out_dir} ({len(manifest)} manifest entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
