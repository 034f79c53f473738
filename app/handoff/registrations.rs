//! The registration list for 医事: when the EHR is the patient master it takes no registration
//! from outside, so the patients registered under downtime IDs go to 医事 as a list — a CSV
//! and a printable PDF — with what they need to register each one. 医事 fills in the record
//! number (and corrects the name, kana, date of birth or sex to what they registered) and the
//! same file comes back through `reconcile import`: its first columns are the ones that
//! import reads.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::stage::ExportError;
use crate::auth::Session;
use crate::domain::Permission;
use crate::domain::paper_time::japan_time;
use crate::print::{Column, table_pdf};
use crate::store::Store;

/// One downtime patient as 医事 needs them to register the person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistrationRow {
    pub downtime_id: String,
    /// The record number once 医事 gave one (blank: still to register).
    pub mrn: String,
    pub name: String,
    pub kana: String,
    /// `YYYY-MM-DD`.
    pub dob: String,
    /// `M`, `F`, `O`, `U`.
    pub sex: String,
    /// `入院` or `外来`.
    pub visit: String,
    pub ward: String,
    pub room: String,
    pub bed: String,
    pub department: String,
    /// Japan time, `YYYY-MM-DD HH:MM`.
    pub registered_at: String,
    pub registered_by: String,
    /// Identity unknown, date of birth estimated, other downtime IDs merged into this one.
    pub notes: String,
}

/// The columns of the CSV, in order. `downtime_id` to `sex` are what `reconcile import` reads.
pub const CSV_COLUMNS: [&str; 15] = [
    "downtime_id",
    "mrn",
    "name",
    "kana",
    "dob",
    "sex",
    "visit",
    "ward",
    "room",
    "bed",
    "department",
    "registered_at",
    "registered_by",
    "notes",
    "state",
];

/// Every patient registered under a downtime ID (merged IDs are noted on their survivor), in
/// the order they were registered; only those of `episode` when one is given. The read is
/// audited: the list names patients.
pub fn registration_list(
    store: &mut Store,
    session: &Session,
    episode: Option<i64>,
) -> Result<Vec<RegistrationRow>, ExportError> {
    session.require(Permission::Reconcile)?;
    let episode = store.episode_named(episode)?;
    let patients = store.downtime_patients()?;
    let mut rows = Vec::new();
    for p in patients.iter().filter(|p| p.merged_into.is_none()) {
        let id = &p.record.patient.id;
        let Some(reg) = store.registration(id)? else { continue };
        if episode.as_ref().is_some_and(|e| e.id != reg.episode_id) {
            continue;
        }
        let mut notes = Vec::new();
        if reg.flags.identity_unknown {
            notes.push("身元不明 identity unknown".to_string());
        }
        if reg.flags.dob_estimated {
            notes.push("生年月日推定 DOB estimated".to_string());
        }
        let merged: Vec<&str> = patients
            .iter()
            .filter(|m| m.merged_into.as_deref() == Some(id.as_str()))
            .map(|m| m.record.patient.id.as_str())
            .collect();
        if !merged.is_empty() {
            notes.push(format!("同一人物 also {}", merged.join(" ")));
        }
        let patient = &p.record.patient;
        rows.push((
            reg.created_at.clone(),
            RegistrationRow {
                downtime_id: id.as_str().to_string(),
                mrn: p.link.as_ref().map(|l| l.mrn.clone()).unwrap_or_default(),
                name: patient.name.as_str().to_string(),
                kana: patient.kana.as_str().to_string(),
                dob: patient.dob.iso(),
                sex: patient.sex.code().to_string(),
                visit: if reg.flags.outpatient { "外来" } else { "入院" }.to_string(),
                ward: patient.location.ward.clone(),
                room: patient.location.room.clone(),
                bed: patient.location.bed.clone(),
                department: patient.department.clone(),
                registered_at: local_minute(&reg.created_at),
                registered_by: reg.created_by.clone(),
                notes: notes.join("; "),
            },
        ));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.downtime_id.cmp(&b.1.downtime_id)));
    let rows: Vec<RegistrationRow> = rows.into_iter().map(|(_, r)| r).collect();
    store.record_list_view(&session.actor(), "handoff registrations", rows.len())?;
    Ok(rows)
}

