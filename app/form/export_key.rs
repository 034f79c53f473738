//! What a form's field becomes in the hand-off: its `export` key, parsed when the form loads. A
//! key is the HL7 v2.5 field the value feeds (`FT1-10`, `RXE-2`), a vital sign by its LOINC code
//! (`OBX-5:8310-5`), or `RAS` (the dose on this row was given). Only the fields the hand-off
//! writes are keys: a typo (`FT1-11`) is an error naming the file and the field, never a value
//! silently left out of the charges. The code names each key by what it means (`keys::CHARGE_CODE`);
//! the TOML keeps the HL7 code, which is what an interface engineer reads.

use std::fmt;

use crate::domain::{OrderKind, RecordKind};

/// An HL7 segment whose fields a form may feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Al1,
    Ft1,
    Nte,
    Obr,
    Obx,
    Ods,
    Orc,
    Pv1,
    Ras,
    Rxa,
    Rxe,
    Rxr,
    Spm,
    Tq1,
    Txa,
}

impl Segment {
    const ALL: [Segment; 15] = [
        Segment::Al1,
        Segment::Ft1,
        Segment::Nte,
        Segment::Obr,
        Segment::Obx,
        Segment::Ods,
        Segment::Orc,
        Segment::Pv1,
        Segment::Ras,
        Segment::Rxa,
        Segment::Rxe,
        Segment::Rxr,
        Segment::Spm,
        Segment::Tq1,
        Segment::Txa,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Segment::Al1 => "AL1",
            Segment::Ft1 => "FT1",
            Segment::Nte => "NTE",
            Segment::Obr => "OBR",
            Segment::Obx => "OBX",
            Segment::Ods => "ODS",
            Segment::Orc => "ORC",
            Segment::Pv1 => "PV1",
            Segment::Ras => "RAS",
            Segment::Rxa => "RXA",
            Segment::Rxe => "RXE",
            Segment::Rxr => "RXR",
            Segment::Spm => "SPM",
            Segment::Tq1 => "TQ1",
            Segment::Txa => "TXA",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExportKey {
    /// Field `field` of `segment` (`RXE-2`).
    Field { segment: Segment, field: u8 },
    /// A vital sign: the value of the observation with this LOINC code (`OBX-5:8310-5`).
    Observation { loinc: String },
    /// A tick that says the dose on its row was given (`RAS`).
    Administered,
}

/// The keys the hand-off reads, by what they mean. Their HL7 codes are what the forms write.
pub mod keys {
    use super::ExportKey;
    use super::Segment::*;

    const fn f(segment: super::Segment, field: u8) -> ExportKey {
        ExportKey::Field { segment, field }
    }

    // Charges: DFT^P03's FT1.
    /// FT1-4: the day of service.
    pub const CHARGE_DATE: ExportKey = f(Ft1, 4);
    /// FT1-7: a charge's code (a tick box or a typed code).
    pub const CHARGE_CODE: ExportKey = f(Ft1, 7);
    /// FT1-10: the quantity of the code on the same row.
    pub const CHARGE_QUANTITY: ExportKey = f(Ft1, 10);
    /// FT1-13: the department.
    pub const CHARGE_DEPARTMENT: ExportKey = f(Ft1, 13);
    /// FT1-14: the insurance plan — the 医事 system's 保険組合せ番号, a reference only.
    pub const CHARGE_INSURANCE: ExportKey = f(Ft1, 14);
    /// FT1-21: the ordering doctor.
    pub const CHARGE_DOCTOR: ExportKey = f(Ft1, 21);
    /// FT1-24: who performed it.
    pub const CHARGE_PERFORMER: ExportKey = f(Ft1, 24);

    // Orders: ORC.
    /// ORC-9: when the order was written.
    pub const ORDERED_AT: ExportKey = f(Orc, 9);
    /// ORC-12: the ordering doctor.
    pub const ORDERING_DOCTOR: ExportKey = f(Orc, 12);
    /// ORC-17: the ordering department.
    pub const ORDERING_DEPARTMENT: ExportKey = f(Orc, 17);
    /// ORC-29: a tick for a discharge prescription.
    pub const DISCHARGE_ORDER: ExportKey = f(Orc, 29);

    // Drugs: RXE, RXR, TQ1.
    /// RXE-2: the drug.
    pub const DRUG: ExportKey = f(Rxe, 2);
    /// RXE-3: the dose.
    pub const DOSE: ExportKey = f(Rxe, 3);
    /// RXE-10: days supplied.
    pub const DAYS: ExportKey = f(Rxe, 10);
    /// RXE-21: instructions (a drip's rate).
    pub const INSTRUCTIONS: ExportKey = f(Rxe, 21);
    /// RXR-1: the route.
    pub const ROUTE: ExportKey = f(Rxr, 1);
    /// TQ1-3: how often.
    pub const FREQUENCY: ExportKey = f(Tq1, 3);
    /// TQ1-6: for how long.
    pub const DURATION: ExportKey = f(Tq1, 6);
    /// TQ1-7: from when (meals of a diet order).
    pub const START: ExportKey = f(Tq1, 7);
    /// TQ1-9: a tick for an urgent order.
    pub const URGENT: ExportKey = f(Tq1, 9);

    // Doses given: RXA.
    /// RXA-3: when it was given.
    pub const GIVEN_AT: ExportKey = f(Rxa, 3);
    /// RXA-5: what was given.
    pub const GIVEN_DRUG: ExportKey = f(Rxa, 5);
    /// RXA-6: how much.
    pub const GIVEN_AMOUNT: ExportKey = f(Rxa, 6);
    /// RXA-10: by whom.
    pub const GIVEN_BY: ExportKey = f(Rxa, 10);
    /// RXA-20: a tick: given.
    pub const GIVEN: ExportKey = f(Rxa, 20);

    /// NTE-3: a free comment.
    pub const COMMENT: ExportKey = f(Nte, 3);

    // Lab and imaging: OBR, SPM.
    /// OBR-4: the test or examination (ticks and typed codes).
    pub const SERVICE: ExportKey = f(Obr, 4);
    /// OBR-7: when the observations were made.
    pub const OBSERVED_FROM: ExportKey = f(Obr, 7);
    /// OBR-13: clinical information.
    pub const CLINICAL_INFO: ExportKey = f(Obr, 13);
    /// OBR-15: the body site of an examination.
    pub const BODY_SITE: ExportKey = f(Obr, 15);
    /// OBR-30: a tick: portable.
    pub const PORTABLE: ExportKey = f(Obr, 30);
    /// OBR-46: a tick: with contrast.
    pub const CONTRAST: ExportKey = f(Obr, 46);
    /// SPM-4: the specimen.
    pub const SPECIMEN: ExportKey = f(Spm, 4);
    /// SPM-17: when it was collected.
    pub const COLLECTED_AT: ExportKey = f(Spm, 17);

    // Observations: OBX.
    /// OBX-5: an observation's value (a question's answer, a finding).
    pub const OBSERVATION: ExportKey = f(Obx, 5);
    /// OBX-14: when it was observed.
    pub const OBSERVED_AT: ExportKey = f(Obx, 14);
    /// OBX-16: who observed it.
    pub const OBSERVER: ExportKey = f(Obx, 16);

    // Diet: ODS.
    /// ODS-1: from when the diet applies.
    pub const DIET_FROM: ExportKey = f(Ods, 1);
    /// ODS-3: the diet.
    pub const DIET: ExportKey = f(Ods, 3);
    /// ODS-4: its instructions.
    pub const DIET_INSTRUCTION: ExportKey = f(Ods, 4);

    // Notes: TXA.
    /// TXA-4: the note's date.
    pub const NOTE_AT: ExportKey = f(Txa, 4);
    /// TXA-5: its author (and their profession).
    pub const NOTE_AUTHOR: ExportKey = f(Txa, 5);
    /// TXA-22: who signed the paper (authentication).
    pub const NOTE_SIGNED_BY: ExportKey = f(Txa, 22);

    /// PV1-2: a tick: an outpatient.
    pub const OUTPATIENT: ExportKey = f(Pv1, 2);
    /// AL1-3: allergies.
    pub const ALLERGIES: ExportKey = f(Al1, 3);

    /// Every field key there is (the observations and `RAS` aside).
    pub const ALL: [ExportKey; 45] = [
        CHARGE_DATE,
        CHARGE_CODE,
        CHARGE_QUANTITY,
        CHARGE_DEPARTMENT,
        CHARGE_INSURANCE,
        CHARGE_DOCTOR,
        CHARGE_PERFORMER,
        ORDERED_AT,
        ORDERING_DOCTOR,
        ORDERING_DEPARTMENT,
        DISCHARGE_ORDER,
        DRUG,
        DOSE,
        DAYS,
        INSTRUCTIONS,
        ROUTE,
        FREQUENCY,
        DURATION,
        START,
        URGENT,
        GIVEN_AT,
        GIVEN_DRUG,
        GIVEN_AMOUNT,
        GIVEN_BY,
        GIVEN,
        COMMENT,
        SERVICE,
        OBSERVED_FROM,
        CLINICAL_INFO,
        BODY_SITE,
        PORTABLE,
        CONTRAST,
        SPECIMEN,
        COLLECTED_AT,
        OBSERVATION,
        OBSERVED_AT,
        OBSERVER,
        DIET_FROM,
        DIET,
        DIET_INSTRUCTION,
        NOTE_AT,
        NOTE_AUTHOR,
        NOTE_SIGNED_BY,
        OUTPATIENT,
        ALLERGIES,
    ];
}

impl ExportKey {
    /// Reads a key as a form writes it; the error says what keys there are.
    pub fn parse(text: &str) -> Result<Self, ExportKeyError> {
        let t = text.trim();
        if t == "RAS" {
            return Ok(ExportKey::Administered);
        }
        if let Some(loinc) = t.strip_prefix("OBX-5:") {
            let ok = loinc.split_once('-').is_some_and(|(num, check)| {
                !num.is_empty()
                    && num.len() <= 7
                    && num.chars().all(|c| c.is_ascii_digit())
                    && check.len() == 1
                    && check.chars().all(|c| c.is_ascii_digit())
            });
            return if ok {
                Ok(ExportKey::Observation { loinc: loinc.to_string() })
            } else {
                Err(ExportKeyError::NotLoinc(loinc.to_string()))
            };
        }
        let parsed = t.split_once('-').and_then(|(seg, n)| {
            let segment = Segment::ALL.into_iter().find(|s| s.code() == seg)?;
            let field: u8 = n.parse().ok()?;
            Some(ExportKey::Field { segment, field })
        });
        match parsed {
            Some(key) if keys::ALL.contains(&key) => Ok(key),
            _ => Err(ExportKeyError::Unknown(t.to_string())),
        }
    }

    /// The segment this key's value goes to.
    pub fn segment(&self) -> Segment {
        match self {
            ExportKey::Field { segment, .. } => *segment,
            ExportKey::Observation { .. } => Segment::Obx,
            ExportKey::Administered => Segment::Ras,
        }
    }

    /// A vital sign's LOINC code.
    pub fn loinc(&self) -> Option<&str> {
        match self {
            ExportKey::Observation { loinc } => Some(loinc),
            _ => None,
        }
    }

    /// An observation's value, whether coded by LOINC or plain OBX-5.
    pub fn is_observation_value(&self) -> bool {
        matches!(self, ExportKey::Observation { .. }) || *self == keys::OBSERVATION
    }
}

impl fmt::Display for ExportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportKey::Field { segment, field } => write!(f, "{}-{field}", segment.code()),
            ExportKey::Observation { loinc } => write!(f, "OBX-5:{loinc}"),
            ExportKey::Administered => f.write_str("RAS"),
        }
    }
}

