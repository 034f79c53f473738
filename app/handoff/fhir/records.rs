//! From a keyed page (its records and charge lines) or a scanned page to FHIR resources. What a
//! field means comes from its `export` key, as in `entry::derive`, never from the form's name, so
//! a hospital's own version of a form maps the same way. Whatever on the paper has no element of
//! its own goes into the resource's notes as `label: value`: nothing keyed is dropped.

use serde_json::{Map, Value, json};

use super::encode::{self, has_time};
use super::{Builder, FhirError, Owner, code_system, image_hash_system, item_system};
use crate::domain::{OrderKind, PaperRecord, RecordKind};
use crate::entry::fields::value_as_text;
use crate::form::view::{KeyedView, base_key, row_of};
use crate::form::{ExportKey, FieldDef, FieldType, FormDefinition, keys};
use crate::handoff::content::{ChargeOut, HandoffItem, Keyed, Page};

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const MEDICATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/medicationrequest-category";

/// The LOINC codes of FHIR's vital-signs profile: only these get the `vital-signs` category,
/// which obliges the resource to that profile.
const VITAL_SIGNS: [&str; 13] = [
    "85353-1", "9279-1", "8867-4", "2708-6", "59408-5", "8310-5", "8302-2", "9843-4", "29463-7", "39156-5",
    "85354-9", "8480-6", "8462-4",
];
/// JP Core's observation categories (JP_Observation_VitalSigns wants both codings beside FHIR's own).
const JP_OBSERVATION_CATEGORY: &str = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS";
pub(super) const JP_VITAL_SIGNS_CATEGORY: &str =
    "http://jpfhir.jp/fhir/core/CodeSystem/JP_ObservationVitalSignsCategory_CS";
/// JP Core's identifier systems of a prescription's Rp number and a drug's order within it.
pub(super) const RP_NUMBER: &str = "urn:oid:1.2.392.100495.20.3.81";
pub(super) const ORDER_IN_RP: &str = "urn:oid:1.2.392.100495.20.3.82";
/// The MERIT-9 unit table (MR9P).
const MERIT9_UNITS: &str = "urn:oid:1.2.392.100495.20.2.101";

/// The JP Core vital-sign category (JP_ObservationVitalSignsCategory_CS, from MEDIS's nursing
/// observation master) of a vital sign's LOINC code.
fn jp_vital_category(loinc: &str) -> Option<(&'static str, &'static str)> {
    match loinc {
        "8310-5" | "8331-1" | "8332-9" | "8333-7" => Some(("temperature", "体温")),
        "8867-4" | "8889-8" => Some(("pulse-rate", "脈拍数")),
        "85354-9" | "8480-6" | "8462-4" | "8478-0" => Some(("blood-pressure", "血圧")),
        "9279-1" | "59408-5" | "2708-6" => Some(("respiratory-function", "呼吸機能")),
        _ => None,
    }
}

/// A prescription row's place in JP Core's terms: the Rp number (the row: one drug per row on
/// kamikarte's slips) and the order within it (always 1).
fn rp_identifiers(row: &str, with_order: bool) -> Value {
    let mut ids = vec![json!({ "system": RP_NUMBER, "value": row.trim_start_matches('0') })];
    if with_order {
        ids.push(json!({ "system": ORDER_IN_RP, "value": "1" }));
    }
    Value::Array(ids)
}

/// An injection's drug as a contained JP_Medication: its code and how much of it one dose is,
/// per administration (`1 回`, MERIT-9's `TIME`). The unit is coded in MERIT-9 where kamikarte
/// knows the code (`domain::dose::mr9p_unit`), else under the hospital's own unit system
/// (`local_units`, the unit as written: JP Core's binding is preferred, not required, and no
/// MERIT-9 code is guessed). None when the dose is not a number with a unit: JP_Medication
/// requires the strength.
fn contained_medication(medicine: &Option<Value>, dose: Option<&str>, local_units: &str) -> Option<Value> {
    let medicine = medicine.as_ref()?;
    let (amount, unit) = crate::domain::dose::split_amount(dose?)?;
    if unit.is_empty() {
        return None;
    }
    let (system, code, name) = match crate::domain::dose::mr9p_unit(&unit) {
        Some((code, name)) => (MERIT9_UNITS.to_string(), code.to_string(), name.to_string()),
        None => (local_units.to_string(), unit.clone(), unit.clone()),
    };
    Some(json!({
        "resourceType": "Medication",
        "id": "medication",
        "status": "active",
        "code": medicine,
        "ingredient": [{
            "itemCodeableConcept": medicine,
            "strength": {
                "numerator": { "value": amount, "unit": name, "system": system, "code": code },
                "denominator": { "value": 1, "unit": "回", "system": MERIT9_UNITS, "code": "TIME" },
            },
        }],
    }))
}

