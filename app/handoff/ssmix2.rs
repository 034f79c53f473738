//! The SS-MIX2 standardized storage: one HL7 message per file, in a tree by patient, day and
//! data type, named so that a reader finds the current version without an index.
//!
//! ```text
//! DIR/standard/<ID 1–3>/<ID 4–6>/<ID>/<day>/<data type>/<ID>_<day>_<data type>_<order no>_<timestamp>_<dept>_<flag>
//! ```
//!
//! * `<ID>` is the patient as sent (the MRN once mapped). The two folders above it are its first
//!   three characters and the next three; an ID shorter than six characters is padded on the left
//!   with `0` for those two folders only.
//! * `<day>` is the day of care `YYYYMMDD` (the paper's date); `-` for the patient's basic
//!   information, which belongs to no day.
//! * Data types of the standard: `ADT-00` patient basic information (A08: written for every
//!   patient the export writes anything for, with the identity the EHR has — the storage names
//!   whose records a folder holds, whoever is the patient master), `ADT-12` an outpatient visit
//!   (A04: a registration when kamikarte is the patient master, dated by PV1-44), `OMP-01`
//!   prescription order, `OMP-02` injection
//!   order, `OMP-11` administration of prescribed drugs (the MAR), `OMP-12` injections given,
//!   `OML-01` lab order, `OMG-01` imaging order, `OMD` diet order.
//! * `<order no>` is 15 characters: the message's placer order number (ORC-2, `<item>-<row>`,
//!   the same across versions) zero-padded on the left; `999999999999999` for patient-level
//!   data (ADT-00, ADT-12), as in the guideline's samples; the subject's own number, zero-padded,
//!   in the extended storage and for an ORC-2 longer than fifteen characters.
//! * `<timestamp>` is 17 digits `YYYYMMDDHHMMSSfff`: the message's MSH-7 (Japan time, no
//!   offset) with the dot taken out, so the name can be checked against the message; a kept
//!   version keeps its message, so exporting again writes the same name.
//! * `<dept>` is the department code (the first ORC-17's, else PV1-10; from the departments
//!   master) when it is one (one to three ASCII letters and digits), else `-`.
//! * `<flag>` is the condition flag: `1` for the current version, `2` for one a later version
//!   superseded (the guideline's past version; `0` means deleted) — the earlier file is
//!   renamed, never deleted.
//!
//! Messages the standard has no data type for (ADT^A40 merges, ORU^R01 vital signs, MDM^T02
//! notes and scanned pages, DFT^P03 charges) go to the extended storage, `DIR/extended/`, with
//! the same tree and names; the data type is `CODE^NAME^99KKX` as the extended storage's
//! guideline lays it out (`ORU-R01^バイタルサイン^99KKX`, `MDM-T02^文書^99KKX`, …).
//! A page image larger than `handoff.ssmix2_inline_kb` is written beside its message as
//! `<message file>_<OBX set>.png|jpg`, and the message's OBX points at it (`RP`,
//! `externalize_images`).

use std::path::{Path, PathBuf};

use chrono::DateTime;

use crate::domain::paper_time::japan_time;
use crate::form::FormKind;

/// Where a message's file goes and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePath {
    /// Relative to the export folder.
    pub folder: PathBuf,
    pub file_name: String,
}

impl StoragePath {
    pub fn relative(&self) -> PathBuf {
        self.folder.join(&self.file_name)
    }
}

/// What names one message's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts<'a> {
    pub patient_id: &'a str,
    /// `HL7 type^event`, e.g. `RDE^O11`.
    pub message_type: &'a str,
    /// The kind of form a keyed page was (an injection order's RDE is OMP-02, not OMP-01).
    pub form_kind: Option<FormKind>,
    /// The day of care, `YYYY-MM-DD…`.
    pub day: Option<&'a str>,
    pub subject_number: i64,
    /// The first ORC-2 of the message (its placer order number), if it has one.
    pub placer_order: Option<&'a str>,
    /// The message's MSH-7 (`YYYYMMDDHHMMSS.fff`): the file name's timestamp.
    pub message_time: &'a str,
    pub department: Option<&'a str>,
    pub current: bool,
}

