//! Charges for ORCA (日医標準レセプトソフト) through its API `/api21/medicalmodv2` (中途終了データ作成):
//! one request per visit — a patient's charges of one day, department and doctor, inpatient or
//! not — that ORCA keeps as pending data (中途データ) for its clerk to open and settle.
//!
//! The request is ORCA's documented XML (docs/research/orca-medicalmodv2.md): `<data><medicalreq
//! type="record">` with every value `type="string"`, every group `type="record"`, every list
//! `type="array"` of `<…_child type="record">`:
//!
//! - `InOut` (`I` for an inpatient, empty otherwise), `Patient_ID` (the record number 医事
//!   registered), `Perform_Date` (`YYYY-MM-DD`), `Perform_Time` (`HH:MM:SS`, the earliest time a
//!   slip of the visit gives), `Medical_Uid` (ORCA's, when replacing or deleting);
//! - `Diagnosis_Information`: `Department_Code` (the departments master), `Physician_Code` (the
//!   doctors master's billing code), and `Medical_Information`: one `Medical_Information_child`
//!   per 診療種別区分 (`Medical_Class`, `Medical_Class_Name`, `Medical_Class_Number` 1) holding
//!   its lines (`Medication_Code` the 9-digit receipt-computer code, `Medication_Name`,
//!   `Medication_Number` the quantity, summed over the visit's slips).
//!
//! No insurance data is sent (kamikarte never invents it): a slip that names 医事's 保険組合せ番号
//! sends that number alone (`HealthInsurance_Information/Insurance_Combination_Number`), and ORCA
//! applies the combination it holds; without it, ORCA chooses the patient's own. A visit is
//! registered once (`class=01`); a changed visit is replaced (`class=03`) under the
//! `Medical_Uid` ORCA returned, and one whose charges were all taken back is deleted
//! (`class=02`). `send` keeps what ORCA accepted in the store, so sending again sends nothing
//! twice.

use std::collections::BTreeMap;

use quick_xml::escape::escape;

use super::claims::{Action, Claim};
use crate::domain::billing::MedicalClass;

/// ORCA's limits on one request (its record definition): groups per visit, lines per group.
const MAX_CLASSES: usize = 40;
const MAX_LINES: usize = 40;

/// One line of a visit: receipt-computer code, name, quantity.
pub type Line = (String, String, f64);

