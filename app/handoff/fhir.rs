//! FHIR R4 transaction bundles following JP Core: one bundle per patient with the Patient, the
//! downtime Encounter and a resource for everything entered during the downtime.
//!
//! **Sending twice creates nothing twice.** Every resource carries a business identifier in
//! `<base>/NamingSystem/kamikarte-item/<hospital code>` (`<base>` is the hospital's `handoff.fhir_base`) whose value names what it came from:
//! the hand-off subject, `#<row>` for a row of the paper, `/<part>` when a row makes several
//! resources of one type (`keyed:V-000012#3/temp`, `keyed:L-000045/CBC`, `page:45`). Its
//! `fullUrl` is a UUID named by (resource type, identifier), so the same content always gives
//! byte-identical JSON, and every request is conditional on that identifier:
//!
//! - What the EHR owns — a patient it knows under a record number (a census patient, or a
//!   downtime ID mapped to one) — is a conditional create (`POST` with `ifNoneExist`): sent again
//!   it matches and nothing is written, and the EHR's own demographics are never overwritten by
//!   what the paper said.
//! - What kamikarte owns — a downtime-only patient and everything made from paper — is a
//!   conditional update (`PUT Type?identifier=…`): the first send creates, a resend rewrites the
//!   same resource, and a corrected page replaces the wrong values instead of standing beside
//!   them (identifiers carry no version for that reason).
//!
//! **Patients.** The survivor is sent under the record number (JP Core's patient-ID system:
//! `urn:oid:1.2.392.100495.20.3.51.1` followed by the medical institution code) or, before mapping,
//! under its downtime ID (`use: temp`, `<base>/NamingSystem/downtime-id/<hospital
//! code>`: a downtime ID is not a record number, so it must not share that system). A downtime ID
//! mapped to a record number, and one merged into another, become their own inactive Patient
//! linked `replaced-by` the survivor (which carries `replaces` back); that record is what the
//! EHR finds when someone searches for the number on a wristband. Names follow JP Core: kanji
//! (`IDE`) and katakana (`SYL`) as two HumanNames marked with `iso21090-EN-representation`.
//!
//! **Codes.** LOINC for vital signs (the `OBX-5:<code>` export keys) and the progress-note type,
//! UCUM for units, HL7 terminology for classes and categories. Drug, lab-test and charge codes
//! come from the hospital's imported masters, whose coding scheme kamikarte does not know: they go
//! under `<base>/CodeSystem/<hospital code>/<master>` rather than under a
//! national system they may not belong to (JP Core's would be HOT9
//! `http://medis.or.jp/CodeSystem/master-HOT9` or YJ for drugs, JLAC10 for lab tests, the
//! receipt-computer procedure master `http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterS-medicalProcedure`
//! for charges; the shipped charge slip prints fee-schedule section numbers such as `A000`,
//! which are none of these). Tick-box options use the system of the master named by a code field
//! with the same export key (the lab slip's ticks are lab-test codes), else
//! `…/CodeSystem/<hospital code>/form/<form id>/<field>`.
//!
//! **Profiles.** Each resource claims the JP Core 1.1.2 profile of its kind in `meta.profile`
//! (`http://jpfhir.jp/fhir/core/StructureDefinition/<name>`) when it holds what that profile
//! requires (`jp_core_profile`): JP_Patient, JP_Encounter, JP_Observation_VitalSigns (with JP
//! Core's two category codings beside FHIR's) or JP_Observation_Common, JP_MedicationRequest
//! (Rp number `urn:oid:1.2.392.100495.20.3.81` = the row, order in Rp `…20.3.82` = 1, authoredOn),
//! JP_MedicationRequest_Injection and JP_MedicationAdministration_Injection (the drug as a
//! contained JP_Medication whose strength is the dose in MERIT-9 units), JP_MedicationAdministration,
//! JP_ServiceRequest and JP_DocumentReference. A resource missing a required element (a
//! prescription with no date, an injection whose dose is no number of an MR9P unit) claims none
//! rather than one it would fail. NutritionOrder and ChargeItem have no JP Core profile.
//!
//! **Corrections.** A resource that a delivered version had and a correction no longer makes (a
//! row keyed by mistake and deleted) is sent once more with status `entered-in-error`, so the
//! server does not keep it beside the corrected ones.