/// Why a form's `export` value is not a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKeyError {
    /// `OBX-5:` followed by something that is not a LOINC code.
    NotLoinc(String),
    /// Not a key the hand-off reads.
    Unknown(String),
}

impl fmt::Display for ExportKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportKeyError::NotLoinc(code) => {
                write!(f, "'{code}' is not a LOINC code (digits, a hyphen, a check digit: 8310-5)")
            }
            ExportKeyError::Unknown(text) => {
                let known: Vec<String> = keys::ALL.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "'{text}' is not an export key the hand-off writes (known: {}, OBX-5:<LOINC>, RAS)",
                    known.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for ExportKeyError {}

impl<'de> serde::Deserialize<'de> for ExportKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ExportKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a form is, declared in its file (`kind = "charges"`): which messages and records its
/// keyed pages become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormKind {
    /// Printed for identity only (wristbands, label sheets): nothing to key.
    Identity,
    /// A charge slip: charge lines for billing (DFT^P03).
    Charges,
    /// A progress note (MDM^T02).
    Note,
    /// A vital-sign sheet (ORU^R01 observations).
    Vitals,
    /// A medication administration record: doses given (RAS^O17).
    Mar,
    /// A prescription (RDE^O11).
    Prescription,
    /// An injection order, with ticks for the doses given (RDE^O11, RAS^O17).
    Injection,
    /// A lab order (OML^O33).
    Lab,
    /// An imaging order (OMG^O19).
    Imaging,
    /// A diet order (OMD^O03).
    Diet,
    /// Printed from the SS-MIX2 snapshot (the patient summary): nothing to key.
    Summary,
}

