//! Reconciliation: each downtime ID mapped to the record number (MRN) the restored EHR assigned,
//! with our name, kana and date of birth beside the EHR's. What the EHR says comes from its
//! census (once re-imported) or from the mapping CSV it exports; a mapping whose date of birth
//! or name disagrees needs an explicit override with a reason.

use std::path::Path;

use crate::auth::Session;
use crate::domain::kana::{reading_key, search_key};
use crate::domain::{Patient, PatientId, Permission, Sex};
use crate::store::{Actor, EhrFacts, MrnLink, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Refused(String),
    #[error("{}", .0.join("\n"))]
    File(Vec<String>),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the EHR's census says about an MRN, if it has been imported.
pub fn facts_from_census(store: &Store, mrn: &str) -> Result<Option<EhrFacts>, ReconcileError> {
    Ok(store.census_facts(mrn)?)
}

/// Where our patient and the EHR's record disagree. Unknown EHR facts are a contradiction too:
/// a mapping no one could compare must be a deliberate decision.
pub fn contradictions(ours: &Patient, mrn: &str, ehr: Option<&EhrFacts>) -> Vec<String> {
    let Some(ehr) = ehr else {
        return vec![format!("{mrn} is not in the EHR census: name and date of birth cannot be compared")];
    };
    let mut out = Vec::new();
    match ehr.dob.as_deref() {
        Some(dob) if dob.trim() == ours.dob.to_string() => {}
        Some(dob) => out.push(format!("date of birth differs: ours {}, EHR {}", ours.dob, dob.trim())),
        None => out.push("the EHR's date of birth is unknown".into()),
    }
    // The same reading, not a near one: twins 太郎 and 次郎 read one sound apart.
    let name_ok = ehr.name.as_deref().is_some_and(|n| search_key(n) == search_key(ours.name.as_str()));
    let kana_ok = ehr.kana.as_deref().is_some_and(|k| reading_key(k) == reading_key(ours.kana.as_str()));
    if !name_ok && !kana_ok {
        out.push(format!(
            "name differs: ours {} ({}), EHR {} ({})",
            ours.name.as_str(),
            ours.kana.as_str(),
            ehr.name.as_deref().unwrap_or("?"),
            ehr.kana.as_deref().unwrap_or("?")
        ));
    }
    out
}

/// The EHR's facts as a person typed them (each checked: a date `YYYY-MM-DD`, a sex HL7 knows),
/// or `None` when nothing was typed.
pub fn typed_facts(
    name: Option<String>,
    kana: Option<String>,
    dob: Option<String>,
    sex: Option<String>,
) -> Result<Option<EhrFacts>, ReconcileError> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (name, kana, dob, sex) = (clean(name), clean(kana), clean(dob), clean(sex));
    if let Some(d) = &dob
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ReconcileError::Refused(format!("--ehr-dob: '{d}' is not YYYY-MM-DD")));
    }
    let sex = match sex {
        Some(s) => Some(
            Sex::parse(&s)
                .map_err(|e| ReconcileError::Refused(format!("--ehr-sex: {e}")))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    // Read as every kana is (hiragana and half-width converted), so it compares and prints alike.
    let kana = match kana {
        Some(k) => Some(
            crate::domain::KanaName::parse(&k)
                .map_err(|e| ReconcileError::Refused(format!("--ehr-kana: {e}")))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let facts = EhrFacts { name, kana, dob, sex };
    Ok((facts != EhrFacts::default()).then_some(facts))
}

/// Maps one downtime ID, comparing with the EHR's facts (given, or from its census).
pub fn link(
    store: &mut Store,
    session: &Session,
    downtime_id: &str,
    mrn: &str,
    given: Option<EhrFacts>,
    override_reason: Option<&str>,
) -> Result<(MrnLink, Vec<String>), ReconcileError> {
    session.require(Permission::Reconcile)?;
    link_as(store, &session.actor(), downtime_id, mrn, given, override_reason)
}

/// Undoes a mapping that has not reached the EHR yet.
pub fn unlink(store: &mut Store, session: &Session, downtime_id: &str) -> Result<(), ReconcileError> {
    session.require(Permission::Reconcile)?;
    Ok(store.unlink_mrn(&session.actor(), &downtime_id.trim().to_uppercase())?)
}

fn link_as(
    store: &mut Store,
    actor: &Actor,
    downtime_id: &str,
    mrn: &str,
    given: Option<EhrFacts>,
    override_reason: Option<&str>,
) -> Result<(MrnLink, Vec<String>), ReconcileError> {
    let mrn = PatientId::parse(mrn).map_err(|e| ReconcileError::Refused(format!("MRN: {e}")))?;
    let id =
        PatientId::parse(downtime_id).map_err(|e| ReconcileError::Refused(format!("downtime ID: {e}")))?;
    let ours = store
        .patient(&id)?
        .ok_or_else(|| ReconcileError::Refused(format!("{} is not in the census", id.as_str())))?;
    // A wristband scanned into the MRN field gives a downtime ID, not the EHR's number.
    if mrn == id || store.registration(&mrn)?.is_some() {
        return Err(ReconcileError::Refused(format!(
            "{} is a downtime ID, not a record number the EHR assigned",
            mrn.as_str()
        )));
    }
    // What was typed or imported comes first; the EHR's census fills in what it left out.
    let facts = EhrFacts::completed(given, store.census_facts(mrn.as_str())?);
    let found = contradictions(&ours.patient, mrn.as_str(), facts.as_ref());
    let link = store.link_mrn(
        actor,
        id.as_str(),
        mrn.as_str(),
        &facts.unwrap_or_default(),
        &found,
        override_reason,
    )?;
    Ok((link, found))
}

/// Merges two downtime IDs of one person. When the merged ID's record number passes to the
/// survivor, the survivor is compared with what the EHR said about that number: a contradiction
/// needs a reason to override, as a mapping does.
pub fn merge(
    store: &mut Store,
    session: &Session,
    merged: &str,
    into: &str,
    reason: &str,
    override_reason: Option<&str>,
) -> Result<Vec<String>, ReconcileError> {
    session.require(Permission::Reconcile)?;
    let actor = &session.actor();
    let parse = |what: &str, id: &str| {
        PatientId::parse(id).map_err(|e| ReconcileError::Refused(format!("{what}: {e}")))
    };
    let (merged, into) = (parse("downtime ID", merged)?, parse("merge into", into)?);
    let survivor = store
        .patient(&into)?
        .ok_or_else(|| ReconcileError::Refused(format!("{} is not in the census", into.as_str())))?;
    let found = match (store.mrn_link(merged.as_str())?, store.mrn_link(into.as_str())?) {
        (Some(link), None) => contradictions(&survivor.patient, &link.mrn, Some(&link.ehr)),
        _ => Vec::new(),
    };
    store.merge_downtime_ids(actor, merged.as_str(), into.as_str(), reason, &found, override_reason)?;
    Ok(found)
}

/// One row of the EHR's mapping CSV that needs a person: it contradicts, or was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmapped {
    pub line: usize,
    pub downtime_id: String,
    pub mrn: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkImport {
    pub mapped: usize,
    pub unchanged: usize,
    /// Rows whose record number is still blank (医事 has not registered the patient yet).
    pub waiting: usize,
    /// Rows left for a person to decide on the reconciliation screen.
    pub unmapped: Vec<Unmapped>,
}

/// Reads the EHR's mapping CSV: columns `downtime_id`, `mrn`, and optionally the EHR's `name`,
/// `kana`, `dob` and `sex` for the record number (UTF-8 or Shift_JIS) — the identity every later
/// message about the patient carries. Other columns are ignored, so the registration list
/// (`handoff registrations`) comes back as it went out with the record numbers filled in; a row
/// whose `mrn` is still blank is counted as waiting. A malformed file maps nothing and lists every bad line; rows that
/// contradict our patient are not mapped but listed for a person to decide.
pub fn import_links(store: &mut Store, session: &Session, path: &Path) -> Result<LinkImport, ReconcileError> {
    session.require(Permission::Reconcile)?;
    let actor = &session.actor();
    let file = path.display().to_string();
    let (headers, records) =
        crate::csv_in::read_with_header(path).map_err(|e| ReconcileError::File(vec![e]))?;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_id), Some(c_mrn)) = (col("downtime_id"), col("mrn")) else {
        return Err(ReconcileError::File(vec![format!(
            "{file}:1: the header needs the columns downtime_id and mrn (found: {})",
            headers.join(", ")
        )]));
    };
    let (c_name, c_kana, c_dob, c_sex) = (col("name"), col("kana"), col("dob"), col("sex"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut waiting = 0;
    for (line, record) in crate::csv_in::numbered_rows(records, &file) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
        };
        let (Some(id), Some(mrn)) = (get(Some(c_id)), get(Some(c_mrn))) else {
            // The registration list handed to 医事 comes back with the record numbers filled
            // in as patients are registered: a row without one is still waiting.
            if get(Some(c_id)).is_some() {
                waiting += 1;
            } else {
                errors.push(format!("{file}:{line}: downtime_id is required"));
            }
            continue;
        };
        let (id, mrn) = match (PatientId::parse(&id), PatientId::parse(&mrn)) {
            (Ok(a), Ok(b)) => (a.as_str().to_string(), b.as_str().to_string()),
            (a, b) => {
                for (field, r) in [("downtime_id", a), ("mrn", b)] {
                    if let Err(e) = r {
                        errors.push(format!("{file}:{line}: {field}: {e}"));
                    }
                }
                continue;
            }
        };
        if let Some(first) = seen.insert(id.clone(), line) {
            errors.push(format!("{file}:{line}: downtime_id: {id} is listed twice (also on line {first})"));
        }
        let dob = get(c_dob);
        if let Some(d) = &dob
            && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
        {
            errors.push(format!("{file}:{line}: dob: '{d}' is not YYYY-MM-DD"));
        }
        let sex = match get(c_sex).map(|s| Sex::parse(&s)) {
            Some(Ok(sex)) => Some(sex.code().to_string()),
            Some(Err(e)) => {
                errors.push(format!("{file}:{line}: sex: {e}"));
                None
            }
            None => None,
        };
        let facts = (c_name.is_some() || c_kana.is_some() || c_dob.is_some() || c_sex.is_some())
            .then(|| EhrFacts { name: get(c_name), kana: get(c_kana), dob, sex });
        rows.push((line, id, mrn, facts));
    }
    if !errors.is_empty() {
        return Err(ReconcileError::File(errors));
    }
    let mut report = LinkImport { waiting, ..LinkImport::default() };
    for (line, id, mrn, facts) in rows {
        // Mapped already: unchanged, unless the EHR's row now contradicts our patient.
        if store.mrn_link(&id)?.is_some_and(|l| l.mrn == mrn) {
            let ours = PatientId::parse(&id).ok().and_then(|p| store.patient(&p).ok().flatten());
            let found = match (&ours, &facts) {
                (Some(p), Some(f)) => contradictions(&p.patient, &mrn, Some(f)),
                _ => Vec::new(),
            };
            if found.is_empty() {
                report.unchanged += 1;
            } else {
                report.unmapped.push(Unmapped { line, downtime_id: id, mrn, why: found.join("; ") });
            }
            continue;
        }
        match link_as(store, actor, &id, &mrn, facts, None) {
            Ok(_) => report.mapped += 1,
            Err(ReconcileError::Store(StoreError::Refused(why)) | ReconcileError::Refused(why)) => {
                report.unmapped.push(Unmapped { line, downtime_id: id, mrn, why })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
