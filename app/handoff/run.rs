//! One export run: gather what is ready, keep its versions and messages, write the files of one
//! format, and only then record what was delivered — so a run killed half-way is simply run
//! again (files are written under a temporary name and renamed, and the same version always
//! gets the same file name).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::billing_csv::{self, ColumnMapping};
use super::claims::{self, Action, ClaimContext};
use super::content::{Content, HandoffItem};
use super::fhir::{self, FhirContext};
use super::gather::{Gathered, Scope, Waiting, department_codes, gather, usage_codes};
use super::hl7::{Charset, Hl7Context, encode};
use super::orca;
use super::ssmix2::{FileFacts, externalize_images, storage_path, supersede_older};
use super::stage::{ExportError, StageCounts, stage};
use crate::auth::Session;
use crate::domain::staff::StaffDirectory;
use crate::domain::{MasterKind, Permission};
use crate::form::FormDefinition;
use crate::parallel::{map_in_chunks, threads_at_least as threads};
use crate::store::{HandoffRecord, OutboxState, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Hl7,
    Ssmix2,
    Fhir,
    Csv,
    /// ORCA's `/api21/medicalmodv2` request bodies, one per visit (`send orca` posts them).
    Orca,
}

impl Format {
    pub fn code(self) -> &'static str {
        match self {
            Format::Hl7 => "hl7",
            Format::Ssmix2 => "ssmix2",
            Format::Fhir => "fhir",
            Format::Csv => "csv",
            Format::Orca => "orca",
        }
    }
}

pub struct ExportOptions {
    pub format: Format,
    pub out: PathBuf,
    pub episode: Option<i64>,
    /// HL7 files and SS-MIX2: ISO-2022-JP (the default) or UTF-8.
    pub charset: Charset,
    /// Write everything in scope again, not only what this format has not written yet.
    pub all: bool,
    /// CSV: the billing system's columns.
    pub mapping: Option<ColumnMapping>,
    /// Export what is ready although some patients with paper have no record number yet
    /// (their paper waits until they are mapped); refused by default.
    pub include_unmapped: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExportReport {
    pub format: String,
    pub out: String,
    pub run_id: i64,
    pub prepared: StageCounts,
    /// Things in scope that have a current version.
    pub items: usize,
    pub files: usize,
    /// CSV rows, HL7 messages written, or FHIR resources.
    pub records: usize,
    /// Worklist items not handed off yet, by reason.
    pub held: BTreeMap<String, usize>,
    /// Characters ISO-2022-JP cannot hold and what was written instead, with how often.
    pub substitutions: BTreeMap<String, usize>,
    /// Patients whose paper waits for a record number (`--include-unmapped`).
    pub waiting: Vec<Waiting>,
    /// SS-MIX2: page images written as files beside their messages (larger than
    /// `handoff.ssmix2_inline_kb`); not counted in `files`.
    pub attachments: usize,
}

/// Nothing clinical goes to the EHR under a temporary identifier: while a patient with paper
/// to hand off has no record number, the hand-off stops and names them — unless asked to go on
/// without them, when their paper simply waits.
fn refuse_waiting(gathered: &Gathered, include_unmapped: bool) -> Result<(), ExportError> {
    if gathered.waiting.is_empty() || include_unmapped {
        return Ok(());
    }
    let mut text = format!(
        "{} patient(s) with paper to hand off have no usable record number from the EHR yet:",
        gathered.waiting.len()
    );
    for w in &gathered.waiting {
        text.push_str(&format!("\n  {} {} — {} ({} item(s))", w.downtime_id, w.name, w.why, w.items));
    }
    text.push_str(
        "\nMap them first (`kamikarte reconcile import FILE` with the record numbers 医事 gave, or \
         `reconcile map`), or add --include-unmapped to hand off the rest: their paper waits until \
         they are mapped and then goes under the record number.",
    );
    Err(ExportError::Refused(text))
}

/// Takes a refused message out of the queue, with the reason (the receiver will never get it).
pub fn withdraw(
    store: &mut Store,
    session: &Session,
    control_id: &str,
    reason: &str,
) -> Result<(), ExportError> {
    session.require(Permission::Export)?;
    Ok(store.withdraw_message(&session.actor(), control_id, reason)?)
}

/// Where the hand-off reads its settings from.
pub struct Site<'a> {
    pub forms: &'a [FormDefinition],
    /// Where the scanned page images are kept.
    pub page_root: &'a Path,
}