/// The order number of data that has no order (the guideline's samples: fifteen 9s).
pub const NO_ORDER: &str = "999999999999999";

/// The standard's data type for a message, or `None` when it belongs to the extended storage.
pub fn standard_data_type(message_type: &str, form_kind: Option<FormKind>) -> Option<&'static str> {
    let event = message_type.split('^').take(2).collect::<Vec<_>>().join("^");
    Some(match (event.as_str(), form_kind) {
        // A08 updates the patient's basic information; an A04 registration is an outpatient
        // visit (dated by PV1-44).
        ("ADT^A08", _) => "ADT-00",
        ("ADT^A04", _) => "ADT-12",
        ("RDE^O11", Some(FormKind::Injection)) => "OMP-02",
        ("RDE^O11", _) => "OMP-01",
        ("RAS^O17", Some(FormKind::Mar)) => "OMP-11",
        ("RAS^O17", _) => "OMP-12",
        ("OML^O33", _) => "OML-01",
        ("OMG^O19", _) => "OMG-01",
        ("OMD^O03", _) => "OMD",
        _ => return None,
    })
}

/// The local coding system of kamikarte's extended-storage data types.
pub const EXTENDED_TYPES: &str = "99KKX";

/// The extended storage's data type, `CODE^NAME^CODING SYSTEM` as the guideline lays it out
/// (the national hospital organisation's `L-OBSERVATIONS^OBSERVATIONS^99ZL01`): the code is the
/// message type (`ORU-R01`), a replaced document (MDM^T10) sharing MDM-T02's folder so the later
/// file supersedes the earlier.
pub fn extended_data_type(message_type: &str) -> String {
    let code = if message_type.starts_with("MDM^") {
        "MDM-T02".to_string()
    } else {
        message_type.split('^').take(2).collect::<Vec<_>>().join("-")
    };
    let name = match code.as_str() {
        "ADT-A40" => "患者統合",
        "ORU-R01" => "バイタルサイン",
        "MDM-T02" => "文書",
        "DFT-P03" => "算定",
        _ => "その他",
    };
    format!("{code}^{name}^{EXTENDED_TYPES}")
}

/// `YYYYMMDDHHMMSSfff` from a message's MSH-7 (`YYYYMMDDHHMMSS[.f…]`, Japan time, no offset):
/// the file name says when its message was made.
pub fn timestamp17(msh7: &str) -> Option<String> {
    let (whole, fraction) = msh7.split_once('.').unwrap_or((msh7, ""));
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok()?;
    Some(format!("{whole}{:0<3}", &fraction[..fraction.len().min(3)]))
}

fn day_text(day: Option<&str>) -> String {
    // A time the program stamped (UTC, RFC 3339) is a day in Japan; the paper's own date is
    // already local.
    let local = day
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|t| t.with_timezone(&japan_time()).date_naive());
    let paper = || day.and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok());
    match local.or_else(paper) {
        Some(d) => d.format("%Y%m%d").to_string(),
        None => "-".to_string(),
    }
}

/// The folder and file name of one message (`None` when its MSH-7 is not a full time, which
/// kamikarte never writes).
pub fn storage_path(facts: &FileFacts<'_>) -> Option<StoragePath> {
    let standard = standard_data_type(facts.message_type, facts.form_kind);
    let data_type = match standard {
        Some(t) => t.to_string(),
        None => extended_data_type(facts.message_type),
    };
    let basic_information = data_type == "ADT-00";
    let day = if basic_information { "-".to_string() } else { day_text(facts.day) };
    let order = match (standard, facts.placer_order) {
        // Patient-level data (basic information, a visit) has no order: fifteen 9s.
        (Some(t), _) if t.starts_with("ADT-") => NO_ORDER.to_string(),
        // An order's own number (ORC-2), zero-padded to the fifteen characters of the name.
        (Some(_), Some(o)) if o.len() <= 15 && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            format!("{o:0>15}")
        }
        // The extended storage's key, or an order number too long for the name: the subject's
        // own number, stable across versions.
        _ => format!("{:015}", facts.subject_number),
    };
    let department = facts
        .department
        .map(str::trim)
        // Table 0069's code, at most three characters; a name (内科) is no code.
        .filter(|d| !d.is_empty() && d.len() <= 3 && d.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("-");
    let id = facts.patient_id;
    let padded = format!("{id:0>6}");
    let folder = PathBuf::from(if standard.is_some() { "standard" } else { "extended" })
        .join(&padded[..3])
        .join(&padded[3..6])
        .join(id)
        .join(&day)
        .join(&data_type);
    let file_name = format!(
        "{id}_{day}_{data_type}_{order}_{}_{department}_{}",
        timestamp17(facts.message_time)?,
        if facts.current { 1 } else { 0 }
    );
    Some(StoragePath { folder, file_name })
}

