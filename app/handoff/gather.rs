//! What is ready to hand off, read from the store: downtime registrations, their mappings to the
//! EHR's record numbers, merges of downtime IDs, the keyed pages whose keying counts, and the
//! scanned pages filed to a patient — each with the patient as the EHR must see them (merges and
//! mappings applied). The scope is the worklist's, so the hand-off report adds up to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::content::{ChargeOut, Content, HandoffItem, Keyed, Page, PatientFacts};
use super::hl7::UsageCode;
use crate::domain::{MasterKind, PatientId, PatientMaster};
use crate::entry::keying::MasterSet;
use crate::entry::worklist::{Stage, WorkItem, worklist};
use crate::form::{FieldType, FormDefinition};
use crate::store::{
    DowntimePatient, EhrFacts, EntryRecord, EntryState, EpisodeRecord, ItemKey, PatientRecord, Result, Store,
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
    /// Patients whose paper waits because the EHR has not given them a record number (or gave
    /// one without its name and date of birth), with how many of their items wait.
    pub waiting: Vec<Waiting>,
}

/// A patient whose paper cannot go to the EHR yet, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    /// The downtime ID the paper carries.
    pub downtime_id: String,
    /// As registered during the downtime (for the clerk who must find them).
    pub name: String,
    pub mrn: Option<String>,
    /// `no record number` or `the EHR's name and date of birth …`.
    pub why: String,
    pub items: usize,
}

/// How identifiers resolve: merges first (a merged downtime ID's paper belongs to the one it
/// was merged into), then the survivor's mapping to the EHR's record number.
struct Identities {
    merged_into: HashMap<String, String>,
    /// The survivor's record number and what the EHR says of the person behind it.
    mrn: HashMap<String, (String, EhrFacts)>,
    downtime: HashSet<String>,
    /// The departments master: name (or code) → the EHR's code.
    departments: HashMap<String, String>,
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

    /// The patient as the EHR must see them. Once mapped, the identity is the EHR's (it is the
    /// patient master): the name, kana, date of birth and sex it gave for the record number,
    /// never what the downtime registration recorded (a date of birth misheard at the desk
    /// must not overwrite the EHR's). A fact the EHR did not give stays empty.
    fn facts(&self, record: &PatientRecord, outpatient: bool) -> PatientFacts {
        let survivor = self.survivor(record.patient.id.as_str());
        self.facts_under(record, outpatient, &survivor, self.mrn.get(&survivor))
    }

    /// The patient as the downtime registration recorded them (what a registration message
    /// registers when kamikarte is the patient master).
    /// Identified as the EHR now knows them (an update after a merge goes to the record number).
    fn as_registered(&self, record: &PatientRecord, outpatient: bool) -> PatientFacts {
        let ours = self.facts_under(record, outpatient, record.patient.id.as_str(), None);
        PatientFacts {
            name: ours.name,
            kana: ours.kana,
            dob: ours.dob,
            sex: ours.sex,
            ..self.facts(record, outpatient)
        }
    }

    fn facts_under(
        &self,
        record: &PatientRecord,
        outpatient: bool,
        survivor: &str,
        mapped: Option<&(String, EhrFacts)>,
    ) -> PatientFacts {
        let recorded = record.patient.id.as_str().to_string();
        let downtime = self.downtime.contains(&recorded);
        let p = &record.patient;
        let (name, kana, dob, sex) = match mapped {
            Some((_, ehr)) => (
                ehr.name.clone().unwrap_or_default(),
                ehr.kana.clone().unwrap_or_default(),
                ehr.dob.clone().unwrap_or_default(),
                ehr.sex.clone().unwrap_or_else(|| "U".to_string()),
            ),
            None => (
                p.name.as_str().to_string(),
                p.kana.as_str().to_string(),
                p.dob.iso(),
                p.sex.code().to_string(),
            ),
        };
        PatientFacts {
            id: mapped.map(|(mrn, _)| mrn.clone()).unwrap_or_else(|| survivor.to_string()),
            downtime_id: downtime.then(|| recorded.clone()),
            mrn: mapped.map(|(mrn, _)| mrn.clone()),
            name,
            kana,
            dob,
            sex,
            ward: p.location.ward.clone(),
            room: p.location.room.clone(),
            bed: p.location.bed.clone(),
            department: p.department.clone(),
            department_code: self.departments.get(p.department.trim()).cloned(),
            outpatient,
        }
    }

