//! The downtime kit: for the chosen wards (or patients) and forms, one PDF per ward per form
//! family — wristbands, labels, charts, slips, each for its own printer — plus blank forms for
//! patients not yet registered. Every page is recorded in the registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use chrono::Local;
use printpdf::{Mm, PdfDocument, PdfPage, PdfSaveOptions};

use super::canvas::{Canvas, Mark, PdfFont, to_pdf_ops};
use super::layout::{PrintContext, Subject, render};
use crate::auth::Session;
use crate::domain::Permission;
use crate::domain::{PageCode, Patient, PatientId, Serial, check_typed_id};
use crate::form::{self, Family, FormDefinition, FormKind};
use crate::store::{Actor, PrintedPage, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct KitRequest {
    pub out_dir: PathBuf,
    /// Wards to print; empty with no patients means every ward.
    pub wards: Vec<String>,
    /// Single patients (by ID) instead of whole wards.
    pub patients: Vec<String>,
    /// Form ids (`progress_note`, …); empty means every form.
    pub forms: Vec<String>,
    /// Blank copies of each form for patients who arrive during the outage.
    pub blanks: u32,
    /// A hospital's own form definitions, overlaying the shipped ones.
    pub forms_dir: Option<PathBuf>,
    /// Print only the blank forms (no ward, no patient).
    pub blanks_only: bool,
    /// Pre-printed packets: this many downtime IDs reserved from the station's block, each
    /// printed on a wristband, a label sheet and the blank forms (no ward, no patient).
    pub packets: u32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KitFile {
    pub path: PathBuf,
    pub ward: String,
    pub family: Family,
    pub pages: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KitReport {
    pub files: Vec<KitFile>,
    pub pages: usize,
    pub patients: usize,
    /// The downtime IDs reserved for the packets printed.
    #[serde(serialize_with = "ids")]
    pub packets: Vec<PatientId>,
    /// Numbers passed over while reserving packets because the census holds them: the EHR uses
    /// numbers of the block, and its team must hear of it.
    #[serde(serialize_with = "ids")]
    pub skipped: Vec<PatientId>,
    pub kit_id: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("{0}")]
    Form(#[from] form::FormError),
    #[error("unknown form '{0}' (known: {1})")]
    UnknownForm(String, String),
    #[error("no admitted patient with ID '{0}'")]
    UnknownPatient(String),
    #[error("patient ID '{0}': {1}")]
    MistypedId(String, String),
    #[error("no admitted patients in ward '{0}'")]
    EmptyWard(String),
    #[error("nothing to print: no patients and no blank forms")]
    Nothing,
    #[error("{0} blank copies of each form is too many (at most {MAX_BLANKS})")]
    TooManyBlanks(u32),
    #[error("{0} packets is too many for one kit (at most {MAX_PACKETS})")]
    TooManyPackets(u32),
    #[error("{0}")]
    Render(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Blank copies of each form one kit may print: a ward's week of paper, not a typo's billions.
pub const MAX_BLANKS: u32 = 500;

/// Pre-printed packets one kit may reserve and print: an ER's first hours, not a block's worth.
pub const MAX_PACKETS: u32 = 200;

/// The age a packet's forms are chosen for: packets are made up for adults (the ER's first
/// hour); a child gets the infant band when registered.
const PACKET_AGE: u32 = 30;

/// One page to print: a form, for a patient, a packet or blank.
type PageJob<'a> = (&'a FormDefinition, Subject<'a>);

/// One PDF to write: its file name, ward and pages.
struct Batch<'a> {
    name: String,
    ward: String,
    family: Family,
    pages: Vec<PageJob<'a>>,
}

/// The "ward" of packet pages: their files are `packets-<family>.pdf`.
const PACKETS: &str = "packets";

fn ids<S: serde::Serializer>(ids: &[PatientId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(PatientId::as_str))
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

pub fn generate_kit(
    store: &mut Store,
    session: &Session,
    request: &KitRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<KitReport, KitError> {
    session.require(Permission::PrintKit)?;
    let report = print_kit(store, &session.actor(), request, progress)?;
    let query = format!(
        "kit → {} (wards: {}; patients: {}{})",
        request.out_dir.display(),
        if request.wards.is_empty() { "-".to_string() } else { request.wards.join(",") },
        if request.patients.is_empty() { "-".to_string() } else { request.patients.join(",") },
        if request.packets > 0 { format!("; packets: {}", request.packets) } else { String::new() }
    );
    store.record_list_view(&session.actor(), &query, report.patients)?;
    Ok(report)
}

/// `generate_kit` for a workflow that has checked its own permission (a registration prints the
/// new patient's wristband).
pub(crate) fn print_kit(
    store: &mut Store,
    actor: &Actor,
    request: &KitRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<KitReport, KitError> {
    if request.blanks > MAX_BLANKS {
        return Err(KitError::TooManyBlanks(request.blanks));
    }
    if request.packets > MAX_PACKETS {
        return Err(KitError::TooManyPackets(request.packets));
    }
    let all_forms = form::load(request.forms_dir.as_deref())?;
    let forms: Vec<FormDefinition> = if request.forms.is_empty() {
        all_forms
    } else {
        let known = all_forms.iter().map(|f| f.id.as_str()).collect::<Vec<_>>().join(", ");
        request
            .forms
            .iter()
            .map(|id| {
                all_forms
                    .iter()
                    .find(|f| &f.id == id)
                    .cloned()
                    .ok_or_else(|| KitError::UnknownForm(id.clone(), known.clone()))
            })
            .collect::<Result<_, _>>()?
    };
    let patients: Vec<Patient> = if request.blanks_only || request.packets > 0 {
        Vec::new()
    } else if !request.patients.is_empty() {
        let admitted = store.patients(None, false)?;
        let blocks: Vec<_> = store.id_blocks()?.into_iter().map(|b| b.block).collect();
        request
            .patients
            .iter()
            .map(|raw| {
                let id = PatientId::parse(raw).map_err(|_| KitError::UnknownPatient(raw.clone()))?;
                check_typed_id(&id, &blocks).map_err(|e| KitError::MistypedId(raw.clone(), e.message))?;
                admitted
                    .iter()
                    .find(|r| r.patient.id == id)
                    .map(|r| r.patient.clone())
                    .ok_or(KitError::UnknownPatient(raw.clone()))
            })
            .collect::<Result<_, _>>()?
    } else if !request.wards.is_empty() {
        let mut out = Vec::new();
        for ward in &request.wards {
            let in_ward = store.patients(Some(ward), false)?;
            if in_ward.is_empty() {
                return Err(KitError::EmptyWard(ward.clone()));
            }
            out.extend(in_ward.into_iter().map(|r| r.patient));
        }
        out
    } else {
        store.patients(None, false)?.into_iter().map(|r| r.patient).collect()
    };

    // The summary sheet is printed from the SS-MIX2 snapshot, so only when there is one; the MAR
    // is pre-filled from it when there is.
    let snapshot_run = store.last_snapshot_run()?;
    let forms: Vec<FormDefinition> =
        forms.into_iter().filter(|f| f.kind != FormKind::Summary || snapshot_run.is_some()).collect();
    let today = Local::now().date_naive();
    let mut clinical = std::collections::HashMap::new();
    if snapshot_run.is_some() {
        let per_test = store.settings()?.snapshot_results_per_test as usize;
        for p in &patients {
            let view = crate::snapshot::clinical_view(store, p.id.as_str(), today, per_test)?;
            clinical.insert(p.id.as_str().to_string(), view);
        }
    }

    // Batches: per ward and family, patient by patient in bed order, forms in kit order.
    let mut by_ward: BTreeMap<(String, Family), Vec<PageJob<'_>>> = BTreeMap::new();
    for p in &patients {
        for f in forms.iter().filter(|f| f.applies_to_age(p.dob.age_on(today))) {
            by_ward.entry((p.location.ward.clone(), f.family)).or_default().push((f, Subject::Patient(p)));
        }
    }
    // Packets: IDs drawn now, so a refused reservation (the block is used up) prints nothing.
    // The summary sheet needs a known patient; the rest of the kit's forms go in each packet.
    let packet_forms =
        forms.iter().filter(|f| f.kind != FormKind::Summary && f.applies_to_age(PACKET_AGE)).count();
    if request.packets > 0 && packet_forms == 0 {
        return Err(KitError::Nothing);
    }
    let (packet_ids, skipped) = if request.packets > 0 {
        let station = store.settings()?.station()?.to_string();
        store.reserve_packet_ids(actor, &station, request.packets as usize)?
    } else {
        (Vec::new(), Vec::new())
    };
    for id in &packet_ids {
        for f in forms.iter().filter(|f| f.kind != FormKind::Summary && f.applies_to_age(PACKET_AGE)) {
            by_ward.entry((PACKETS.to_string(), f.family)).or_default().push((f, Subject::Packet(id)));
        }
    }
    let mut batches: Vec<Batch<'_>> = by_ward
        .into_iter()
        .map(|((ward, family), pages)| Batch {
            name: format!("{}-{}.pdf", file_safe(&ward), family.name()),
            ward,
            family,
            pages,
        })
        .collect();
    for family in Family::ALL {
        let pages: Vec<_> = forms
            .iter()
            .filter(|f| f.family == family)
            .flat_map(|f| std::iter::repeat_n((f, Subject::Blank), request.blanks as usize))
            .collect();
        if !pages.is_empty() {
            batches.push(Batch {
                name: format!("blank-{}.pdf", family.name()),
                ward: "blank".into(),
                family,
                pages,
            });
        }
    }
    let total: usize = batches.iter().map(|b| b.pages.len()).sum();
    if total == 0 {
        return Err(KitError::Nothing);
    }

    let settings = store.settings()?;
    let station = settings.station()?.to_string();
    let first = store.reserve_serials(&station, total as u64)?;
    let ctx = PrintContext {
        hospital: settings.hospital_name.clone(),
        printed_at: Local::now(),
        today: Local::now().date_naive(),
        snapshot: snapshot_run.as_ref().and_then(|run| crate::domain::snapshot::age_label(&run.started_at)),
        clinical,
    };
    std::fs::create_dir_all(&request.out_dir)
        .map_err(|source| KitError::Write { path: request.out_dir.clone(), source })?;

    // Each batch gets its serials up front, so pages are numbered in kit order whichever
    // thread renders them; batches are rendered in parallel (one PDF per thread at a time).
    let mut firsts = Vec::with_capacity(batches.len());
    let mut next = first;
    for b in &batches {
        firsts.push(next);
        next += b.pages.len() as u64;
    }
    let workers = crate::parallel::threads_for(batches.len());
    let claimed = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let job = RenderJob { station: &station, ctx: &ctx, out_dir: &request.out_dir };
    let mut results: Vec<Option<Result<Rendered, KitError>>> = (0..batches.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (claimed, batches, firsts, job) = (&claimed, &batches, &firsts, &job);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = claimed.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else { break };
                        let result = job.render_batch(batch, firsts[i], &tx);
                        let failed = result.is_err();
                        mine.push((i, result));
                        if failed {
                            // Stop handing out work; the others finish what they hold.
                            claimed.store(batches.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                    mine
                })
            })
            .collect();
        drop(tx);
        let mut done = 0;
        for pages in rx {
            done += pages;
            progress(done, total);
        }
        for h in handles {
            for (i, r) in h.join().expect("a kit render thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    let mut registry = Vec::with_capacity(total);
    let mut written = Vec::new();
    let mut failure = None;
    for (batch, result) in batches.iter().zip(results) {
        match result {
            Some(Ok(r)) => {
                registry.extend(r.pages);
                written.push((r.file, batch, r.bytes));
            }
            Some(Err(e)) => failure = failure.or(Some(e)),
            None => {}
        }
    }
    if let Some(e) = failure {
        // The rendered files are dropped unplaced: their temporaries go with them.
        return Err(e);
    }
    // The registry first, then the files into place: a page in a PDF is always in the registry.
    let kit_id = store.record_kit(actor, &request.out_dir.display().to_string(), written.len(), &registry)?;
    let mut files = Vec::new();
    for (file, batch, bytes) in written {
        let path = file.path().to_path_buf();
        file.commit().map_err(|source| KitError::Write { path: path.clone(), source })?;
        files.push(KitFile {
            path,
            ward: batch.ward.clone(),
            family: batch.family,
            pages: batch.pages.len(),
            bytes,
        });
    }
    Ok(KitReport { files, pages: total, patients: patients.len(), packets: packet_ids, skipped, kit_id })
}

/// What every render thread shares.
struct RenderJob<'a> {
    station: &'a str,
    ctx: &'a PrintContext,
    out_dir: &'a Path,
}

/// One batch rendered to a file not yet in place, with the registry rows of its pages.
struct Rendered {
    file: crate::files::Staged,
    bytes: u64,
    pages: Vec<PrintedPage>,
}

impl RenderJob<'_> {
    /// Renders one batch into one PDF, numbering its pages from `first`; reports each page on
    /// `progress`.
    fn render_batch(
        &self,
        batch: &Batch<'_>,
        first: u64,
        progress: &Sender<usize>,
    ) -> Result<Rendered, KitError> {
        let mut doc = PdfDocument::new(&format!("kamikarte {} {}", batch.ward, batch.family.name()));
        let font = PdfFont::add_to(&mut doc).map_err(KitError::Render)?;
        let mut pages = Vec::with_capacity(batch.pages.len());
        let mut registry = Vec::with_capacity(batch.pages.len());
        for (number, (form, patient)) in (first..).zip(&batch.pages) {
            let serial = Serial::new(self.station, number).map_err(|e| KitError::Render(e.message))?;
            let code = PageCode { form: form.code.clone(), patient: patient.id().cloned(), serial };
            let mut canvas = Canvas::new(&font);
            render(&mut canvas, form, *patient, &code, self.ctx).map_err(KitError::Render)?;
            pages.push(PdfPage::new(
                Mm(form.width_mm),
                Mm(form.height_mm),
                to_pdf_ops(&canvas.marks, &font, form.height_mm),
            ));
            registry.push(PrintedPage {
                station: self.station.to_string(),
                number,
                form_code: form.code.as_str().to_string(),
                form_id: form.id.clone(),
                patient_id: patient.id().map(|id| id.to_string()),
                ward: batch.ward.clone(),
                file: batch.name.clone(),
            });
            let _ = progress.send(1);
        }
        let bytes = doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new());
        let path = self.out_dir.join(&batch.name);
        let file = crate::files::stage(&path, &bytes, false)
            .map_err(|source| KitError::Write { path: path.clone(), source })?;
        Ok(Rendered { file, bytes: bytes.len() as u64, pages: registry })
    }
}

/// The marks of the page a kit would print for `form` and `patient`, for the app's preview.
/// Nothing is registered; the serial shown is `PREV-000000`.
pub fn preview_marks(
    form: &FormDefinition,
    patient: Option<&Patient>,
    hospital: &str,
) -> Result<Vec<Mark>, String> {
    let mut doc = PdfDocument::new("kamikarte preview");
    let font = PdfFont::add_to(&mut doc)?;
    let code = PageCode {
        form: form.code.clone(),
        patient: patient.map(|p| p.id.clone()),
        serial: Serial::new("PREV", 0).map_err(|e| e.message)?,
    };
    let ctx = PrintContext {
        hospital: hospital.to_string(),
        printed_at: Local::now(),
        today: Local::now().date_naive(),
        snapshot: None,
        clinical: std::collections::HashMap::new(),
    };
    let mut canvas = Canvas::new(&font);
    let subject = patient.map_or(Subject::Blank, Subject::Patient);
    render(&mut canvas, form, subject, &code, &ctx)?;
    Ok(canvas.marks)
}

/// The files a kit wrote, for a quick listing.
pub fn describe(files: &[KitFile], dir: &Path) -> String {
    files
        .iter()
        .map(|f| {
            format!(
                "{}  {} pages  {} KB",
                f.path.strip_prefix(dir).unwrap_or(&f.path).display(),
                f.pages,
                f.bytes / 1024
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
