//! HL7 v2.5 messages as Japanese systems take them (JAHIS conventions, as SS-MIX2 stores them):
//! one call, [`messages`], turns one version of a hand-off item into its messages.
//!
//! Every message starts `MSH|^~\&|KAMIKARTE|<facility>|<application>|<facility>|<YYYYMMDDHHMMSS.fff, JST>||
//! <type^trigger^structure>|<control ID>|P|2.5|||||JPN|~ISO IR87||ISO 2022-1994`; [`charset`]
//! turns the body into ISO-2022-JP bytes (or UTF-8, rewriting MSH-18/20). MSH-10 is
//! [`control_id`] of the subject, the version and the message's number within it, so sending
//! the same version again repeats the same IDs.
//!
//! The patient: PID-3 `<id>^^^^PI`, plus the downtime ID as `<id>^^^^PT` once the patient is
//! known by another number; PID-5 the kanji name then the kana, `山田^太郎^^^^^L^I~ヤマダ^タロウ
//! ^^^^^L^P` (the kana alone when no kanji name is known: the reading is never sent as the
//! kanji); PID-7 `YYYYMMDD`; PID-8 the sex; PV1-2 `I`/`O`, PV1-3 `ward^room^bed`, PV1-10 the
//! department. Once a downtime ID is mapped, PID carries the EHR's name, kana, date of birth
//! and sex for the record number (`gather`), never the downtime registration's. The MSH-4 code
//! must be set (`hospital.code`): a hand-off refuses to run under a placeholder.
//!
//! Under `handoff.patient_master = ehr` (the default) the EHR registers patients itself and no
//! registration (A04/A08) or merge (A40) is made; the rows below marked ADT apply under
//! `kamikarte`.
//!
//! What each thing becomes:
//!
//! | content | message |
//! |---|---|
//! | registration (ADT) | `ADT^A04^ADT_A01` with PV1-44 the registration time; `ADT^A08^ADT_A01` when an earlier version was delivered |
//! | link to the MRN (ADT) | `ADT^A40^ADT_A39`: PID-3 the MRN, MRG-1 the downtime ID |
//! | merge (ADT) | `ADT^A40^ADT_A39`: PID-3 the survivor as sent, MRG-1 the merged ID |
//! | prescription | `RDE^O11^RDE_O11`: ORC, RXE (units MR9P, RXE-10/11 the amount to dispense), NTE (comment), TQ1 (TQ1-3 the JAMI usage code), RXR per drug row |
//! | injection order | `RDE^O11` for the drug rows (RXE-2 the technique, the drug in RXC `B`); then `RAS^O17^RAS_O17` for the rows ticked done or signed |
//! | MAR | `RAS^O17^RAS_O17`: ORC, RXA, RXR per row; RXA-20 `CP` only when ticked given, else `NA` |
//! | lab order | `OML^O33^OML_O33`: per specimen (the lab master's, per test) one SPM (JLAC10 material `JC10`, HL7 0487 beside), then ORC, TQ1, OBR (JLAC10 code first when the master has one), NTE per test |
//! | imaging order | `OMG^O19^OMG_O19`: ORC, TQ1, OBR, OBX (allergy check, creatinine) per modality |
//! | diet order | `OMD^O03^OMD_O03`: AL1 per food allergy, ORC, TQ1, ODS, NTE |
//! | vital signs | `ORU^R01^ORU_R01`: ORC, OBR, NTE, OBX per value for each round |
//! | progress note | `MDM^T02^MDM_T02` (`MDM^T10^MDM_T02` replacing a delivered version): TXA, OBX `TX` per line |
//! | scanned page | `MDM^T02`/`T10` with TXA-2 `SCAN` and one OBX `ED` `^IM^PNG^Base64^…` (table 0191 IM), dated by the care on the paper or its print day; in the SS-MIX2 extended storage an image over `handoff.ssmix2_inline_kb` becomes a file and the OBX an `RP` pointer (`ssmix2::externalize_images`) |
//! | charge slip | `DFT^P03^DFT_P03`: FT1 `CG` per line; a correction first credits (`CD`) each line delivered |
//!
//! Orders. ORC-2/OBR-2 (placer order number) is `<item>-<row>^KAMIKARTE` (`<item>-<code>` for a
//! lab test or imaging modality, `<item>` for a diet order), and ORC-4 (placer group) is
//! `<item>^KAMIKARTE`: the EHR tells pages apart, and each order on a page keeps its number
//! across corrections. ORC-1 is `NW` for a new order, `XO` for one a delivered version already
//! had, `CA` for one a correction took off the page. ORC-9 is the paper's date and time, ORC-10
//! the clerk who keyed it, ORC-11 who verified the keying, ORC-12 the doctor written on the page,
//! ORC-17 the department, ORC-21 the hospital, ORC-29 `I`/`O` (`I^退院時処方` for a discharge
//! prescription). Codes carry local coding systems (`99KKD` drugs, `99KKL` lab tests, `99KKI`
//! imaging, `99KKN` diets, `99KKC` charges, `99KKF` forms): the masters are the hospital's own.
//!
//! Choices where a form's export key and HL7 disagree:
//! * The days of a prescription go to TQ1-6 (service duration, `7^d&日&UCUM`), not RXE-10, which
//!   is a dispensed total nobody wrote down. The frequency is TQ1-3 text (`&1日3回毎食後`).
//! * A dose is split into number and unit (RXE-3/RXE-5, RXA-6/RXA-7); a dose that is not a
//!   number (`適量`) goes to RXE-7 / RXA-9 as text, with RXA-6 `999` (HL7's "unknown amount").
//! * A route written on paper is coded from HL7 table 0162 when it is a known word (`IV`, `静注`
//!   …), else sent as text (`^記載なし` when none was written: `""` in a required field is HL7's delete
//!   signal). A prescription has no route column: `PO` unless the drug's name says otherwise (軟膏 →
//!   `TP`, 吸入 → `IH`, 坐剤 → `PR`, 点眼 → `OP`, 点鼻 → `NS`).
//! * An injection rate that starts with a number is RXE-23/24, else RXE-21 text.
//! * Vital signs: OBX-3 is the JLAC10 code SS-MIX2 implementers use for vitals (the national
//!   hospital organisation's specification, coding system `JC10`: `9P100000000000001` body
//!   temperature …) with the LOINC code of the field's export key (`OBX-5:8310-5`, `LN`) as the
//!   alternate identifier, OBX-6 the field's UCUM
//!   unit, OBX-11 `F` (`C` for a corrected version), OBX-14 the round's time, OBX-16 the nurse
//!   who signed the sheet.
//! * MAR and injection administrations use ORC-1 `RE` and RXA-21 `A` (added) / `U` (update of a
//!   delivered version) / `D` (a row a correction removed); a row not ticked given is `NA` with
//!   RXA-6 `0`, never reported as given.
//! * A charge correction credits each delivered line with FT1-6 `CD` and the quantity negated,
//!   then charges the new lines with `CG`: the billing system nets them.
//! * Paper times are local wall-clock times at the precision the paper has (`YYYYMMDDHHMM`);
//!   stamps this program wrote (keyed at, verified at) are sent in JST with `+0900`; MSH-7 alone is
//!   written without the offset, to the millisecond, as the SS-MIX2 file name repeats it.