/// Marks as superseded (condition flag 2, "a past version"; 0 is "deleted") every current file of the same patient, data type and
/// order number older than `keep` — wherever its day folder is, since a correction can change
/// the day. Returns how many were renamed.
pub fn supersede_older(root: &Path, keep: &StoragePath) -> std::io::Result<usize> {
    let Some(patient_dir) = keep.folder.parent().and_then(Path::parent) else { return Ok(0) };
    let Some((prefix, keep_stamp)) = name_key(&keep.file_name) else { return Ok(0) };
    let mut renamed = 0;
    let dir = root.join(patient_dir);
    let Ok(days) = std::fs::read_dir(&dir) else { return Ok(0) };
    for day in days.flatten() {
        let Some(data_type) = keep.folder.file_name() else { continue };
        let folder = day.path().join(data_type);
        let Ok(files) = std::fs::read_dir(&folder) else { continue };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name == keep.file_name || !name.ends_with("_1") {
                continue;
            }
            if let Some((p, stamp)) = name_key(&name)
                && p == prefix
                && stamp < keep_stamp
            {
                let superseded = format!("{}2", &name[..name.len() - 1]);
                std::fs::rename(file.path(), folder.join(superseded))?;
                renamed += 1;
            }
        }
    }
    Ok(renamed)
}

/// A page image written beside its message instead of inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// In the message's folder: `<message file name>_<OBX set ID>.png|jpg`.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Takes every ED image larger than `max_bytes` (its OBX-5 as sent, base64) out of a message
/// bound for the extended storage: the image becomes a file beside the message and the OBX a
/// reference pointer (`RP`, `<file>^^IM^PNG`), which a receiver whose field size is limited
/// can take. A smaller image stays inline. Gives the body unchanged when nothing is too large.
pub fn externalize_images(
    body: &str,
    max_bytes: usize,
    message_file: &str,
) -> Result<(String, Vec<Attachment>), String> {
    use base64::Engine as _;
    let mut attachments = Vec::new();
    let mut segments = Vec::new();
    for segment in body.split('\r') {
        let mut fields: Vec<String> = segment.split('|').map(str::to_string).collect();
        let is_large_ed = fields.first().is_some_and(|f| f == "OBX")
            && fields.get(2).is_some_and(|t| t == "ED")
            && fields.get(5).is_some_and(|v| v.len() > max_bytes);
        if !is_large_ed {
            segments.push(segment.to_string());
            continue;
        }
        let value = fields[5].clone();
        let parts: Vec<&str> = value.split('^').collect();
        let (Some(subtype), Some(data)) = (parts.get(2), parts.get(4)) else {
            return Err(format!("{message_file}: an ED OBX without its image data"));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("{message_file}: an ED image is not base64: {e}"))?;
        let set = fields.get(1).cloned().unwrap_or_default();
        let extension = if subtype.eq_ignore_ascii_case("JPEG") { "jpg" } else { "png" };
        let file_name = format!("{message_file}_{set}.{extension}");
        fields[2] = "RP".to_string();
        fields[5] = format!("{}^^IM^{subtype}", super::hl7::er7::esc(&file_name));
        segments.push(fields.join("|"));
        attachments.push(Attachment { file_name, bytes });
    }
    Ok((segments.join("\r"), attachments))
}

