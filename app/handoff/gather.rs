//! What is ready to hand off, read from the store: downtime registrations, their mappings to the
//! EHR's record numbers, merges of downtime IDs, the keyed pages whose keying counts, and the
//! scanned pages filed to a patient — each with the patient as the EHR must see them (merges and
//! mappings applied). The scope is the worklist's, so the hand-off report adds up to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::content::{ChargeOut, Content, HandoffItem, Keyed, Page, PatientFacts};
use crate::domain::{MasterKind, PatientId};
use crate::entry::keying::MasterSet;
use crate::entry::worklist::{Stage, WorkItem, worklist};
use crate::form::{FieldType, FormDefinition};
use crate::store::{
    DowntimePatient, EntryRecord, EntryState, EpisodeRecord, ItemKey, PatientRecord, Result, Store,
};

/// What to take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Only this episode's paper and registrations (all when `None`).
    pub episode: Option<&'a EpisodeRecord>,
}

/// What `gather` found, with what it held back and why.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// In sending order: registrations, mappings and merges first (the EHR must know the
    /// patient before anything is filed to them), then pages by the paper's time.
    pub items: Vec<HandoffItem>,
    /// The worklist it was read with (for the report).
    pub worklist: Vec<WorkItem>,
    /// Worklist items not handed off yet, with the reason (not keyed, not verified, …).
    pub held: Vec<(String, String)>,
}

/// How identifiers resolve: merges first (a merged downtime ID's paper belongs to the one it
/// was merged into), then the survivor's mapping to the EHR's record number.
struct Identities {
    merged_into: HashMap<String, String>,
    mrn: HashMap<String, String>,
    downtime: HashSet<String>,
}

impl Identities {
    fn survivor(&self, id: &str) -> String {
        let mut current = id.to_string();
        // Merges form chains at most as long as the table; the bound stops a cycle the store's
        // checks should already prevent.
        for _ in 0..=self.merged_into.len() {
            match self.merged_into.get(&current) {
                Some(next) => current = next.clone(),
                None => break,
            }
        }
        current
    }

    fn facts(&self, record: &PatientRecord, outpatient: bool) -> PatientFacts {
        let recorded = record.patient.id.as_str().to_string();
        let survivor = self.survivor(&recorded);
        let mrn = self.mrn.get(&survivor).cloned();
        let downtime = self.downtime.contains(&recorded);
        let p = &record.patient;
        PatientFacts {
            id: mrn.clone().unwrap_or_else(|| survivor.clone()),
            downtime_id: downtime.then(|| recorded.clone()),
            mrn,
            name: p.name.as_str().to_string(),
            kana: p.kana.as_str().to_string(),
            dob: p.dob.iso(),
            sex: p.sex.code().to_string(),
            ward: p.location.ward.clone(),
            room: p.location.room.clone(),
            bed: p.location.bed.clone(),
            department: p.department.clone(),
            outpatient,
        }
    }
}

/// The people the items are about, read once: who is who (merges, mappings), who came as an
/// outpatient, and the patients' records as asked for.
struct People<'s> {
    store: &'s Store,
    identities: Identities,
    outpatient: HashMap<String, bool>,
    records: HashMap<String, Option<PatientRecord>>,
}

impl People<'_> {
    fn record(&mut self, id: &str) -> Result<Option<PatientRecord>> {
        if let Some(p) = self.records.get(id) {
            return Ok(p.clone());
        }
        let found = match PatientId::parse(id) {
            Ok(pid) => self.store.patient(&pid)?,
            Err(_) => None,
        };
        self.records.insert(id.to_string(), found.clone());
        Ok(found)
    }

    fn facts(&self, record: &PatientRecord) -> PatientFacts {
        let out = self.outpatient.get(record.patient.id.as_str()).copied().unwrap_or(false);
        self.identities.facts(record, out)
    }
}

/// Everything ready to hand off within `scope`. `page_root` is where scanned images are kept.
pub fn gather(
    store: &Store,
    forms: &[FormDefinition],
    page_root: &Path,
    scope: Scope<'_>,
) -> Result<Gathered> {
    let downtime = store.downtime_patients()?;
    let identities = Identities {
        merged_into: store.merges()?.into_iter().map(|m| (m.merged_id, m.into_id)).collect(),
        mrn: downtime
            .iter()
            .filter_map(|d| d.link.as_ref().map(|l| (l.downtime_id.clone(), l.mrn.clone())))
            .collect(),
        downtime: downtime.iter().map(|d| d.record.patient.id.as_str().to_string()).collect(),
    };
    let mut people = People { store, identities, outpatient: HashMap::new(), records: HashMap::new() };
    // Paper: the worklist says which items are in scope and how far each has got.
    let list = worklist(store, forms, scope.episode)?;
    let mut items = identity_items(&mut people, &downtime, &list, scope)?;
    let (keyed, held, pages) = keyed_items(&mut people, forms, &list)?;
    items.extend(keyed);
    items.extend(page_items(&mut people, &pages, page_root)?);
    Ok(Gathered { items, worklist: list, held })
}

