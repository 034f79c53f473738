import sys, time, pathlib, zxingcpp
from PIL import Image
set_, d = sys.argv[1], pathlib.Path(sys.argv[2])
for f in sorted(p for p in d.iterdir() if p.suffix in (".png", ".jpg")):
    t0 = time.perf_counter()
    im = Image.open(f); im.load()
    t1 = time.perf_counter()
    res = zxingcpp.read_barcodes(im, formats=zxingcpp.BarcodeFormat.Code128)
    t2 = time.perf_counter()
    texts = [r.text for r in res]
    k1 = [t for t in texts if t.startswith("K1.")]
    other = [t for t in texts if not t.startswith("K1.")]
    print(f"{set_}\t{f.name}\tpy-zxingcpp\twhole\t{k1[0] if k1 else ''}\t{'page' if k1 else 'none'}\t{'|'.join(other)}\t{int((t2-t0)*1e6)}\t{int((t1-t0)*1e6)}\t{im.mode}")
