#!/usr/bin/env python3
"""Writes kamikarte's SYNTHETIC receipt-computer master samples in the layouts the 社会保険診療報酬
支払基金 publishes them in (CP932, comma-separated, no header, one item per line):

- assets/masters/s_sample.csv: the 医科診療行為マスター layout (150 columns), from charges.csv (the
  same items as a CSV with a header);
- assets/masters/y_sample.csv: the 医薬品マスター layout (42 columns), from drugs.csv.

Nothing here is copied from the real masters. 初診料 111000110 and 再診料 112007410 carry their
published codes; every other code is made up (1999xxxxx procedures, the drugs' own 9900001xx), and
the points, prices and flags are invented. Each item's 基本漢字名称 says so (（架空・見本）). The column
positions follow docs/research/receipt-computer-masters.md.

Run from the repository root: python3 scripts/make_receipt_samples.py
"""
import csv
import io
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assets" / "masters"

FULL = ("ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌネノ"
        "ハバパヒビピフブプヘベペホボポマミムメモャヤュユョヨラリルレロワヲンヴー・")
HALF = ["ｧ", "ｱ", "ｨ", "ｲ", "ｩ", "ｳ", "ｪ", "ｴ", "ｫ", "ｵ", "ｶ", "ｶﾞ", "ｷ", "ｷﾞ", "ｸ", "ｸﾞ", "ｹ", "ｹﾞ",
        "ｺ", "ｺﾞ", "ｻ", "ｻﾞ", "ｼ", "ｼﾞ", "ｽ", "ｽﾞ", "ｾ", "ｾﾞ", "ｿ", "ｿﾞ", "ﾀ", "ﾀﾞ", "ﾁ", "ﾁﾞ", "ｯ",
        "ﾂ", "ﾂﾞ", "ﾃ", "ﾃﾞ", "ﾄ", "ﾄﾞ", "ﾅ", "ﾆ", "ﾇ", "ﾈ", "ﾉ", "ﾊ", "ﾊﾞ", "ﾊﾟ", "ﾋ", "ﾋﾞ", "ﾋﾟ",
        "ﾌ", "ﾌﾞ", "ﾌﾟ", "ﾍ", "ﾍﾞ", "ﾍﾟ", "ﾎ", "ﾎﾞ", "ﾎﾟ", "ﾏ", "ﾐ", "ﾑ", "ﾒ", "ﾓ", "ｬ", "ﾔ", "ｭ",
        "ﾕ", "ｮ", "ﾖ", "ﾗ", "ﾘ", "ﾙ", "ﾚ", "ﾛ", "ﾜ", "ｦ", "ﾝ", "ｳﾞ", "ｰ", "･"]
TO_HALF = dict(zip(FULL, HALF))

# Unit codes seen in published 医薬品マスター rows (錠 16, カプセル 15, ｇ 33, ｍＬ 36); others 0.
DRUG_UNIT_CODES = {"錠": "16", "カプセル": "15", "g": "33", "mL": "36"}
FORM_DIGIT = {"内用": "1", "外用": "6", "注射": "4"}


def half_width(kana):
    return "".join(TO_HALF.get(c, c) for c in kana)


def rows_of(name):
    with open(MASTERS / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write(name, rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    (MASTERS / name).write_bytes(buffer.getvalue().encode("cp932"))


def procedures():
    out = []
    for r in rows_of("charges.csv"):
        section = r["section"]
        row = [""] * 150
        kana = half_width(r["kana"])
        row[0:14] = ["0", "S", r["code"], str(len(r["name"])), r["name"], f"{len(kana):02d}", kana, "0",
                     str(len(r["unit"])), r["unit"], "3", f"{float(r['points'] or 0):.2f}", r["inout"], "0"]
        row[42] = r["time_addition"]
        row[67] = "1"
        row[84] = section[0]
        row[86], row[87] = "20260401", "99999999"
        row[89], row[90], row[91], row[92], row[93] = "2", "1", section[1:], "00", "0"
        published = r["code"] in ("111000110", "112007410")
        row[112] = f"{r['name']}（点数は見本）" if published else f"{r['name']}（架空・見本）"
        row[116] = section
        out.append([c if c != "" else ("0" if i < 131 and i not in (9, 112, 116) else "") for i, c in enumerate(row)])
    return out


def drugs():
    out = []
    for r in rows_of("drugs.csv"):
        row = [""] * 42
        kana = half_width(r["kana"])
        row[0:12] = ["0", "Y", r["code"], str(len(r["name"])), r["name"], f"{len(kana):02d}", kana,
                     DRUG_UNIT_CODES.get(r["unit"], "0"), str(len(r["unit"])), r["unit"], "1",
                     f"{float(r['points'] or 0):.2f}"]
        for i in (13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 25, 26, 32, 33, 35, 38, 39, 40, 41):
            row[i] = "0"
        row[24] = f"{float(r['points'] or 0):.2f}"
        row[27] = FORM_DIGIT.get(r["form"], "3")
        row[29], row[30] = "20260401", "99999999"
        row[34] = f"{r['name']}（架空・見本）"
        out.append(row)
    return out


if __name__ == "__main__":
    write("s_sample.csv", procedures())
    write("y_sample.csv", drugs())
