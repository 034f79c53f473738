//! What is handed to the restored EHR, independent of the format it travels in: the things to
//! hand off (a registration, a mapping to the real record number, a merge, a keyed page, a scanned
//! page) with the patient as the EHR must see them. `gather` builds them from the store; `hl7`,
//! `fhir`, `ssmix2` and `billing_csv` write them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{ChargeLine, PaperRecord};

/// A patient as the EHR gets them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientFacts {
    /// The identifier messages carry: the real record number once a downtime ID is mapped (or
    /// the one of the downtime ID it was merged into), else the downtime ID, else the census ID
    /// (which is the EHR's own record number).
    pub id: String,
    /// The downtime ID the paper carries, for a patient registered during the downtime.
    pub downtime_id: Option<String>,
    /// The record number the restored EHR assigned, once mapped.
    pub mrn: Option<String>,
    /// As written: kanji (or what the registration had), family and given name separated by a
    /// space.
    pub name: String,
    /// Katakana reading, family and given separated by a space.
    pub kana: String,
    /// `YYYY-MM-DD`.
    pub dob: String,
    /// `M`, `F`, `O` or `U`.
    pub sex: String,
    pub ward: String,
    pub room: String,
    pub bed: String,
    pub department: String,
    /// The EHR's code for the department, from the departments master (PV1-10).
    #[serde(default)]
    pub department_code: Option<String>,
    pub outpatient: bool,
}

impl PatientFacts {
    /// (family, given) of the kanji name; a name without a space is all family name.
    pub fn name_parts(&self) -> (String, String) {
        split_name(&self.name)
    }

    pub fn kana_parts(&self) -> (String, String) {
        split_name(&self.kana)
    }

    /// The name for the ideographic (kanji) slot of a message, or `None` when no kanji name is
    /// known: a registration that only had the reading keeps it as its name, and the reading
    /// must never be sent as if it were the kanji.
    pub fn ideographic_name(&self) -> Option<&str> {
        let name = self.name.trim();
        let reading_only = name.chars().all(|c| c.is_whitespace() || ('\u{30A0}'..='\u{30FF}').contains(&c));
        (!name.is_empty() && !reading_only).then_some(name)
    }
}

fn split_name(name: &str) -> (String, String) {
    let (family, given) = crate::domain::staff::split_name(name);
    (family.to_string(), given.to_string())
}

/// A charge line with what billing shows beside the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeOut {
    pub line_no: u32,
    #[serde(flatten)]
    pub line: ChargeLine,
    /// The master's name for the code.
    pub name: Option<String>,
    /// The master's points (or price), when it has them.
    pub points: Option<f64>,
    pub unit: Option<String>,
}

/// A keyed paper page: the keying that counts (accepted and verified).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyed {
    pub entry_id: i64,
    pub form_id: String,
    pub form_code: String,
    /// The worklist item: the printed serial (`A-000123`) or `page 45`.
    pub item: String,
    /// The scanned page the keying was made beside, if any.
    pub scanned_page: Option<i64>,
    /// Field values in the form's own terms (dates `YYYY-MM-DD`, times `HH:MM`).
    pub values: BTreeMap<String, Value>,
    /// When it happened on paper: `YYYY-MM-DDTHH:MM` or the date alone.
    pub event_at: Option<String>,
    pub records: Vec<PaperRecord>,
    pub lines: Vec<ChargeOut>,
    /// Names of the codes keyed (drug, lab test, charge codes) from the masters.
    pub code_names: BTreeMap<String, String>,
    /// What the masters say of each code keyed, besides its name: the unit and the master's
    /// own columns (a test's `specimen` and `jlac10`, a drug's `form`), for coding the message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub code_facts: BTreeMap<String, BTreeMap<String, String>>,
    pub entered_at: String,
    pub entered_by: String,
    pub verified_at: Option<String>,
    pub verified_by: Option<String>,
}

