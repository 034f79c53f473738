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
}

fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.split_once([' ', '\u{3000}']) {
        Some((family, given)) => (family.trim().to_string(), given.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
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

    /// What decides whether the EHR needs a new version: the content and the patient as
    /// recorded, not the identifier it is sent under (a mapping made later is carried by the
    /// merge message, not by sending everything again). A registration's demographics count:
    /// a changed name is an update (ADT^A08).
    pub fn basis(&self) -> Value {
        let demographics = match &self.content {
            Content::Registration { .. } => serde_json::json!({
                "name": self.patient.name, "kana": self.patient.kana, "dob": self.patient.dob,
                "sex": self.patient.sex, "ward": self.patient.ward, "room": self.patient.room,
                "bed": self.patient.bed, "department": self.patient.department,
                "outpatient": self.patient.outpatient,
            }),
            _ => Value::Null,
        };
        let mut content = serde_json::to_value(&self.content).unwrap_or(Value::Null);
        // Where the image sits on this machine is not part of what the paper says, nor are the
        // masters' names, points and units (a re-imported master must not re-send every slip).
        if let Some(obj) = content.as_object_mut() {
            obj.remove("image_path");
            obj.remove("code_names");
            if let Some(Value::Array(lines)) = obj.get_mut("lines") {
                for line in lines.iter_mut().filter_map(Value::as_object_mut) {
                    line.remove("name");
                    line.remove("points");
                    line.remove("unit");
                }
            }
        }
        serde_json::json!({
            "subject": self.subject,
            "recorded_patient": self.recorded_patient,
            "demographics": demographics,
            "content": content,
        })
    }
}

/// The stable message control ID (MSH-10, at most 20 characters) of message `seq` (0-based)
/// of version `version` of `subject`: the same message always gets the same ID, so a receiver
/// can drop a message it has already taken.
pub fn control_id(subject: &str, version: u32, seq: u32) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(subject.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02X}")).collect();
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
    fn names_split_at_the_first_space_of_either_width() {
        assert_eq!(split_name("山田　太郎"), ("山田".to_string(), "太郎".to_string()));
        assert_eq!(split_name("ヤマダ タロウ"), ("ヤマダ".to_string(), "タロウ".to_string()));
        assert_eq!(split_name("不明"), ("不明".to_string(), String::new()));
    }
}
