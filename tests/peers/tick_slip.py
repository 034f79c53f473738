#!/usr/bin/env python3
"""Mark tick boxes on a rendered form page by "hand", then skew and shift it like a scanner.

Usage: tick_slip.py IN.png OUT.png --marks JSON [--rotate DEG] [--shift-mm DX,DY] --seed N
                    [--noise] [--jpeg QUALITY] [--page-width-mm 210]

IN.png is a render of one whole page (e.g. `pdftoppm -gray -png -r 300 slip.pdf p`); its scale
is taken as IN's width / --page-width-mm (A4: 210), so any resolution works.

--marks is a JSON list of pen marks, each at a tick box's CENTRE in millimetres from the page's
top-left corner (before rotation and shift), either
    [x_mm, y_mm]                      a tick mark whose kind the seed chooses:
                                      "check", "x" or "scribble" (a zig-zag fill);
or  {"x": x_mm, "y": y_mm, "kind": K} with K one of
        "check"     a check mark, sometimes overshooting the box's upper right;
        "x"         a cross, the strokes sometimes running past the corners;
        "scribble"  a zig-zag fill of most of the box;
        "fill"      the box blacked out (closely spaced zig-zags);
        "slash"     one short stroke (about 2.5 mm);
        "dot"       a stray pen dot (about 0.6 mm) - NOT a tick: readers must ignore it.
Every mark varies with --seed: size, position (slightly off-centre), stroke wobble, pen width
(about 0.5 mm) and ink darkness (grey 20-90, a black or blue ballpoint scanned grey).

Then the page is rotated by --rotate degrees (counter-clockwise for positive values, about the
page centre, bicubic, white fill, same size), shifted by --shift-mm DX,DY (millimetres, positive
= right and down; white comes in from the edges; write negative values as --shift-mm=-2,1.5
or argparse takes them for an option), and optionally degraded: --noise adds
Gaussian-like noise (sigma ~12 grey levels) and sparse salt-and-pepper specks; --jpeg Q
round-trips the page through JPEG at quality Q. OUT.png is written as an 8-bit grey PNG with
IN's dpi.

Prints one JSON line on stdout describing what was drawn:
    {"marks": [{"x": 13.0, "y": 80.0, "kind": "check"}, ...], "px_per_mm": 11.81}
The output depends only on the inputs and the arguments. Uses Pillow only (no numpy).
"""
import argparse
import io
import json
import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

KINDS_FOR_TICKS = ["check", "x", "scribble"]
ALL_KINDS = ["check", "x", "scribble", "fill", "slash", "dot"]
BOX_MM = 4.0


def wobbly(points, rng, jitter):
    """A hand-drawn stroke: the polyline subdivided, each point nudged a little."""
    out = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        steps = 6
        for i in range(steps):
            t = i / steps
            out.append((x0 + (x1 - x0) * t + rng.uniform(-jitter, jitter),
                        y0 + (y1 - y0) * t + rng.uniform(-jitter, jitter)))
    out.append(points[-1])
    return out


def strokes_for(kind, rng):
    """The strokes of one mark, in mm relative to the box centre (y down)."""
    h = BOX_MM / 2
    if kind == "check":
        k = rng.uniform(0.8, 1.25)
        over = rng.uniform(0.0, 1.6) if rng.random() < 0.5 else 0.0  # past the upper right
        return [[(-0.55 * h * k, 0.0), (-0.1 * h * k, 0.6 * h * k),
                 (0.75 * h * k + over * 0.6, -0.85 * h * k - over)]]
    if kind == "x":
        k = rng.uniform(0.75, 1.2)
        over = rng.uniform(0.0, 1.2) if rng.random() < 0.5 else 0.0
        a = h * k * 0.8 + over
        return [[(-a, -a), (a, a * rng.uniform(0.85, 1.1))],
                [(a * rng.uniform(0.85, 1.1), -a), (-a, a)]]
    if kind in ("scribble", "fill"):
        spacing = rng.uniform(0.5, 0.8) if kind == "scribble" else 0.3
        a = h * (rng.uniform(0.65, 0.85) if kind == "scribble" else 0.95)
        points, y, left = [], -a, True
        while y <= a:
            points.append((-a if left else a, y))
            left = not left
            y += spacing
        return [points]
    if kind == "slash":
        angle = math.radians(rng.uniform(35, 70))
        half = rng.uniform(1.1, 1.4)
        dx, dy = half * math.cos(angle), half * math.sin(angle)
        return [[(-dx, dy), (dx, -dy)]]
    if kind == "dot":
        return [[(0.0, 0.0), (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))]]
    raise ValueError(f"unknown mark kind {kind!r} (known: {', '.join(ALL_KINDS)})")


