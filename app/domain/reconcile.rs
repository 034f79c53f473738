//! The rules of reconciling downtime IDs with the EHR's record numbers, as pure decisions: given
//! what the database says of the IDs involved (read inside the change's transaction), may this
//! mapping or merge be made, and what happens to the record numbers? The store reads the facts,
//! asks, and applies the answer in the same transaction.

use std::fmt;

/// What the database says of one downtime ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdFacts {
    /// A patient registered under a downtime ID (not a census patient, not unknown).
    pub registered: bool,
    /// The ID it was merged into, if it was.
    pub merged_into: Option<String>,
    /// The record number it is mapped to.
    pub mrn: Option<String>,
}

/// Why a mapping or a merge is refused; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Our patient and the EHR's differ, and no one gave a reason to go ahead.
    Contradicts {
        what: String,
        contradictions: Vec<String>,
        then: &'static str,
    },
    NotDowntime(String),
    MergedAlready {
        id: String,
        into: String,
        mapping: bool,
    },
    /// The record number belongs to another downtime ID.
    MrnTaken {
        mrn: String,
        holder: String,
        id: String,
    },
    NoReason,
    IntoItself(String),
    /// The merged ID's mapping went to the EHR already.
    MappingDelivered(String),
    /// Other IDs were merged into the one to merge away.
    IsATarget {
        merged: String,
        into: String,
    },
    TwoRecordNumbers {
        merged: String,
        merged_mrn: String,
        into: String,
        into_mrn: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Contradicts { what, contradictions, then } => {
                write!(f, "{what} contradicts the EHR ({}): {then}", contradictions.join("; "))
            }
            Refusal::NotDowntime(id) => write!(f, "{id} is not a patient registered under a downtime ID"),
            Refusal::MergedAlready { id, into, mapping: true } => {
                write!(f, "{id} was merged into {into}: map {into} instead")
            }
            Refusal::MergedAlready { id, into, mapping: false } => {
                write!(f, "{id} was already merged into {into}")
            }
            Refusal::MrnTaken { mrn, holder, id } => write!(
                f,
                "{mrn} is already the record number of {holder}: if they are one person, merge {id} into {holder}"
            ),
            Refusal::NoReason => f.write_str("say why the two IDs are one person (a reason is required)"),
            Refusal::IntoItself(id) => write!(f, "{id} cannot be merged into itself"),
            Refusal::MappingDelivered(id) => write!(
                f,
                "{id}'s mapping to its record number was handed to the EHR already: merge the records in the EHR instead"
            ),
            Refusal::IsATarget { merged, into } => {
                write!(f, "other IDs were merged into {merged}: merge {into} into {merged} instead")
            }
            Refusal::TwoRecordNumbers { merged, merged_mrn, into, into_mrn } => write!(
                f,
                "{merged} is mapped to {merged_mrn} and {into} to {into_mrn}: one person has one record number; unmap one first"
            ),
        }
    }
}

/// A reason typed to go ahead despite contradictions: blank counts as none.
pub fn given_reason(reason: Option<&str>) -> Option<&str> {
    reason.map(str::trim).filter(|r| !r.is_empty())
}

fn check_contradictions(
    what: String,
    contradictions: &[String],
    reason: Option<&str>,
    then: &'static str,
) -> Result<(), Refusal> {
    if contradictions.is_empty() || given_reason(reason).is_some() {
        Ok(())
    } else {
        Err(Refusal::Contradicts { what, contradictions: contradictions.to_vec(), then })
    }
}

/// Whether `id` may be mapped to `mrn`. `holder` is the other downtime ID already mapped to
/// `mrn`, if any.
pub fn may_link(
    id: &str,
    mrn: &str,
    facts: &IdFacts,
    holder: Option<&str>,
    contradictions: &[String],
    override_reason: Option<&str>,
) -> Result<(), Refusal> {
    check_contradictions(
        format!("{id} → {mrn}"),
        contradictions,
        override_reason,
        "check the paper; map it only with a reason to override",
    )?;
    if !facts.registered {
        return Err(Refusal::NotDowntime(id.to_string()));
    }
    if let Some(into) = &facts.merged_into {
        return Err(Refusal::MergedAlready { id: id.to_string(), into: into.clone(), mapping: true });
    }
    if let Some(holder) = holder {
        return Err(Refusal::MrnTaken {
            mrn: mrn.to_string(),
            holder: holder.to_string(),
            id: id.to_string(),
        });
    }
    Ok(())
}

/// What a merge does to the record numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MrnAfterMerge {
    /// Neither was mapped: nothing to do.
    Unchanged,
    /// Only the merged ID was mapped: the survivor takes its record number.
    MovesToSurvivor(String),
    /// Both were mapped to the same number: the merged ID's mapping goes.
    DropMerged,
    /// Only the survivor was mapped: it keeps its number.
    SurvivorKeeps,
}

/// What the database says around a merge of `merged` into `into`.
#[derive(Debug, Clone, Default)]
pub struct MergeFacts {
    pub merged: IdFacts,
    pub into: IdFacts,
    /// The merged ID's mapping was delivered to the EHR (its ADT^A40).
    pub merged_mapping_delivered: bool,
    /// Other IDs were merged into `merged`.
    pub merged_is_target: bool,
}

