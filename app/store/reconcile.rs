//! Downtime IDs mapped to the record numbers the restored EHR assigned, and downtime IDs found
//! to be one person merged. A mapping that contradicts the patient's name or date of birth is
//! refused unless a reason to override is given; the reason and the contradictions go into the
//! audit trail with the mapping.

use super::db::{OptionalExtension, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::patients::{COLUMNS as PATIENT_COLUMNS, SOURCE_DOWNTIME, read_record};
use super::{Actor, PatientRecord, Result, Store, StoreError, now_text};
use crate::domain::reconcile::{self, IdFacts, MergeFacts, MrnAfterMerge};

/// What the EHR says about a record number (from its census or its mapping CSV).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EhrFacts {
    pub name: Option<String>,
    pub kana: Option<String>,
    /// `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// HL7 table 0001: `M`, `F`, `O`, `U`.
    pub sex: Option<String>,
}

impl EhrFacts {
    /// What was typed or imported (`given`) first, the EHR's census (`census`) filling in what it
    /// left out.
    pub fn completed(given: Option<EhrFacts>, census: Option<EhrFacts>) -> Option<EhrFacts> {
        match (given, census) {
            (Some(g), Some(c)) => Some(g.or(c)),
            (g, c) => g.or(c),
        }
    }

    /// Each fact this one lacks taken from `other` (facts typed by hand, completed from the EHR's
    /// census).
    pub fn or(self, other: EhrFacts) -> EhrFacts {
        EhrFacts {
            name: self.name.or(other.name),
            kana: self.kana.or(other.kana),
            dob: self.dob.or(other.dob),
            sex: self.sex.or(other.sex),
        }
    }