mod encode;
mod records;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::content::{Content, HandoffItem, PatientFacts};
use crate::form::FormDefinition;

pub use encode::{base64, format_uuid, uuid_for};

/// What a bundle needs besides the patient's things.
pub struct FhirContext<'a> {
    /// The 10-digit medical institution code (医療機関コード).
    pub hospital_code: &'a str,
    /// The base URL of the hospital's own identifier and code systems (`handoff.fhir_base`,
    /// no trailing slash).
    pub base: &'a str,
    pub hospital_name: &'a str,
    pub forms: &'a [FormDefinition],
}

/// Why a bundle could not be made: which thing (`keyed:A-000123`, `patient D-0001`) and what is
/// wrong with it, so the clerk can correct that keying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {message}")]
pub struct FhirError {
    pub subject: String,
    pub message: String,
}

impl FhirError {
    fn new(subject: &str, message: impl Into<String>) -> Self {
        FhirError { subject: subject.to_string(), message: message.into() }
    }
}

pub const JP_PATIENT: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient";
const JP_CORE: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";

/// The JP Core (1.1.2) profile a resource claims: the one JP Core defines for its kind, claimed
/// only when the resource holds what that profile requires (a strict server refuses the whole
/// transaction over one claim that does not validate). Kinds JP Core has no profile for
/// (NutritionOrder, ChargeItem) claim none.
fn jp_core_profile(kind: &str, r: &Value) -> Option<String> {
    let has = |key: &str| r.get(key).is_some_and(|v| !v.is_null());
    let has_id = |system: &str| {
        r["identifier"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i["system"] == system && i.get("value").is_some()))
    };
    let rp = has_id(records::RP_NUMBER);
    let in_rp = has_id(records::ORDER_IN_RP);
    let contained_drug =
        r["contained"].as_array().is_some_and(|c| c.iter().any(|m| m["resourceType"] == "Medication"));
    let name = match kind {
        "Patient" => "JP_Patient",
        "Encounter" => "JP_Encounter",
        "ServiceRequest" => "JP_ServiceRequest",
        "DocumentReference" => "JP_DocumentReference",
        "Observation" => {
            let vital = r["category"].as_array().is_some_and(|cats| {
                cats.iter().any(|c| c["coding"][0]["system"] == records::JP_VITAL_SIGNS_CATEGORY)
            });
            if vital { "JP_Observation_VitalSigns" } else { "JP_Observation_Common" }
        }
        "MedicationRequest" if rp && has("subject") && has("authoredOn") => {
            if has("medicationReference") && contained_drug {
                "JP_MedicationRequest_Injection"
            } else if has("medicationCodeableConcept") && in_rp {
                "JP_MedicationRequest"
            } else {
                return None;
            }
        }
        "MedicationAdministration" if rp && has("subject") && has("effectiveDateTime") => {
            if has("medicationReference") && contained_drug {
                "JP_MedicationAdministration_Injection"
            } else if has("medicationCodeableConcept") && in_rp {
                "JP_MedicationAdministration"
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(format!("{JP_CORE}{name}"))
}

const NAME_REPRESENTATION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// JP Core's patient-ID system of this hospital: the record number and the census ID.
pub fn record_number_system(hospital_code: &str) -> String {
    format!("urn:oid:1.2.392.100495.20.3.51.1{hospital_code}")
}

/// The hospital's system for downtime IDs, under its FHIR base (`handoff.fhir_base`).
pub fn downtime_id_system(base: &str, hospital_code: &str) -> String {
    format!("{base}/NamingSystem/downtime-id/{hospital_code}")
}

/// The system of every resource's own identifier.
pub fn item_system(base: &str, hospital_code: &str) -> String {
    format!("{base}/NamingSystem/kamikarte-item/{hospital_code}")
}

/// A local code system: a master (`drugs`) or a form's tick list (`form/diet_order/diet`).
pub fn code_system(base: &str, hospital_code: &str, name: &str) -> String {
    format!("{base}/CodeSystem/{hospital_code}/{name}")
}

/// The identifier system of a page image's SHA-256.
pub fn image_hash_system(base: &str) -> String {
    format!("{base}/NamingSystem/image-sha256")
}

/// One transaction Bundle for one patient: the Patient and every resource made from `items`
/// (all of this patient's current hand-off items, any kind). The same input always gives the
/// same JSON, whatever order the items come in.
pub fn bundle(patient: &PatientFacts, items: &[&HandoffItem], ctx: &FhirContext) -> Result<Value, FhirError> {
    bundle_correcting(patient, items, &[], ctx)
}

/// [`bundle`], also withdrawing what a correction took away: `delivered` holds the versions the
/// server was sent before of pages that `items` now correct. Each resource such a version made
/// and the corrected page no longer makes (a row keyed by mistake, then deleted) is sent again
/// with status `entered-in-error`, under the same identifier, so it is not left standing beside
/// the corrected ones.
pub fn bundle_correcting(
    patient: &PatientFacts,
    items: &[&HandoffItem],
    delivered: &[&HandoffItem],
    ctx: &FhirContext,
) -> Result<Value, FhirError> {
    let who = format!("patient {}", patient.id);
    if ctx.hospital_code.len() != 10 || !ctx.hospital_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FhirError::new(
            &who,
            format!("hospital code '{}' is not a 10-digit medical institution code", ctx.hospital_code),
        ));
    }
    let mut items: Vec<&HandoffItem> = items.to_vec();
    items.sort_by(|a, b| a.subject.cmp(&b.subject));
    for item in &items {
        // Putting one patient's record under another is the one mistake a hand-off must never make.
        if item.patient.id != patient.id {
            return Err(FhirError::new(
                &item.subject,
                format!("belongs to patient {}, not {}", item.patient.id, patient.id),
            ));
        }
    }
    let mut b = Builder::new(ctx, &who);
    b.patients(patient, &items)?;
    b.encounter(patient, &items)?;
    for item in &items {
        match &item.content {
            // The Patient entries above are what these say.
            Content::Registration { .. } | Content::Link { .. } | Content::Merge { .. } => {}
            Content::Keyed(k) => records::keyed(&mut b, item, k)?,
            Content::Page(p) => records::page(&mut b, item, p)?,
        }
    }
    if !delivered.is_empty() {
        let mut before = Builder::new(ctx, &who);
        before.patient_ref = b.patient_ref.clone();
        before.encounter_ref = b.encounter_ref.clone();
        for item in delivered {
            if let Content::Keyed(k) = &item.content {
                records::keyed(&mut before, item, k)?;
            }
        }
        for (url, mut resource) in before.sent {
            if b.sent.contains_key(&url) {
                continue;
            }
            let kind = resource["resourceType"].as_str().unwrap_or_default().to_string();
            let Some(id) = resource["identifier"].get(0).cloned() else { continue };
            let search = format!(
                "identifier={}|{}",
                encode::query_escape(id["system"].as_str().unwrap_or_default()),
                encode::query_escape(id["value"].as_str().unwrap_or_default())
            );
            resource["status"] = json!("entered-in-error");
            b.entries.push(json!({
                "fullUrl": url,
                "resource": resource,
                "request": { "method": "PUT", "url": format!("{kind}?{search}") },
            }));
        }
    }
    Ok(json!({ "resourceType": "Bundle", "type": "transaction", "entry": b.entries }))
}