pub mod ack;
mod adt;
mod charges;
pub mod charset;
pub(crate) mod er7;
mod orders;
mod paper;
mod results;

pub use charset::{Charset, decode, encode};
pub use results::base64;

use crate::form::{FormDefinition, FormKind};
use crate::handoff::{Content, HandoffItem, Keyed, control_id};
use er7::Seg;
use paper::Paper;

pub struct Hl7Context<'a> {
    /// The hospital's 10-digit code (MSH-4).
    pub sending_facility: &'a str,
    pub hospital_name: &'a str,
    /// MSH-5, e.g. `EHR`.
    pub receiving_application: &'a str,
    /// MSH-6.
    pub receiving_facility: &'a str,
    pub forms: &'a [FormDefinition],
    /// The departments master: a department's name (and its code) → the EHR's code.
    pub departments: &'a std::collections::HashMap<String, String>,
    /// The usages master, by search-folded name (`gather::usage_codes`).
    pub usages: &'a std::collections::HashMap<String, UsageCode>,
    /// The doctors and staff masters: the EHR's staff codes.
    pub staff: &'a crate::domain::staff::StaffDirectory,
    /// The message time (MSH-7, written in JST).
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A dosing instruction as the usages master has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCode {
    /// The JAMI standard usage code (16 characters), when the master has one.
    pub jami: Option<String>,
    pub name: String,
    pub per_day: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7Message {
    pub control_id: String,
    /// E.g. `DFT^P03`.
    pub message_type: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hl7Error {
    #[error("form {0} is not installed, so its fields cannot be mapped to HL7")]
    UnknownForm(String),
    #[error("form {0} has no HL7 message (its export keys name no order, result, note or charge)")]
    Unsupported(String),
    #[error("cannot read the page image {path}: {message}")]
    Image { path: String, message: String },
}

/// One message before its MSH: `ADT^A04^ADT_A01` and the segments after MSH.
pub(crate) struct Draft {
    pub structure: &'static str,
    pub segments: Vec<Seg>,
}

impl Draft {
    pub fn new(structure: &'static str, segments: Vec<Seg>) -> Self {
        Draft { structure, segments }
    }
}

/// The messages for version `version` of `item`. `previous` is the content of the version before
/// it when that one was already delivered (so this one is an update), None when it is new.
pub fn messages(
    item: &HandoffItem,
    version: u32,
    previous: Option<&Content>,
    ctx: &Hl7Context,
) -> Result<Vec<Hl7Message>, Hl7Error> {
    let update = previous.is_some();
    let drafts = match &item.content {
        Content::Registration { registered_at, registered_by, .. } => {
            vec![adt::registration(item, registered_at, registered_by, update, ctx)]
        }
        Content::Link { downtime_id, linked_at, .. } => vec![adt::merge(item, downtime_id, linked_at, ctx)],
        Content::Merge { merged_id, merged_at, .. } => vec![adt::merge(item, merged_id, merged_at, ctx)],
        Content::Page(page) => vec![results::page(item, page, version, update, ctx)?],
        Content::Keyed(keyed) => keyed_drafts(item, keyed, version, previous, ctx)?,
    };
    Ok(drafts
        .into_iter()
        .enumerate()
        .map(|(seq, draft)| finish(draft, control_id(&item.subject, version, seq as u32), ctx))
        .collect())
}

fn finish(draft: Draft, control: String, ctx: &Hl7Context) -> Hl7Message {
    let mut text = er7::msh(ctx, draft.structure, &control).render();
    text.push('\r');
    text.push_str(&er7::body(&draft.segments));
    let message_type = draft.structure.split('^').take(2).collect::<Vec<_>>().join("^");
    Hl7Message { control_id: control, message_type, body: text }
}

/// The patient's basic information (ADT^A08) as of `ctx.now`, for the SS-MIX2 storage's ADT-00:
/// the storage keeps it beside the orders, whoever is the patient master. Never sent.
pub fn basic_information(patient: &crate::handoff::PatientFacts, ctx: &Hl7Context) -> Hl7Message {
    let control = control_id(&format!("patient:{}@{}", patient.id, ctx.now.timestamp_millis()), 1, 0);
    finish(adt::basic_information(patient, ctx), control, ctx)
}

/// What the SS-MIX2 storage names a message's file by, read from the message itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamingFields<'m> {
    /// MSH-7 (`YYYYMMDDHHMMSS.fff`).
    pub msh7: Option<&'m str>,
    /// The first ORC-2's placer order number.
    pub placer_order: Option<&'m str>,
    /// The department code: the first ORC-17's, else PV1-10.
    pub department: Option<&'m str>,
}

pub fn naming_fields(body: &str) -> NamingFields<'_> {
    let segments: Vec<&str> = body.split('\r').collect();
    let field = |name: &str, n: usize| {
        segments
            .iter()
            .find(|s| s.starts_with(name) && s.as_bytes().get(3) == Some(&b'|'))
            .and_then(|s| s.split('|').nth(n))
            .and_then(|f| f.split('^').next())
            .filter(|v| !v.is_empty())
    };
    NamingFields {
        // MSH-1 is the field separator itself: MSH-n is the n-th piece after splitting.
        msh7: field("MSH", 6),
        placer_order: field("ORC", 2),
        department: field("ORC", 17).or_else(|| field("PV1", 10)),
    }
}

