#!/usr/bin/env python3
"""Checks HL7 v2.5 message files with parsers not written here.

Usage: hl7_check.py DIR

Every *.hl7 file in DIR (one message each, segments ended by CR) is
  * decoded as MSH-18 says: `~ISO IR87` (with MSH-20 `ISO 2022-1994`) through Python's strict
    `iso2022_jp` codec (JIS X 0208 only: vendor rows and half-width katakana fail), or
    `UNICODE UTF-8` (with MSH-20 empty) as UTF-8;
  * parsed by hl7apy with VALIDATION_LEVEL.STRICT and find_groups=True, then validated against
    the message structure of MSH-9.3 (hl7apy raises on structure and datatype errors; table
    values and lengths are its warnings, listed in the summary, not failures);
  * parsed by python-hl7, whose PID-5 must hold the kana (representation P), after the kanji
    name (representation I) when one is known; an I repetition written only in katakana is the
    reading sent as if it were the kanji, and fails.

Two limitations of hl7apy 1.3.5 are worked around, each reported per file in the summary:
  * Its group finder ignores segment order: a segment goes to the first group in the structure
    that can hold it, wherever it stands. RDE_O11 then puts the TQ1 after RXE into
    RDE_O11_TIMING (the one before RXE) and reports the required RDE_O11_TIMING_ENCODED missing;
    OML_O33 puts the ORC of a second test into the first test's PRIOR_RESULT. When validation of
    hl7apy's grouping fails, the same hl7apy segments are grouped again by position, as HL7's
    message grammar reads them (each structure element in order, a group taken only when its
    required segments follow), and that tree is validated by hl7apy; the file fails if this does
    too. "regrouped" in the summary names the error hl7apy's own grouping gave.
  * It types every component of OBX-5 (datatype "varies") as ST, at most 199 characters in strict
    mode, so an ED image (OBX-2 `ED`) can never parse. Its data is checked here instead (ED-4
    `Base64`, strict base64 decoding, PNG or JPEG signature as ED-3 says) and replaced by a
    placeholder before hl7apy parses the message ("ed_bytes" in the summary).

Prints a JSON summary (one entry per file: charset, message type, control ID, PID-5, warnings)
on stdout. Exits 1 after naming each failing file and its error on stderr.
"""

import base64
import binascii
import json
import os
import sys
import tempfile

import hl7
from hl7apy import load_reference
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Group, Message
from hl7apy.parser import parse_message, parse_segments
from hl7apy.validation import Validator

ISO_MSH18 = "~ISO IR87"
ISO_MSH20 = "ISO 2022-1994"
UTF8_MSH18 = "UNICODE UTF-8"


def msh_fields(raw):
    """MSH's fields from the bytes (MSH is ASCII in both encodings): index n-1 is MSH-n."""
    head = raw.split(b"\r", 1)[0].decode("ascii")
    return head.split("|")


def field(fields, n):
    return fields[n - 1] if len(fields) >= n else ""


def decode(raw):
    fields = msh_fields(raw)
    msh18, msh20 = field(fields, 18), field(fields, 20)
    if msh18 == ISO_MSH18:
        if msh20 != ISO_MSH20:
            raise ValueError(f"MSH-18 {msh18!r} needs MSH-20 {ISO_MSH20!r}, found {msh20!r}")
        if any(b >= 0x80 for b in raw):
            raise ValueError("ISO-2022-JP file has 8-bit bytes")
        if b"\x1b(I" in raw:
            raise ValueError("ISO-2022-JP file switches to half-width katakana")
        return "iso2022_jp", raw.decode("iso2022_jp")
    if msh18 == UTF8_MSH18:
        if msh20 != "":
            raise ValueError(f"MSH-18 {msh18!r} needs an empty MSH-20, found {msh20!r}")
        return "utf-8", raw.decode("utf-8")
    raise ValueError(f"MSH-18 {msh18!r} names no character set this check knows")


# Table 0191 type IM with a table 0291 subtype.
SIGNATURES = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}