/// A scanned page image, filed to a patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub page_id: i64,
    pub form_code: Option<String>,
    /// The worklist item: the printed serial or `page 45`.
    pub item: String,
    pub image_sha256: String,
    /// Where the image is on this machine (absolute).
    pub image_path: String,
    /// `png` or `jpeg`.
    pub image_format: String,
    pub width: u32,
    pub height: u32,
    pub imported_at: String,
    /// The document's date: the date of care keyed from the page, else the day it was printed
    /// (`YYYY-MM-DD…` or RFC 3339) — never the import, which is only when paper met scanner.
    #[serde(default)]
    pub dated: Option<String>,
}

impl Page {
    /// When the document is of: its date, or the import when nothing better is known.
    pub fn document_time(&self) -> &str {
        self.dated.as_deref().unwrap_or(&self.imported_at)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// A patient registered under a downtime ID.
    Registration {
        registered_at: String,
        registered_by: String,
        identity_unknown: bool,
        dob_estimated: bool,
    },
    /// The record number the restored EHR gave a downtime ID: HL7 ADT^A40 merges the downtime ID
    /// into it; FHIR links the two.
    Link {
        downtime_id: String,
        mrn: String,
        override_reason: Option<String>,
        linked_at: String,
    },
    /// Two downtime IDs found to be one person: `merged_id` into `into_id`.
    Merge {
        merged_id: String,
        into_id: String,
        reason: String,
        merged_at: String,
    },
    Keyed(Keyed),
    Page(Page),
}

impl Content {
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Registration { .. } => "registration",
            Content::Link { .. } => "link",
            Content::Merge { .. } => "merge",
            Content::Keyed(_) => "keyed",
            Content::Page(_) => "page",
        }
    }
}

/// One thing to hand off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffItem {
    /// Names the thing for good: `registration:<id>`, `link:<id>`, `merge:<id>`,
    /// `keyed:<item>`, `page:<id>`.
    pub subject: String,
    /// The patient as the EHR must see them now (mapping and merges applied).
    pub patient: PatientFacts,
    /// The patient the paper or the registration names (before mapping and merges).
    pub recorded_patient: String,
    pub content: Content,
}

impl HandoffItem {
    /// The identifier this item's messages carry in PID-3. A registration registers the
    /// downtime ID itself (the mapping is a merge message of its own); everything else goes to
    /// the patient as resolved.
    pub fn sent_as(&self) -> &str {
        match self.content {
            Content::Registration { .. } => &self.recorded_patient,
            _ => &self.patient.id,
        }
    }

    /// The worklist item carried, if any.
    pub fn item(&self) -> Option<&str> {
        match &self.content {
            Content::Keyed(k) => Some(&k.item),
            Content::Page(p) => Some(&p.item),
            _ => None,
        }
    }

    /// What decides whether the EHR needs a new version, as a SHA-256: the content and the
    /// patient as recorded, not the identifier it is sent under (a mapping made later is carried
    /// by the merge message, not by sending everything again). A registration's demographics
    /// count: a changed name is an update (ADT^A08). Where an image sits on this machine and the
    /// masters' names, points and units do not (a re-imported master must not re-send every
    /// slip). Streamed into the hash: this runs for every item of every export.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};