const SYSTOLIC: &str = "8480-6";
const DIASTOLIC: &str = "8462-4";

/// One keyed page and what its resources share.
struct Sheet<'k> {
    subject: &'k str,
    keyed: &'k Keyed,
    form: &'k FormDefinition,
    outpatient: bool,
    hospital_code: &'k str,
    base: &'k str,
}

impl<'k> Sheet<'k> {
    fn err(&self, row: &str, message: impl Into<String>) -> FhirError {
        let message = message.into();
        if row.is_empty() {
            FhirError::new(self.subject, message)
        } else {
            FhirError::new(self.subject, format!("row {row}: {message}"))
        }
    }

    /// `values` (a record's, or a record's with its page's) read through the form.
    fn view<'v>(&self, values: &'v Map<String, Value>) -> KeyedView<'v, Map<String, Value>>
    where
        'k: 'v,
    {
        KeyedView::new(self.form, values)
    }

    fn with_export<'v>(
        &self,
        values: &'v Map<String, Value>,
        key: &ExportKey,
    ) -> Vec<(&'v FieldDef, &'v Value)>
    where
        'k: 'v,
    {
        self.view(values).filled_as(key)
    }

    /// The texts of the fields with this export key, joined (a progress note's author and
    /// profession are both `TXA-5`).
    fn text(&self, values: &Map<String, Value>, key: &ExportKey) -> Option<String> {
        let parts: Vec<String> = self
            .with_export(values, key)
            .into_iter()
            .map(|(f, v)| display(f, v))
            .filter(|t| !t.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    fn ticked(&self, values: &Map<String, Value>, key: &ExportKey) -> bool {
        self.with_export(values, key).iter().any(|(_, v)| v.as_bool() == Some(true))
    }

    fn number(&self, values: &Map<String, Value>, key: &ExportKey) -> Option<f64> {
        self.with_export(values, key).iter().find_map(|(_, v)| v.as_f64())
    }

    /// What has no element of its own: free comments (`NTE-3`) as written, anything else as
    /// `label: value`. Dates and times are already in the resource's times.
    fn notes(&self, values: &Map<String, Value>, used: impl Fn(&ExportKey) -> bool) -> Vec<Value> {
        self.view(values)
            .filled()
            .into_iter()
            .filter(|(f, _)| !matches!(f.kind, FieldType::Date | FieldType::Time))
            .filter(|(f, _)| !f.export.as_ref().is_some_and(&used))
            .filter_map(|(f, v)| {
                let text = display(f, v);
                if text.is_empty() {
                    None
                } else if f.export.as_ref() == Some(&keys::COMMENT) {
                    Some(json!({ "text": text }))
                } else {
                    Some(json!({ "text": format!("{}: {text}", label(f)) }))
                }
            })
            .collect()
    }

    /// The page's own values, which go with every row (who ordered, the department); for a form
    /// without rows the one record already has them.
    fn with_page(&self, rec: &PaperRecord) -> Map<String, Value> {
        let mut all = Map::new();
        if !rec.row.is_empty()
            && let Some(page) = self.keyed.records.iter().find(|r| r.row.is_empty())
        {
            all.extend(page.values.clone());
        }
        all.extend(rec.values.clone());
        all
    }

    fn when(&self, rec: &PaperRecord) -> Result<Option<String>, FhirError> {
        match rec.event_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(at) => encode::date_time(at).map(Some).ok_or_else(|| {
                self.err(&rec.row, format!("time '{at}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM"))
            }),
        }
    }

    /// The code system of a code field's value: its master's, or for a tick list the master of a
    /// code field with the same export key (the lab slip's ticks and its free code are both
    /// lab-test codes), else the tick list's own.
    fn system_for(&self, field: &FieldDef) -> String {
        let master_of = |f: &FieldDef| match &f.kind {
            FieldType::Code { master } => Some(master.clone()),
            _ => None,
        };
        let master = master_of(field).or_else(|| {
            let key = field.export.as_ref()?;
            self.form.fields_with(key).find_map(master_of)
        });
        match master {
            Some(m) => code_system(self.base, self.hospital_code, &m),
            None => code_system(
                self.base,
                self.hospital_code,
                &format!("form/{}/{}", self.form.id, base_key(&field.key)),
            ),
        }
    }

    /// The codes a field holds, each as a CodeableConcept with the name the master or the
    /// printed tick box gives it.
    fn concepts(&self, field: &FieldDef, value: &Value) -> Vec<(String, Value)> {
        let system = self.system_for(field);
        let codes: Vec<String> = match value {
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Value::String(s) if !s.trim().is_empty() => vec![s.trim().to_string()],
            // A single tick box is its own code (as `derive::charge_lines` reads it).
            Value::Bool(true) => vec![field.key.clone()],
            _ => Vec::new(),
        };
        codes
            .into_iter()
            .map(|code| {
                let name = option_label(field, &code).or_else(|| self.keyed.code_names.get(&code).cloned());
                let concept = json!({
                    "coding": [{ "system": system, "code": code, "display": name }],
                    "text": name.clone().unwrap_or_else(|| code.clone()),
                });
                (code, concept)
            })
            .collect()
    }
}