pub fn export(
    store: &mut Store,
    session: &Session,
    site: &Site<'_>,
    options: &ExportOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ExportReport, ExportError> {
    session.require(Permission::Export)?;
    let actor = &session.actor();
    let settings = store.settings()?;
    let episode = store.episode_named(options.episode)?;
    progress("reading", 0, 0);
    let gathered = gather(store, site.forms, site.page_root, Scope { episode: episode.as_ref() })?;
    refuse_waiting(&gathered, options.include_unmapped)?;
    if options.format == Format::Fhir {
        settings.fhir_base().map_err(ExportError::Refused)?;
    }
    let masters = Lookups::read(store)?;
    refuse_unknown_staff(&gathered, &masters.staff)?;
    let hl7 = hl7_context(&settings, site, &masters)?;
    progress("preparing", 0, gathered.items.len());
    let prepared = stage(store, actor, &gathered, &hl7)?;
    progress("listing", 0, 0);
    let in_scope: HashSet<&str> = gathered.items.iter().map(|i| i.subject.as_str()).collect();
    let records: Vec<HandoffRecord> =
        store.handoff_records()?.into_iter().filter(|r| in_scope.contains(r.subject.as_str())).collect();
    let query = format!("export {} → {}", options.format.code(), options.out.display());
    store.record_list_view(actor, &query, records.len())?;
    std::fs::create_dir_all(&options.out)
        .map_err(|source| ExportError::Write { path: options.out.clone(), source })?;
    let run_id = store.start_handoff_run(
        actor,
        options.format.code(),
        &options.out.to_string_lossy(),
        episode.as_ref().map(|e| e.id),
    )?;
    let mut report = ExportReport {
        format: options.format.code().to_string(),
        out: options.out.to_string_lossy().into_owned(),
        run_id,
        prepared,
        items: records.len(),
        waiting: gathered.waiting.clone(),
        ..Default::default()
    };
    for (_, reason) in &gathered.held {
        *report.held.entry(reason.clone()).or_default() += 1;
    }
    // FHIR and CSV are written from what was gathered now: the same content as the version
    // kept (unchanged content is not re-versioned), with the patient as resolved today — a
    // downtime ID mapped since its page was prepared is billed and linked under the MRN.
    let current: HashMap<&str, &HandoffItem> =
        gathered.items.iter().map(|i| (i.subject.as_str(), i)).collect();
    progress("writing", 0, 0);
    let delivered = match options.format {
        Format::Hl7 | Format::Ssmix2 => {
            write_messages(store, options, &hl7, site.forms, &records, &current, &mut report, progress)?
        }
        Format::Fhir => {
            write_fhir(store, options, &settings, site, &records, &current, &mut report, progress)?
        }
        Format::Csv => write_csv(store, options, &records, &current, &masters, &mut report)?,
        Format::Orca => write_orca(store, options, &records, &current, &masters, &mut report)?,
    };
    sync_dir(&options.out);
    progress("recording", 0, 0);
    let counts = serde_json::to_value(&report).unwrap_or_default();
    store.finish_handoff_run(actor, run_id, &delivered, &counts)?;
    Ok(report)
}

/// Gathers and prepares what is ready (versions and HL7 messages) without writing anything:
/// what `send mllp` does before sending.
pub fn prepare(
    store: &mut Store,
    session: &Session,
    site: &Site<'_>,
    episode: Option<i64>,
    include_unmapped: bool,
) -> Result<StageCounts, ExportError> {
    Ok(gather_and_stage(store, session, site, episode, include_unmapped)?.3)
}

/// What `prepare` and `send orca` start with: what is ready in scope (refused while patients
/// wait for a record number, unless asked, and while a user it names has no staff code), the
/// masters' lookups, and the versions kept.
fn gather_and_stage(
    store: &mut Store,
    session: &Session,
    site: &Site<'_>,
    episode: Option<i64>,
    include_unmapped: bool,
) -> Result<(Gathered, Lookups, Option<crate::store::EpisodeRecord>, StageCounts), ExportError> {
    session.require(Permission::Export)?;
    let actor = &session.actor();
    let settings = store.settings()?;
    let episode = store.episode_named(episode)?;
    let gathered = gather(store, site.forms, site.page_root, Scope { episode: episode.as_ref() })?;
    refuse_waiting(&gathered, include_unmapped)?;
    let masters = Lookups::read(store)?;
    refuse_unknown_staff(&gathered, &masters.staff)?;
    let counts = stage(store, actor, &gathered, &hl7_context(&settings, site, &masters)?)?;
    Ok((gathered, masters, episode, counts))
}

/// What the masters give the messages: the EHR's department, usage and staff codes.
struct Lookups {
    departments: HashMap<String, String>,
    usages: HashMap<String, crate::handoff::hl7::UsageCode>,
    staff: StaffDirectory,
}

impl Lookups {
    fn read(store: &Store) -> Result<Self, ExportError> {
        Ok(Lookups {
            departments: department_codes(store)?,
            usages: usage_codes(store)?,
            staff: StaffDirectory::new(
                &store.master_items(MasterKind::Doctors.code())?,
                &store.master_items(MasterKind::Staff.code())?,
            ),
        })
    }
}

/// Every user the messages name (who keyed, verified or registered) must have the EHR's staff
/// code: the EHR files an order under its staff, and a login of this program means nothing there.
fn refuse_unknown_staff(gathered: &Gathered, staff: &StaffDirectory) -> Result<(), ExportError> {
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    for item in &gathered.items {
        let users: Vec<&str> = match &item.content {
            Content::Keyed(k) => {
                std::iter::once(k.entered_by.as_str()).chain(k.verified_by.as_deref()).collect()
            }
            Content::Registration { registered_by, .. } => vec![registered_by.as_str()],
            _ => Vec::new(),
        };
        missing.extend(users.into_iter().filter(|u| !u.is_empty() && staff.user(u).is_none()));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.into_iter().collect();
    Err(ExportError::Refused(format!(
        "{} user(s) who keyed, verified or registered what would be sent have no staff code of the EHR: {}. \
         Import the staff master with their codes (`kamikarte masters import --master staff FILE`, \
         columns code,name,kana,login) and export again; nothing was written",
        names.len(),
        names.join(", ")
    )))
}

fn hl7_context<'a>(
    settings: &'a crate::store::Settings,
    site: &Site<'a>,
    masters: &'a Lookups,
) -> Result<Hl7Context<'a>, ExportError> {
    let code = settings.institution_code().map_err(ExportError::Refused)?;
    Ok(Hl7Context {
        sending_facility: code,
        hospital_name: &settings.hospital_name,
        receiving_application: "EHR",
        receiving_facility: code,
        forms: site.forms,
        departments: &masters.departments,
        usages: &masters.usages,
        staff: &masters.staff,
        now: chrono::Utc::now(),
    })
}

