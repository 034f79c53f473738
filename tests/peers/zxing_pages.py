#!/usr/bin/env python3
"""The benchmark's peer: zxing-cpp (Python package) reading every page file of a folder whole,
as a reader that knows nothing of where the code was printed would. Prints one JSON object:
{"seconds": wall time of load + decode, "pages": {file name: [Code 128 texts]}}."""
import json
import sys
import time
from pathlib import Path

import zxingcpp
from PIL import Image

folder = Path(sys.argv[1])
files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
found = {}
start = time.perf_counter()
for path in files:
    with Image.open(path) as image:
        results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128)
    found[path.name] = [r.text for r in results]
print(json.dumps({"seconds": time.perf_counter() - start, "pages": found}))
