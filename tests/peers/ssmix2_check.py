#!/usr/bin/env python3
"""Checks an SS-MIX2 storage tree against the standard's folder and file-name rules, reading each
file with python-hl7 (after decoding ISO-2022-JP per MSH-18) to compare what the name says with
what the message is.

    ssmix2_check.py DIR

DIR holds `standard/` and `extended/`. Exit 0 with a JSON summary on stdout, 1 naming the first
files that break a rule.
"""
import datetime
import json
import os
import re
import sys

import hl7

# Data types of the SS-MIX2 standardized storage and the message each one holds.
STANDARD = {
    "ADT-00": {"ADT^A08", "ADT^A23"},
    "ADT-12": {"ADT^A04"},
    "OMP-01": {"RDE^O11"},
    "OMP-02": {"RDE^O11"},
    "OMP-11": {"RAS^O17"},
    "OMP-12": {"RAS^O17"},
    "OML-01": {"OML^O33"},
    "OMG-01": {"OMG^O19"},
    "OMD": {"OMD^O03"},
}
NO_ORDER = "999999999999999"
# A page image kamikarte writes beside its message when it is larger than the receiver takes
# inline (`<message file>_<OBX set>.png|jpg`), referenced by the message's RP OBX.
ATTACHMENT = re.compile(r"^(?P<msg>.+_[012])_(?P<set>\d+)\.(?P<ext>png|jpg)$")

NAME = re.compile(
    r"^(?P<id>[A-Za-z0-9-]+)_(?P<day>\d{8}|-)_(?P<type>[A-Z]{3}(-[A-Z0-9]{2,3})?|[A-Z0-9-]+\^[^_^/]+\^99[A-Z0-9]+)_"
    r"(?P<order>[A-Za-z0-9-]{15})_(?P<stamp>\d{17})_(?P<dept>[A-Za-z0-9]+|-)_(?P<flag>[012])$"
)


def decode(raw: bytes) -> str:
    if b"\x1b$B" in raw or b"\x1b(B" in raw:
        return raw.decode("iso2022_jp")
    return raw.decode("utf-8")


def segs_of(text):
    return text.replace("\n", "\r").split("\r")