/// Registrations, merges and mappings of downtime IDs, each in the order they were made: the
/// EHR must know the patient before anything is filed to them.
fn identity_items(
    people: &mut People<'_>,
    downtime: &[DowntimePatient],
    list: &[WorkItem],
    scope: Scope<'_>,
) -> Result<Vec<HandoffItem>> {
    let store = people.store;
    // A patient named by paper in scope is registered (and mapped) first, whichever episode
    // registered them: orders must never reach the EHR before their patient.
    let mut named: HashSet<String> = list.iter().filter_map(|w| w.patient.clone()).collect();
    for id in named.clone() {
        named.insert(people.identities.survivor(&id));
    }
    let mut items = Vec::new();
    let mut registered = Vec::new();
    for d in downtime {
        let Some(reg) = store.registration(&d.record.patient.id)? else { continue };
        let id = reg.patient_id.as_str();
        if scope.episode.is_some_and(|e| e.id != reg.episode_id) && !named.contains(id) {
            continue;
        }
        people.outpatient.insert(d.record.patient.id.as_str().to_string(), reg.flags.outpatient);
        registered.push((reg, d));
    }
    registered.sort_by(|a, b| a.0.created_at.cmp(&b.0.created_at));
    let in_scope: HashSet<String> =
        registered.iter().map(|(r, _)| r.patient_id.as_str().to_string()).collect();
    for (reg, d) in &registered {
        let id = reg.patient_id.as_str().to_string();
        items.push(HandoffItem {
            subject: format!("registration:{id}"),
            patient: people.facts(&d.record),
            recorded_patient: id,
            content: Content::Registration {
                registered_at: reg.created_at.clone(),
                registered_by: reg.created_by.clone(),
                identity_unknown: reg.flags.identity_unknown,
                dob_estimated: reg.flags.dob_estimated,
            },
        });
    }
    // Merges before mappings: the merged ID's paper joins the survivor, whose mapping then
    // carries both to the record number.
    let mut merges = store.merges()?;
    merges.sort_by(|a, b| a.merged_at.cmp(&b.merged_at));
    for m in merges.iter().filter(|m| in_scope.contains(&m.merged_id)) {
        let Some(record) = downtime.iter().find(|d| d.record.patient.id.as_str() == m.merged_id) else {
            continue;
        };
        items.push(HandoffItem {
            subject: format!("merge:{}", m.merged_id),
            patient: people.facts(&record.record),
            recorded_patient: m.merged_id.clone(),
            content: Content::Merge {
                merged_id: m.merged_id.clone(),
                into_id: m.into_id.clone(),
                reason: m.reason.clone(),
                merged_at: m.merged_at.clone(),
            },
        });
    }
    let mut links: Vec<_> = downtime.iter().filter_map(|d| d.link.as_ref().map(|l| (l, d))).collect();
    links.sort_by(|a, b| a.0.linked_at.cmp(&b.0.linked_at));
    for (link, d) in links.into_iter().filter(|(l, _)| in_scope.contains(&l.downtime_id)) {
        items.push(HandoffItem {
            subject: format!("link:{}", link.downtime_id),
            patient: people.facts(&d.record),
            recorded_patient: link.downtime_id.clone(),
            content: Content::Link {
                downtime_id: link.downtime_id.clone(),
                mrn: link.mrn.clone(),
                override_reason: link.override_reason.clone(),
                linked_at: link.linked_at.clone(),
            },
        });
    }
    Ok(items)
}

