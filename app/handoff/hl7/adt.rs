//! Patient administration: a registration made during the downtime (A04, A08 for a changed one)
//! and the merges that fold a downtime ID into the record the EHR knows (A40).

use super::er7::{self, Seg, comps};
use super::{Draft, Hl7Context};
use crate::handoff::HandoffItem;

/// A04 registers an outpatient-style visit without admitting: the downtime registration made a
/// patient and a location, not an admission the EHR must bill. A08 updates one the EHR has.
pub fn registration(
    item: &HandoffItem,
    registered_at: &str,
    registered_by: &str,
    update: bool,
    ctx: &Hl7Context,
) -> Draft {
    let (event, structure) = if update { ("A08", "ADT^A08^ADT_A01") } else { ("A04", "ADT^A04^ADT_A01") };
    // The registration registers the downtime ID itself, even once it is mapped: the mapping
    // is its own A40, which folds this registration into the MRN. An update goes to the record
    // as the EHR keeps it now (after a merge the downtime ID is gone there).
    let mut p = item.patient.clone();
    if !update {
        p.id = item.sent_as().to_string();
    }
    Draft::new(
        structure,
        vec![
            er7::evn(event, er7::stamp(registered_at), Some(registered_by), ctx),
            er7::pid(&p, true),
            er7::pv1_visit(&p, p.outpatient, er7::stamp(registered_at)),
        ],
    )
}

/// A08 carrying the patient's basic information as the EHR keeps it: what SS-MIX2 files as
/// ADT-00 in every patient's folder, so the storage names whose orders and results it holds.
pub fn basic_information(patient: &crate::handoff::PatientFacts, ctx: &Hl7Context) -> Draft {
    Draft::new(
        "ADT^A08^ADT_A01",
        vec![
            er7::evn("A08", None, None, ctx),
            er7::pid(patient, false),
            er7::pv1(patient, patient.outpatient),
        ],
    )
}

/// A40: the patient as the EHR must keep them (PID) absorbs `merged_id` (MRG-1). Only the
/// surviving identifier is in PID-3: listing the merged one there too would make the message
/// contradict itself. MRG-1 is `PI`, the type the merged ID was sent under while it was the
/// patient's only identifier, so the EHR finds the record it made from those messages.
pub fn merge(item: &HandoffItem, merged_id: &str, at: &str, ctx: &Hl7Context) -> Draft {
    Draft::new(
        "ADT^A40^ADT_A39",
        vec![
            er7::evn("A40", er7::stamp(at), None, ctx),
            er7::pid(&item.patient, false),
            Seg::new("MRG").raw(1, comps(&[merged_id, "", "", "", "PI"])),
        ],
    )
}
