#!/usr/bin/env python3
"""A stand-in for ORCA's /api21/medicalmodv2 (中途終了データ作成), written from ORCA's published API
page (https://www.orca.med.or.jp/receipt/tec/api/medicalmod.html; notes in
docs/research/orca-medicalmodv2.md), not from kamikarte's code. No real ORCA is reachable here.

It checks every request the way the page documents it, and answers as ORCA does:

- HTTP POST to /api21/medicalmodv2?class=01|02|03 with HTTP Basic authentication (else 401);
- a well-formed UTF-8 XML body `<data><medicalreq type="record">`, every element one the page
  lists, every value `type="string"`, every group `type="record"`, every list `type="array"` of
  `<X_child type="record">`;
- Patient_ID, Department_Code (at most 2 characters) and Physician_Code (at most 5) present;
  Perform_Date YYYY-MM-DD and Perform_Time HH:MM:SS when given; InOut empty or I;
- class 01: no Medical_Uid; at least one Medical_Information_child, each with a 3-digit
  Medical_Class and at least one Medication_info_child whose Medication_Code has 9 digits and
  whose Medication_Number is a number; at most 40 groups of 40 lines;
- class 03 (replace) and 02 (delete): the Medical_Uid of pending data this server holds, with
  the same patient, day and department (ORCA's match keys); a replacement gets a new uid.

A request that breaks a rule gets Api_Result 97 (送信内容に誤りがあります) with the rule in the
message; an unknown uid 32 (replace) or 30 (delete). Every request is appended to the JSON-lines
log given with --log: {"class", "ok", "api_result", "message", "patient", "date", "department",
"uid", "codes"}.

Usage: orca_server.py --user U --password P --log FILE   (prints the port it listens on)
       orca_server.py --check DIR                          (checks every *.xml as a class 01 body)
"""
import argparse
import base64
import http.server
import json
import pathlib
import re
import sys
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

LEAVES = {
    "InOut", "Patient_ID", "Perform_Date", "Perform_Time", "Medical_Uid", "Admission_Date",
    "Department_Code", "Physician_Code", "Insurance_Combination_Number", "InsuranceProvider_Class",
    "InsuranceProvider_Number", "InsuranceProvider_WholeName", "HealthInsuredPerson_Symbol",
    "HealthInsuredPerson_Number", "HealthInsuredPerson_Branch_Number", "HealthInsuredPerson_Continuation",
    "HealthInsuredPerson_Assistance", "RelationToInsuredPerson", "HealthInsuredPerson_WholeName",
    "Certificate_StartDate", "Certificate_ExpiredDate", "PublicInsurance_Class", "PublicInsurance_Name",
    "PublicInsurer_Number", "PublicInsuredPerson_Number", "Certificate_IssuedDate", "Medical_Class",
    "Medical_Class_Name", "Medical_Class_Number", "Medication_Code", "Medication_Name", "Medication_Number",
    "Medication_Generic_Flg", "Medication_Continue", "Medication_Internal_Kinds", "Disease_Code",
    "Disease_InOut", "Disease_Name", "Disease_Single_Code", "Disease_Single_Name", "Disease_Scode1",
    "Disease_Scode2", "Disease_Scode3", "Disease_Sname", "Disease_Category", "Disease_SuspectedFlag",
    "Disease_StartDate", "Disease_EndDate", "Disease_OutCome", "Medical_Push",
}
RECORDS = {"medicalreq", "Diagnosis_Information", "HealthInsurance_Information", "Disease_Supplement"}
ARRAYS = {"PublicInsurance_Information", "Medical_Information", "Medication_info", "Disease_Information",
          "Disease_Single"}


class Refused(Exception):
    def __init__(self, result, message):
        super().__init__(message)
        self.result = result
        self.message = message


def check_tree(element):
    name, kind = element.tag, element.get("type")
    if name in LEAVES:
        if kind != "string" or len(element):
            raise Refused("97", f"{name} must be a type=\"string\" value")
        return
    if name in RECORDS or (name.endswith("_child") and name[:-6] in ARRAYS):
        if kind != "record":
            raise Refused("97", f"{name} must be type=\"record\"")
    elif name in ARRAYS:
        if kind != "array":
            raise Refused("97", f"{name} must be type=\"array\"")
        for child in element:
            if child.tag != f"{name}_child":
                raise Refused("97", f"{name} may hold only {name}_child, not {child.tag}")
    else:
        raise Refused("97", f"{name} is not an element of medicalreq")
    for child in element:
        check_tree(child)


def text(element, path):
    found = element.find(path)
    return None if found is None else (found.text or "")


