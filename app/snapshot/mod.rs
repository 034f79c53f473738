//! `snapshot import ROOT`: the clinical snapshot read from the hospital's SS-MIX2 standardized
//! storage — the copy that survives when the EHR does not. Each run reads only the folders that
//! changed since the last (`walk`), reads their files (`read`, in parallel), and writes them in
//! batches of one transaction each (`store::snapshot`); a killed run resumes at the first batch
//! not written. When every batch is in, the census (inpatients) is brought in line with the
//! snapshot's admissions, and the run is marked finished: the snapshot is as old as that run.

pub mod outpatients;
pub mod read;
pub mod walk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;

use crate::auth::{AuthError, Session};
use crate::domain::snapshot::{Record, SnapshotPatient, Stay};
use crate::domain::ssmix2_name::StorageName;
use crate::domain::{
    BloodType, DateOfBirth, KanaName, KanjiName, Location, Patient, PatientId, Permission, Sex,
};
use crate::store::{ApplyCounts, CensusApply, SnapshotBatch, SnapshotFile, Store, StoreError};

/// Folders per transaction (a few thousand files): a batch holds the write lock for a fraction
/// of a second, and a kill loses at most one batch's reading.
pub const BATCH_FOLDERS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0} is not a folder: give the SS-MIX2 storage's root (the folder holding `standard/`)")]
    NotAFolder(PathBuf),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A file or folder that could not be read, by path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    pub path: String,
    pub problem: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SnapshotReport {
    pub run: i64,
    pub root: String,
    /// Every folder looked at; else recent days' only (`walk`).
    pub full: bool,
    /// Leaf folders looked at (all, or recent days' on an incremental run), and those read this
    /// run (new or changed).
    pub folders: usize,
    pub folders_read: usize,
    pub files_read: usize,
    /// Files that changed the snapshot (a file older than what is kept changes nothing).
    pub files_applied: usize,
    /// Files of data types the snapshot does not keep (OML-01 orders, extended storage …).
    pub files_not_kept: usize,
    pub unreadable: Vec<Unreadable>,
    pub patients: usize,
    pub inpatients: usize,
    /// What bringing the census in line with the snapshot changed.
    pub census: Option<ApplyCounts>,
    /// Admitted patients the census could not take, with why (a name too long, no birth date …).
    pub census_skipped: Vec<Unreadable>,
    pub seconds: f64,
}

/// How to run an import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// The day dates of birth are checked against and active medications are judged on.
    pub today: NaiveDate,
    /// The storage is the demo's synthetic one: the database stays a demo (its public accounts
    /// stay on), as after `kamikarte demo`.
    pub demo: bool,
    /// Look at every folder, not only recent days' (`walk`). A run is full anyway when no full
    /// run finished in the last `FULL_EVERY_HOURS`.
    pub full: bool,
}

/// An incremental run looks at day folders of this many days back (and `-`).
pub const RECENT_DAYS: u64 = 14;
/// A full run at least this often: what an incremental run cannot see (a correction filed under
/// an older day) is in the snapshot within a day.
pub const FULL_EVERY_HOURS: i64 = 24;