        #[derive(Serialize)]
        struct Demographics<'a> {
            name: &'a str,
            kana: &'a str,
            dob: &'a str,
            sex: &'a str,
            ward: &'a str,
            room: &'a str,
            bed: &'a str,
            department: &'a str,
            outpatient: bool,
        }
        #[derive(Serialize)]
        struct Line<'a> {
            line_no: u32,
            #[serde(flatten)]
            line: &'a ChargeLine,
        }
        #[derive(Serialize)]
        struct KeyedBasis<'a> {
            entry_id: i64,
            form_id: &'a str,
            form_code: &'a str,
            item: &'a str,
            scanned_page: Option<i64>,
            values: &'a BTreeMap<String, Value>,
            event_at: Option<&'a str>,
            records: &'a [PaperRecord],
            lines: Vec<Line<'a>>,
            entered_at: &'a str,
            entered_by: &'a str,
            verified_at: Option<&'a str>,
            verified_by: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum ContentBasis<'a> {
            Keyed(KeyedBasis<'a>),
            Page { page_id: i64, form_code: Option<&'a str>, item: &'a str, image_sha256: &'a str },
            Other(&'a Content),
        }
        #[derive(Serialize)]
        struct Basis<'a> {
            subject: &'a str,
            recorded_patient: &'a str,
            demographics: Option<Demographics<'a>>,
            content: ContentBasis<'a>,
        }
        struct Hasher(Sha256);
        impl std::io::Write for Hasher {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let p = &self.patient;
        let demographics = matches!(self.content, Content::Registration { .. }).then(|| Demographics {
            name: &p.name,
            kana: &p.kana,
            dob: &p.dob,
            sex: &p.sex,
            ward: &p.ward,
            room: &p.room,
            bed: &p.bed,
            department: &p.department,
            outpatient: p.outpatient,
        });
        let content = match &self.content {
            Content::Keyed(k) => ContentBasis::Keyed(KeyedBasis {
                entry_id: k.entry_id,
                form_id: &k.form_id,
                form_code: &k.form_code,
                item: &k.item,
                scanned_page: k.scanned_page,
                values: &k.values,
                event_at: k.event_at.as_deref(),
                records: &k.records,
                lines: k.lines.iter().map(|l| Line { line_no: l.line_no, line: &l.line }).collect(),
                entered_at: &k.entered_at,
                entered_by: &k.entered_by,
                verified_at: k.verified_at.as_deref(),
                verified_by: k.verified_by.as_deref(),
            }),
            Content::Page(pg) => ContentBasis::Page {
                page_id: pg.page_id,
                form_code: pg.form_code.as_deref(),
                item: &pg.item,
                image_sha256: &pg.image_sha256,
            },
            other => ContentBasis::Other(other),
        };
        let basis =
            Basis { subject: &self.subject, recorded_patient: &self.recorded_patient, demographics, content };
        let mut hasher = Hasher(Sha256::new());
        // Serialising plain data into a hash cannot fail; were it to, the empty basis still
        // gives a stable (if coarse) fingerprint.
        let _ = serde_json::to_writer(&mut hasher, &basis);
        hasher.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The stable message control ID (MSH-10, at most 20 characters) of message `seq` (0-based)
/// of version `version` of `subject`: the same message always gets the same ID, so a receiver
/// can drop a message it has already taken.
pub fn control_id(subject: &str, version: u32, seq: u32) -> String {
    let hex = crate::digest::sha256_hex(subject.as_bytes())[..12].to_uppercase();
    let mut id = format!("K{hex}{version}");
    if seq > 0 {
        id.push('-');
        id.push_str(&seq.to_string());
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_are_stable_short_and_distinct() {
        let a = control_id("keyed:A-000123", 1, 0);
        assert_eq!(a, control_id("keyed:A-000123", 1, 0));
        assert_ne!(a, control_id("keyed:A-000123", 2, 0));
        assert_ne!(a, control_id("keyed:A-000124", 1, 0));
        assert_ne!(control_id("keyed:A-000123", 1, 1), control_id("keyed:A-000123", 11, 0));
        assert!(control_id("keyed:A-000123", 999, 9).len() <= 20);
    }

    #[test]
    fn a_name_that_is_only_its_reading_has_no_ideographic_form() {
        let mut p = PatientFacts {
            id: "DT1".into(),
            downtime_id: None,
            mrn: None,
            name: "ヤマダ　タロウ".into(),
            kana: "ヤマダ　タロウ".into(),
            dob: String::new(),
            sex: "U".into(),
            ward: String::new(),
            room: String::new(),
            bed: String::new(),
            department: String::new(),
            department_code: None,
            outpatient: false,
        };
        assert_eq!(p.ideographic_name(), None);
        p.name = "山田　タロウ".into();
        assert_eq!(p.ideographic_name(), Some("山田　タロウ"));
        p.name = "さくら".into();
        assert_eq!(p.ideographic_name(), Some("さくら"), "a hiragana name is a written name");
    }

    #[test]
    fn names_split_at_the_first_space_of_either_width() {
        assert_eq!(split_name("山田　太郎"), ("山田".to_string(), "太郎".to_string()));
        assert_eq!(split_name("ヤマダ タロウ"), ("ヤマダ".to_string(), "タロウ".to_string()));
        assert_eq!(split_name("不明"), ("不明".to_string(), String::new()));
    }
}