fn keyed_drafts(
    item: &HandoffItem,
    keyed: &Keyed,
    version: u32,
    previous: Option<&Content>,
    ctx: &Hl7Context,
) -> Result<Vec<Draft>, Hl7Error> {
    let form = ctx
        .forms
        .iter()
        .find(|f| f.id == keyed.form_id)
        .ok_or_else(|| Hl7Error::UnknownForm(keyed.form_id.clone()))?;
    let paper = Paper::new(form, keyed);
    let update = previous.is_some();
    // A delivered version of another form (the page was re-keyed on the right form) has no
    // orders of this form to replace.
    let before = match previous {
        Some(Content::Keyed(k)) if k.form_id == keyed.form_id => Some(Paper::new(form, k)),
        _ => None,
    };
    let drafts = match form.kind {
        // A wristband or a label sheet has nothing keyed to send.
        FormKind::Identity | FormKind::Summary => return Err(Hl7Error::Unsupported(keyed.form_id.clone())),
        FormKind::Prescription => orders::prescription(item, &paper, before.as_ref(), ctx),
        FormKind::Injection => orders::injection(item, &paper, before.as_ref(), ctx),
        FormKind::Mar => orders::mar(item, &paper, before.as_ref(), ctx),
        FormKind::Lab => orders::lab(item, &paper, before.as_ref(), ctx),
        FormKind::Imaging => orders::imaging(item, &paper, before.as_ref(), ctx),
        FormKind::Diet => orders::diet(item, &paper, before.as_ref(), ctx),
        FormKind::Vitals => results::vitals(item, &paper, update, ctx),
        FormKind::Note => results::note(item, &paper, version, update, ctx),
        FormKind::Charges => {
            let credited = match previous {
                Some(Content::Keyed(k)) => k.lines.as_slice(),
                _ => &[],
            };
            charges::dft(item, &paper, version, credited, ctx)
        }
    };
    Ok(drafts)
}