/// Where a run has got to, for a progress bar: folders read of those to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Reads the storage at `root` into the snapshot (see the module's comment).
pub fn import(
    store: &mut Store,
    session: &Session,
    root: &Path,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<SnapshotReport, SnapshotError> {
    let today = options.today;
    session.require(Permission::ImportCensus)?;
    if !root.is_dir() {
        return Err(SnapshotError::NotAFolder(root.to_path_buf()));
    }
    let started = Instant::now();
    let actor = session.actor();
    let root_text = root.display().to_string();
    let run = store.start_snapshot_run(&actor, &root_text)?;
    let standard = walk::standard_root(root);
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(FULL_EVERY_HOURS))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let full = options.full || !store.full_snapshot_run_since(&day_ago)?;
    let since = (!full).then(|| (today - chrono::Days::new(RECENT_DAYS)).format("%Y%m%d").to_string());
    let known = store.snapshot_dir_times(since.as_deref())?;
    let walked = walk::walk(&standard, &known, since.as_deref());
    let mut report =
        SnapshotReport { run, root: root_text, full, folders: walked.leaves.len(), ..Default::default() };
    report.unreadable.extend(walked.problems.into_iter().map(|(path, problem)| Unreadable { path, problem }));
    let todo = walk::changed(walked.leaves, &known);
    let total = todo.len();
    progress(Progress { done: 0, total });

    let threads = crate::parallel::threads_for(total);
    let mut done = 0;
    let mut start = 0;
    while start < todo.len() {
        let end = (start + BATCH_FOLDERS).min(todo.len());
        let read =
            crate::parallel::map_in_chunks(&todo[start..end], threads, |leaf| read_leaf(&standard, leaf));
        let mut batch = SnapshotBatch::default();
        for (leaf, folder) in todo[start..end].iter().zip(read) {
            report.files_read += folder.files.len() + folder.not_kept + folder.unreadable.len();
            report.files_not_kept += folder.not_kept;
            // A folder with an unreadable file is recorded as unread: read (and reported) again
            // next run, until it is fixed.
            let time = if folder.unreadable.is_empty() { leaf.mtime_ns } else { walk::UNSETTLED };
            batch.dirs.push((leaf.rel.clone(), time));
            report.unreadable.extend(folder.unreadable);
            batch.files.extend(folder.files);
        }
        report.files_applied += store.write_snapshot_batch(&batch)?;
        done += end - start;
        report.folders_read = done;
        progress(Progress { done, total });
        start = end;
    }

    // Patient and day folders last, once every leaf under them is in: a run killed before this
    // lists them again next time (and finds their leaves read).
    let folders: Vec<(String, i64)> =
        walked.folders.into_iter().filter(|(rel, time)| known.get(rel) != Some(time)).collect();
    store.write_snapshot_batch(&SnapshotBatch { files: Vec::new(), dirs: folders })?;
    let inpatients = store.snapshot_inpatients()?;
    report.inpatients = inpatients.len();
    report.patients = store.snapshot_patient_count()?;
    // The census shows departments by name (PV1-10 gives the code): the departments master says.
    let departments: std::collections::HashMap<String, String> = store
        .master_items(crate::domain::MasterKind::Departments.code())?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let mut census = Vec::new();
    for person in &inpatients {
        // ADT-00's AL1 and ADT-61's IAM, each allergen once: what the wristband and pages print.
        let mut patient = person.patient.clone();
        for a in clinical_view(store, &patient.id, today, 0)?.allergies {
            if !patient.allergies.iter().any(|b| b.code == a.code && b.text == a.text) {
                patient.allergies.push(a);
            }
        }
        match census_patient(&patient, person.stay.as_ref(), today, &departments) {
            Ok(p) => census.push(p),
            Err(problem) => {
                report.census_skipped.push(Unreadable { path: person.patient.id.clone(), problem })
            }
        }
    }
    // A snapshot with admissions is the whole census: who it no longer admits is discharged.
    // One without any (a storage with no ADT-22) leaves the census as the CSV made it.
    if !inpatients.is_empty() {
        let skipped: std::collections::HashSet<String> =
            report.census_skipped.iter().map(|s| s.path.clone()).collect();
        let apply = CensusApply {
            file: "SS-MIX2 snapshot",
            encoding: "ISO-2022-JP",
            rows: inpatients.len(),
            skipped: report.census_skipped.len(),
            discharge_missing: true,
            keep: Some(&skipped),
            mark_demo: options.demo,
        };
        report.census = Some(store.apply_census(&actor, &census, &apply, &mut |_, _| {})?.counts);
    }
    report.seconds = started.elapsed().as_secs_f64();
    let counts = serde_json::json!({
        "full": report.full,
        "folders": report.folders,
        "folders_read": report.folders_read,
        "files_read": report.files_read,
        "files_applied": report.files_applied,
        "unreadable": report.unreadable.len(),
        "patients": report.patients,
        "inpatients": report.inpatients,
    });
    store.finish_snapshot_run(&actor, run, &counts)?;
    Ok(report)
}

/// What one folder's files gave.
#[derive(Default)]
struct FolderRead {
    files: Vec<SnapshotFile>,
    not_kept: usize,
    unreadable: Vec<Unreadable>,
}

fn read_leaf(standard: &Path, leaf: &walk::Leaf) -> FolderRead {
    let mut out = FolderRead::default();
    let entries = match std::fs::read_dir(&leaf.path) {
        Ok(e) => e,
        Err(e) => {
            out.unreadable.push(Unreadable { path: leaf.path.display().to_string(), problem: e.to_string() });
            return out;
        }
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (file_name, path) in names {
        let shown = path.display().to_string();
        let name = match StorageName::parse(&file_name) {
            Ok(n) => n,
            // Page images beside a message and other non-storage files are not messages.
            Err(_) if file_name.contains('.') => continue,
            Err(e) => {
                out.unreadable.push(Unreadable { path: shown, problem: e.to_string() });
                continue;
            }
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                out.unreadable.push(Unreadable { path: shown, problem: e.to_string() });
                continue;
            }
        };
        match read::read_file(&name, &bytes) {
            Ok(Some(record)) => {
                let rel = path.strip_prefix(standard).unwrap_or(&path).display().to_string();
                out.files.push(SnapshotFile { name, path: rel, record });
            }
            Ok(None) => out.not_kept += 1,
            Err(problem) => out.unreadable.push(Unreadable { path: shown, problem }),
        }
    }
    out
}