/// One visit as ORCA receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub patient_id: String,
    pub inpatient: bool,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`, the earliest time of service any slip of the visit gives.
    pub time: Option<String>,
    pub department_code: String,
    pub doctor_code: String,
    /// 医事's 保険組合せ番号, when the slips name one: visits under two combinations are two.
    pub insurance: Option<String>,
    /// Lines by class, in class order: (code, name, quantity).
    pub classes: Vec<(MedicalClass, Vec<Line>)>,
    /// The slips (and their versions) the visit is made of.
    pub slips: Vec<String>,
}

impl Visit {
    /// What names the visit for good: patient, day, department, doctor, in or out (and the
    /// insurance combination, when the slips name one).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}{}",
            self.patient_id,
            self.date,
            self.department_code,
            self.doctor_code,
            if self.inpatient { "I" } else { "O" },
            self.insurance.as_deref().map(|i| format!("|{i}")).unwrap_or_default()
        )
    }

    /// A file name for the visit's request.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}_{}_{}{}.xml",
            self.patient_id,
            self.date.replace('-', ""),
            self.department_code,
            self.doctor_code,
            if self.inpatient { "I" } else { "O" },
            self.insurance.as_deref().map(|i| format!("_{i}")).unwrap_or_default()
        )
    }

    /// SHA-256 of the request without ORCA's uid: what tells a changed visit from a resend.
    pub fn content_sha(&self) -> String {
        crate::digest::sha256_hex(request(self, None).as_bytes())
    }

    /// A visit with no charges, from its key: what a deletion (class 02) names.
    pub fn from_key(key: &str) -> Option<Visit> {
        let parts: Vec<&str> = key.split('|').collect();
        let (patient, date, department, doctor, io, insurance) = match parts.as_slice() {
            [p, d, dep, doc, io] => (p, d, dep, doc, io, None),
            [p, d, dep, doc, io, ins] => (p, d, dep, doc, io, Some(ins.to_string())),
            _ => return None,
        };
        Some(Visit {
            patient_id: patient.to_string(),
            inpatient: *io == "I",
            date: date.to_string(),
            time: None,
            department_code: department.to_string(),
            doctor_code: doctor.to_string(),
            insurance,
            classes: Vec::new(),
            slips: Vec::new(),
        })
    }

    pub fn lines(&self) -> usize {
        self.classes.iter().map(|(_, l)| l.len()).sum()
    }
}

/// The visits of the current (`add`) claims, or every claim that cannot be sent, named by its
/// slip and line: ORCA requires the department and doctor codes and a 9-digit code.
pub fn visits(claims: &[Claim]) -> Result<Vec<Visit>, Vec<String>> {
    let mut problems = Vec::new();
    let mut by_key: BTreeMap<String, Visit> = BTreeMap::new();
    for c in claims.iter().filter(|c| c.action == Action::Add) {
        let at = format!("{} line {} ({})", c.slip, c.line_no, c.code);
        let department = match &c.department_code {
            Some(code) if code.len() <= 2 => code.clone(),
            Some(code) => {
                problems.push(format!("{at}: department code '{code}' is longer than ORCA's 2 characters"));
                continue;
            }
            None => {
                problems.push(format!(
                    "{at}: department '{}' is not in the departments master (ORCA needs its code)",
                    c.department.as_deref().unwrap_or("(none written)")
                ));
                continue;
            }
        };
        let doctor = match &c.doctor_code {
            Some(code) if code.len() <= 5 => code.clone(),
            Some(code) => {
                problems.push(format!("{at}: doctor code '{code}' is longer than ORCA's 5 characters (give the doctors master a billing column)"));
                continue;
            }
            None => {
                problems.push(format!(
                    "{at}: doctor '{}' is not one the doctors master can name (ORCA needs the doctor's code)",
                    c.doctor.as_deref().unwrap_or("(none written)")
                ));
                continue;
            }
        };
        if c.code.len() != 9 || !c.code.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!("{at}: '{}' is not a 9-digit receipt-computer code", c.code));
            continue;
        }
        let visit = Visit {
            patient_id: c.patient_id.clone(),
            inpatient: c.inpatient,
            date: c.service_date.clone(),
            time: None,
            department_code: department,
            doctor_code: doctor,
            insurance: c.insurance.clone(),
            classes: Vec::new(),
            slips: Vec::new(),
        };
        let v = by_key.entry(visit.key()).or_insert(visit);
        if let Some(t) = &c.service_time
            && v.time.as_ref().is_none_or(|old| t < old)
        {
            v.time = Some(t.clone());
        }
        let slip = format!("{}@{}", c.slip, c.version);
        if !v.slips.contains(&slip) {
            v.slips.push(slip);
        }
        let class = match v.classes.iter_mut().find(|(k, _)| *k == c.medical_class) {
            Some(found) => found,
            None => {
                v.classes.push((c.medical_class, Vec::new()));
                v.classes.last_mut().expect("just pushed")
            }
        };
        match class.1.iter_mut().find(|(code, _, _)| *code == c.code) {
            Some(line) => line.2 += c.quantity,
            None => {
                class.1.push((c.code.clone(), c.name.clone().unwrap_or_else(|| c.code.clone()), c.quantity))
            }
        }
    }
    let mut visits: Vec<Visit> = by_key.into_values().collect();
    for v in &mut visits {
        v.classes.sort_by(|a, b| a.0.code.cmp(b.0.code));
        if v.classes.len() > MAX_CLASSES || v.classes.iter().any(|(_, l)| l.len() > MAX_LINES) {
            problems.push(format!(
                "visit {}: more than ORCA takes in one request ({MAX_CLASSES} classes of {MAX_LINES} lines)",
                v.key()
            ));
        }
    }
    if problems.is_empty() { Ok(visits) } else { Err(problems) }
}

fn leaf(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("<{name} type=\"string\">{}</{name}>", escape(value)));
}

fn number(n: f64) -> String {
    crate::form::view::number_text(n)
}

/// The request body of `visit`; `uid` is ORCA's Medical_Uid when replacing or deleting.
pub fn request(visit: &Visit, uid: Option<&str>) -> String {
    let mut x =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<data>\n<medicalreq type=\"record\">\n");
    leaf(&mut x, "InOut", if visit.inpatient { "I" } else { "" });
    leaf(&mut x, "Patient_ID", &visit.patient_id);
    leaf(&mut x, "Perform_Date", &visit.date);
    if let Some(t) = &visit.time {
        leaf(&mut x, "Perform_Time", &format!("{t}:00"));
    }
    leaf(&mut x, "Medical_Uid", uid.unwrap_or(""));
    x.push_str("\n<Diagnosis_Information type=\"record\">\n");
    leaf(&mut x, "Department_Code", &visit.department_code);
    leaf(&mut x, "Physician_Code", &visit.doctor_code);
    if let Some(combination) = &visit.insurance {
        x.push_str("\n<HealthInsurance_Information type=\"record\">");
        leaf(&mut x, "Insurance_Combination_Number", combination);
        x.push_str("</HealthInsurance_Information>");
    }
    x.push_str("\n<Medical_Information type=\"array\">\n");
    for (class, lines) in &visit.classes {
        x.push_str("<Medical_Information_child type=\"record\">");
        leaf(&mut x, "Medical_Class", class.code);
        leaf(&mut x, "Medical_Class_Name", class.name);
        leaf(&mut x, "Medical_Class_Number", "1");
        x.push_str("\n<Medication_info type=\"array\">\n");
        for (code, name, quantity) in lines {
            x.push_str("  <Medication_info_child type=\"record\">");
            leaf(&mut x, "Medication_Code", code);
            leaf(&mut x, "Medication_Name", name);
            leaf(&mut x, "Medication_Number", &number(*quantity));
            x.push_str("</Medication_info_child>\n");
        }
        x.push_str("</Medication_info>\n</Medical_Information_child>\n");
    }
    x.push_str("</Medical_Information>\n</Diagnosis_Information>\n</medicalreq>\n</data>\n");
    x
}

/// Posts `body` to ORCA as `/api21/medicalmodv2?class=<class>`, with HTTP Basic authentication
/// by ORCA's user, and reads the answer. An error is a failure to reach ORCA or to read what it
/// said; ORCA's own refusals are in the response (`Response::ok`).
pub fn post(target: &super::run::OrcaTarget<'_>, class: &str, body: &str) -> Result<Response, String> {
    use base64::Engine;
    let url = format!("{}/api21/medicalmodv2?class={class}", target.url.trim_end_matches('/'));
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", target.user, target.password));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Basic {credentials}"))
        .content_type("application/xml; charset=UTF-8")
        .send(body)
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let text = response.body_mut().read_to_string().map_err(|e| format!("cannot read the answer: {e}"))?;
    if status == 401 {
        return Err(
            "ORCA refused the user and password (HTTP 401): check --user and KAMIKARTE_ORCA_PASSWORD".into(),
        );
    }
    parse_response(&text).map_err(|e| format!("HTTP {status}: {e}"))
}

/// What ORCA answered (`<xmlio2><medicalres>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Response {
    pub api_result: String,
    pub api_result_message: String,
    pub medical_uid: String,
    /// `Medical_Warning` code and message: M01 means ORCA dropped a line its master lacks.
    pub warnings: Vec<(String, String)>,
}