/// A row field's label without its row number (`体温1 Temp ℃` → `体温 Temp ℃`): the resource
/// already says which row it is, and the name should read the same on every row.
fn label(field: &FieldDef) -> String {
    let row = row_of(&field.key);
    let text = field.label.trim();
    let (first, rest) = text.find(char::is_whitespace).map_or((text, ""), |i| text.split_at(i));
    match first.strip_suffix(row) {
        Some(stem) if !row.is_empty() && !stem.is_empty() => format!("{stem}{rest}"),
        _ => text.to_string(),
    }
}

fn option_label(field: &FieldDef, code: &str) -> Option<String> {
    match &field.kind {
        FieldType::Ticks { options, .. } => options.iter().find(|o| o.code == code).map(|o| o.label.clone()),
        _ => None,
    }
}

/// A value as a reader of the record wants it: ticked options by their printed labels.
fn display(field: &FieldDef, value: &Value) -> String {
    match (&field.kind, value) {
        (FieldType::Ticks { .. }, Value::Array(codes)) => codes
            .iter()
            .filter_map(Value::as_str)
            .map(|c| option_label(field, c).unwrap_or_else(|| c.to_string()))
            .collect::<Vec<_>>()
            .join("、"),
        _ => value_as_text(field, value).trim().to_string(),
    }
}

fn display_ref(text: Option<String>) -> Value {
    json!({ "display": text })
}

pub(super) fn keyed(b: &mut Builder, item: &HandoffItem, k: &Keyed) -> Result<(), FhirError> {
    let form = b.ctx.forms.iter().find(|f| f.id == k.form_id).ok_or_else(|| {
        FhirError::new(&item.subject, format!("form '{}' is not among the form definitions", k.form_id))
    })?;
    let sheet = Sheet {
        subject: &item.subject,
        keyed: k,
        form,
        outpatient: item.patient.outpatient,
        hospital_code: b.ctx.hospital_code,
        base: b.ctx.base,
    };
    for line in &k.lines {
        charge(b, &sheet, line)?;
    }
    let has_rows = form.fields.iter().any(|f| !row_of(&f.key).is_empty());
    for rec in &k.records {
        // On a page of rows the page's own record only adds to its rows (see `with_page`).
        let a_row = !has_rows || !rec.row.is_empty();
        match rec.kind {
            RecordKind::Observation => observations(b, &sheet, rec)?,
            RecordKind::ProgressNote => progress_note(b, &sheet, rec)?,
            RecordKind::Administration if a_row => administration(b, &sheet, rec)?,
            RecordKind::Administration => {}
            RecordKind::Order => match form.order_kind() {
                Some(OrderKind::Prescription) if a_row => medication(b, &sheet, rec, false)?,
                Some(OrderKind::Injection) if a_row => medication(b, &sheet, rec, true)?,
                Some(OrderKind::Prescription | OrderKind::Injection) => {}
                Some(kind @ (OrderKind::Lab | OrderKind::Imaging)) => service_requests(b, &sheet, rec, kind)?,
                Some(OrderKind::Diet) => nutrition_order(b, &sheet, rec)?,
                None => {
                    return Err(sheet.err(
                        &rec.row,
                        format!(
                            "form '{}' is of a kind that orders nothing, so what to send is not known",
                            form.id
                        ),
                    ));
                }
            },
        }
    }
    Ok(())
}