/// An admitted patient of the snapshot as the census holds them.
fn census_patient(
    p: &SnapshotPatient,
    stay: Option<&Stay>,
    today: NaiveDate,
    departments: &std::collections::HashMap<String, String>,
) -> Result<Patient, String> {
    let stay = stay.ok_or("no admission")?;
    let location = Location {
        ward: stay.place.ward.clone(),
        room: stay.place.room.clone(),
        bed: stay.place.bed.clone(),
    };
    let department =
        departments.get(&stay.place.department).cloned().unwrap_or_else(|| stay.place.department.clone());
    as_patient(p, location, department, today)
}

/// A patient of the snapshot's master as a `Patient` lying at `location`: every field checked as
/// the census checks it, the first that fails named.
pub(crate) fn as_patient(
    p: &SnapshotPatient,
    location: Location,
    department: String,
    today: NaiveDate,
) -> Result<Patient, String> {
    let field = |what: &str, e: crate::domain::FieldError| format!("{what}: {}", e.message);
    let dob = p.dob.ok_or("no date of birth (PID-7)")?;
    Ok(Patient {
        id: PatientId::parse(&p.id).map_err(|e| field("ID", e))?,
        name: KanjiName::parse(&p.name).map_err(|e| field("name", e))?,
        kana: KanaName::parse(&p.kana).map_err(|e| field("kana", e))?,
        dob: DateOfBirth::parse(&dob.to_string(), today).map_err(|e| field("date of birth", e))?,
        sex: Sex::parse(&p.sex).map_err(|e| field("sex", e))?,
        blood: BloodType::parse(&p.blood_type).map_err(|e| field("blood type", e))?,
        location,
        department,
        allergies: p.allergies.iter().map(|a| a.describe()).collect(),
    })
}

/// The records a patient's summary and MAR show: active medications on `day`, problems still
/// open, the last `results_per_test` results of each test, and diet orders standing on `day`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClinicalView {
    /// Allergies of ADT-61 (with severity), besides ADT-00's AL1 on the patient.
    pub allergies: Vec<crate::domain::snapshot::Allergy>,
    pub medications: Vec<crate::domain::snapshot::MedicationLine>,
    pub problems: Vec<crate::domain::snapshot::Problem>,
    pub results: Vec<Vec<crate::domain::snapshot::LabValue>>,
    pub diet: Vec<crate::domain::snapshot::DietOrder>,
    /// Visits, admissions, transfers and discharges, the latest first.
    pub movements: Vec<crate::domain::snapshot::Movement>,
}

/// A patient's clinical view from the snapshot (orders deleted in the storage left out).
pub fn clinical_view(
    store: &Store,
    patient_id: &str,
    day: NaiveDate,
    results_per_test: usize,
) -> Result<ClinicalView, StoreError> {
    let mut view = ClinicalView::default();
    let mut values = Vec::new();
    for r in store.snapshot_records(patient_id)?.into_iter().filter(|r| !r.deleted) {
        match r.record {
            Record::Medication { lines } => {
                view.medications.extend(lines.into_iter().filter(|l| l.active_on(day)))
            }
            Record::Problems { problems } => {
                // The latest PPR-01 of an order number replaces the earlier: keep what is open.
                view.problems.extend(problems.into_iter().filter(|p| p.ended.is_none_or(|e| e >= day)));
            }
            Record::Results { values: v } => values.extend(v),
            Record::Diet { orders } => view.diet.extend(
                orders
                    .into_iter()
                    .filter(|o| o.start.is_none_or(|s| s <= day) && o.end.is_none_or(|e| e >= day)),
            ),
            Record::Allergies { allergies } => view.allergies = allergies,
            Record::Movement(m) => view.movements.push(m),
            Record::Patient(_) => {}
        }
    }
    view.movements.reverse();
    view.results = crate::domain::snapshot::latest_results(&values, results_per_test)
        .into_iter()
        .map(|t| t.into_iter().cloned().collect())
        .collect();
    Ok(view)
}

/// How old the snapshot is, for every screen and page: `患者情報 2026-11-30 08:15 時点`.
pub fn age_label(store: &Store) -> Result<Option<String>, StoreError> {
    Ok(store.last_snapshot_run()?.and_then(|run| crate::domain::snapshot::age_label(&run.started_at)))
}