    /// Why paper about this patient cannot go to the EHR yet, if it cannot: a downtime ID
    /// without a record number is a temporary identifier the EHR does not know, and a record
    /// number without the EHR's name and date of birth leaves nothing true to put in PID.
    fn waits(&self, facts: &PatientFacts, master: PatientMaster) -> Option<String> {
        let downtime_id = facts.downtime_id.as_deref()?;
        match self.mrn.get(&self.survivor(downtime_id)) {
            None if master == PatientMaster::Ehr => Some("no record number from the EHR yet".to_string()),
            None => None,
            Some((mrn, ehr)) => {
                let missing = ehr.missing();
                (!missing.is_empty()).then(|| {
                    format!(
                        "mapped to {mrn} without the EHR's {} (map it again with them, or import the EHR census)",
                        missing.join(" and ")
                    )
                })
            }
        }
    }
}

/// The people the items are about, read once: who is who (merges, mappings), who came as an
/// outpatient, and the patients' records as asked for.
struct People<'s> {
    store: &'s Store,
    master: PatientMaster,
    identities: Identities,
    /// Downtime ID → (name as registered, record number, why it waits, items waiting).
    waiting: BTreeMap<String, Waiting>,
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

    /// Whether an item about `facts` must wait; a waiting one is counted against its patient.
    fn hold(&mut self, record: &PatientRecord, facts: &PatientFacts) -> Option<String> {
        let why = self.identities.waits(facts, self.master)?;
        let id = record.patient.id.as_str().to_string();
        let entry = self.waiting.entry(id.clone()).or_insert_with(|| Waiting {
            downtime_id: id,
            name: record.patient.name.as_str().to_string(),
            mrn: facts.mrn.clone(),
            why: why.clone(),
            items: 0,
        });
        entry.items += 1;
        Some(why)
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
        mrn: mapped_identities(store, &downtime)?,
        downtime: downtime.iter().map(|d| d.record.patient.id.as_str().to_string()).collect(),
        departments: department_codes(store)?,
    };
    let master = store.settings()?.patient_master;
    let mut people = People {
        store,
        master,
        identities,
        waiting: BTreeMap::new(),
        outpatient: HashMap::new(),
        records: HashMap::new(),
    };
    // Paper: the worklist says which items are in scope and how far each has got.
    let list = worklist(store, forms, scope.episode)?;
    let mut items = identity_items(&mut people, &downtime, &list, scope)?;
    // The EHR registers patients itself: it takes no registration or merge from outside.
    if master == PatientMaster::Ehr {
        items.clear();
    }
    let (keyed, held, pages) = keyed_items(&mut people, forms, &list)?;
    // A scanned page is dated by the care its keying records, else by the day it was printed.
    let mut dated: HashMap<String, Option<String>> =
        list.iter().map(|w| (w.item.describe(), w.printed_at.clone())).collect();
    for k in &keyed {
        if let Content::Keyed(keyed) = &k.content
            && keyed.event_at.is_some()
        {
            dated.insert(keyed.item.clone(), keyed.event_at.clone());
        }
    }
    items.extend(keyed);
    items.extend(page_items(&mut people, &pages, &dated, page_root)?);
    Ok(Gathered { items, worklist: list, held, waiting: people.waiting.into_values().collect() })
}

