//! A day's outpatients for `kit --outpatients DATE`: who comes (the visits the SS-MIX2 storage
//! files under that day, ADT-12, or the hospital's appointment list as CSV), as the snapshot's
//! patient master knows them, written as patients of the outpatient ward so their paper is
//! printed, filed and handed over like an inpatient's. Ordered by department, then time.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use super::{Unreadable, clinical_view};
use crate::auth::{AuthError, Session};
use crate::domain::{Location, Patient, PatientId, Permission};
use crate::downtime::OUTPATIENT_WARD;
use crate::store::{OutpatientsAdded, Store, StoreError};

/// One expected visit: the patient, and when and where if the list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub patient_id: String,
    /// `HH:MM`, or empty.
    pub time: String,
    /// The department's name (or code, when the departments master does not name it).
    pub department: String,
}

/// What `prepare` found and wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutpatientDay {
    pub date: NaiveDate,
    /// `SS-MIX2 ADT-12` or the appointment file.
    pub source: String,
    /// The outpatients to print, in print order.
    pub ids: Vec<String>,
    pub added: OutpatientsAdded,
    /// Listed, but not in the snapshot's patient master: nothing to print a name from.
    pub not_in_master: Vec<String>,
    /// In the master, but a field the paper needs is missing or malformed.
    pub unusable: Vec<Unreadable>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutpatientError {
    #[error(
        "no SS-MIX2 snapshot yet: run `kamikarte snapshot import ROOT` first (the outpatients' names come from it)"
    )]
    NoSnapshot,
    #[error("{}", .0.join("\n"))]
    File(Vec<String>),
    #[error(
        "no outpatient visit is filed for {0} (ADT-12): give the day's appointment list with --appointments FILE"
    )]
    NoVisits(NaiveDate),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the day's list (from `appointments`, or the storage's ADT-12 visits of `date`), writes
