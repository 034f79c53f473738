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
- base64 attachment data decodes;
- JP Core 1.1.2: every Patient, Encounter, Observation, ServiceRequest and DocumentReference
  claims the JP Core profile of its kind, and a resource claiming a JP Core profile holds what
  that profile requires (JP_CORE_RULES, read from the profiles' FSH sources at tag v1.1.2 of
  github.com/jami-fhir-jp-wg/jp-core-v1x: identifier slices, required elements, fixed values,
  type restrictions), with every contained resource referenced (dom-3).

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


JP_CORE = "http://jpfhir.jp/fhir/core/StructureDefinition/"
RP_NUMBER = "urn:oid:1.2.392.100495.20.3.81"
ORDER_IN_RP = "urn:oid:1.2.392.100495.20.3.82"
UCUM = "http://unitsofmeasure.org"
JP_SIMPLE_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS"
JP_VITAL_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_ObservationVitalSignsCategory_CS"
# Kinds whose every resource must claim JP Core's profile (JP Core asks nothing of them that the
# paper lacks).
ALWAYS_PROFILED = {"Patient": "JP_Patient", "Encounter": "JP_Encounter", "ServiceRequest": "JP_ServiceRequest",
                   "DocumentReference": "JP_DocumentReference"}


def need(ok, where, what):
    if not ok:
        raise Problem(f"{where}: {what}")


def has_identifier(resource, system):
    return any(i.get("system") == system and i.get("value") for i in resource.get("identifier", []))


def contained_medication(resource, where):
    ref = (resource.get("medicationReference") or {}).get("reference", "")
    need(ref.startswith("#"), where, "medication[x] must be a Reference to a contained JP_Medication")
    found = [c for c in resource.get("contained", []) if c.get("id") == ref[1:]]
    need(found and found[0].get("resourceType") == "Medication", where, f"{ref} is not a contained Medication")
    med = found[0]
    need(med.get("status"), where, "JP_Medication.status is required")
    need(med.get("ingredient"), where, "JP_Medication needs an ingredient")
    for ing in med["ingredient"]:
        need("itemCodeableConcept" in ing, where, "JP_Medication.ingredient.item[x] must be a CodeableConcept")
        strength = ing.get("strength") or {}
        for part in ("numerator", "denominator"):
            q = strength.get(part) or {}
            need("value" in q and q.get("code") and q.get("system"), where,
                 f"JP_Medication.ingredient.strength.{part} needs value, code and system")


def oral_dosage(resource, where):
    for dosage in resource.get("dosageInstruction", []) + [resource.get("dosage") or {}]:
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsDuration")
        if bounds:
            need(bounds.get("unit") == "日" and bounds.get("system") == UCUM and bounds.get("code") == "d", where,
                 "timing.repeat.boundsDuration must be unit 日, UCUM d")
        need("asNeededCodeableConcept" not in dosage, where, "asNeeded[x] must be boolean")
        for rate in dosage.get("doseAndRate", []):
            q = rate.get("doseQuantity")
            if q:
                need("value" in q and q.get("code") and q.get("system"), where, "doseQuantity needs value, code, system")
    supply = (resource.get("dispenseRequest") or {}).get("expectedSupplyDuration")
    if supply:
        need(supply.get("unit") == "日" and supply.get("system") == UCUM and supply.get("code") == "d", where,
             "expectedSupplyDuration must be unit 日, UCUM d")
    need("allowedBoolean" not in (resource.get("substitution") or {}), where, "substitution.allowed must be a CodeableConcept")


def check_jp_core(resource, where):
    kind = resource["resourceType"]
    claimed = [p[len(JP_CORE):] for p in (resource.get("meta") or {}).get("profile", []) if p.startswith(JP_CORE)]
    if kind in ALWAYS_PROFILED:
        need(ALWAYS_PROFILED[kind] in claimed, where, f"{kind} does not claim {ALWAYS_PROFILED[kind]}")
    if kind == "Observation":
        need(claimed, where, "Observation claims no JP Core profile")
    for ref in (c.get("id") for c in resource.get("contained", [])):
        need(f'"#{ref}"' in json.dumps(resource), where, f"contained #{ref} is not referenced (dom-3)")
    for profile in claimed:
        w = f"{where} [{profile}]"
        if profile == "JP_Patient":
            need(resource.get("identifier") and all(i.get("value") for i in resource["identifier"]), w,
                 "identifier 1..* with values")
        elif profile == "JP_Observation_VitalSigns":
            codings = [c for cat in resource.get("category", []) for c in cat.get("coding", [])]
            need(any(c.get("system") == JP_SIMPLE_CATEGORY and c.get("code") == "vital-signs" for c in codings), w,
                 "category[vitalSigns] (JP_SimpleObservationCategory_CS#vital-signs) is required")
            need(any(c.get("system") == JP_VITAL_CATEGORY and c.get("code") for c in codings), w,
                 "category[vitalSignCategory] (JP_ObservationVitalSignsCategory_CS) is required")
            need(resource.get("subject"), w, "subject is required")
            need("effectiveDateTime" in resource or "effectivePeriod" in resource, w, "effective[x] is dateTime or Period")
        elif profile in ("JP_MedicationRequest", "JP_MedicationRequest_Injection"):
            need(has_identifier(resource, RP_NUMBER), w, "identifier:rpNumber is required")
            need(resource.get("subject") and resource.get("authoredOn"), w, "subject and authoredOn are required")
            if profile == "JP_MedicationRequest":
                need(has_identifier(resource, ORDER_IN_RP), w, "identifier:orderInRp is required")
                need("medicationCodeableConcept" in resource, w, "medication[x] must be a CodeableConcept")
                oral_dosage(resource, w)
            else:
                contained_medication(resource, w)
        elif profile in ("JP_MedicationAdministration", "JP_MedicationAdministration_Injection"):
            need(has_identifier(resource, RP_NUMBER), w, "identifier:rpNumber is required")
            need(resource.get("subject"), w, "subject is required")
            if profile == "JP_MedicationAdministration":
                need(has_identifier(resource, ORDER_IN_RP), w, "identifier:orderInRp is required")
                need("medicationCodeableConcept" in resource, w, "medication[x] must be a CodeableConcept")
            else:
                contained_medication(resource, w)
        elif profile not in ("JP_Encounter", "JP_Observation_Common", "JP_ServiceRequest", "JP_DocumentReference"):
            raise Problem(f"{w}: a JP Core profile this check does not know")
    return claimed


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
    types, methods, profiles, resolved = {}, {}, {}, 0
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
        for profile in check_jp_core(resource, where):
            profiles[profile] = profiles.get(profile, 0) + 1
        types[kind] = types.get(kind, 0) + 1
        methods[method] = methods.get(method, 0) + 1
    if types.get("Patient", 0) == 0:
        raise Problem("the bundle has no Patient")
    return {"file": path.name, "entries": len(entries), "types": types, "methods": methods,
            "profiles": profiles, "references": resolved}


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
