//! The back-entry worklist: every paper page of the forms that come back, with how far it has
//! got — printed → scanned → entered → verified → exported → acknowledged — and what is left,
//! per day. Nothing is left out: a page scanned but not in the registry, or keyed from paper in
//! hand before its scan, is an item like any other.

use std::collections::{BTreeMap, HashMap};

use crate::domain::Serial;
use crate::form::FormDefinition;
use crate::store::{EntryRecord, EntryState, EpisodeRecord, ItemKey, PageState, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Printed,
    Scanned,
    Entered,
    Verified,
    /// Handed to the restored EHR: written by an export or sent.
    Exported,
    /// The EHR acknowledged it.
    Acknowledged,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Printed,
        Stage::Scanned,
        Stage::Entered,
        Stage::Verified,
        Stage::Exported,
        Stage::Acknowledged,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Printed => "印刷 printed",
            Stage::Scanned => "スキャン scanned",
            Stage::Entered => "入力 entered",
            Stage::Verified => "確認 verified",
            Stage::Exported => "送信 exported",
            Stage::Acknowledged => "受領 acknowledged",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Stage::Printed => "printed",
            Stage::Scanned => "scanned",
            Stage::Entered => "entered",
            Stage::Verified => "verified",
            Stage::Exported => "exported",
            Stage::Acknowledged => "acknowledged",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        Self::ALL.into_iter().find(|s| s.code() == text.trim())
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkItem {
    pub item: ItemKey,
    pub form_id: String,
    pub form_code: String,
    /// `None`: a blank form not yet scanned and indexed.
    pub patient: Option<String>,
    pub ward: String,
    pub printed_at: Option<String>,
    /// The filed scanned page (its image), when it is back.
    pub scanned_page: Option<i64>,
    pub stage: Stage,
    /// What holds the item inside its stage (waiting for the second keying, a mismatch).
    pub note: Option<String>,
    /// The keying that counts now, if any.
    pub entry_id: Option<i64>,
    pub entered_by: Option<String>,
    /// The paper's day: its own date once keyed, else the day it was printed.
    pub day: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorklistFilter {
    pub ward: Option<String>,
    pub patient: Option<String>,
    pub form: Option<String>,
    pub stage: Option<Stage>,
    pub user: Option<String>,
}

impl WorklistFilter {
    pub fn keeps(&self, item: &WorkItem) -> bool {
        let contains = |hay: &str, needle: &Option<String>| {
            needle
                .as_deref()
                .is_none_or(|n| n.trim().is_empty() || hay.to_uppercase().contains(&n.trim().to_uppercase()))
        };
        contains(&item.ward, &self.ward)
            && contains(item.patient.as_deref().unwrap_or(""), &self.patient)
            && self.form.as_deref().is_none_or(|f| f.is_empty() || item.form_id == f || item.form_code == f)
            && self.stage.is_none_or(|s| item.stage == s)
            && contains(item.entered_by.as_deref().unwrap_or(""), &self.user)
    }
}

/// One day's count of items at or beyond each stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayTally {
    pub day: String,
    pub items: u64,
    /// Items that reached at least each stage, in `Stage::ALL` order.
    pub reached: [u64; 6],
}

/// Every item of the forms that come back on paper, for the pages printed during `episode`
/// (all when `None`); pages with no print time (not in the registry) are always included.
pub fn worklist(
    store: &Store,
    forms: &[FormDefinition],
    episode: Option<&EpisodeRecord>,
) -> Result<Vec<WorkItem>> {
    let returnable: Vec<&FormDefinition> = forms.iter().filter(|f| f.is_returnable()).collect();
    let ids: Vec<String> = returnable.iter().map(|f| f.id.clone()).collect();
    let form_by_code: HashMap<&str, &FormDefinition> =
        returnable.iter().map(|f| (f.code.as_str(), *f)).collect();
    let mut items: BTreeMap<ItemKey, WorkItem> = BTreeMap::new();
    for p in store.printed_page_states(&ids)? {
        let serial = Serial { station: p.page.station.clone(), number: p.page.number };
        let filed = p.scanned_as.filter(|(_, s)| *s == PageState::Filed).map(|(id, _)| id);
        items.insert(
            ItemKey::Serial(serial.clone()),
            WorkItem {
                item: ItemKey::Serial(serial),
                form_id: p.page.form_id.clone(),
                form_code: p.page.form_code.clone(),
                patient: p.page.patient_id.clone(),
                ward: p.page.ward.clone(),
                printed_at: Some(p.printed_at.clone()),
                scanned_page: filed,
                stage: if filed.is_some() { Stage::Scanned } else { Stage::Printed },
                note: None,
                entry_id: None,
                entered_by: None,
                day: p.printed_at.get(..10).unwrap_or("").to_string(),
            },
        );
    }
    // Filed pages: a blank form's patient, and pages another station printed.
    for page in store.scanned_pages(Some(PageState::Filed))? {
        let Some(form) = page.form_code.as_deref().and_then(|c| form_by_code.get(c)) else { continue };
        let key = match page.serial.as_deref().map(Serial::parse) {
            Some(Ok(s)) => ItemKey::Serial(s),
            _ => ItemKey::Page(page.id),
        };
        let item = items.entry(key.clone()).or_insert_with(|| WorkItem {
            item: key,
            form_id: form.id.clone(),
            form_code: form.code.as_str().to_string(),
            patient: None,
            ward: String::new(),
            printed_at: None,
            scanned_page: None,
            stage: Stage::Scanned,
            note: None,
            entry_id: None,
            entered_by: None,
            day: page.imported_at.get(..10).unwrap_or("").to_string(),
        });
        item.scanned_page = Some(page.id);
        item.stage = item.stage.max(Stage::Scanned);
        if item.patient.is_none() {
            item.patient = page.patient_id.clone();
        }
    }
    let mut by_item: BTreeMap<ItemKey, Vec<EntryRecord>> = BTreeMap::new();
    for e in store.live_entries_all()? {
        by_item.entry(e.item.clone()).or_default().push(e);
    }
    for (key, entries) in by_item {
        let Some(current) = entries.last() else { continue };
        let item = items.entry(key.clone()).or_insert_with(|| WorkItem {
            item: key,
            form_id: current.form_id.clone(),
            form_code: current.form_code.clone(),
            patient: Some(current.patient_id.clone()),
            ward: String::new(),
            printed_at: None,
            scanned_page: current.scanned_page,
            stage: Stage::Printed,
            note: None,
            entry_id: None,
            entered_by: None,
            day: String::new(),
        });
        item.patient = Some(current.patient_id.clone());
        item.entry_id = Some(current.id);
        item.entered_by = Some(current.entered_by.clone());
        let (stage, note) = match current.state {
            EntryState::Pending => {
                (Stage::Entered, Some("2回目の入力待ち waiting for the second keying".to_string()))
            }
            EntryState::Mismatch => {
                (Stage::Entered, Some("不一致 mismatch: a third look is needed".to_string()))
            }
            EntryState::Entered => (Stage::Entered, Some("確認待ち waiting for verification".to_string())),
            EntryState::Verified | EntryState::Superseded => (Stage::Verified, None),
        };
        item.stage = stage;
        item.note = note;
        if let Some(day) = current.event_at.as_deref().and_then(|d| d.get(..10)) {
            item.day = day.to_string();
        }
    }
    // How far the hand-off got with the keying that counts now (a correction made after an
    // export is back at entered or verified until it is exported again).
    let handoffs = store.item_handoffs()?;
    for item in items.values_mut() {
        let Some(h) = handoffs.get(&item.item.describe()) else { continue };
        if item.stage < Stage::Entered || h.entry_id != item.entry_id {
            continue;
        }
        if h.acknowledged {
            item.stage = Stage::Acknowledged;
            item.note = None;
        } else if h.exported {
            item.stage = Stage::Exported;
            item.note = h
                .refused
                .then(|| "EHRが受け付けず rejected by the EHR (see the hand-off report)".to_string());
        }
    }
    let in_scope = |item: &WorkItem| match (episode, &item.printed_at) {
        (Some(e), Some(at)) => {
            at.as_str() >= e.started_at.as_str() && e.ended_at.as_deref().is_none_or(|end| at.as_str() <= end)
        }
        _ => true,
    };
    Ok(items.into_values().filter(in_scope).collect())
}

/// Per paper day: how many items, and how many reached each stage.
pub fn per_day(items: &[WorkItem]) -> Vec<DayTally> {
    let mut days: BTreeMap<String, DayTally> = BTreeMap::new();
    for item in items {
        let tally = days
            .entry(item.day.clone())
            .or_insert_with(|| DayTally { day: item.day.clone(), ..Default::default() });
        tally.items += 1;
        for (i, stage) in Stage::ALL.iter().enumerate() {
            if item.stage >= *stage {
                tally.reached[i] += 1;
            }
        }
    }
    days.into_values().collect()
}