impl FormKind {
    /// The paper order a slip of this kind carries, as the volume monitor counts it.
    pub fn order(self) -> Option<OrderKind> {
        match self {
            FormKind::Prescription => Some(OrderKind::Prescription),
            FormKind::Injection => Some(OrderKind::Injection),
            FormKind::Lab => Some(OrderKind::Lab),
            FormKind::Imaging => Some(OrderKind::Imaging),
            FormKind::Diet => Some(OrderKind::Diet),
            FormKind::Identity
            | FormKind::Summary
            | FormKind::Charges
            | FormKind::Note
            | FormKind::Vitals
            | FormKind::Mar => None,
        }
    }

    /// Whether keying a page of this kind makes charge lines rather than records.
    pub fn makes_charges(self) -> bool {
        self == FormKind::Charges
    }

    /// The record a keyed page of this kind makes (a charge slip makes charge lines instead).
    pub fn record_kind(self) -> RecordKind {
        match self {
            FormKind::Note => RecordKind::ProgressNote,
            FormKind::Mar => RecordKind::Administration,
            FormKind::Vitals => RecordKind::Observation,
            _ => RecordKind::Order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_key_reads_back_as_written() {
        for key in keys::ALL {
            assert_eq!(ExportKey::parse(&key.to_string()), Ok(key.clone()), "{key}");
        }
        assert_eq!(ExportKey::parse("RAS"), Ok(ExportKey::Administered));
        assert_eq!(ExportKey::parse("OBX-5:8310-5").unwrap().loinc(), Some("8310-5"));
    }

    #[test]
    fn a_typo_is_refused_with_what_there_is() {
        let e = ExportKey::parse("FT1-11").unwrap_err().to_string();
        assert!(e.contains("'FT1-11'") && e.contains("FT1-10"), "{e}");
        assert!(ExportKey::parse("FTI-10").is_err());
        assert!(ExportKey::parse("OBX-5:temp").unwrap_err().to_string().contains("LOINC"));
    }
}