def take_ed_data(text):
    """Checks every ED observation's data and replaces it by a placeholder (see the docstring);
    returns the text and the decoded sizes."""
    segments, sizes = [], []
    for seg in text.split("\r"):
        fields = seg.split("|")
        if fields[0] == "OBX" and len(fields) > 5 and fields[2] == "ED":
            parts = fields[5].split("^")
            if len(parts) != 5 or parts[3] != "Base64":
                raise ValueError(f"OBX-5 ED must be ^type^subtype^Base64^data: {fields[5][:60]}")
            try:
                data = base64.b64decode(parts[4], validate=True)
            except (binascii.Error, ValueError) as e:
                raise ValueError(f"OBX-5 ED data is not base64: {e}") from e
            signature = SIGNATURES.get(parts[2])
            if parts[1] != "IM":
                raise ValueError(f"OBX-5 ED type of data {parts[1]!r} is not table 0191's IM (image)")
            if signature is None or not data.startswith(signature):
                raise ValueError(f"OBX-5 ED data is not a {parts[1]}/{parts[2]} file")
            sizes.append(len(data))
            parts[4] = "ED-DATA-CHECKED-APART"
            fields[5] = "^".join(parts)
        segments.append("|".join(fields))
    return "\r".join(segments), sizes


FURTHEST = [0]


def match(children, segments, i):
    """Matches `children` (a structure's elements, in order) against `segments` from index `i`:
    as many repetitions of each element as fit, a group only when its required parts are there.
    Returns (nodes, next index), or None when a required element is missing."""
    nodes = []
    for name, ref, (least, most), kind in ((c[0], c[1], c[2], c[3]) for c in children):
        count = 0
        while most == -1 or count < most:
            if kind == "SEG":
                if i < len(segments) and segments[i].name == name:
                    nodes.append(("SEG", segments[i]))
                    i, count = i + 1, count + 1
                    FURTHEST[0] = max(FURTHEST[0], i)
                    continue
                break
            found = match(ref[1], segments, i)
            if found is None or found[1] == i:
                break
            nodes.append(("GRP", name, ref, found[0]))
            i, count = found[1], count + 1
        if count < least:
            return None
    return nodes, i


def regroup(text, structure):
    """The message grouped by position (see the docstring), as an hl7apy tree."""
    segments = parse_segments(text, version="2.5", validation_level=VALIDATION_LEVEL.STRICT, find_groups=False)
    reference = load_reference(structure, "Message", "2.5")
    FURTHEST[0] = 0
    found = match(reference[1], segments, 0)
    if found is None or found[1] != len(segments):
        at = found[1] if found else FURTHEST[0]
        name = segments[at].name if at < len(segments) else "end"
        raise ValueError(f"segment {at + 1} ({name}) does not fit {structure} where it stands")
    message = Message(structure, version="2.5", validation_level=VALIDATION_LEVEL.STRICT)

    def build(parent, nodes):
        for node in nodes:
            if node[0] == "SEG" and node[1].name == "MSH":
                parent.msh = node[1]  # a new Message already has an MSH: replace it
            elif node[0] == "SEG":
                parent.add(node[1])
            else:
                group = Group(node[1], version="2.5", reference=node[2], validation_level=VALIDATION_LEVEL.STRICT)
                parent.add(group)
                build(group, node[3])

    build(message, found[0])
    return message


def hl7apy_check(text, structure):
    """Parses strictly and validates; returns the message, hl7apy's warnings and, when hl7apy's
    own grouping failed, its error."""
    message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    regrouped = None
    try:
        message.validate()
    except Exception as e:  # hl7apy's grouping; the positional one is validated instead
        regrouped = f"{type(e).__name__}: {e}"
        message = regroup(text, structure)
        message.validate()
    with tempfile.NamedTemporaryFile("r", suffix=".txt", delete=False) as report:
        path = report.name
    try:
        Validator.validate(message, report_file=path)
        with open(path, encoding="utf-8") as f:
            warnings = [line.strip() for line in f if line.startswith("Warning")]
    finally:
        os.unlink(path)
    return message, warnings, regrouped


def katakana(c):
    return "\u30a0" <= c <= "\u30ff"


def names(text):
    """PID-5 through python-hl7: [(family, given, name type, representation), ...]."""
    message = hl7.parse(text)
    pid = message.segment("PID")
    out = []
    for rep in pid[5]:
        comps = [str(c) for c in rep] if isinstance(rep, list) else [str(rep)]
        comps += [""] * (8 - len(comps))
        out.append([comps[0], comps[1], comps[6], comps[7]])
    return message, out


def comps(fields, n):
    value = fields[n] if n < len(fields) else ""
    return value.split("~")[0].split("^")