def draw_mark(draw, kind, x_mm, y_mm, px_per_mm, rng):
    """Draws one mark centred near (x_mm, y_mm)."""
    cx = x_mm + rng.uniform(-0.5, 0.5)  # slightly off-centre
    cy = y_mm + rng.uniform(-0.5, 0.5)
    pen_mm = rng.uniform(0.4, 0.6) if kind != "dot" else rng.uniform(0.5, 0.7)
    width = max(1, round(pen_mm * px_per_mm))
    ink = rng.randint(20, 90)
    for stroke in strokes_for(kind, rng):
        pts = stroke if kind in ("fill", "dot") else wobbly(stroke, rng, 0.08)
        xy = [((cx + px) * px_per_mm, (cy + py) * px_per_mm) for px, py in pts]
        draw.line(xy, fill=ink, width=width, joint="curve")
        r = width / 2  # round pen ends
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)


def add_noise(image, rng):
    """Gaussian-like noise (sigma ~12) and sparse black/white specks on an "L" image."""
    size = image.size
    n = size[0] * size[1]
    planes = [Image.frombytes("L", size, rng.randbytes(n)) for _ in range(4)]
    mean = ImageChops.add(ImageChops.add(planes[0], planes[1], scale=2),
                          ImageChops.add(planes[2], planes[3], scale=2), scale=2)
    noise = mean.point(lambda v: round(128 + (v - 127) * 12 / 36.9))
    noisy = ImageChops.add(image, noise, offset=-128)
    draw = ImageDraw.Draw(noisy)
    for _ in range(n // 6000):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randint(0, 1)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice((0, 255)))
    return noisy


def parse_marks(text, rng, parser):
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        parser.error(f"--marks is not JSON: {e}")
    if not isinstance(items, list):
        parser.error("--marks must be a JSON list")
    marks = []
    for item in items:
        if isinstance(item, list) and len(item) == 2:
            marks.append({"x": float(item[0]), "y": float(item[1]),
                          "kind": rng.choice(KINDS_FOR_TICKS)})
        elif isinstance(item, dict) and "x" in item and "y" in item:
            kind = item.get("kind") or rng.choice(KINDS_FOR_TICKS)
            if kind not in ALL_KINDS:
                parser.error(f"unknown mark kind {kind!r} (known: {', '.join(ALL_KINDS)})")
            marks.append({"x": float(item["x"]), "y": float(item["y"]), "kind": kind})
        else:
            parser.error(f"--marks item {item!r}: expected [x, y] or {{\"x\", \"y\", \"kind\"}}")
    return marks


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="the rendered page (PNG)")
    parser.add_argument("output", type=Path, help="the marked, skewed page (PNG)")
    parser.add_argument("--marks", required=True, help="JSON list of marks (see above)")
    parser.add_argument("--rotate", type=float, default=0.0, help="degrees, counter-clockwise")
    parser.add_argument("--shift-mm", default="0,0", help="DX,DY in mm (right, down)")
    parser.add_argument("--seed", type=int, required=True, help="random seed (integer)")
    parser.add_argument("--noise", action="store_true", help="add scanner noise")
    parser.add_argument("--jpeg", type=int, metavar="QUALITY", help="JPEG round trip")
    parser.add_argument("--page-width-mm", type=float, default=210.0)
    args = parser.parse_args(argv)
    try:
        dx, dy = (float(v) for v in args.shift_mm.split(","))
    except ValueError:
        parser.error(f"--shift-mm {args.shift_mm!r}: expected DX,DY in millimetres")
    args.shift = (dx, dy)
    if not args.input.is_file():
        parser.error(f"IN {args.input} is not a file")
    args.rng = random.Random(args.seed)
    args.marks = parse_marks(args.marks, args.rng, parser)
    return args


def main(argv):
    args = parse_args(argv)
    rng = args.rng
    with Image.open(args.input) as image:
        dpi = image.info.get("dpi")
        page = image.convert("L")
    px_per_mm = page.width / args.page_width_mm
    draw = ImageDraw.Draw(page)
    for mark in args.marks:
        draw_mark(draw, mark["kind"], mark["x"], mark["y"], px_per_mm, rng)
    if args.rotate:
        page = page.rotate(args.rotate, resample=Image.Resampling.BICUBIC, fillcolor=255,
                           expand=False)
    dx, dy = (round(v * px_per_mm) for v in args.shift)
    if dx or dy:
        shifted = Image.new("L", page.size, 255)
        shifted.paste(page, (dx, dy))
        page = shifted
    if args.noise:
        page = add_noise(page, rng)
    if args.jpeg:
        buf = io.BytesIO()
        page.save(buf, "JPEG", quality=args.jpeg)
        buf.seek(0)
        page = Image.open(buf).convert("L")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    page.save(args.output, **({"dpi": dpi} if dpi else {}))
    print(json.dumps({"marks": args.marks, "px_per_mm": round(px_per_mm, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
