#!/usr/bin/env python3
"""Check kamikarte's FHIR bundles with an independent implementation: every *.json in DIR is
parsed by the fhir.resources R4B models (the bundle, then each entry's resource as its own class),
and then held to what a hand-off needs beyond the schema:

- a transaction whose entries have unique urn:uuid fullUrls (RFC 9562 layout, version 5 or 8);
- every request conditional on an identifier the resource carries: POST with ifNoneExist, or
  PUT Type?identifier=... (kamikarte's conditional update of what it owns);
- every urn:uuid reference resolves to a fullUrl in the same bundle;
- every Patient claims JP_Patient and has a kana (SYL) name, and a kanji (IDE) one only when it is
  not the reading written again; a downtime ID is
  an identifier with use "temp"; a Patient replaced by another is inactive;
- codes of required bindings are in their value sets (the models check types, not codes; the
  sets below are copied from the R4 specification for the elements kamikarte writes);
- an Observation in the vital-signs category has its time and UCUM quantities;
- base64 attachment data decodes.

Prints a JSON summary on stdout. Exits 1 with "FILE: what is wrong" on stderr at the first
problem, 2 on a usage error.
"""
import base64
import binascii
import importlib
import json
import pathlib
import re
import sys
import urllib.parse

from fhir.resources.R4B.bundle import Bundle

JP_PATIENT = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[58][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


IDENTIFIER_USE = {"usual", "official", "temp", "secondary", "old"}
REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
REQUEST_INTENT = {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order",
                  "instance-order", "option"}
REQUEST_PRIORITY = {"routine", "urgent", "asap", "stat"}
# (resource type, dotted path) -> the codes of its required binding.
REQUIRED = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Patient", "link.type"): {"replaced-by", "replaces", "refer", "seealso"},
    ("Patient", "name.use"): {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    ("Encounter", "status"): {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                              "entered-in-error", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"},
    ("MedicationRequest", "status"): {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped",
                                      "draft", "unknown"},
    ("MedicationRequest", "intent"): {"proposal", "plan", "order", "original-order", "reflex-order",
                                      "filler-order", "instance-order", "option"},
    ("MedicationRequest", "priority"): REQUEST_PRIORITY,
    ("MedicationAdministration", "status"): {"in-progress", "not-done", "on-hold", "completed", "entered-in-error",
                                             "stopped", "unknown"},
    ("ServiceRequest", "status"): REQUEST_STATUS,
    ("ServiceRequest", "intent"): REQUEST_INTENT,
    ("ServiceRequest", "priority"): REQUEST_PRIORITY,
    ("NutritionOrder", "status"): REQUEST_STATUS,
    ("NutritionOrder", "intent"): REQUEST_INTENT,
    ("DocumentReference", "status"): {"current", "superseded", "entered-in-error"},
    ("DocumentReference", "docStatus"): {"preliminary", "final", "amended", "entered-in-error"},
    ("ChargeItem", "status"): {"planned", "billable", "not-billable", "aborted", "billed", "entered-in-error",
                               "unknown"},
}


class Problem(Exception):
    pass


def resource_class(name):
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{name.lower()}")
        return getattr(module, name)
    except (ImportError, AttributeError) as e:
        raise Problem(f"unknown resource type {name!r}") from e


def identifiers(resource):
    return {(i.get("system"), i.get("value")) for i in resource.get("identifier", [])}


def parse_condition(query, where):
    params = urllib.parse.parse_qs(query, keep_blank_values=True, strict_parsing=True)
    if list(params) != ["identifier"] or len(params["identifier"]) != 1:
        raise Problem(f"{where}: condition {query!r} is not one identifier=system|value")
    system, bar, value = params["identifier"][0].partition("|")
    if not bar or not system or not value:
        raise Problem(f"{where}: condition {query!r} does not name both system and value")
    return system, value


def check_request(entry, where):
    resource = entry["resource"]
    kind = resource["resourceType"]
    request = entry.get("request") or {}
    method = request.get("method")
    if method == "POST":
        if request.get("url") != kind:
            raise Problem(f"{where}: POST url {request.get('url')!r} is not {kind}")
        if not request.get("ifNoneExist"):
            raise Problem(f"{where}: POST without ifNoneExist would create a duplicate when resent")
        condition = parse_condition(request["ifNoneExist"], where)
    elif method == "PUT":
        path, mark, query = request.get("url", "").partition("?")
        if path != kind or not mark:
            raise Problem(f"{where}: PUT url {request.get('url')!r} is not a conditional update of {kind}")
        condition = parse_condition(query, where)
    else:
        raise Problem(f"{where}: request method {method!r} is neither a conditional POST nor PUT")
    if condition not in identifiers(resource):
        raise Problem(f"{where}: the request's identifier {condition} is not one the resource carries")
    return method


def references(value):
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)


def check_patient(resource, where):
    if JP_PATIENT not in resource.get("meta", {}).get("profile", []):
        raise Problem(f"{where}: Patient does not claim JP_Patient")
    representations = set()
    for name in resource.get("name", []):
        for ext in name.get("extension", []):
            if ext.get("url") == NAME_REPRESENTATION:
                representations.add(ext.get("valueCode"))
                if not name.get("text") or not name.get("family"):
                    raise Problem(f"{where}: the {ext.get('valueCode')} name has no text or family")
    if "SYL" not in representations:
        raise Problem(f"{where}: Patient has no name with representation SYL (the kana)")
    for name in resource.get("name", []):
        reps = {e.get("valueCode") for e in name.get("extension", []) if e.get("url") == NAME_REPRESENTATION}
        text = (name.get("text") or "").replace(" ", "").replace("\u3000", "")
        if "IDE" in reps and text and all("\u30a0" <= c <= "\u30ff" for c in text):
            raise Problem(f"{where}: the IDE (kanji) name {text!r} is only the katakana reading")
    for ident in resource.get("identifier", []):
        if "/downtime-id/" in ident.get("system", "") and ident.get("use") != "temp":
            raise Problem(f"{where}: downtime ID {ident.get('value')} is not use=temp")
    links = resource.get("link", [])
    if any(l.get("type") == "replaced-by" for l in links) and resource.get("active") is not False:
        raise Problem(f"{where}: a Patient replaced by another must be inactive")


def values_at(value, path):
    head, _, rest = path.partition(".")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict) and head in item:
            if rest:
                yield from values_at(item[head], rest)
            elif isinstance(item[head], list):
                yield from item[head]
            else:
                yield item[head]