def jahis_rules(text):
    """The JAHIS conventions kamikarte follows, checked on the raw segments: MR9P units, RXE-11
    beside RXE-10, a technique-coded injection (RXE-2 in 99KKT) carries its drugs in RXC, TQ1-3
    codes are 16-character JAMI usage codes, SPM-4 is a JLAC10 material (JC10, 3 digits) or
    HL7 0487 code, each SPM heads at least one order, a JC10 test code has 17 characters."""
    segs = [line.split("|") for line in text.split("\r") if line]
    for i, f in enumerate(segs):
        name = f[0]
        if name == "RXE":
            for n in (5, 11):
                c = comps(f, n)
                if len(c) > 2 and c[0] and c[2] != "MR9P":
                    raise ValueError(f"RXE-{n} is coded outside MR9P: {f[n]}")
            if len(f) > 10 and f[10] and not (len(f) > 11 and f[11]):
                raise ValueError("RXE-10 (dispense amount) without RXE-11 (its unit)")
            if len(comps(f, 2)) > 2 and comps(f, 2)[2] == "99KKT":
                group = []
                for g in segs[i + 1:]:
                    if g[0] in ("ORC", "SPM"):
                        break
                    group.append(g)
                rxc = [g for g in group if g[0] == "RXC"]
                if not rxc or any(g[1] not in ("A", "B") for g in rxc):
                    raise ValueError(f"injection order (RXE-2 {f[2]}) without its drugs in RXC B/A")
        elif name == "TQ1" and len(f) > 3 and f[3]:
            code = f[3].split("&")
            if code[0] and (len(code) < 3 or code[2] != "JAMISDP01" or len(code[0]) != 16):
                raise ValueError(f"TQ1-3 holds a code that is not a JAMI usage code: {f[3]}")
        elif name == "SPM":
            c = comps(f, 4)
            if c[0] and (len(c) < 3 or c[2] not in ("JC10", "HL70487")):
                raise ValueError(f"SPM-4 coded outside JC10 / HL70487: {f[4]}")
            if c[0] and c[2] == "JC10" and not (len(c[0]) == 3 and c[0].isdigit()):
                raise ValueError(f"SPM-4's JLAC10 material code is not 3 digits: {f[4]}")
            nxt = next((g[0] for g in segs[i + 1:] if g[0] in ("ORC", "SPM")), None)
            if nxt != "ORC":
                raise ValueError("an SPM with no order after it")
        elif name == "OBR":
            c = comps(f, 4)
            if len(c) > 2 and c[2] == "JC10" and len(c[0]) != 17:
                raise ValueError(f"OBR-4's JLAC10 code is not 17 characters: {f[4]}")


def check(path):
    with open(path, "rb") as f:
        raw = f.read()
    charset, text = decode(raw)
    structure = field(text.split("\r", 1)[0].split("|"), 9).split("^")[-1]
    checked_text, ed_bytes = take_ed_data(text)
    message, warnings, regrouped = hl7apy_check(checked_text, structure)
    if message.name is None or not message.children:
        raise ValueError("hl7apy found no message")
    jahis_rules(text)
    parsed, pid5 = names(text)
    reps = [n[3] for n in pid5]
    if reps not in (["I", "P"], ["P"]):
        raise ValueError(f"PID-5 must be the kanji name (I) then the kana (P), or the kana alone: {pid5}")
    if reps[0] == "I" and all(katakana(c) or c.isspace() for c in pid5[0][0] + pid5[0][1]):
        raise ValueError(f"PID-5's kanji repetition holds only katakana (the reading): {pid5}")
    msh = parsed.segment("MSH")
    return {
        "file": os.path.basename(path),
        "charset": charset,
        "type": str(msh[9]),
        "control_id": str(msh[10]),
        "structure": message.name,
        "segments": [str(s[0]) for s in parsed],
        "pid5": pid5,
        "warnings": warnings,
        "regrouped": regrouped,
        "ed_bytes": ed_bytes,
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder = sys.argv[1]
    files = sorted(f for f in os.listdir(folder) if f.endswith(".hl7"))
    if not files:
        print(f"{folder}: no .hl7 files", file=sys.stderr)
        return 1
    results, failed = [], 0
    for name in files:
        path = os.path.join(folder, name)
        try:
            results.append(check(path))
        except Exception as e:  # every failure is reported, whatever raised it
            failed += 1
            print(f"{path}: {type(e).__name__}: {e}", file=sys.stderr)
    print(json.dumps({"checked": len(files), "failed": failed, "files": results}, ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