/// Whether `merged` may be merged into `into`, and what happens to their record numbers.
pub fn decide_merge(
    merged: &str,
    into: &str,
    reason: &str,
    facts: &MergeFacts,
    contradictions: &[String],
    override_reason: Option<&str>,
) -> Result<MrnAfterMerge, Refusal> {
    if reason.trim().is_empty() {
        return Err(Refusal::NoReason);
    }
    check_contradictions(
        format!("{into} would take {merged}'s record number, but"),
        contradictions,
        override_reason,
        "merge only with a reason to override",
    )?;
    if merged == into {
        return Err(Refusal::IntoItself(merged.to_string()));
    }
    for (id, f) in [(merged, &facts.merged), (into, &facts.into)] {
        if !f.registered {
            return Err(Refusal::NotDowntime(id.to_string()));
        }
        if let Some(other) = &f.merged_into {
            return Err(Refusal::MergedAlready { id: id.to_string(), into: other.clone(), mapping: false });
        }
    }
    if facts.merged_mapping_delivered {
        return Err(Refusal::MappingDelivered(merged.to_string()));
    }
    if facts.merged_is_target {
        return Err(Refusal::IsATarget { merged: merged.to_string(), into: into.to_string() });
    }
    Ok(match (&facts.merged.mrn, &facts.into.mrn) {
        (Some(a), Some(b)) if a != b => {
            return Err(Refusal::TwoRecordNumbers {
                merged: merged.to_string(),
                merged_mrn: a.clone(),
                into: into.to_string(),
                into_mrn: b.clone(),
            });
        }
        (Some(_), Some(_)) => MrnAfterMerge::DropMerged,
        (Some(a), None) => MrnAfterMerge::MovesToSurvivor(a.clone()),
        (None, Some(_)) => MrnAfterMerge::SurvivorKeeps,
        (None, None) => MrnAfterMerge::Unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn downtime(mrn: Option<&str>) -> IdFacts {
        IdFacts { registered: true, merged_into: None, mrn: mrn.map(str::to_string) }
    }

    #[test]
    fn a_contradiction_needs_a_reason_and_a_taken_number_names_its_holder() {
        let facts = downtime(None);
        let c = vec!["生年月日 differs".to_string()];
        let e = may_link("DT1", "M1", &facts, None, &c, Some("  ")).unwrap_err();
        assert!(e.to_string().contains("contradicts the EHR (生年月日 differs)"), "{e}");
        assert_eq!(may_link("DT1", "M1", &facts, None, &c, Some("checked the paper")), Ok(()));
        let e = may_link("DT1", "M1", &facts, Some("DT2"), &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "M1 is already the record number of DT2: if they are one person, merge DT1 into DT2"
        );
        let merged = IdFacts { merged_into: Some("DT3".into()), ..downtime(None) };
        assert!(
            may_link("DT1", "M1", &merged, None, &[], None)
                .unwrap_err()
                .to_string()
                .contains("map DT3 instead")
        );
    }

    #[test]
    fn a_merge_moves_the_record_number_to_the_survivor_and_refuses_two_numbers() {
        let facts = |a: Option<&str>, b: Option<&str>| MergeFacts {
            merged: downtime(a),
            into: downtime(b),
            ..MergeFacts::default()
        };
        let merge = |f: &MergeFacts| decide_merge("DT1", "DT2", "same wristband", f, &[], None);
        assert_eq!(merge(&facts(Some("M1"), None)), Ok(MrnAfterMerge::MovesToSurvivor("M1".into())));
        assert_eq!(merge(&facts(Some("M1"), Some("M1"))), Ok(MrnAfterMerge::DropMerged));
        assert_eq!(merge(&facts(None, Some("M2"))), Ok(MrnAfterMerge::SurvivorKeeps));
        assert_eq!(merge(&facts(None, None)), Ok(MrnAfterMerge::Unchanged));
        assert!(matches!(merge(&facts(Some("M1"), Some("M2"))), Err(Refusal::TwoRecordNumbers { .. })));
        assert_eq!(decide_merge("DT1", "DT2", " ", &facts(None, None), &[], None), Err(Refusal::NoReason));
        assert_eq!(
            decide_merge("DT1", "DT1", "x", &facts(None, None), &[], None),
            Err(Refusal::IntoItself("DT1".into()))
        );
        let delivered = MergeFacts { merged_mapping_delivered: true, ..facts(Some("M1"), None) };
        assert_eq!(merge(&delivered), Err(Refusal::MappingDelivered("DT1".into())));
        let target = MergeFacts { merged_is_target: true, ..facts(None, None) };
        assert!(merge(&target).unwrap_err().to_string().contains("merge DT2 into DT1 instead"));
        let census = MergeFacts { into: IdFacts::default(), ..facts(None, None) };
        assert_eq!(merge(&census), Err(Refusal::NotDowntime("DT2".into())));
    }
}

/// Who registers patients and gives them their record numbers after a downtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatientMaster {
    /// The EHR and its 医事 system, as in nearly every Japanese hospital: they refuse ADT from
    /// outside, so no registration or merge is sent; 医事 registers the downtime patients from a
    /// list and returns their record numbers.
    #[default]
    Ehr,
    /// kamikarte: registrations go out as ADT and mappings as merges (A40).
    Kamikarte,
}

impl PatientMaster {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input.trim().to_lowercase().as_str() {
            "ehr" => Ok(PatientMaster::Ehr),
            "kamikarte" => Ok(PatientMaster::Kamikarte),
            other => Err(format!("'{other}' is not ehr or kamikarte")),
        }
    }
}