def main() -> int:
    root = sys.argv[1]
    problems = []
    counts = {}
    current = {}
    patients = {}
    with_department = 0
    files = 0
    attachments = 0
    for storage in ("standard", "extended"):
        base = os.path.join(root, storage)
        for folder, _, names in os.walk(base):
            for name in names:
                path = os.path.join(folder, name)
                a = ATTACHMENT.match(name)
                if a:
                    attachments += 1
                    msg = a["msg"]
                    if not any(os.path.exists(os.path.join(folder, msg[:-1] + flag)) for flag in "012"):
                        problems.append(f"{storage}/{name}: an image with no message beside it")
                    with open(path, "rb") as f:
                        magic = f.read(4)
                    if magic[:4] != b"\x89PNG" and magic[:2] != b"\xff\xd8":
                        problems.append(f"{storage}/{name}: not a PNG or JPEG image")
                    continue
                files += 1
                rel = os.path.relpath(path, base).split(os.sep)
                where = f"{storage}/{'/'.join(rel)}"
                if len(rel) != 6:
                    problems.append(f"{where}: expected <id3>/<id3>/<id>/<day>/<type>/<file>")
                    continue
                a, b, pid, day, dtype, _ = rel
                m = NAME.match(name)
                if not m:
                    problems.append(f"{where}: the file name does not follow the naming rule")
                    continue
                padded = pid.rjust(6, "0")
                if (a, b) != (padded[:3], padded[3:6]):
                    problems.append(f"{where}: folders {a}/{b} are not the ID's first six characters")
                if m["id"] != pid or m["day"] != day or m["type"] != dtype:
                    problems.append(f"{where}: name and folders disagree (ID, day or data type)")
                if m["day"] != "-":
                    try:
                        datetime.datetime.strptime(m["day"], "%Y%m%d")
                    except ValueError:
                        problems.append(f"{where}: day {m['day']} is not a date")
                try:
                    datetime.datetime.strptime(m["stamp"][:14], "%Y%m%d%H%M%S")
                except ValueError:
                    problems.append(f"{where}: timestamp {m['stamp']} is not a time")
                if storage == "standard" and dtype not in STANDARD:
                    problems.append(f"{where}: {dtype} is not a data type of the standardized storage")
                if dtype == "ADT-00" and (m["day"] != "-" or m["order"] != NO_ORDER):
                    problems.append(f"{where}: patient basic information has no day and order number {NO_ORDER}")
                if storage == "standard" and dtype.startswith("ADT-") and m["order"] != NO_ORDER:
                    problems.append(f"{where}: patient-level data has the order number {NO_ORDER}")
                with open(path, "rb") as f:
                    raw = f.read()
                try:
                    text = decode(raw)
                    msg = hl7.parse(text.replace("\n", "\r"))
                    msh = msg.segment("MSH")
                    mtype = f"{msh[9][0][0]}^{msh[9][0][1]}"
                    msh7 = str(msh[7])
                    msh4 = str(msh[4])
                    pid3 = str(msg.segment("PID")[3][0][0])
                    pv1_44 = ""
                    if dtype == "ADT-12":
                        pv1 = msg.segment("PV1")
                        pv1_44 = str(pv1[44]) if len(pv1) > 44 else ""
                except Exception as e:  # noqa: BLE001 - any failure is the file's problem
                    problems.append(f"{where}: cannot be read as HL7: {e}")
                    continue
                if dtype in STANDARD and mtype not in STANDARD[dtype]:
                    problems.append(f"{where}: holds {mtype}, which does not belong in {dtype}")
                # The extended storage names its data types as the guideline's layout does,
                # CODE^NAME^local coding system (NHO's `L-OBSERVATIONS^OBSERVATIONS^99ZL01`);
                # kamikarte's code is the message type.
                parts = dtype.split("^")
                if storage == "extended" and (
                    len(parts) != 3
                    or not parts[2].startswith("99")
                    or (parts[0] != mtype.replace("^", "-") and not (parts[0] == "MDM-T02" and mtype.startswith("MDM^")))
                ):
                    problems.append(f"{where}: extended data type {dtype} is not CODE^NAME^99xxx for {mtype}")
                for seg in segs_of(text):
                    f = seg.split("|")
                    if f[0] == "OBX" and len(f) > 5 and f[2] == "RP":
                        pointer = f[5].split("^")[0].replace("\\S\\", "^").replace("\\T\\", "&")
                        if not os.path.exists(os.path.join(folder, pointer)):
                            problems.append(f"{where}: OBX RP points at {pointer}, which is not beside it")
                if pid3 != pid:
                    problems.append(f"{where}: PID-3 is {pid3}, the folder says {pid}")
                orc = [seg for seg in text.replace("\n", "\r").split("\r") if seg.startswith("ORC|")]
                placer = orc[0].split("|")[2].split("^")[0] if orc and len(orc[0].split("|")) > 2 else ""
                segs = text.replace("\n", "\r").split("\r")
                def first(name, n):
                    for seg in segs:
                        f = seg.split("|")
                        if f[0] == name and len(f) > n and f[n]:
                            return f[n].split("^")[0]
                    return ""
                dept = first("ORC", 17) or first("PV1", 10)
                if m["dept"] != "-":
                    with_department += 1
                    if m["dept"] != dept:
                        problems.append(f"{where}: department {m['dept']} is not the message's ({dept or 'none'})")
                if storage == "standard" and re.fullmatch(r"[A-Za-z0-9-]{1,15}", placer) and m["order"] != placer.rjust(15, "0"):
                    problems.append(f"{where}: order number {m['order']} is not ORC-2 {placer} padded to 15")
                # The file name's timestamp is the message's MSH-7, in local time without an offset.
                if not re.fullmatch(r"\d{14}(\.\d{1,4})?", msh7):
                    problems.append(f"{where}: MSH-7 {msh7} is not YYYYMMDDHHMMSS[.fff] without an offset")
                elif (msh7.replace(".", "") + "000")[:17] != m["stamp"]:
                    problems.append(f"{where}: the name's timestamp {m['stamp']} is not MSH-7 {msh7}")
                if not re.fullmatch(r"\d{10}", msh4) or msh4 == "0000000000":
                    problems.append(f"{where}: MSH-4 {msh4} is not a medical institution code")
                if dtype == "ADT-12" and pv1_44[:8] != m["day"]:
                    problems.append(f"{where}: an outpatient visit is filed under PV1-44's day ({pv1_44})")
                patients.setdefault(pid, set()).add(dtype)
                counts[dtype] = counts.get(dtype, 0) + 1
                if m["flag"] == "1":
                    key = (storage, pid, dtype, m["order"])
                    current.setdefault(key, []).append(where)
    for key, paths in current.items():
        if len(paths) > 1:
            problems.append(f"{len(paths)} current (flag 1) versions of one order: {', '.join(paths)}")
    for pid, types in sorted(patients.items()):
        if "ADT-00" not in types:
            problems.append(f"patient {pid}: a folder without its basic information (ADT-00)")
    if problems:
        for p in problems[:50]:
            print(p, file=sys.stderr)
        return 1
    print(json.dumps({"files": files, "by_type": counts, "with_department": with_department, "attachments": attachments}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