def check_codes(resource, where):
    kind = resource["resourceType"]
    for (of, path), codes in REQUIRED.items():
        if of == kind:
            for code in values_at(resource, path):
                if code not in codes:
                    raise Problem(f"{where}: {kind}.{path} {code!r} is not one of {sorted(codes)}")
    for use in values_at(resource, "identifier.use"):
        if use not in IDENTIFIER_USE:
            raise Problem(f"{where}: identifier use {use!r} is not one of {sorted(IDENTIFIER_USE)}")


def check_vital_sign(resource, where):
    codes = {c.get("code") for cat in resource.get("category", []) for c in cat.get("coding", [])}
    if "vital-signs" not in codes:
        return
    if "effectiveDateTime" not in resource and "effectivePeriod" not in resource:
        raise Problem(f"{where}: a vital sign without its time")
    quantities = [resource["valueQuantity"]] if "valueQuantity" in resource else []
    quantities += [c["valueQuantity"] for c in resource.get("component", []) if "valueQuantity" in c]
    if not quantities:
        raise Problem(f"{where}: a vital sign without a quantity")
    for q in quantities:
        if q.get("system") != "http://unitsofmeasure.org" or not q.get("code"):
            raise Problem(f"{where}: vital-sign unit {q.get('unit')!r} is not coded in UCUM")


def check_attachments(value, where):
    if isinstance(value, dict):
        if "contentType" in value and "data" in value:
            try:
                base64.b64decode(value["data"], validate=True)
            except binascii.Error as e:
                raise Problem(f"{where}: attachment data is not base64: {e}") from e
        for v in value.values():
            check_attachments(v, where)
    elif isinstance(value, list):
        for v in value:
            check_attachments(v, where)


def check_file(path):
    text = path.read_text(encoding="utf-8")
    try:
        Bundle.model_validate_json(text)
    except Exception as e:  # the models' own message says which element
        raise Problem(f"not a valid R4B Bundle: {e}") from e
    data = json.loads(text)
    if data.get("type") != "transaction":
        raise Problem(f"Bundle.type is {data.get('type')!r}, not transaction")
    entries = data.get("entry", [])
    full_urls = [e.get("fullUrl") for e in entries]
    for url in full_urls:
        if not isinstance(url, str) or not UUID_URN.match(url):
            raise Problem(f"fullUrl {url!r} is not a urn:uuid with version 5 or 8")
    if len(set(full_urls)) != len(full_urls):
        raise Problem("two entries share a fullUrl")
    types, methods, resolved = {}, {}, 0
    for i, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType", "?")
        where = f"entry {i} ({kind})"
        try:
            resource_class(kind).model_validate(resource)
        except Problem:
            raise
        except Exception as e:
            raise Problem(f"{where}: not a valid R4B {kind}: {e}") from e
        method = check_request(entry, where)
        for ref in references(resource):
            if ref.startswith("urn:uuid:"):
                if ref not in full_urls:
                    raise Problem(f"{where}: reference {ref} is not a fullUrl in this bundle")
                resolved += 1
        if kind == "Patient":
            check_patient(resource, where)
        if kind == "Observation":
            check_vital_sign(resource, where)
        check_codes(resource, where)
        check_attachments(resource, where)
        types[kind] = types.get(kind, 0) + 1
        methods[method] = methods.get(method, 0) + 1
    if types.get("Patient", 0) == 0:
        raise Problem("the bundle has no Patient")
    return {"file": path.name, "entries": len(entries), "types": types, "methods": methods,
            "references": resolved}


def main():
    if len(sys.argv) != 2 or not pathlib.Path(sys.argv[1]).is_dir():
        print("usage: fhir_check.py DIR", file=sys.stderr)
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
    if not files:
        print(f"{sys.argv[1]}: no *.json files", file=sys.stderr)
        return 1
    summary = []
    for path in files:
        try:
            summary.append(check_file(path))
        except Problem as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 1
    print(json.dumps({"ok": True, "files": len(summary), "bundles": summary}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