/// What a kept version says: the item gathered now (the same content, or the version would have
/// changed), looked up by its subject.
fn item_of<'a>(
    current: &HashMap<&str, &'a HandoffItem>,
    record: &HandoffRecord,
) -> Result<&'a HandoffItem, ExportError> {
    current.get(record.subject.as_str()).copied().ok_or_else(|| {
        ExportError::Message(format!(
            "{} (version {}) is not among what was gathered",
            record.subject, record.version
        ))
    })
}

/// Writes `bytes` to `path` whole (a private temporary renamed into place, flushed to disk).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let err = |source| ExportError::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        crate::files::create_private_dir_all(dir).map_err(err)?;
    }
    crate::files::write_private_atomic(path, bytes, true).map_err(err)
}

/// Best effort: the renames in `dir` made durable where the platform allows it.
fn sync_dir(dir: &Path) {
    let _ = crate::files::sync_dir(dir);
}

#[allow(clippy::too_many_arguments)]
fn write_messages(
    store: &Store,
    options: &ExportOptions,
    hl7: &Hl7Context<'_>,
    forms: &[FormDefinition],
    records: &[HandoffRecord],
    current: &HashMap<&str, &HandoffItem>,
    report: &mut ExportReport,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<i64>, ExportError> {
    let format = options.format.code();
    let by_id: HashMap<i64, &HandoffRecord> = records.iter().map(|r| (r.id, r)).collect();
    let messages: Vec<_> = store
        .outbox(false)?
        .into_iter()
        .filter(|m| !m.superseded && m.state != OutboxState::Withdrawn)
        .filter_map(|m| by_id.get(&m.handoff_item).map(|r| (m, *r)))
        .collect();
    // A version with no message (a slip with nothing billable on it) is handed off by being
    // accounted for, or it would wait in the worklist for good.
    let with_messages: HashSet<i64> = messages.iter().map(|(_, r)| r.id).collect();
    let mut delivered: Vec<i64> = records
        .iter()
        .filter(|r| !with_messages.contains(&r.id) && !r.delivered.iter().any(|d| d == format))
        .map(|r| r.id)
        .collect();
    let messages: Vec<_> = messages
        .into_iter()
        .filter(|(_, r)| options.all || !r.delivered.iter().any(|d| d == format))
        .collect();
    let total = messages.len();
    // Encoded and named first, then written in parallel: each file is synced before its rename,
    // and the sync, not the CPU, is what takes the time.
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::with_capacity(total);
    let mut superseding = Vec::new();
    // SS-MIX2: each patient written to gets their basic information (ADT-00) as of now.
    let mut patients: BTreeMap<String, crate::handoff::PatientFacts> = BTreeMap::new();
    // …unless a message of this run is one (a registration's A08 under `kamikarte`): two files
    // of one message time would share a name.
    let mut has_basic_information: HashSet<String> = HashSet::new();
    let inline_max = store.settings()?.ssmix2_inline_kb as usize * 1024;
    let mut attachments: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (message, record) in &messages {
        let (mut bytes, substituted) = encode(&message.body, options.charset);
        for (c, with) in substituted {
            *report.substitutions.entry(format!("{c} → {with}")).or_default() += 1;
        }
        let path = match options.format {
            Format::Ssmix2 => {
                let item = item_of(current, record)?;
                let (form_kind, day) = match &item.content {
                    Content::Keyed(k) => (
                        forms.iter().find(|f| f.id == k.form_id).map(|f| f.kind),
                        k.event_at
                            .as_deref()
                            .or_else(|| k.lines.first().map(|l| l.line.service_date.as_str())),
                    ),
                    Content::Page(p) => (None, Some(p.document_time())),
                    Content::Registration { registered_at, .. } => (None, Some(registered_at.as_str())),
                    _ => (None, None),
                };
                let naming = super::hl7::naming_fields(&message.body);
                let (msh7, placer_order) = (naming.msh7, naming.placer_order);
                let facts = FileFacts {
                    patient_id: &message.patient_id,
                    message_type: &message.message_type,
                    form_kind,
                    day,
                    subject_number: record.subject_number,
                    placer_order,
                    message_time: msh7.unwrap_or_default(),
                    department: naming.department,
                    current: true,
                };
                let place = storage_path(&facts).ok_or_else(|| {
                    ExportError::Message(format!(
                        "{} ({}): its MSH-7 '{}' is not a time the storage can name a file by",
                        record.subject,
                        message.control_id,
                        msh7.unwrap_or_default()
                    ))
                })?;
                // The identity as the EHR has it: any item but a registration (which carries the
                // registration's own) says it; a registration only when nothing else does.
                let mut who = item.patient.clone();
                who.id = message.patient_id.clone();
                if matches!(item.content, Content::Registration { .. }) {
                    patients.entry(who.id.clone()).or_insert(who);
                } else {
                    patients.insert(who.id.clone(), who);
                }
                let path = options.out.join(place.relative());
                if message.message_type.starts_with("MDM^") {
                    let (body, images) = externalize_images(&message.body, inline_max, &place.file_name)
                        .map_err(|e| ExportError::Message(format!("{}: {e}", record.subject)))?;
                    if !images.is_empty() {
                        bytes = encode(&body, options.charset).0;
                        for image in images {
                            attachments
                                .push((options.out.join(&place.folder).join(image.file_name), image.bytes));
                        }
                    }
                }
                if place.folder.ends_with("ADT-00") {
                    has_basic_information.insert(message.patient_id.clone());
                }
                // Only a later version has earlier files to mark superseded.
                if record.version > 1 {
                    superseding.push(place);
                }
                path
            }
            _ => options.out.join(format!("{:08}_{}.hl7", message.id, message.control_id)),
        };
        files.push((path, bytes));
        delivered.push(record.id);
    }
    for patient in patients.values().filter(|p| !has_basic_information.contains(&p.id)) {
        let message = super::hl7::basic_information(patient, hl7);
        let (bytes, _) = encode(&message.body, options.charset);
        let facts = FileFacts {
            patient_id: &patient.id,
            message_type: &message.message_type,
            form_kind: None,
            day: None,
            subject_number: 0,
            placer_order: None,
            message_time: super::hl7::naming_fields(&message.body).msh7.unwrap_or_default(),
            department: super::hl7::naming_fields(&message.body).department,
            current: true,
        };
        let place = storage_path(&facts).ok_or_else(|| {
            ExportError::Message(format!("patient {}: the basic information cannot be named", patient.id))
        })?;
        files.push((options.out.join(place.relative()), bytes));
        superseding.push(place);
    }
    let message_files = files.len();
    report.attachments += attachments.len();
    // An image is written before its message, so a message never points at a missing file.
    for (path, bytes) in &attachments {
        write_file(path, bytes)?;
    }
    let written = std::sync::atomic::AtomicUsize::new(0);
    // At least two writers even on one core: the time goes into creating and syncing files.
    // After a failure (a full disk) the other writers stop too; the first error is reported.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results = map_in_chunks(&files, threads(2), |(path, bytes)| {
        if failed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        write_file(path, bytes).inspect_err(|_| failed.store(true, std::sync::atomic::Ordering::Relaxed))?;
        written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok::<(), ExportError>(())
    });
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    progress("writing", written.into_inner(), total);
    for place in &superseding {
        supersede_older(&options.out, place)
            .map_err(|source| ExportError::Write { path: options.out.join(place.relative()), source })?;
    }
    report.records += message_files;
    report.files += message_files;
    progress("writing", total, total);
    delivered.sort_unstable();
    delivered.dedup();
    Ok(delivered)
}