/// The keyed pages whose keying counts (verified), by the paper's time; the worklist items held
/// back with their reasons; and the scanned pages of the worklist (item text by page).
#[allow(clippy::type_complexity)]
fn keyed_items(
    people: &mut People<'_>,
    forms: &[FormDefinition],
    list: &[WorkItem],
) -> Result<(Vec<HandoffItem>, Vec<(String, String)>, Vec<(i64, String)>)> {
    let store = people.store;
    let mut entries: HashMap<i64, EntryRecord> =
        store.live_entries_all()?.into_iter().map(|e| (e.id, e)).collect();
    let masters = MasterSet::load(store)?;
    let mut all_lines = store.live_charge_lines()?;
    let mut all_records = store.live_records()?;
    let mut held = Vec::new();
    let mut keyed = Vec::new();
    let mut pages = Vec::new();
    for work in list {
        let item_text = work.item.describe();
        if let Some(page_id) = work.scanned_page {
            pages.push((page_id, item_text.clone()));
        }
        // Each keying belongs to one item: taken, not copied.
        let Some(entry) = work.entry_id.and_then(|id| entries.remove(&id)) else {
            held.push((item_text, format!("not keyed yet ({})", work.stage.code())));
            continue;
        };
        // Verification is the gate: what nobody has checked does not reach the EHR.
        if entry.state != EntryState::Verified || work.stage < Stage::Entered {
            held.push((item_text, work.note.clone().unwrap_or_else(|| "not verified".to_string())));
            continue;
        }
        let Some(form) = forms.iter().find(|f| f.id == entry.form_id) else {
            held.push((item_text, format!("form {} is not installed", entry.form_id)));
            continue;
        };
        let Some(record) = people.record(&entry.patient_id)? else {
            held.push((item_text, format!("patient {} is not in the database", entry.patient_id)));
            continue;
        };
        let lines = all_lines
            .remove(&entry.id)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (line, name))| {
                let master = masters.get(MasterKind::Charges.code()).and_then(|m| m.get(&line.code));
                ChargeOut {
                    line_no: i as u32 + 1,
                    name: name.or_else(|| master.map(|m| m.name.clone())),
                    points: master.and_then(|m| m.points),
                    unit: master.and_then(|m| m.unit.clone()),
                    line,
                }
            })
            .collect();
        let code_names = code_names(form, &entry.values, &masters);
        keyed.push(HandoffItem {
            subject: format!("keyed:{}", subject_key(&work.item)),
            patient: people.facts(&record),
            recorded_patient: entry.patient_id,
            content: Content::Keyed(Keyed {
                entry_id: entry.id,
                form_id: entry.form_id,
                form_code: entry.form_code,
                item: item_text,
                scanned_page: entry.scanned_page,
                values: entry.values,
                event_at: entry.event_at,
                records: all_records.remove(&entry.id).unwrap_or_default(),
                lines,
                code_names,
                entered_at: entry.entered_at,
                entered_by: entry.entered_by,
                verified_at: entry.verified_at,
                verified_by: entry.verified_by,
            }),
        });
    }
    // The paper's own time orders the pages; a page without one goes by when it was keyed.
    keyed.sort_by_key(paper_time);
    Ok((keyed, held, pages))
}

/// The scanned images of the worklist's pages that are filed to a patient.
fn page_items(
    people: &mut People<'_>,
    pages: &[(i64, String)],
    page_root: &Path,
) -> Result<Vec<HandoffItem>> {
    let filed: HashMap<i64, _> = people
        .store
        .scanned_pages(Some(crate::store::PageState::Filed))?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut items = Vec::new();
    for (page_id, item_text) in pages {
        let Some(page) = filed.get(page_id) else { continue };
        let Some(pid) = page.patient_id.as_deref() else { continue };
        let Some(record) = people.record(pid)? else { continue };
        let sha = Path::new(&page.image_file)
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .unwrap_or_default();
        items.push(HandoffItem {
            subject: format!("page:{}", page.id),
            patient: people.facts(&record),
            recorded_patient: pid.to_string(),
            content: Content::Page(Page {
                page_id: page.id,
                form_code: page.form_code.clone(),
                item: item_text.clone(),
                image_sha256: sha,
                image_path: page_root.join(&page.image_file).to_string_lossy().into_owned(),
                image_format: page.image_format.clone(),
                width: page.width,
                height: page.height,
                imported_at: page.imported_at.clone(),
            }),
        });
    }
    Ok(items)
}

fn subject_key(item: &ItemKey) -> String {
    match item {
        ItemKey::Serial(s) => s.to_string(),
        ItemKey::Page(id) => format!("page-{id}"),
    }
}

fn paper_time(item: &HandoffItem) -> (String, String) {
    match &item.content {
        Content::Keyed(k) => {
            (k.event_at.clone().unwrap_or_else(|| k.entered_at.clone()), item.subject.clone())
        }
        _ => (String::new(), item.subject.clone()),
    }
}

/// The master's name of every code keyed on the page.
fn code_names(
    form: &FormDefinition,
    values: &BTreeMap<String, serde_json::Value>,
    masters: &MasterSet,
) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for field in &form.fields {
        let (master, codes): (Option<&str>, Vec<&str>) = match (&field.kind, values.get(&field.key)) {
            (FieldType::Code { master }, Some(serde_json::Value::String(code))) => {
                (Some(master.as_str()), vec![code.as_str()])
            }
            (FieldType::Ticks { .. }, Some(serde_json::Value::Array(codes))) => {
                (None, codes.iter().filter_map(|c| c.as_str()).collect())
            }
            _ => continue,
        };
        for code in codes {
            let from_master = match master {
                Some(m) => masters.get(m).and_then(|m| m.get(code)).map(|i| i.name.clone()),
                // A tick box names no master: its code is in one of them, or only on the form.
                None => MasterKind::ALL
                    .iter()
                    .find_map(|k| masters.get(k.code()).and_then(|m| m.get(code)).map(|i| i.name.clone())),
            };
            let label = || match &field.kind {
                FieldType::Ticks { options, .. } => {
                    options.iter().find(|o| o.code == code).map(|o| o.label.clone())
                }
                _ => None,
            };
            if let Some(name) = from_master.or_else(label) {
                names.insert(code.to_string(), name);
            }
        }
    }
    names
}