/// The usages master as a lookup: a usage's name (search-folded) → its JAMI code, if it has
/// one, and how many times a day it is.
pub fn usage_codes(store: &Store) -> Result<HashMap<String, UsageCode>> {
    let mut codes = HashMap::new();
    for item in store.master_items(MasterKind::Usages.code())? {
        let usage = UsageCode {
            jami: item.detail("jami").map(str::to_string),
            name: item.name.clone(),
            per_day: item.detail("per_day").and_then(|n| n.parse().ok()),
        };
        codes.insert(crate::domain::kana::search_key(&item.name), usage);
    }
    Ok(codes)
}

/// The departments master as a lookup: each department's name, and its code itself, to the
/// EHR's code. Empty until the master is imported (names then travel as text).
pub fn department_codes(store: &Store) -> Result<HashMap<String, String>> {
    let mut codes = HashMap::new();
    for item in store.master_items(MasterKind::Departments.code())? {
        codes.insert(item.name.trim().to_string(), item.code.clone());
        codes.insert(item.code.clone(), item.code);
    }
    Ok(codes)
}

/// Each mapped downtime ID's record number with the EHR's identity for it: what the mapping
/// recorded, completed from the EHR's census when the census has the record number.
fn mapped_identities(
    store: &Store,
    downtime: &[DowntimePatient],
) -> Result<HashMap<String, (String, EhrFacts)>> {
    let mut out = HashMap::new();
    for link in downtime.iter().filter_map(|d| d.link.as_ref()) {
        let mut ehr = link.ehr.clone();
        if (!ehr.missing().is_empty() || ehr.kana.is_none() || ehr.sex.is_none())
            && let Some(census) = store.census_facts(&link.mrn)?
        {
            ehr = ehr.or(census);
        }
        out.insert(link.downtime_id.clone(), (link.mrn.clone(), ehr));
    }
    Ok(out)
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
            patient: people.identities.as_registered(&d.record, reg.flags.outpatient),
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
        let patient = people.facts(&record);
        if let Some(why) = people.hold(&record, &patient) {
            held.push((item_text, why));
            continue;
        }
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
        let (code_names, code_facts) = code_names(form, &entry.values, &masters);
        keyed.push(HandoffItem {
            subject: format!("keyed:{}", subject_key(&work.item)),
            patient,
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
                code_facts,
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

/// The scanned images of the worklist's pages that are filed to a patient with a usable
/// identifier.
fn page_items(
    people: &mut People<'_>,
    pages: &[(i64, String)],
    dated: &HashMap<String, Option<String>>,
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
        let patient = people.facts(&record);
        // Its worklist item is held already (its keying waits for the same patient, or is not
        // done): the scan waits with it, counted once.
        if people.hold(&record, &patient).is_some() {
            continue;
        }
        let sha = Path::new(&page.image_file)
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .unwrap_or_default();
        items.push(HandoffItem {
            subject: format!("page:{}", page.id),
            patient,
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
                dated: dated.get(item_text).cloned().flatten(),
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

/// The master's name of every code keyed on the page, and what else the master says of it.
fn code_names(
    form: &FormDefinition,
    values: &BTreeMap<String, serde_json::Value>,
    masters: &MasterSet,
) -> (BTreeMap<String, String>, BTreeMap<String, BTreeMap<String, String>>) {
    let mut names = BTreeMap::new();
    let mut facts = BTreeMap::new();
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
            let item = match master {
                Some(m) => masters.get(m).and_then(|m| m.get(code)),
                // A tick box names no master: its code is in one of them, or only on the form.
                None => MasterKind::ALL.iter().find_map(|k| masters.get(k.code()).and_then(|m| m.get(code))),
            };
            if let Some(item) = item {
                let mut known = item.details.clone();
                if let Some(unit) = &item.unit {
                    known.insert("unit".to_string(), unit.clone());
                }
                if !known.is_empty() {
                    facts.insert(code.to_string(), known);
                }
            }
            let from_master = item.map(|i| i.name.clone());
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
    (names, facts)
}