/// A business identifier, and the search that finds the resource by it.
#[derive(Debug, Clone)]
struct Ident {
    system: String,
    value: String,
    use_: Option<&'static str>,
    record_number: bool,
}

impl Ident {
    fn json(&self) -> Value {
        let mut v = json!({ "system": self.system, "value": self.value });
        if let Some(u) = self.use_ {
            v["use"] = json!(u);
        }
        if self.record_number {
            v["type"] = json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR" }] });
        }
        v
    }

    /// As a logical reference: system and value only.
    fn reference(&self) -> Value {
        json!({ "system": self.system, "value": self.value })
    }

    fn search(&self) -> String {
        format!("identifier={}|{}", encode::query_escape(&self.system), encode::query_escape(&self.value))
    }
}

/// Whose a resource is decides how it is sent (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Ehr,
    Kamikarte,
}

fn full_url(kind: &str, id: &Ident) -> String {
    format!("urn:uuid:{}", encode::uuid_for(&format!("{kind}|{}|{}", id.system, id.value)))
}

struct Builder<'a> {
    ctx: &'a FhirContext<'a>,
    who: String,
    entries: Vec<Value>,
    sent: BTreeMap<String, Value>,
    patient_ref: String,
    encounter_ref: String,
}

impl<'a> Builder<'a> {
    fn new(ctx: &'a FhirContext<'a>, who: &str) -> Self {
        Builder {
            ctx,
            who: who.to_string(),
            entries: Vec::new(),
            sent: BTreeMap::new(),
            patient_ref: String::new(),
            encounter_ref: String::new(),
        }
    }