/// One Observation per measured value; systolic and diastolic on one row make one blood-pressure
/// panel, as FHIR's vital-signs profile wants them.
fn observations(b: &mut Builder, s: &Sheet, rec: &PaperRecord) -> Result<(), FhirError> {
    let when = s.when(rec)?;
    let performer = s.text(&Map::from_iter(s.keyed.values.clone()), &keys::OBSERVER);
    let notes = s.notes(&s.with_page(rec), |ex| ex.is_observation_value() || *ex == keys::OBSERVER);
    let measured: Vec<(&FieldDef, &Value, Option<&str>)> = s
        .view(&rec.values)
        .filled()
        .into_iter()
        .filter_map(|(f, v)| {
            let ex = f.export.as_ref()?;
            ex.is_observation_value().then(|| (f, v, ex.loinc()))
        })
        .collect();
    let loinc_value = |code: &str| measured.iter().find(|(_, _, c)| *c == Some(code));
    let panel = loinc_value(SYSTOLIC).zip(loinc_value(DIASTOLIC));
    let base = |code: Option<&str>, label: &str| {
        let vital = code.is_some_and(|c| VITAL_SIGNS.contains(&c));
        json!({
            "status": if s.keyed.verified_at.is_some() { "final" } else { "preliminary" },
            "category": match code.filter(|_| vital).and_then(jp_vital_category) {
                Some((jp_code, jp_name)) => json!([
                    { "coding": [{ "system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs" }] },
                    { "coding": [{ "system": JP_OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs" }] },
                    { "coding": [{ "system": JP_VITAL_SIGNS_CATEGORY, "code": jp_code, "display": jp_name }] },
                ]),
                None if vital => json!([{ "coding": [{ "system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs" }] }]),
                None => Value::Null,
            },
            "code": {
                "coding": code.map(|c| json!([{ "system": LOINC, "code": c }])),
                "text": label,
            },
            "subject": b.subject(),
            "encounter": b.encounter_ref(),
            "effectiveDateTime": when,
            "performer": [display_ref(performer.clone())],
            "note": notes,
        })
    };
    let mut made = Vec::new();
    if let Some(((sys_f, sys_v, _), (dia_f, dia_v, _))) = panel {
        let mut obs = base(Some("85354-9"), "血圧 Blood pressure");
        obs["component"] = json!([
            { "code": { "coding": [{ "system": LOINC, "code": SYSTOLIC }], "text": label(sys_f) }, "valueQuantity": quantity(sys_f, sys_v) },
            { "code": { "coding": [{ "system": LOINC, "code": DIASTOLIC }], "text": label(dia_f) }, "valueQuantity": quantity(dia_f, dia_v) },
        ]);
        made.push(("bp".to_string(), Some("85354-9"), obs));
    }
    for (f, v, code) in &measured {
        if panel.is_some() && matches!(*code, Some(SYSTOLIC | DIASTOLIC)) {
            continue;
        }
        let mut obs = base(*code, &label(f));
        match v {
            Value::Number(_) => obs["valueQuantity"] = quantity(f, v),
            Value::Bool(yes) => obs["valueBoolean"] = json!(yes),
            _ => obs["valueString"] = json!(display(f, v)),
        }
        made.push((base_key(&f.key).to_string(), *code, obs));
    }
    for (part, code, obs) in made {
        if when.is_none() && code.is_some_and(|c| VITAL_SIGNS.contains(&c)) {
            return Err(s.err(&rec.row, "a vital sign without a date"));
        }
        let id = b.item_ident(s.subject, &rec.row, Some(&part));
        b.add(s.subject, "Observation", &id, Owner::Kamikarte, obs)?;
    }
    Ok(())
}

fn quantity(field: &FieldDef, value: &Value) -> Value {
    let unit = match &field.kind {
        FieldType::Number { unit, .. } => unit.as_deref(),
        _ => None,
    };
    match value.as_f64() {
        Some(n) => encode::quantity(n, unit),
        None => Value::Null,
    }
}

/// A prescription or injection row: a MedicationRequest, and for an injection marked done a
/// MedicationAdministration that fulfils it.
fn medication(b: &mut Builder, s: &Sheet, rec: &PaperRecord, injection: bool) -> Result<(), FhirError> {
    let all = s.with_page(rec);
    let (drug_field, drug_value) = s
        .with_export(&rec.values, &keys::DRUG)
        .into_iter()
        .find(|(_, v)| v.as_str().is_some_and(|c| !c.trim().is_empty()))
        .ok_or_else(|| s.err(&rec.row, "a row with no drug"))?;
    let medicine = s.concepts(drug_field, drug_value).into_iter().next().map(|(_, c)| c);
    let when = s.when(rec)?;
    let dose = s.text(&all, &keys::DOSE);
    let route = s.text(&all, &keys::ROUTE);
    let rate = s.text(&all, &keys::INSTRUCTIONS);
    let days = s.number(&all, &keys::DAYS);
    let instruction: Vec<String> = [
        dose.clone(),
        s.text(&all, &keys::FREQUENCY),
        days.map(|d| format!("{d}日分")),
        route.clone(),
        rate.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let done_by = s.text(&all, &keys::GIVEN_BY);
    let done = injection && (s.ticked(&all, &ExportKey::Administered) || done_by.is_some());
    let category = if s.ticked(&all, &keys::DISCHARGE_ORDER) {
        "discharge"
    } else if s.outpatient {
        "outpatient"
    } else {
        "inpatient"
    };
    // An injection names its drug through a contained JP_Medication when the dose says how much
    // (JP_MedicationRequest_Injection); else, like a prescription, by code.
    let units = code_system(s.base, s.hospital_code, "units");
    let contained = if injection { contained_medication(&medicine, dose.as_deref(), &units) } else { None };
    let (medication_key, medication) = match &contained {
        Some(_) => ("medicationReference", json!({ "reference": "#medication" })),
        None => ("medicationCodeableConcept", json!(medicine)),
    };
    let mut request = json!({
        "identifier": rp_identifiers(&rec.row, !injection),
        "contained": contained.as_ref().map(|m| json!([m])),
        "status": if done { "completed" } else { "active" },
        "intent": "order",
        "category": [{ "coding": [{ "system": MEDICATION_CATEGORY, "code": category }] }],
        "subject": b.subject(),
        "encounter": b.encounter_ref(),
        "authoredOn": rec.event_at.as_deref().and_then(encode::date_only),
        "requester": display_ref(s.text(&all, &keys::ORDERING_DOCTOR)),
        "dosageInstruction": [{
            "text": instruction.join(" "),
            "timing": {
                "event": [when.clone().filter(|w| injection && has_time(w))],
                "repeat": { "boundsDuration": days.map(|d| json!({ "value": d, "unit": "日", "system": encode::UCUM, "code": "d" })) },
            },
            "route": { "text": route },
        }],
        "note": s.notes(&all, |ex| [keys::DRUG, keys::DOSE, keys::FREQUENCY, keys::DAYS, keys::ROUTE, keys::INSTRUCTIONS, keys::ORDERING_DOCTOR, keys::DISCHARGE_ORDER, ExportKey::Administered, keys::GIVEN_BY].contains(ex)),
    });
    request[medication_key] = medication.clone();
    let id = b.item_ident(s.subject, &rec.row, None);
    let request_url = b.add(s.subject, "MedicationRequest", &id, Owner::Kamikarte, request)?;
    if done {
        let when = when.ok_or_else(|| s.err(&rec.row, "an injection given with no date"))?;
        let dosage = [dose, rate].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let mut given = json!({
            "identifier": rp_identifiers(&rec.row, false),
            "contained": contained.as_ref().map(|m| json!([m])),
            "status": "completed",
            "subject": b.subject(),
            "context": b.encounter_ref(),
            "effectiveDateTime": when,
            "performer": [{ "actor": display_ref(done_by) }],
            "request": { "reference": request_url },
            "dosage": {
                "text": dosage,
                "route": { "text": route },
            },
        });
        given[medication_key] = medication;
        b.add(s.subject, "MedicationAdministration", &id, Owner::Kamikarte, given)?;
    }
    Ok(())
}

/// A row of the MAR: the dose given (completed) or, with the box left empty, not given.
fn administration(b: &mut Builder, s: &Sheet, rec: &PaperRecord) -> Result<(), FhirError> {
    let all = s.with_page(rec);
    let (drug_field, drug_value) = s
        .with_export(&rec.values, &keys::GIVEN_DRUG)
        .into_iter()
        .find(|(_, v)| v.as_str().is_some_and(|c| !c.trim().is_empty()))
        .ok_or_else(|| s.err(&rec.row, "a row with no drug"))?;
    let medicine = s.concepts(drug_field, drug_value).into_iter().next().map(|(_, c)| c);
    let when = s.when(rec)?.ok_or_else(|| s.err(&rec.row, "a dose with no date"))?;
    let given = s.ticked(&all, &keys::GIVEN);
    let resource = json!({
        "identifier": rp_identifiers(&rec.row, true),
        "status": if given { "completed" } else { "not-done" },
        "medicationCodeableConcept": medicine,
        "subject": b.subject(),
        "context": b.encounter_ref(),
        "effectiveDateTime": when,
        "performer": [{ "actor": display_ref(s.text(&all, &keys::GIVEN_BY)) }],
        "dosage": { "text": s.text(&all, &keys::GIVEN_AMOUNT), "route": { "text": s.text(&all, &keys::ROUTE) } },
        "note": s.notes(&all, |ex| [keys::GIVEN_DRUG, keys::GIVEN_AMOUNT, keys::ROUTE, keys::GIVEN, keys::GIVEN_BY].contains(ex)),
    });
    let id = b.item_ident(s.subject, &rec.row, None);
    b.add(s.subject, "MedicationAdministration", &id, Owner::Kamikarte, resource)?;
    Ok(())
}

/// A lab or imaging slip: one ServiceRequest per test or examination ticked, grouped by the slip
/// (`requisition`), as FHIR asks for several things ordered together.
fn service_requests(b: &mut Builder, s: &Sheet, rec: &PaperRecord, kind: OrderKind) -> Result<(), FhirError> {
    let all = s.with_page(rec);
    let mut ordered: Vec<(String, Value)> =
        s.with_export(&all, &keys::SERVICE).into_iter().flat_map(|(f, v)| s.concepts(f, v)).collect();
    // A test both ticked and written in "other" is one order, as in the HL7 (`KeyedView::codes`).
    let mut seen = std::collections::HashSet::new();
    ordered.retain(|(code, _)| seen.insert(code.clone()));
    if ordered.is_empty() {
        return Err(s.err(&rec.row, "nothing ticked or written to order"));
    }
    let when = s.when(rec)?;
    let category = match kind {
        OrderKind::Imaging => {
            json!({ "coding": [{ "system": SNOMED, "code": "363679005", "display": "Imaging" }] })
        }
        _ => {
            json!({ "coding": [{ "system": SNOMED, "code": "108252007", "display": "Laboratory procedure" }] })
        }
    };
    let base = json!({
        "requisition": { "system": item_system(s.base, s.hospital_code), "value": s.subject },
        "status": "active",
        "intent": "order",
        "category": [category],
        "priority": if s.ticked(&all, &keys::URGENT) { "urgent" } else { "routine" },
        "subject": b.subject(),
        "encounter": b.encounter_ref(),
        // A time on a lab slip is when the specimen is taken; a date alone is when it was ordered.
        "occurrenceDateTime": when.clone().filter(|w| has_time(w)),
        "authoredOn": rec.event_at.as_deref().and_then(encode::date_only),
        "requester": display_ref(s.text(&all, &keys::ORDERING_DOCTOR)),
        "reasonCode": [{ "text": s.text(&all, &keys::CLINICAL_INFO) }],
        "bodySite": [{ "text": s.text(&all, &keys::BODY_SITE) }],
        "note": s.notes(&all, |ex| [keys::SERVICE, keys::URGENT, keys::ORDERING_DOCTOR, keys::CLINICAL_INFO, keys::BODY_SITE].contains(ex)),
    });
    for (code, concept) in ordered {
        let mut request = base.clone();
        request["code"] = concept;
        let id = b.item_ident(s.subject, &rec.row, Some(&code));
        b.add(s.subject, "ServiceRequest", &id, Owner::Kamikarte, request)?;
    }
    Ok(())
}

/// A diet order is a NutritionOrder, FHIR's resource for diets (ServiceRequest leaves them to it).
fn nutrition_order(b: &mut Builder, s: &Sheet, rec: &PaperRecord) -> Result<(), FhirError> {
    let all = s.with_page(rec);
    let diets: Vec<Value> = s
        .with_export(&all, &keys::DIET)
        .into_iter()
        .flat_map(|(f, v)| s.concepts(f, v))
        .map(|(_, c)| c)
        .collect();
    if diets.is_empty() {
        return Err(s.err(&rec.row, "no diet ticked"));
    }
    let when = s.when(rec)?.ok_or_else(|| s.err(&rec.row, "a diet order with no start date"))?;
    let nutrients: Vec<Value> = s
        .with_export(&all, &keys::DIET_INSTRUCTION)
        .into_iter()
        .filter(|(_, v)| v.is_number())
        .map(|(f, v)| json!({ "modifier": { "text": label(f) }, "amount": quantity(f, v) }))
        .collect();
    let first_meal = s
        .with_export(&all, &keys::START)
        .into_iter()
        .map(|(f, v)| format!("{}: {}", label(f), display(f, v)))
        .collect::<Vec<_>>()
        .join(" ");
    let order = json!({
        "status": "active",
        "intent": "order",
        "patient": b.subject(),
        "encounter": b.encounter_ref(),
        "dateTime": when,
        "orderer": display_ref(s.text(&all, &keys::ORDERING_DOCTOR)),
        "excludeFoodModifier": [{ "text": s.text(&all, &keys::ALLERGIES) }],
        "oralDiet": {
            "type": diets,
            "schedule": [{ "repeat": { "boundsPeriod": { "start": encode::date_only(&when) } } }],
            "nutrient": nutrients,
            "instruction": first_meal,
        },
        "note": s.notes(&all, |ex| [keys::DIET, keys::DIET_INSTRUCTION, keys::START, keys::ALLERGIES, keys::ORDERING_DOCTOR].contains(ex)),
    });
    let id = b.item_ident(s.subject, &rec.row, None);
    b.add(s.subject, "NutritionOrder", &id, Owner::Kamikarte, order)?;
    Ok(())
}

/// A progress note as a DocumentReference holding its text (a Composition would need sections
/// and an author the paper names only by hand).
fn progress_note(b: &mut Builder, s: &Sheet, rec: &PaperRecord) -> Result<(), FhirError> {
    let all = s.with_page(rec);
    let mut text: Vec<String> =
        s.with_export(&all, &keys::OBSERVATION).into_iter().map(|(f, v)| display(f, v)).collect();
    text.retain(|t| !t.is_empty());
    if text.is_empty() {
        return Err(s.err(&rec.row, "a progress note without its text"));
    }
    text.extend(
        s.notes(&all, |ex| [keys::OBSERVATION, keys::NOTE_AUTHOR, keys::NOTE_SIGNED_BY].contains(ex))
            .into_iter()
            .filter_map(|n| n["text"].as_str().map(str::to_string)),
    );
    let when = s.when(rec)?;
    let note = text.join("\n");
    let resource = json!({
        "status": "current",
        "docStatus": if s.keyed.verified_at.is_some() { "final" } else { "preliminary" },
        "type": { "coding": [{ "system": LOINC, "code": "11506-3", "display": "Progress note" }], "text": s.form.title },
        "subject": b.subject(),
        // `date` is an instant: only a note with its time written has one.
        "date": when.clone().filter(|w| has_time(w)),
        "author": [display_ref(s.text(&all, &keys::NOTE_AUTHOR))],
        "authenticator": display_ref(s.text(&all, &keys::NOTE_SIGNED_BY)),
        "description": format!("{} {}", s.form.title, s.keyed.item),
        "content": [{ "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "language": "ja",
            "data": encode::base64(note.as_bytes()),
            "title": s.form.title,
            "creation": when,
        } }],
        "context": { "encounter": [b.encounter_ref()], "period": { "start": when } },
    });
    let id = b.item_ident(s.subject, &rec.row, None);
    b.add(s.subject, "DocumentReference", &id, Owner::Kamikarte, resource)?;
    Ok(())
}

/// One charge line as a ChargeItem, coded in the hospital's charge master.
fn charge(b: &mut Builder, s: &Sheet, line: &ChargeOut) -> Result<(), FhirError> {
    let row = line.line_no.to_string();
    let code_field = s.form.fields_with(&keys::CHARGE_CODE).next();
    let system = match code_field {
        Some(f) => s.system_for(f),
        None => code_system(s.base, s.hospital_code, "charges"),
    };
    let code = line.line.code.trim();
    if code.is_empty() {
        return Err(s.err(&row, "a charge line without a code"));
    }
    let name = line.name.clone().or_else(|| code_field.and_then(|f| option_label(f, code)));
    let occurrence = match line.line.service_date.trim() {
        "" => None,
        d => Some(
            encode::date_time(d)
                .ok_or_else(|| s.err(&row, format!("service date '{d}' is not YYYY-MM-DD")))?,
        ),
    };
    let department_label = s
        .form
        .fields_with(&keys::CHARGE_DEPARTMENT)
        .next()
        .map_or("診療科 Department", |f| f.label.as_str());
    let resource = json!({
        "status": "billable",
        "code": {
            "coding": [{ "system": system, "code": code, "display": name }],
            "text": name.clone().unwrap_or_else(|| code.to_string()),
        },
        "subject": b.subject(),
        "context": b.encounter_ref(),
        "occurrenceDateTime": occurrence,
        "quantity": encode::quantity(line.line.quantity, line.unit.as_deref()),
        "performer": [{ "actor": display_ref(line.line.doctor.clone()) }],
        "note": [{ "text": line.line.department.as_ref().map(|d| format!("{department_label}: {d}")) }],
    });
    let id = b.item_ident(s.subject, &row, None);
    b.add(s.subject, "ChargeItem", &id, Owner::Kamikarte, resource)?;
    Ok(())
}

/// A scanned page as a DocumentReference holding the image. FHIR's `attachment.hash` is SHA-1,
/// which kamikarte does not compute; the SHA-256 the page is filed under is an identifier instead.
pub(super) fn page(b: &mut Builder, item: &HandoffItem, p: &Page) -> Result<(), FhirError> {
    let err = |m: String| FhirError::new(&item.subject, m);
    let bytes = std::fs::read(&p.image_path)
        .map_err(|e| err(format!("cannot read the page image {}: {e}", p.image_path)))?;
    let sha = crate::digest::sha256_hex(&bytes);
    // A file replaced on disk after filing must not go out as that page.
    if !sha.eq_ignore_ascii_case(p.image_sha256.trim()) {
        return Err(err(format!(
            "the image {} is not the page that was filed (its SHA-256 differs)",
            p.image_path
        )));
    }
    let content_type = match p.image_format.trim().to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpeg" | "jpg" => "image/jpeg",
        other => return Err(err(format!("page image format '{other}' is not png or jpeg"))),
    };
    let form = p.form_code.as_deref().and_then(|code| b.ctx.forms.iter().find(|f| f.code.as_str() == code));
    let title = form.map_or_else(|| p.form_code.clone().unwrap_or_default(), |f| f.title.clone());
    let description = format!("{title} {}", p.item).trim().to_string();
    let id = b.item_ident(&item.subject, "", None);
    let resource = json!({
        "identifier": [id.json(), { "system": image_hash_system(b.ctx.base), "value": sha }],
        "status": "current",
        "type": { "text": "スキャン文書 Scanned paper page" },
        "subject": b.subject(),
        "description": description,
        "content": [{ "attachment": {
            "contentType": content_type,
            "data": encode::base64(&bytes),
            "size": bytes.len(),
            "title": p.item,
        } }],
        "context": { "encounter": [b.encounter_ref()] },
    });
    b.add(&item.subject, "DocumentReference", &id, Owner::Kamikarte, resource)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::built_in;

    fn field(form: &str, key: &str) -> FieldDef {
        let forms = built_in();
        let form = forms.iter().find(|f| f.id == form).unwrap();
        form.fields.iter().find(|f| f.key == key).unwrap().clone()
    }

    #[test]
    fn row_labels_lose_their_row_number_and_keep_the_rest() {
        assert_eq!(label(&field("vital_signs", "temp_3")), "体温 Temp ℃");
        assert_eq!(label(&field("vital_signs", "spo2_2")), "SpO2 %");
        assert_eq!(label(&field("prescription", "dose_1")), "1回量 Dose");
        assert_eq!(label(&field("vital_signs", "signature")), field("vital_signs", "signature").label);
    }

    #[test]
    fn a_row_field_is_named_by_its_key_without_the_row() {
        assert_eq!(base_key("temp_3"), "temp");
        assert_eq!(base_key("bp_sys_12"), "bp_sys");
        assert_eq!(base_key("signature"), "signature");
    }

    #[test]
    fn ticked_options_read_as_their_printed_labels() {
        let diet = field("diet_order", "diet");
        assert_eq!(display(&diet, &json!(["REG", "LOWSALT"])), "常食 Regular、減塩食 Low salt");
        assert_eq!(display(&diet, &json!(["UNKNOWN"])), "UNKNOWN");
    }
}