fn local_minute(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&japan_time()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegistrationFiles {
    pub csv: PathBuf,
    pub pdf: PathBuf,
    pub patients: usize,
    /// Of those, still without a record number.
    pub to_register: usize,
}

/// Writes `registrations.csv` (UTF-8 with a BOM, so a spreadsheet opens the kanji right) and
/// `registrations.pdf` into `out`, each whole or not at all.
pub fn write_registration_list(
    rows: &[RegistrationRow],
    out: &Path,
    hospital_name: &str,
    now: DateTime<Utc>,
) -> Result<RegistrationFiles, ExportError> {
    let write = |path: &Path, bytes: &[u8]| {
        crate::files::create_private_dir_all(out)
            .and_then(|()| crate::files::write_private_atomic(path, bytes, true))
            .map_err(|source| ExportError::Write { path: path.to_path_buf(), source })
    };
    let state =
        |r: &RegistrationRow| if r.mrn.is_empty() { "要登録 to register" } else { "登録済 registered" };
    let mut csv = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let io = |e: csv::Error| ExportError::Message(format!("cannot write the registration list: {e}"));
    csv.write_record(CSV_COLUMNS).map_err(io)?;
    for r in rows {
        let cells = [
            &r.downtime_id,
            &r.mrn,
            &r.name,
            &r.kana,
            &r.dob,
            &r.sex,
            &r.visit,
            &r.ward,
            &r.room,
            &r.bed,
            &r.department,
            &r.registered_at,
            &r.registered_by,
            &r.notes,
        ];
        let mut record: Vec<String> =
            cells.iter().map(|c| crate::domain::formula_safe(c).into_owned()).collect();
        record.push(state(r).to_string());
        csv.write_record(&record).map_err(io)?;
    }
    let bytes = csv.into_inner().map_err(|e| ExportError::Message(e.to_string()))?;
    let csv_path = out.join("registrations.csv");
    write(&csv_path, &bytes)?;

    let printed = now.with_timezone(&japan_time()).format("%Y-%m-%d %H:%M");
    let to_register = rows.iter().filter(|r| r.mrn.is_empty()).count();
    let title = format!("ダウンタイム中の新規患者 登録依頼 Downtime registrations — {hospital_name}");
    let subtitle = format!(
        "{printed} 時点  {} 名 (要登録 {to_register})  医事で登録し、患者番号 (mrn) を記入して返却してください。 Register each, write the record number, return the list.",
        rows.len()
    );
    let columns = [
        Column { heading: "ダウンタイムID", share: 2.2 },
        Column { heading: "患者番号 MRN (記入)", share: 2.4 },
        Column { heading: "氏名", share: 2.6 },
        Column { heading: "カナ", share: 2.8 },
        Column { heading: "生年月日", share: 1.8 },
        Column { heading: "性別", share: 0.8 },
        Column { heading: "入外", share: 0.8 },
        Column { heading: "病棟・病室", share: 1.6 },
        Column { heading: "診療科", share: 1.6 },
        Column { heading: "登録日時・登録者", share: 2.6 },
        Column { heading: "備考", share: 2.8 },
    ];
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.downtime_id.clone(),
                r.mrn.clone(),
                r.name.clone(),
                r.kana.clone(),
                r.dob.clone(),
                r.sex.clone(),
                r.visit.clone(),
                [r.ward.as_str(), r.room.as_str(), r.bed.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
                r.department.clone(),
                format!("{} {}", r.registered_at, r.registered_by),
                r.notes.clone(),
            ]
        })
        .collect();
    let pdf = table_pdf(&title, &subtitle, &columns, &table).map_err(ExportError::Message)?;
    let pdf_path = out.join("registrations.pdf");
    write(&pdf_path, &pdf)?;
    Ok(RegistrationFiles { csv: csv_path, pdf: pdf_path, patients: rows.len(), to_register })
}