/// A version delivered before (what a later version corrects), read back from the store.
fn delivered_version(
    store: &Store,
    subject: &str,
    id: i64,
    version: u32,
) -> Result<HandoffItem, ExportError> {
    let json = store.handoff_content(id)?.unwrap_or_default();
    serde_json::from_str(&json)
        .map_err(|e| ExportError::Message(format!("{subject} (version {version}) cannot be read back: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn write_fhir(
    store: &Store,
    options: &ExportOptions,
    settings: &crate::store::Settings,
    site: &Site<'_>,
    records: &[HandoffRecord],
    current: &HashMap<&str, &HandoffItem>,
    report: &mut ExportReport,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<i64>, ExportError> {
    let ctx = FhirContext {
        hospital_code: settings.institution_code().map_err(ExportError::Refused)?,
        base: settings.fhir_base().map_err(ExportError::Refused)?,
        hospital_name: &settings.hospital_name,
        forms: site.forms,
    };
    // A bundle per patient holds everything of theirs: conditional creates make it safe to
    // send again, so a new page means the patient's whole bundle, not a fragment.
    let mut by_patient: BTreeMap<String, Vec<(i64, HandoffItem)>> = BTreeMap::new();
    for r in records {
        let item = item_of(current, r)?.clone();
        by_patient.entry(item.patient.id.clone()).or_default().push((r.id, item));
    }
    let wanted = |items: &[(i64, HandoffItem)]| {
        options.all
            || records
                .iter()
                .any(|r| items.iter().any(|(id, _)| *id == r.id) && !r.delivered.iter().any(|d| d == "fhir"))
    };
    // What the server was sent before of each page a correction changed since: what that
    // version made and the new one does not is withdrawn (`fhir::bundle_correcting`).
    let sent_before = store.delivered_versions("fhir")?;
    let mut delivered = Vec::new();
    let total = by_patient.len();
    for (n, (patient, items)) in by_patient.iter().enumerate() {
        if n % 50 == 0 {
            progress("writing", n, total);
        }
        if !wanted(items) {
            continue;
        }
        // The bundle's patient is the survivor: not a downtime ID merged into another.
        let merged: HashSet<&str> = items
            .iter()
            .filter_map(|(_, i)| match &i.content {
                Content::Merge { merged_id, .. } => Some(merged_id.as_str()),
                _ => None,
            })
            .collect();
        let survivor =
            |i: &HandoffItem| !i.patient.downtime_id.as_deref().is_some_and(|d| merged.contains(d));
        let Some((_, first)) = items
            .iter()
            .find(|(_, i)| matches!(i.content, Content::Registration { .. }) && survivor(i))
            .or_else(|| items.iter().find(|(_, i)| survivor(i)))
            .or(items.first())
        else {
            continue;
        };
        let refs: Vec<&HandoffItem> = items.iter().map(|(_, i)| i).collect();
        let mut earlier = Vec::new();
        for (id, item) in items {
            if let Some((old_id, old_version)) = sent_before.get(&item.subject).filter(|(old, _)| old != id) {
                let old = delivered_version(store, &item.subject, *old_id, *old_version)?;
                earlier.push(HandoffItem { patient: item.patient.clone(), ..old });
            }
        }
        let earlier: Vec<&HandoffItem> = earlier.iter().collect();
        let bundle = fhir::bundle_correcting(&first.patient, &refs, &earlier, &ctx)
            .map_err(|e| ExportError::Message(format!("patient {patient}: {e}")))?;
        report.records += bundle["entry"].as_array().map_or(0, Vec::len);
        let text = serde_json::to_vec_pretty(&bundle).map_err(|e| ExportError::Message(e.to_string()))?;
        write_file(&options.out.join(format!("{patient}.json")), &text)?;
        report.files += 1;
        delivered.extend(items.iter().map(|(id, _)| *id));
    }
    progress("writing", total, total);
    Ok(delivered)
}

/// The current charges of every billable patient in scope as ORCA's visits, or a refusal naming
/// each line ORCA could not take (a code the charges master lacks, a department or doctor
/// without the code ORCA needs).
fn orca_visits(
    store: &Store,
    records: &[HandoffRecord],
    current: &HashMap<&str, &HandoffItem>,
    masters: &Lookups,
) -> Result<(Vec<orca::Visit>, HashMap<String, i64>), ExportError> {
    let ctx = ClaimContext { departments: &masters.departments, staff: &masters.staff };
    let mut all = Vec::new();
    let mut record_of: HashMap<String, i64> = HashMap::new();
    for r in records.iter().filter(|r| r.kind == "keyed") {
        let item = item_of(current, r)?;
        if claims::billable(item) {
            let Content::Keyed(k) = &item.content else { continue };
            record_of.insert(format!("{}@{}", k.item, r.version), r.id);
            all.extend(claims::claims(item, r.version, Action::Add, &ctx));
        }
    }
    let known: HashSet<String> =
        store.master_items(MasterKind::Charges.code())?.into_iter().map(|i| i.code).collect();
    let mut problems: Vec<String> = all
        .iter()
        .filter(|c| !known.contains(&c.code))
        .map(|c| format!("{} line {}: code '{}' is not in the charges master", c.slip, c.line_no, c.code))
        .collect();
    let visits = match orca::visits(&all) {
        Ok(v) => v,
        Err(more) => {
            problems.extend(more);
            Vec::new()
        }
    };
    if !problems.is_empty() {
        let shown: Vec<&str> = problems.iter().take(20).map(String::as_str).collect();
        return Err(ExportError::Refused(format!(
            "{} charge line(s) cannot go to ORCA; nothing was written or sent:\n  {}{}\nCorrect the slips' keying, or import the masters that code them (`kamikarte masters import --master charges|departments|doctors FILE`)",
            problems.len(),
            shown.join("\n  "),
            if problems.len() > shown.len() {
                format!("\n  … and {} more", problems.len() - shown.len())
            } else {
                String::new()
            }
        )));
    }
    Ok((visits, record_of))
}

/// The items a visit is made of (by the records that hold their versions).
fn records_of(visit: &orca::Visit, record_of: &HashMap<String, i64>) -> Vec<i64> {
    visit.slips.iter().filter_map(|s| record_of.get(s).copied()).collect()
}

fn write_orca(
    store: &Store,
    options: &ExportOptions,
    records: &[HandoffRecord],
    current: &HashMap<&str, &HandoffItem>,
    masters: &Lookups,
    report: &mut ExportReport,
) -> Result<Vec<i64>, ExportError> {
    let (visits, record_of) = orca_visits(store, records, current, masters)?;
    let sent = store.orca_visits()?;
    let mut delivered = Vec::new();
    for visit in &visits {
        // A visit ORCA holds is written with its Medical_Uid: what a replacement (class 03) sends.
        let uid = sent.get(&visit.key()).filter(|v| v.state != "deleted").map(|v| v.medical_uid.as_str());
        write_file(&options.out.join(visit.file_name()), orca::request(visit, uid).as_bytes())?;
        report.files += 1;
        report.records += visit.lines();
        delivered.extend(records_of(visit, &record_of));
    }
    Ok(delivered)
}

/// Where ORCA listens and who sends.
pub struct OrcaTarget<'a> {
    /// `http://host:8000` (the API paths are added).
    pub url: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub timeout: std::time::Duration,
}

/// What `send orca` did, visit by visit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OrcaReport {
    pub registered: usize,
    pub replaced: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// Visits ORCA refused: (visit, Api_Result, message). They are sent again next time.
    pub refused: Vec<(String, String, String)>,
    /// Warnings on accepted visits: (visit, code, message); M01 means ORCA dropped a line.
    pub warnings: Vec<(String, String, String)>,
    /// Patients whose charges wait for a record number.
    pub waiting: Vec<Waiting>,
}

/// Sends every visit ORCA does not hold as it is now: a new visit is registered (class 01), a
/// changed one replaced (03) and one with no charges left deleted (02), each under the
/// Medical_Uid ORCA gave. What ORCA accepts is recorded at once, visit by visit, so a run cut
/// short is simply run again. A visit ORCA refuses is reported and tried again next time.
pub fn send_orca(
    store: &mut Store,
    session: &Session,
    site: &Site<'_>,
    target: &OrcaTarget<'_>,
    episode: Option<i64>,
    include_unmapped: bool,
) -> Result<OrcaReport, ExportError> {
    let actor = &session.actor();
    let (gathered, masters, episode, _) = gather_and_stage(store, session, site, episode, include_unmapped)?;
    let in_scope: HashSet<&str> = gathered.items.iter().map(|i| i.subject.as_str()).collect();
    let records: Vec<HandoffRecord> =
        store.handoff_records()?.into_iter().filter(|r| in_scope.contains(r.subject.as_str())).collect();
    let current: HashMap<&str, &HandoffItem> =
        gathered.items.iter().map(|i| (i.subject.as_str(), i)).collect();
    let (visits, record_of) = orca_visits(store, &records, &current, &masters)?;
    let sent = store.orca_visits()?;
    let mut report = OrcaReport { waiting: gathered.waiting.clone(), ..Default::default() };
    let mut delivered = Vec::new();
    let mut post =
        |store: &mut Store, key: &str, class: &str, body: String, sha: &str, state: &str| match orca::post(
            target, class, &body,
        ) {
            Ok(answer) if answer.ok() => {
                for (code, message) in &answer.warnings {
                    report.warnings.push((key.to_string(), code.clone(), message.clone()));
                }
                store.record_orca(
                    actor,
                    &crate::store::OrcaAccepted {
                        visit: key,
                        content_sha: sha,
                        medical_uid: &answer.medical_uid,
                        state,
                        api_result: &answer.api_result,
                        message: &answer.api_result_message,
                    },
                )?;
                Ok(true)
            }
            Ok(answer) => {
                report.refused.push((key.to_string(), answer.api_result, answer.api_result_message));
                Ok(false)
            }
            Err(e) => Err(ExportError::Message(format!("ORCA at {}: {e}", target.url))),
        };
    let now: HashSet<String> = visits.iter().map(orca::Visit::key).collect();
    for visit in &visits {
        let key = visit.key();
        let sha = visit.content_sha();
        let held = sent.get(&key).filter(|v| v.state != "deleted");
        let done = match held {
            Some(v) if v.content_sha == sha => {
                report.unchanged += 1;
                true
            }
            Some(v) => {
                let ok =
                    post(store, &key, "03", orca::request(visit, Some(&v.medical_uid)), &sha, "replaced")?;
                report.replaced += usize::from(ok);
                ok
            }
            None => {
                let ok = post(store, &key, "01", orca::request(visit, None), &sha, "registered")?;
                report.registered += usize::from(ok);
                ok
            }
        };
        if done {
            delivered.extend(records_of(visit, &record_of));
        }
    }
    // A visit ORCA holds whose charges were all taken back by corrections is deleted there.
    for v in sent.values().filter(|v| v.state != "deleted" && !now.contains(&v.visit)) {
        let Some(empty) = orca::Visit::from_key(&v.visit) else { continue };
        let ok = post(store, &v.visit, "02", orca::request(&empty, Some(&v.medical_uid)), "", "deleted")?;
        report.deleted += usize::from(ok);
    }
    let run_id = store.start_handoff_run(actor, "orca", target.url, episode.as_ref().map(|e| e.id))?;
    let counts = serde_json::to_value(&report).unwrap_or_default();
    store.finish_orca_send(actor, run_id, &delivered, &counts)?;
    Ok(report)
}

fn write_csv(
    store: &Store,
    options: &ExportOptions,
    records: &[HandoffRecord],
    current: &HashMap<&str, &HandoffItem>,
    masters: &Lookups,
    report: &mut ExportReport,
) -> Result<Vec<i64>, ExportError> {
    // A billing system imports a file once: each run writes only the slips it has not had (a
    // corrected slip comes again with its next version, after the cancellation of what billing
    // had). A patient 医事 has not registered (a downtime ID without a record number) is never
    // billed: their slips wait, undelivered, until they are mapped.
    let billed = store.delivered_versions("csv")?;
    let ctx = ClaimContext { departments: &masters.departments, staff: &masters.staff };
    let mut cancels = Vec::new();
    let mut adds = Vec::new();
    let mut held = Vec::new();
    let mut delivered = Vec::new();
    let fresh = |r: &&HandoffRecord| options.all || !r.delivered.iter().any(|d| d == "csv");
    for r in records.iter().filter(|r| r.kind == "keyed").filter(fresh) {
        let item = item_of(current, r)?;
        if !claims::billable(item) {
            continue;
        }
        delivered.push(r.id);
        if let Some((old_id, old_version)) = billed.get(&r.subject).filter(|(id, _)| *id != r.id) {
            let old = delivered_version(store, &r.subject, *old_id, *old_version)?;
            // Cancelled under the patient as billed now (the same record number).
            let old = HandoffItem { patient: item.patient.clone(), ..old };
            cancels.extend(claims::claims(&old, *old_version, Action::Cancel, &ctx));
            held.push(format!("-{}@{old_version}", r.subject));
        }
        adds.extend(claims::claims(item, r.version, Action::Add, &ctx));
        held.push(format!("{}@{}", r.subject, r.version));
    }
    cancels.extend(adds);
    let mapping = options.mapping.clone().unwrap_or_else(ColumnMapping::layout);
    let (bytes, rows) = billing_csv::write(&cancels, &mapping).map_err(ExportError::Refused)?;
    // Named by what it holds: a run killed before it was recorded writes the same file again
    // when it is run again, never a second file billing would import too.
    held.sort();
    let name = &crate::digest::sha256_hex(held.join("\n").as_bytes())[..12];
    if rows > 0 {
        write_file(&options.out.join(format!("charges-{name}.csv")), &bytes)?;
        report.files = 1;
    }
    report.records = rows;
    Ok(delivered)
}