    fn item_ident(&self, subject: &str, row: &str, part: Option<&str>) -> Ident {
        let mut value = subject.to_string();
        if !row.is_empty() {
            value.push('#');
            value.push_str(row);
        }
        if let Some(part) = part {
            value.push('/');
            value.push_str(part);
        }
        Ident {
            system: item_system(self.ctx.base, self.ctx.hospital_code),
            value,
            use_: None,
            record_number: false,
        }
    }

    /// Adds one entry; returns its fullUrl. The same resource twice is sent once; two different
    /// resources under one identifier are refused (the server would keep only one of them).
    fn add(
        &mut self,
        subject: &str,
        kind: &str,
        id: &Ident,
        owner: Owner,
        mut resource: Value,
    ) -> Result<String, FhirError> {
        resource["resourceType"] = json!(kind);
        let ids = resource.get("identifier").and_then(Value::as_array).cloned().unwrap_or_default();
        if !ids
            .iter()
            .any(|v| v.get("system") == Some(&json!(id.system)) && v.get("value") == Some(&json!(id.value)))
        {
            let mut all = vec![id.json()];
            all.extend(ids);
            resource["identifier"] = Value::Array(all);
        }
        encode::prune(&mut resource);
        if let Some(profile) = jp_core_profile(kind, &resource) {
            resource["meta"] = json!({ "profile": [profile] });
        }
        let url = full_url(kind, id);
        if let Some(earlier) = self.sent.get(&url) {
            if *earlier == resource {
                return Ok(url);
            }
            return Err(FhirError::new(
                subject,
                format!("two different {kind}s would be sent as {}", id.value),
            ));
        }
        let request = match owner {
            Owner::Ehr => json!({ "method": "POST", "url": kind, "ifNoneExist": id.search() }),
            Owner::Kamikarte => json!({ "method": "PUT", "url": format!("{kind}?{}", id.search()) }),
        };
        self.sent.insert(url.clone(), resource.clone());
        self.entries.push(json!({ "fullUrl": url, "resource": resource, "request": request }));
        Ok(url)
    }

    fn reference(url: &str) -> Value {
        json!({ "reference": url })
    }

    fn subject(&self) -> Value {
        Self::reference(&self.patient_ref)
    }

    fn encounter_ref(&self) -> Value {
        Self::reference(&self.encounter_ref)
    }

    /// The survivor (the Patient everything points at) and an inactive Patient for each downtime
    /// ID that was mapped or merged into it.
    fn patients(&mut self, p: &PatientFacts, items: &[&HandoffItem]) -> Result<(), FhirError> {
        let hc = self.ctx.hospital_code;
        let (primary, owner) = match (&p.mrn, &p.downtime_id) {
            (Some(mrn), _) => (self.record_number(mrn), Owner::Ehr),
            (None, Some(_)) => (self.downtime_ident(&p.id), Owner::Kamikarte),
            (None, None) => (self.record_number(&p.id), Owner::Ehr),
        };
        let mut replaced: BTreeSet<String> = BTreeSet::new();
        replaced.extend(p.downtime_id.clone());
        for item in items {
            match &item.content {
                Content::Link { downtime_id, .. } => {
                    replaced.insert(downtime_id.clone());
                }
                Content::Merge { merged_id, .. } => {
                    replaced.insert(merged_id.clone());
                }
                _ => {}
            }
        }
        if primary.system == downtime_id_system(self.ctx.base, hc) {
            replaced.remove(&primary.value);
        }
        let survivor_url = full_url("Patient", &primary);
        let replaced: Vec<Ident> = replaced.iter().map(|id| self.downtime_ident(id)).collect();
        let replaces: Vec<Value> = replaced
            .iter()
            .map(|r| json!({ "type": "replaces",
                "other": { "reference": full_url("Patient", r), "type": "Patient", "identifier": r.reference() } }))
            .collect();
        let survivor = self.patient_resource(p, &primary, true, replaces)?;
        self.patient_ref = self.add(&self.who.clone(), "Patient", &primary, owner, survivor)?;
        for r in &replaced {
            let link = json!({ "type": "replaced-by",
                "other": { "reference": survivor_url, "type": "Patient", "identifier": primary.reference() } });
            let resource = self.patient_resource(p, r, false, vec![link])?;
            self.add(&self.who.clone(), "Patient", r, Owner::Kamikarte, resource)?;
        }
        Ok(())
    }