/// (ID, data type and order number; timestamp) of a file name: what identifies the order, and
/// what orders its versions.
fn name_key(name: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split('_').collect();
    if parts.len() != 7 {
        return None;
    }
    Some((format!("{}_{}_{}", parts[0], parts[2], parts[3]), parts[4].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(message_type: &str, form: Option<FormKind>) -> FileFacts<'_> {
        FileFacts {
            patient_id: "0012345678",
            message_type,
            form_kind: form,
            day: Some("2026-11-05T09:30"),
            subject_number: 42,
            placer_order: Some("A-000123-1"),
            message_time: "20261120100203.456",
            department: Some("01"),
            current: true,
        }
    }

    #[test]
    fn paths_follow_the_standards_tree_and_names() {
        let p = storage_path(&facts("RDE^O11^RDE_O11", Some(FormKind::Prescription))).unwrap();
        assert_eq!(
            p.relative(),
            PathBuf::from(
                "standard/001/234/0012345678/20261105/OMP-01/0012345678_20261105_OMP-01_00000A-000123-1_20261120100203456_01_1"
            )
        );
        let adt = storage_path(&facts("ADT^A08^ADT_A01", None)).unwrap();
        assert_eq!(adt.file_name, "0012345678_-_ADT-00_999999999999999_20261120100203456_01_1");
        assert!(adt.folder.ends_with("0012345678/-/ADT-00"));
        let vitals = storage_path(&facts("ORU^R01^ORU_R01", Some(FormKind::Vitals))).unwrap();
        assert!(
            vitals.folder.starts_with("extended/001/234/0012345678/20261105/ORU-R01^バイタルサイン^99KKX")
        );
        let mut short = facts("OMD^O03^OMD_O03", Some(FormKind::Diet));
        short.patient_id = "D12";
        short.department = Some("内科");
        let s = storage_path(&short).unwrap();
        assert!(s.folder.starts_with("standard/000/D12/D12/20261105/OMD"), "{:?}", s.folder);
        assert!(s.file_name.ends_with("_-_1"));
    }

    #[test]
    fn a_large_image_becomes_a_file_beside_its_message_and_a_small_one_stays_inline() {
        use base64::Engine as _;
        let image = vec![7u8; 3000];
        let data = base64::engine::general_purpose::STANDARD.encode(&image);
        let body = format!(
            "MSH|^~\\&|K\rOBX|1|ED|X||^IM^PNG^Base64^{data}||||||F\rOBX|2|ED|X||^IM^PNG^Base64^AAAA||||||F"
        );
        let name = "001_20261105_MDM-T02^文書^99KKX_000000000000042_20261105093000000_-_1";
        let (out, files) = externalize_images(&body, 1024, name).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].bytes, image);
        assert_eq!(files[0].file_name, format!("{name}_1.png"));
        let obx: Vec<&str> = out.split('\r').filter(|s| s.starts_with("OBX")).collect();
        assert!(obx[0].starts_with("OBX|1|RP|X||001_20261105_MDM-T02\\S\\文書\\S\\99KKX_"), "{}", obx[0]);
        assert!(obx[0].contains("_1.png^^IM^PNG|"), "{}", obx[0]);
        assert!(obx[1].contains("|ED|") && obx[1].contains("AAAA"), "small images stay inline");
        let (same, none) = externalize_images(&body, usize::MAX, name).unwrap();
        assert_eq!((same, none.len()), (body, 0));
    }

    #[test]
    fn a_later_version_renames_the_earlier_file_to_flag_two() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = facts("OML^O33^OML_O33", Some(FormKind::Lab));
        let old = storage_path(&first).unwrap();
        std::fs::create_dir_all(dir.path().join(&old.folder)).unwrap();
        std::fs::write(dir.path().join(old.relative()), b"v1").unwrap();
        // The correction moved the paper's day.
        first.day = Some("2026-11-06");
        first.message_time = "20261121090000.000";
        let new = storage_path(&first).unwrap();
        std::fs::create_dir_all(dir.path().join(&new.folder)).unwrap();
        std::fs::write(dir.path().join(new.relative()), b"v2").unwrap();
        assert_eq!(supersede_older(dir.path(), &new).unwrap(), 1);
        let renamed =
            dir.path().join(&old.folder).join(format!("{}2", &old.file_name[..old.file_name.len() - 1]));
        assert_eq!(std::fs::read(renamed).unwrap(), b"v1");
        assert!(dir.path().join(new.relative()).exists());
        assert_eq!(supersede_older(dir.path(), &new).unwrap(), 0, "nothing twice");
    }
}
