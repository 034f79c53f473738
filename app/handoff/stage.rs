//! Keeping what was handed off: each thing gathered gets a new version only when what it says
//! changed, with its HL7 messages made once and kept in the outbox. An unchanged thing keeps its
//! messages and their control IDs, so exporting or sending again repeats nothing new; a changed
//! one that the EHR already has is sent as an update (a new order state, a credit and re-charge).

use super::content::{Content, HandoffItem};
use super::gather::Gathered;
use super::hl7::{self, Hl7Context};
use crate::parallel::{map_in_chunks, threads_at_least as threads};
use crate::store::{Actor, PackedContent, StagedItem, StagedMessage, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Message(String),
    #[error("cannot write {path}: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
    #[error("{0}")]
    Refused(String),
}

/// What a preparation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageCounts {
    /// Things seen for the first time.
    pub new: usize,
    /// Things that changed since their last version (sent as updates when already delivered).
    pub updated: usize,
    pub unchanged: usize,
    /// HL7 messages added to the outbox.
    pub messages: usize,
    /// Things left out because no HL7 message could be made of them (subject: why); the rest
    /// goes on.
    pub failed: Vec<(String, String)>,
}

/// The hash of what an item says (`HandoffItem::fingerprint`).
pub fn fingerprint(item: &HandoffItem) -> String {
    item.fingerprint()
}

/// Adds a version, with its HL7 messages, for every gathered item that is new or changed — one
/// transaction for all of them.
pub fn stage(
    store: &mut Store,
    actor: &Actor,
    gathered: &Gathered,
    ctx: &Hl7Context<'_>,
) -> Result<StageCounts, ExportError> {
    let current = store.current_handoff()?;
    let mut counts = StageCounts::default();
    // What changed, with what the EHR may have of it, read first (the store is not shared
    // across threads); then the messages are made on every core.
    let shas = map_in_chunks(&gathered.items, threads(1), fingerprint);
    let mut jobs = Vec::new();
    for (item, sha) in gathered.items.iter().zip(shas) {
        let existing = current.get(&item.subject);
        if existing.is_some_and(|c| c.content_sha256 == sha) {
            counts.unchanged += 1;
            continue;
        }
        let version = existing.map_or(1, |c| c.version + 1);
        // An update of the latest version the EHR may have (not merely the latest made: a
        // version nobody received, or one the EHR refused, is replaced as if it had never been).
        let base = existing.and_then(|c| c.hl7_base);
        let previous: Option<Content> = match base {
            Some(id) => {
                let json = store.handoff_content(id)?.unwrap_or_default();
                let old: HandoffItem = serde_json::from_str(&json).map_err(|e| {
                    ExportError::Message(format!(
                        "{} (an earlier version) cannot be read back: {e}",
                        item.subject
                    ))
                })?;
                Some(old.content)
            }
            None => None,
        };
        if existing.is_some() {
            counts.updated += 1;
        } else {
            counts.new += 1;
        }
        jobs.push(Job { item, sha, version, base, previous });
    }
    let made: Vec<Result<StagedItem, (String, String)>> = map_in_chunks(&jobs, threads(1), |j| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| j.make(ctx)))
            .unwrap_or_else(|_| Err((j.item.subject.clone(), "making its messages failed".into())))
    });
    let mut staged = Vec::with_capacity(made.len());
    for result in made {
        match result {
            Ok(item) => {
                counts.messages += item.messages.len();
                staged.push(item);
            }
            Err((subject, why)) => {
                if let Some(job) = jobs.iter().find(|j| j.item.subject == subject) {
                    if job.version > 1 {
                        counts.updated -= 1;
                    } else {
                        counts.new -= 1;
                    }
                }
                counts.failed.push((subject, why));
            }
        }
    }
    store.save_handoff(actor, &staged)?;
    Ok(counts)
}

/// One new version to make.
struct Job<'a> {
    item: &'a HandoffItem,
    sha: String,
    version: u32,
    base: Option<i64>,
    previous: Option<Content>,
}

impl Job<'_> {
    fn make(&self, ctx: &Hl7Context<'_>) -> Result<StagedItem, (String, String)> {
        let item = self.item;
        let fail = |why: String| (item.subject.clone(), why);
        let messages = hl7::messages(item, self.version, self.previous.as_ref(), ctx)
            .map_err(|e| fail(e.to_string()))?;
        Ok(StagedItem {
            subject: item.subject.clone(),
            version: self.version,
            kind: item.content.kind(),
            // An update of a registration goes to the record the EHR keeps now.
            patient_id: if self.previous.is_some() {
                item.patient.id.clone()
            } else {
                item.sent_as().to_string()
            },
            item: item.item().map(str::to_string),
            entry_id: match &item.content {
                Content::Keyed(k) => Some(k.entry_id),
                _ => None,
            },
            content_sha256: self.sha.clone(),
            content: PackedContent::pack(&serde_json::to_string(item).map_err(|e| fail(e.to_string()))?),
            base: self.base,
            messages: messages
                .into_iter()
                .map(|m| StagedMessage {
                    control_id: m.control_id,
                    message_type: m.message_type,
                    body: m.body,
                })
                .collect(),
        })
    }
}