    fn record_number(&self, value: &str) -> Ident {
        Ident {
            system: record_number_system(self.ctx.hospital_code),
            value: value.to_string(),
            use_: Some("usual"),
            record_number: true,
        }
    }

    fn downtime_ident(&self, value: &str) -> Ident {
        Ident {
            system: downtime_id_system(self.ctx.base, self.ctx.hospital_code),
            value: value.to_string(),
            use_: Some("temp"),
            record_number: false,
        }
    }

    fn patient_resource(
        &self,
        p: &PatientFacts,
        id: &Ident,
        active: bool,
        links: Vec<Value>,
    ) -> Result<Value, FhirError> {
        let name = |text: &str, (family, given): (String, String), representation: &str| {
            let text = text.trim();
            (!text.is_empty()).then(|| {
                json!({
                    "extension": [{ "url": NAME_REPRESENTATION, "valueCode": representation }],
                    "use": "official",
                    "text": text,
                    "family": family,
                    "given": [given],
                })
            })
        };
        let names: Vec<Value> = [
            p.ideographic_name().and_then(|n| name(n, p.name_parts(), "IDE")),
            name(&p.kana, p.kana_parts(), "SYL"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let gender = match p.sex.trim() {
            "M" => "male",
            "F" => "female",
            "O" => "other",
            "U" | "" => "unknown",
            other => return Err(FhirError::new(&self.who, format!("sex '{other}' is not M, F, O or U"))),
        };
        let birth_date = match p.dob.trim() {
            "" => None,
            dob => Some(encode::date_only(dob).filter(|d| d == dob).ok_or_else(|| {
                FhirError::new(&self.who, format!("date of birth '{dob}' is not YYYY-MM-DD"))
            })?),
        };
        Ok(json!({
            "meta": { "profile": [JP_PATIENT] },
            "identifier": [id.json()],
            "active": active,
            "name": names,
            "gender": gender,
            "birthDate": birth_date,
            "managingOrganization": { "display": self.ctx.hospital_name },
            "link": links,
        }))
    }

    /// The downtime stay: one per patient, named by the downtime ID when there is one so that
    /// mapping the patient later keeps the same Encounter. Its status is `unknown` because the
    /// EHR, not the paper, knows whether the stay has ended.
    fn encounter(&mut self, p: &PatientFacts, items: &[&HandoffItem]) -> Result<(), FhirError> {
        let id =
            self.item_ident(&format!("encounter:{}", p.downtime_id.as_deref().unwrap_or(&p.id)), "", None);
        let start = items
            .iter()
            .filter_map(|i| match &i.content {
                Content::Keyed(k) => k.event_at.as_deref().and_then(encode::date_time),
                _ => None,
            })
            .min();
        let (code, display) =
            if p.outpatient { ("AMB", "ambulatory") } else { ("IMP", "inpatient encounter") };
        let place =
            [&p.ward, &p.room, &p.bed].iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
        let resource = json!({
            "status": "unknown",
            "class": { "system": ACT_CODE, "code": code, "display": display },
            "subject": self.subject(),
            "period": { "start": start },
            "serviceType": { "text": p.department.trim() },
            "location": [{ "location": { "display": place.join(" ") } }],
            "serviceProvider": { "display": self.ctx.hospital_name },
        });
        self.encounter_ref = self.add(&self.who.clone(), "Encounter", &id, Owner::Kamikarte, resource)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::built_in;

    fn facts(id: &str, downtime: Option<&str>, mrn: Option<&str>) -> PatientFacts {
        PatientFacts {
            id: id.into(),
            downtime_id: downtime.map(Into::into),
            mrn: mrn.map(Into::into),
            name: "山田 太郎".into(),
            kana: "ヤマダ タロウ".into(),
            dob: "1950-04-01".into(),
            sex: "M".into(),
            ward: "3W".into(),
            room: "301".into(),
            bed: "1".into(),
            department: "内科".into(),
            department_code: None,
            outpatient: false,
        }
    }

    fn ctx(forms: &[FormDefinition]) -> FhirContext<'_> {
        FhirContext {
            hospital_code: "1312345678",
            base: "https://hospital.example/fhir",
            hospital_name: "架空総合病院",
            forms,
        }
    }

    fn patients(bundle: &Value) -> Vec<&Value> {
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["resource"]["resourceType"] == "Patient")
            .collect()
    }

    #[test]
    fn a_mapped_downtime_id_becomes_an_inactive_patient_replaced_by_the_record_number() {
        let forms = built_in();
        let p = facts("0001234567", Some("D-00012"), Some("0001234567"));
        let b = bundle(&p, &[], &ctx(&forms)).unwrap();
        let ps = patients(&b);
        assert_eq!(ps.len(), 2);
        let (survivor, replaced) = (ps[0], ps[1]);
        assert_eq!(survivor["request"]["method"], "POST", "the EHR's record is never overwritten");
        assert_eq!(
            survivor["request"]["ifNoneExist"],
            "identifier=urn:oid:1.2.392.100495.20.3.51.11312345678|0001234567"
        );
        assert_eq!(replaced["resource"]["identifier"][0]["use"], "temp");
        assert_eq!(replaced["resource"]["active"], false);
        assert_eq!(replaced["resource"]["link"][0]["type"], "replaced-by");
        assert_eq!(replaced["resource"]["link"][0]["other"]["reference"], survivor["fullUrl"]);
        assert_eq!(replaced["resource"]["link"][0]["other"]["identifier"]["value"], "0001234567");
        assert_eq!(replaced["request"]["method"], "PUT");
    }

    #[test]
    fn an_unmapped_downtime_patient_is_sent_under_a_temp_identifier_it_can_update() {
        let forms = built_in();
        let p = facts("D-00012", Some("D-00012"), None);
        let b = bundle(&p, &[], &ctx(&forms)).unwrap();
        let ps = patients(&b);
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0]["resource"]["identifier"][0]["use"], "temp");
        assert_eq!(
            ps[0]["request"]["url"],
            "Patient?identifier=https://hospital.example/fhir/NamingSystem/downtime-id/1312345678|D-00012"
        );
    }

    #[test]
    fn names_carry_kanji_and_kana_representations() {
        let forms = built_in();
        let b = bundle(&facts("0000000042", None, None), &[], &ctx(&forms)).unwrap();
        let names = &patients(&b)[0]["resource"]["name"];
        assert_eq!(names[0]["extension"][0]["valueCode"], "IDE");
        assert_eq!(names[0]["family"], "山田");
        assert_eq!(names[1]["extension"][0]["valueCode"], "SYL");
        assert_eq!(names[1]["given"][0], "タロウ");
    }

    #[test]
    fn a_bad_hospital_code_or_sex_is_refused_with_the_reason() {
        let forms = built_in();
        let p = facts("0000000042", None, None);
        let bad = FhirContext {
            hospital_code: "13-123",
            base: "https://hospital.example/fhir",
            hospital_name: "x",
            forms: &forms,
        };
        assert!(bundle(&p, &[], &bad).unwrap_err().message.contains("10-digit"));
        let mut p = p;
        p.sex = "X".into();
        assert!(bundle(&p, &[], &ctx(&forms)).unwrap_err().message.contains("sex 'X'"));
    }
}
