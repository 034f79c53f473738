#!/usr/bin/env python3
"""Decode barcodes with zxing-cpp (an independent reader), one line per symbol:
<image path>\t<format>\t<text>. Used by the Rust tests to check printed barcodes."""
import sys

import zxingcpp
from PIL import Image

for path in sys.argv[1:]:
    image = Image.open(path)
    for result in zxingcpp.read_barcodes(image):
        print(f"{path}\t{result.format.name}\t{result.text}")