/// the outpatients it names as patients of the outpatient ward (audited), and returns them in
/// print order.
pub fn prepare(
    store: &mut Store,
    session: &Session,
    date: NaiveDate,
    appointments: Option<&Path>,
    today: NaiveDate,
) -> Result<OutpatientDay, OutpatientError> {
    session.require(Permission::PrintKit)?;
    if store.last_snapshot_run()?.is_none() {
        return Err(OutpatientError::NoSnapshot);
    }
    let departments: HashMap<String, String> = store
        .master_items(crate::domain::MasterKind::Departments.code())?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let (source, list) = match appointments {
        Some(path) => (path.display().to_string(), read_appointments(path, date)?),
        None => {
            let visits = store.snapshot_visits_on(&date.to_string())?;
            if visits.is_empty() {
                return Err(OutpatientError::NoVisits(date));
            }
            let list = visits
                .into_iter()
                .map(|(patient_id, m)| Appointment {
                    patient_id,
                    time: m.at.get(11..16).unwrap_or_default().to_string(),
                    department: m.department,
                })
                .collect();
            ("SS-MIX2 ADT-12".to_string(), list)
        }
    };
    let mut day = OutpatientDay {
        date,
        source,
        ids: Vec::new(),
        added: OutpatientsAdded::default(),
        not_in_master: Vec::new(),
        unusable: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let mut patients = Vec::new();
    for a in list {
        if !seen.insert(a.patient_id.clone()) {
            continue;
        }
        let Some(person) = store.snapshot_person(&a.patient_id)? else {
            day.not_in_master.push(a.patient_id);
            continue;
        };
        let mut p = person.patient;
        for allergy in clinical_view(store, &p.id, today, 0)?.allergies {
            if !p.allergies.iter().any(|b| b.code == allergy.code && b.text == allergy.text) {
                p.allergies.push(allergy);
            }
        }
        let department = departments.get(&a.department).cloned().unwrap_or(a.department);
        let ward = Location { ward: OUTPATIENT_WARD.to_string(), ..Location::default() };
        match super::as_patient(&p, ward, department.clone(), today) {
            Ok(patient) => patients.push((department, a.time, patient)),
            Err(problem) => day.unusable.push(Unreadable { path: p.id.clone(), problem }),
        }
    }
    patients.sort_by(|a, b| (&a.0, &a.1, a.2.id.as_str()).cmp(&(&b.0, &b.1, b.2.id.as_str())));
    let patients: Vec<Patient> = patients.into_iter().map(|(_, _, p)| p).collect();
    day.added = store.add_outpatients(&session.actor(), &patients)?;
    // Someone admitted gets their paper with their ward's kit, not with the outpatients'.
    day.ids =
        patients.iter().map(|p| p.id.to_string()).filter(|id| !day.added.admitted.contains(id)).collect();
    Ok(day)
}

/// Whether an outpatient kit prints `form` unless told otherwise: outpatients wear no band, and
/// the MAR and the diet order are the wards'.
pub fn prints_for_outpatients(form: &crate::form::FormDefinition) -> bool {
    use crate::form::{Family, FormKind};
    form.family != Family::Wristbands && !matches!(form.kind, FormKind::Mar | FormKind::Diet)
}

/// Reads an appointment list: a header naming `patient_id` (or `id`), and optionally `date`
/// (rows of other days are passed over), `time` and `department`; UTF-8 or Shift_JIS. Every bad
/// line is named, and then nothing is read.
pub fn read_appointments(path: &Path, date: NaiveDate) -> Result<Vec<Appointment>, OutpatientError> {
    let file = path.display().to_string();
    let (headers, records) =
        crate::csv_in::read_with_header(path).map_err(|e| OutpatientError::File(vec![e]))?;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let Some(c_id) = col("patient_id").or_else(|| col("id")) else {
        return Err(OutpatientError::File(vec![format!(
            "{file}:1: the header needs a patient_id column (found: {})",
            headers.join(", ")
        )]));
    };
    let (c_date, c_time, c_dept) = (col("date"), col("time"), col("department"));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, record) in crate::csv_in::numbered_rows(records, &file) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let get =
            |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim).unwrap_or_default().to_string();
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if c_date.is_some() {
            let raw = get(c_date);
            match parse_day(&raw) {
                Some(d) if d != date => continue,
                Some(_) => {}
                None => {
                    errors.push(format!("{file}:{line}: date: '{raw}' is not a date (YYYY-MM-DD)"));
                    continue;
                }
            }
        }
        let id = match PatientId::parse(&get(Some(c_id))) {
            Ok(id) => id,
            Err(e) => {
                errors.push(format!("{file}:{line}: patient_id: {}", e.message));
                continue;
            }
        };
        let time = get(c_time);
        if !time.is_empty() && chrono::NaiveTime::parse_from_str(&time, "%H:%M").is_err() {
            errors.push(format!("{file}:{line}: time: '{time}' is not HH:MM"));
            continue;
        }
        out.push(Appointment { patient_id: id.to_string(), time, department: get(c_dept) });
    }
    if !errors.is_empty() {
        return Err(OutpatientError::File(errors));
    }
    Ok(out)
}

fn parse_day(raw: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"].iter().find_map(|f| NaiveDate::parse_from_str(raw, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn an_appointment_list_keeps_the_days_rows_in_any_common_date_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appointments.csv");
        std::fs::write(
            &path,
            "ID,Date,Time,Department\r\n0000012345,2026-12-05,09:30,内科\r\n0000023456,2026/12/06,10:00,外科\r\n\r\n0000034567,20261205,,\r\n",
        )
        .unwrap();
        let list = read_appointments(&path, day()).unwrap();
        let ids: Vec<&str> = list.iter().map(|a| a.patient_id.as_str()).collect();
        assert_eq!(ids, ["0000012345", "0000034567"]);
        assert_eq!((list[0].time.as_str(), list[0].department.as_str()), ("09:30", "内科"));
    }

    #[test]
    fn every_bad_line_of_an_appointment_list_is_named_by_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appointments.csv");
        std::fs::write(
            &path,
            "patient_id,date,time\n12.34,2026-12-05,09:00\n0000012345,12/05,\n0000012345,2026-12-05,9時\n",
        )
        .unwrap();
        let e = read_appointments(&path, day()).unwrap_err().to_string();
        for part in [":2: patient_id:", ":3: date: '12/05'", ":4: time: '9時' is not HH:MM"] {
            assert!(e.contains(part), "{part} in {e}");
        }
        std::fs::write(&path, "name,date\n見本,2026-12-05\n").unwrap();
        let e = read_appointments(&path, day()).unwrap_err().to_string();
        assert!(e.contains(":1: the header needs a patient_id column (found: name, date)"), "{e}");
    }
}
