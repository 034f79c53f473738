//! The hand-off report: per episode, how far every paper item got (the worklist's own counts,
//! so the two always agree), what was prepared, written and sent, what the EHR acknowledged and
//! what it rejected, with the reason it gave.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::gather::{Scope, gather};
use crate::entry::worklist::Stage;
use crate::form::FormDefinition;
use crate::store::{HandoffRun, OutboxState, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub control_id: String,
    pub message_type: String,
    pub patient_id: String,
    pub item: Option<String>,
    pub code: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HandoffReport {
    pub episode: Option<i64>,
    /// Paper items (the worklist's) per stage, in stage order; they add up to `paper_items`.
    pub stages: Vec<(String, usize)>,
    pub paper_items: usize,
    /// Paper items not handed off yet, by reason.
    pub held: BTreeMap<String, usize>,
    /// Things prepared for the EHR (current versions), by kind: registration, link, merge,
    /// keyed, page.
    pub prepared: BTreeMap<String, usize>,
    /// Of those, how many each format wrote or sent.
    pub delivered: BTreeMap<String, BTreeMap<String, usize>>,
    /// HL7 messages of the current versions, by state.
    pub messages: BTreeMap<String, usize>,
    /// HL7 messages by type and state.
    pub by_type: BTreeMap<String, BTreeMap<String, usize>>,
    pub refused: Vec<Refusal>,
    pub runs: Vec<HandoffRun>,
}

pub fn report(
    store: &Store,
    forms: &[FormDefinition],
    page_root: &Path,
    episode: Option<i64>,
) -> Result<HandoffReport> {
    let episode_record = store.episode_named(episode)?;
    let gathered = gather(store, forms, page_root, Scope { episode: episode_record.as_ref() })?;
    let mut report = HandoffReport { episode, paper_items: gathered.worklist.len(), ..Default::default() };
    for stage in Stage::ALL {
        let n = gathered.worklist.iter().filter(|w| w.stage == stage).count();
        report.stages.push((stage.code().to_string(), n));
    }
    for (_, reason) in &gathered.held {
        *report.held.entry(reason.clone()).or_default() += 1;
    }
    // A verified page held for a reason of its own (its patient has no record number) is
    // counted under that reason only.
    let held: HashSet<&str> = gathered.held.iter().map(|(item, _)| item.as_str()).collect();
    let waiting = gathered
        .worklist
        .iter()
        .filter(|w| w.stage == Stage::Verified && !held.contains(w.item.describe().as_str()))
        .count();
    if waiting > 0 {
        report.held.insert("確認済み verified: not exported yet".to_string(), waiting);
    }
    let subjects: HashSet<&str> = gathered.items.iter().map(|i| i.subject.as_str()).collect();
    let records: Vec<_> =
        store.handoff_records()?.into_iter().filter(|r| subjects.contains(r.subject.as_str())).collect();
    let current: HashSet<i64> = records.iter().map(|r| r.id).collect();
    for r in &records {
        *report.prepared.entry(r.kind.clone()).or_default() += 1;
        for format in &r.delivered {
            *report.delivered.entry(format.clone()).or_default().entry(r.kind.clone()).or_default() += 1;
        }
    }
    for m in store.outbox(false)?.into_iter().filter(|m| current.contains(&m.handoff_item)) {
        if m.state == OutboxState::Withdrawn {
            continue;
        }
        let state = if m.state == OutboxState::Pending && m.attempts > 0 {
            "sent, no answer".to_string()
        } else {
            m.state.code().to_string()
        };
        *report.messages.entry(state.clone()).or_default() += 1;
        *report.by_type.entry(m.message_type.clone()).or_default().entry(state).or_default() += 1;
        if matches!(m.state, OutboxState::Rejected | OutboxState::Error) {
            report.refused.push(Refusal {
                control_id: m.control_id,
                message_type: m.message_type,
                patient_id: m.patient_id,
                item: m.item,
                code: m.ack_code,
                reason: m.ack_text,
            });
        }
    }
    report.runs =
        store.handoff_runs()?.into_iter().filter(|r| episode.is_none() || r.episode_id == episode).collect();
    Ok(report)
}

impl HandoffReport {
    /// For people: one screen of text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let scope = self.episode.map_or("all episodes".to_string(), |e| format!("episode {e}"));
        let _ = writeln!(out, "hand-off report ({scope})");
        let _ = writeln!(out, "  paper items: {}", self.paper_items);
        for (stage, n) in &self.stages {
            let _ = writeln!(out, "    {stage:<13} {n:>7}");
        }
        if !self.held.is_empty() {
            let _ = writeln!(out, "  not handed off yet:");
            for (reason, n) in &self.held {
                let _ = writeln!(out, "    {n:>7}  {reason}");
            }
        }
        let _ = writeln!(out, "  prepared for the EHR:");
        for (kind, n) in &self.prepared {
            let formats: Vec<String> = self
                .delivered
                .iter()
                .filter_map(|(f, kinds)| kinds.get(kind).map(|d| format!("{f} {d}")))
                .collect();
            let _ = writeln!(
                out,
                "    {kind:<13} {n:>7}   written/sent: {}",
                if formats.is_empty() { "none".to_string() } else { formats.join(", ") }
            );
        }
        if !self.messages.is_empty() {
            let states: Vec<String> = self.messages.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let _ = writeln!(out, "  HL7 messages: {}", states.join(", "));
            for (t, states) in &self.by_type {
                let s: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
                let _ = writeln!(out, "    {t:<10} {}", s.join(", "));
            }
        }
        for r in &self.refused {
            let _ = writeln!(
                out,
                "  REFUSED {} {} patient {} {}: {} {}",
                r.control_id,
                r.message_type,
                r.patient_id,
                r.item.as_deref().unwrap_or(""),
                r.code.as_deref().unwrap_or("?"),
                r.reason.as_deref().unwrap_or("(no reason given)")
            );
        }
        out
    }
}