    /// What the EHR's identity still lacks for a message to carry it (name and date of birth
    /// are required of every patient the EHR takes; kana and sex are sent when known).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            out.push("name");
        }
        if self.dob.as_deref().is_none_or(|d| d.trim().is_empty()) {
            out.push("date of birth");
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MrnLink {
    pub downtime_id: String,
    pub mrn: String,
    pub ehr: EhrFacts,
    pub override_reason: Option<String>,
    pub linked_at: String,
    pub linked_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PatientMerge {
    pub merged_id: String,
    pub into_id: String,
    pub reason: String,
    pub merged_at: String,
    pub merged_by: String,
}

/// A patient registered under a downtime ID, with where reconciliation has got.
#[derive(Debug, Clone, PartialEq)]
pub struct DowntimePatient {
    pub record: PatientRecord,
    pub link: Option<MrnLink>,
    /// The downtime ID this one was merged into.
    pub merged_into: Option<String>,
}

fn read_link(r: &super::db::Row<'_>) -> rusqlite::Result<MrnLink> {
    Ok(MrnLink {
        downtime_id: r.get(0)?,
        mrn: r.get(1)?,
        ehr: EhrFacts { name: r.get(2)?, kana: r.get(3)?, dob: r.get(4)?, sex: r.get(8)? },
        override_reason: r.get(5)?,
        linked_at: r.get(6)?,
        linked_by: r.get(7)?,
    })
}

const LINK_COLUMNS: &str =
    "downtime_id, mrn, ehr_name, ehr_kana, ehr_dob, override_reason, linked_at, linked_by, ehr_sex";

fn refuse<T>(message: String) -> Result<T> {
    Err(StoreError::Refused(message))
}

fn refused(why: reconcile::Refusal) -> StoreError {
    StoreError::Refused(why.to_string())
}

/// What the database says of `id`, for `domain::reconcile` to decide on.
fn id_facts(tx: &super::db::Connection, id: &str) -> Result<IdFacts> {
    Ok(IdFacts {
        registered: is_downtime_patient(tx, id)?,
        merged_into: merged_into(tx, id)?,
        mrn: link_of(tx, id)?.map(|l| l.mrn),
    })
}

fn is_downtime_patient(tx: &super::db::Connection, id: &str) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM patients WHERE id = ?1 AND source = ?2",
            params![id, SOURCE_DOWNTIME],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn merged_into(tx: &super::db::Connection, id: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row("SELECT into_id FROM patient_merges WHERE merged_id = ?1", [id], |r| r.get(0))
        .optional()?)
}

fn link_of(tx: &super::db::Connection, id: &str) -> Result<Option<MrnLink>> {
    Ok(tx
        .query_row(&format!("SELECT {LINK_COLUMNS} FROM mrn_links WHERE downtime_id = ?1"), [id], read_link)
        .optional()?)
}

impl Store {
    /// What the EHR's census (once re-imported) says about a record number, if it has it.
    pub fn census_facts(&self, mrn: &str) -> Result<Option<EhrFacts>> {
        let Ok(id) = crate::domain::PatientId::parse(mrn) else { return Ok(None) };
        Ok(self.patient(&id)?.map(|r| EhrFacts {
            name: Some(r.patient.name.as_str().to_string()),
            kana: Some(r.patient.kana.as_str().to_string()),
            dob: Some(r.patient.dob.iso()),
            sex: Some(r.patient.sex.code().to_string()),
        }))
    }

    /// Every patient registered under a downtime ID, with their mapping and merge.
    pub fn downtime_patients(&self) -> Result<Vec<DowntimePatient>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {PATIENT_COLUMNS} FROM patients WHERE source = ?1 ORDER BY id"))?;
        let records = stmt
            .query_map([SOURCE_DOWNTIME], |r| Ok(read_record(r)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for record in records {
            let record = record?;
            let id = record.patient.id.as_str().to_string();
            out.push(DowntimePatient {
                link: link_of(&self.conn, &id)?,
                merged_into: merged_into(&self.conn, &id)?,
                record,
            });
        }
        Ok(out)
    }

    pub fn mrn_link(&self, downtime_id: &str) -> Result<Option<MrnLink>> {
        link_of(&self.conn, downtime_id)
    }

    pub fn merges(&self) -> Result<Vec<PatientMerge>> {
        let mut stmt = self.conn.prepare(
            "SELECT merged_id, into_id, reason, merged_at, merged_by FROM patient_merges ORDER BY merged_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PatientMerge {
                merged_id: r.get(0)?,
                into_id: r.get(1)?,
                reason: r.get(2)?,
                merged_at: r.get(3)?,
                merged_by: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Maps a downtime ID to the EHR's record number. `contradictions` are what the caller found
    /// different between our patient and the EHR's facts; with any, `override_reason` is required.
    pub fn link_mrn(
        &mut self,
        actor: &Actor,
        downtime_id: &str,
        mrn: &str,
        ehr: &EhrFacts,
        contradictions: &[String],
        override_reason: Option<&str>,
    ) -> Result<MrnLink> {
        let reason = reconcile::given_reason(override_reason);
        let tx = self.begin()?;
        let holder: Option<String> = tx
            .query_row(
                "SELECT downtime_id FROM mrn_links WHERE mrn = ?1 AND downtime_id <> ?2",
                params![mrn, downtime_id],
                |r| r.get(0),
            )
            .optional()?;
        let facts = id_facts(&tx, downtime_id)?;
        reconcile::may_link(downtime_id, mrn, &facts, holder.as_deref(), contradictions, reason)
            .map_err(refused)?;
        let before = link_of(&tx, downtime_id)?;
        let now = now_text();
        tx.execute(
            &format!(
                "INSERT INTO mrn_links ({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (downtime_id) DO UPDATE SET mrn = excluded.mrn, ehr_name = excluded.ehr_name,
                   ehr_kana = excluded.ehr_kana, ehr_dob = excluded.ehr_dob, override_reason = excluded.override_reason,
                   linked_at = excluded.linked_at, linked_by = excluded.linked_by, ehr_sex = excluded.ehr_sex"
            ),
            params![downtime_id, mrn, ehr.name, ehr.kana, ehr.dob, reason, now, actor.0, ehr.sex],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            if reason.is_some() { "reconcile.link_override" } else { "reconcile.link" },
            "patient",
            downtime_id,
            before.as_ref().map(|b| json!({"mrn": b.mrn})).as_ref(),
            Some(
                &json!({"mrn": mrn, "ehr": ehr, "contradictions": contradictions, "override_reason": reason}),
            ),
        )?;
        let link = link_of(&tx, downtime_id)?;
        tx.commit()?;
        link.ok_or_else(|| StoreError::Refused(format!("the mapping of {downtime_id} vanished")))
    }

    /// Takes a mapping back (undo).
    pub fn unlink_mrn(&mut self, actor: &Actor, downtime_id: &str) -> Result<()> {
        let tx = self.begin()?;
        let Some(before) = link_of(&tx, downtime_id)? else {
            return refuse(format!("{downtime_id} is not mapped"));
        };
        if super::handoff::subject_delivered(&tx, &format!("link:{downtime_id}"))? {
            return refuse(format!(
                "the mapping of {downtime_id} to {} was handed to the EHR (its ADT^A40 merge); undo it in the EHR (A37), not here",
                before.mrn
            ));
        }
        if super::handoff::patient_delivered(&tx, &before.mrn)? {
            return refuse(format!(
                "paper of {downtime_id} was handed to the EHR under {}; correct it in the EHR, not here",
                before.mrn
            ));
        }
        tx.execute("DELETE FROM mrn_links WHERE downtime_id = ?1", [downtime_id])?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "reconcile.unlink",
            "patient",
            downtime_id,
            Some(&json!({"mrn": before.mrn})),
            None,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records that `merged` and `into` are one person: `merged`'s paper belongs to `into`.
    pub fn merge_downtime_ids(
        &mut self,
        actor: &Actor,
        merged: &str,
        into: &str,
        reason: &str,
        contradictions: &[String],
        override_reason: Option<&str>,
    ) -> Result<PatientMerge> {
        let reason = reason.trim();
        let override_reason = reconcile::given_reason(override_reason);
        let tx = self.begin()?;
        let facts = MergeFacts {
            merged: id_facts(&tx, merged)?,
            into: id_facts(&tx, into)?,
            merged_mapping_delivered: super::handoff::subject_delivered(&tx, &format!("link:{merged}"))?,
            merged_is_target: tx
                .query_row("SELECT 1 FROM patient_merges WHERE into_id = ?1", [merged], |_| Ok(()))
                .optional()?
                .is_some(),
        };
        let after = reconcile::decide_merge(merged, into, reason, &facts, contradictions, override_reason)
            .map_err(refused)?;
        let moved = match &after {
            MrnAfterMerge::MovesToSurvivor(mrn) => Some(mrn.clone()),
            _ => None,
        };
        match after {
            // The survivor takes the record number the merged ID had.
            MrnAfterMerge::MovesToSurvivor(_) => {
                tx.execute(
                    "UPDATE mrn_links SET downtime_id = ?2 WHERE downtime_id = ?1",
                    params![merged, into],
                )?;
            }
            MrnAfterMerge::DropMerged => {
                tx.execute("DELETE FROM mrn_links WHERE downtime_id = ?1", [merged])?;
            }
            MrnAfterMerge::Unchanged | MrnAfterMerge::SurvivorKeeps => {}
        }
        let now = now_text();
        tx.execute(
            "INSERT INTO patient_merges (merged_id, into_id, reason, merged_at, merged_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![merged, into, reason, now, actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "reconcile.merge",
            "patient",
            merged,
            None,
            Some(&json!({
                "into": into,
                "reason": reason,
                "mrn_moved": moved,
                "contradictions": contradictions,
                "override_reason": override_reason,
            })),
        )?;
        tx.commit()?;
        Ok(PatientMerge {
            merged_id: merged.to_string(),
            into_id: into.to_string(),
            reason: reason.to_string(),
            merged_at: now,
            merged_by: actor.0.clone(),
        })
    }
}