impl Response {
    /// ORCA's success is a result of zeros only (`00`).
    pub fn ok(&self) -> bool {
        !self.api_result.is_empty() && self.api_result.bytes().all(|b| b == b'0')
    }
}

/// Reads ORCA's answer; an error says what is missing or broken.
pub fn parse_response(body: &str) -> Result<Response, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut path: Vec<String> = Vec::new();
    let mut out = Response::default();
    let mut warning = (String::new(), String::new());
    let mut seen_root = false;
    let mut text = String::new();
    let unreadable = |e: &dyn std::fmt::Display| format!("ORCA's answer is not readable XML: {e}");
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                seen_root |= name == "medicalres";
                path.push(name);
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(&t.xml10_content().map_err(|e| unreadable(&e))?),
            Ok(Event::GeneralRef(r)) => {
                let resolved = match r.resolve_char_ref().map_err(|e| unreadable(&e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| unreadable(&e))?;
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_default().to_string()
                    }
                };
                text.push_str(&resolved);
            }
            Ok(Event::End(_)) => {
                let value = text.trim().to_string();
                match path.last().map(String::as_str) {
                    Some("Api_Result") => out.api_result = value,
                    Some("Api_Result_Message") => out.api_result_message = value,
                    Some("Medical_Uid") => out.medical_uid = value,
                    Some("Medical_Warning") => warning.0 = value,
                    Some("Medical_Warning_Message") => warning.1 = value,
                    Some("Medical_Warning_Info_child") if !warning.0.is_empty() => {
                        out.warnings.push(std::mem::take(&mut warning));
                    }
                    _ => {}
                }
                text.clear();
                path.pop();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(unreadable(&e)),
        }
    }
    if !seen_root || out.api_result.is_empty() {
        return Err("ORCA's answer has no medicalres with an Api_Result".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing::medical_class;

    fn claim(code: &str, section: &str, qty: f64, time: Option<&str>) -> Claim {
        Claim {
            action: Action::Add,
            patient_id: "0000012345".into(),
            downtime_id: None,
            patient_kana: "ヤマダ タロウ".into(),
            inpatient: false,
            service_date: "2026-11-05".into(),
            service_time: time.map(str::to_string),
            insurance: None,
            department: Some("内科".into()),
            department_code: Some("01".into()),
            doctor: Some("佐藤 一郎".into()),
            doctor_code: Some("10001".into()),
            code: code.into(),
            name: Some("名称<&>".into()),
            section: Some(section.into()),
            medical_class: medical_class(Some(section), false),
            quantity: qty,
            points: None,
            unit: None,
            origin: "tick",
            slip: "CHG-000001".into(),
            line_no: 1,
            version: 1,
            keyed_by: "900002".into(),
            verified_by: None,
        }
    }

    #[test]
    fn a_visit_groups_its_lines_by_class_and_sums_a_code_given_twice() {
        let claims = [
            claim("112007410", "A001", 1.0, Some("22:40")),
            claim("199900160", "D400", 1.0, Some("09:10")),
            claim("199900160", "D400", 1.0, None),
        ];
        let visits = visits(&claims).unwrap();
        assert_eq!(visits.len(), 1);
        let v = &visits[0];
        assert_eq!(v.time.as_deref(), Some("09:10"));
        assert_eq!(v.classes[0].0.code, "120");
        assert_eq!(v.classes[1].1, vec![("199900160".to_string(), "名称<&>".to_string(), 2.0)]);
        let body = request(v, None);
        assert!(
            body.contains("<Medication_Name type=\"string\">名称&lt;&amp;&gt;</Medication_Name>"),
            "{body}"
        );
        assert!(body.contains("<Perform_Time type=\"string\">09:10:00</Perform_Time>"));
        assert_eq!(v.content_sha(), visits_again(&claims));
    }

    #[test]
    fn a_slip_naming_an_insurance_combination_sends_that_number_alone_in_a_visit_of_its_own() {
        let mut under_0002 = claim("199900160", "D400", 1.0, None);
        under_0002.insurance = Some("0002".into());
        let visits = visits(&[claim("112007410", "A001", 1.0, None), under_0002]).unwrap();
        assert_eq!(visits.len(), 2);
        let named = visits.iter().find(|v| v.insurance.is_some()).unwrap();
        assert!(named.key().ends_with("|O|0002"), "{}", named.key());
        assert_eq!(Visit::from_key(&named.key()).unwrap().insurance.as_deref(), Some("0002"));
        let body = request(named, None);
        assert!(body.contains(
            "<Physician_Code type=\"string\">10001</Physician_Code>\n<HealthInsurance_Information type=\"record\"><Insurance_Combination_Number type=\"string\">0002</Insurance_Combination_Number></HealthInsurance_Information>"
        ), "{body}");
        let plain = visits.iter().find(|v| v.insurance.is_none()).unwrap();
        assert!(!request(plain, None).contains("Insurance"));
    }

    fn visits_again(claims: &[Claim]) -> String {
        visits(claims).unwrap()[0].content_sha()
    }

    #[test]
    fn a_line_orca_cannot_take_is_named() {
        let mut no_doctor = claim("112007410", "A001", 1.0, None);
        no_doctor.doctor_code = None;
        let short = claim("A001", "A001", 1.0, None);
        let problems = visits(&[no_doctor, short]).unwrap_err();
        assert!(problems[0].contains("CHG-000001 line 1") && problems[0].contains("doctors master"));
        assert!(problems[1].contains("not a 9-digit"));
    }

    #[test]
    fn orcas_answer_gives_the_result_the_uid_and_every_warning() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xmlio2><medicalres type=\"record\">\
            <Api_Result type=\"string\">00</Api_Result><Api_Result_Message type=\"string\">登録処理終了</Api_Result_Message>\
            <Medical_Uid type=\"string\">f1457254-dff1-11e3-96c0-8c736e794c62</Medical_Uid>\
            <Medical_Message_Information type=\"record\"><Medical_Warning_Info type=\"array\">\
            <Medical_Warning_Info_child type=\"record\"><Medical_Warning type=\"string\">M01</Medical_Warning>\
            <Medical_Warning_Message type=\"string\">点数マスタに登録がありません</Medical_Warning_Message></Medical_Warning_Info_child>\
            </Medical_Warning_Info></Medical_Message_Information></medicalres></xmlio2>";
        let r = parse_response(body).unwrap();
        assert!(r.ok());
        assert_eq!(r.medical_uid, "f1457254-dff1-11e3-96c0-8c736e794c62");
        assert_eq!(r.warnings, vec![("M01".to_string(), "点数マスタに登録がありません".to_string())]);
        assert!(parse_response("<html>502</html>").is_err());
    }
}