def parse_request(body, klass):
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise Refused("98", f"the body is not well-formed XML: {e}") from e
    if root.tag != "data" or len(root) != 1 or root[0].tag != "medicalreq":
        raise Refused("97", "the body must be <data><medicalreq type=\"record\">")
    req = root[0]
    check_tree(req)
    patient = text(req, "Patient_ID")
    if not patient:
        raise Refused("01", "患者番号未設定")
    department = text(req, "Diagnosis_Information/Department_Code")
    if not department or len(department) > 2:
        raise Refused("02", f"診療科未設定 or longer than 2: {department!r}")
    doctor = text(req, "Diagnosis_Information/Physician_Code")
    if not doctor or len(doctor) > 5:
        raise Refused("03", f"ドクター未設定 or longer than 5: {doctor!r}")
    date = text(req, "Perform_Date")
    if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise Refused("11", f"診療日設定誤り: {date!r}")
    time = text(req, "Perform_Time")
    if time and not re.fullmatch(r"\d{2}:\d{2}:\d{2}", time):
        raise Refused("97", f"Perform_Time is not HH:MM:SS: {time!r}")
    insurance = text(req, "Diagnosis_Information/HealthInsurance_Information/Insurance_Combination_Number")
    # ORCA registers an unknown combination under ZERO with warning W02; a sender that knows the
    # number gives all four digits (the API page's length).
    if insurance is not None and not re.fullmatch(r"\d{4}", insurance):
        raise Refused("97", f"Insurance_Combination_Number is not 4 digits: {insurance!r}")
    if text(req, "InOut") not in (None, "", "I"):
        raise Refused("97", f"InOut is I or empty: {text(req, 'InOut')!r}")
    codes = []
    groups = req.findall("Diagnosis_Information/Medical_Information/Medical_Information_child")
    if klass == "01" or klass == "03":
        if not groups:
            raise Refused("22", "登録対象のデータがありません")
        if len(groups) > 40:
            raise Refused("97", "more than 40 Medical_Information_child")
        for g in groups:
            if not re.fullmatch(r"\d{3}", text(g, "Medical_Class") or ""):
                raise Refused("97", "Medical_Class is not 3 digits (M05 診療種別区分がありません)")
            lines = g.findall("Medication_info/Medication_info_child")
            if not lines or len(lines) > 40:
                raise Refused("97", "a Medical_Information_child needs 1 to 40 Medication_info_child")
            for line in lines:
                code = text(line, "Medication_Code") or ""
                if not re.fullmatch(r"\d{9}", code):
                    raise Refused("97", f"Medication_Code {code!r} is not 9 digits (入力コードは不可)")
                number = text(line, "Medication_Number") or "1"
                try:
                    if float(number) == 0:
                        raise ValueError
                except ValueError as e:
                    raise Refused("97", f"Medication_Number {number!r} is not a number other than 0") from e
                codes.append([code, number])
    return {"patient": patient, "date": date, "department": department, "uid": text(req, "Medical_Uid") or "",
            "insurance": insurance, "codes": codes}


def answer(result, message, uid=""):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xmlio2><medicalres type=\"record\">"
            f"<Api_Result type=\"string\">{result}</Api_Result>"
            f"<Api_Result_Message type=\"string\">{message}</Api_Result_Message>"
            f"<Medical_Uid type=\"string\">{uid}</Medical_Uid>"
            "</medicalres></xmlio2>\n").encode("utf-8")


class Orca:
    def __init__(self, user, password, log):
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.log = log
        self.pending = {}  # uid -> (patient, date, department)
        self.lock = threading.Lock()

    def handle(self, klass, body):
        if klass not in ("01", "02", "03"):
            raise Refused("91", "処理区分未設定")
        req = parse_request(body, klass)
        key = (req["patient"], req["date"], req["department"])
        with self.lock:
            if klass == "01":
                if req["uid"]:
                    raise Refused("97", "class 01 registers new data: Medical_Uid must be empty")
                uid = str(uuid.uuid4())
                self.pending[uid] = key
                return req, "00", "登録処理終了", uid
            if self.pending.get(req["uid"]) != key:
                raise Refused("32" if klass == "03" else "30",
                              "置換対象の中途終了データがありません" if klass == "03" else "削除対象の中途終了データがありません")
            del self.pending[req["uid"]]
            if klass == "02":
                return req, "00", "削除処理終了", req["uid"]
            uid = str(uuid.uuid4())
            self.pending[uid] = key
            return req, "00", "置換処理終了", uid

    def record(self, entry):
        with self.lock, open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def serve(args):
    orca = Orca(args.user, args.password, args.log)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/api21/medicalmodv2":
                self.send_error(404)
                return
            if self.headers.get("Authorization") != orca.auth:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "Basic realm=\"ORCA\"")
                self.end_headers()
                return
            klass = urllib.parse.parse_qs(url.query).get("class", [""])[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            entry = {"class": klass}
            try:
                req, result, message, uid = orca.handle(klass, body.decode("utf-8"))
                entry.update(req, ok=True, api_result=result, message=message, uid=uid)
            except (Refused, UnicodeDecodeError) as e:
                result = getattr(e, "result", "98")
                message = getattr(e, "message", str(e))
                uid = ""
                entry.update(ok=False, api_result=result, message=message)
            orca.record(entry)
            out = answer(result, message, uid)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def check(folder):
    files = sorted(pathlib.Path(folder).glob("*.xml"))
    if not files:
        print(f"{folder}: no *.xml", file=sys.stderr)
        return 1
    lines = 0
    for path in files:
        try:
            req = parse_request(path.read_text(encoding="utf-8"), "01")
        except Refused as e:
            print(f"{path}: Api_Result {e.result}: {e.message}", file=sys.stderr)
            return 1
        lines += len(req["codes"])
    print(json.dumps({"ok": True, "visits": len(files), "lines": lines}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--log")
    parser.add_argument("--check")
    args = parser.parse_args()
    if args.check:
        return check(args.check)
    if not (args.user and args.password and args.log):
        parser.error("--user, --password and --log are needed to serve")
    serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
