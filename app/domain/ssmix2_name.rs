//! The name of a file in an SS-MIX2 standardized storage, which says what the file is without
//! opening it: `<patient ID>_<day>_<data type>_<order no>_<timestamp>_<dept>_<condition flag>`
//! (docs/research/ssmix2-reader.md). No I/O.

use chrono::NaiveDate;

/// What a storage file's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageName {
    pub patient_id: String,
    /// The day of care; `None` for `-` (the patient's basic information belongs to no day).
    pub day: Option<NaiveDate>,
    /// `ADT-00`, `OMP-01`, … (the extended storage's `CODE^NAME^SYSTEM` kept whole).
    pub data_type: String,
    /// The order number (15 characters; `999999999999999` for patient-level data).
    pub order_no: String,
    /// `YYYYMMDDHHMMSSfff`: when the message was made; the later of two versions wins.
    pub timestamp: String,
    /// The department code, `None` for `-`.
    pub department: Option<String>,
    pub flag: ConditionFlag,
}

/// The condition flag, the name's last part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionFlag {
    /// `1`: the data is valid.
    Valid,
    /// `0`: the order was deleted (cancelled): it no longer stands.
    Deleted,
    /// `2`: a past version another file superseded (kamikarte's own writer keeps them so).
    Superseded,
}

/// Why a file name is not a storage file's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not an SS-MIX2 storage file name ({why})")]
pub struct NameError {
    pub name: String,
    pub why: &'static str,
}

impl StorageName {
    /// Reads a file name. Parts are split from the right, so a patient ID holding `_` still reads.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let err = |why| NameError { name: name.to_string(), why };
        let mut parts: Vec<&str> = name.rsplitn(7, '_').map(str::trim).collect();
        if parts.len() != 7 {
            return Err(err("seven parts joined by '_' expected"));
        }
        parts.reverse();
        let [patient, day, data_type, order_no, timestamp, department, flag] = parts[..] else {
            return Err(err("seven parts joined by '_' expected"));
        };
        if patient.is_empty() || patient == "-" {
            return Err(err("no patient ID"));
        }
        let day = match day {
            "-" => None,
            d => Some(
                NaiveDate::parse_from_str(d, "%Y%m%d").map_err(|_| err("the day is not YYYYMMDD or -"))?,
            ),
        };
        if data_type.is_empty() {
            return Err(err("no data type"));
        }
        if timestamp.len() < 14 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the timestamp is not YYYYMMDDHHMMSS digits"));
        }
        let flag = match flag {
            "1" => ConditionFlag::Valid,
            "0" => ConditionFlag::Deleted,
            "2" => ConditionFlag::Superseded,
            _ => return Err(err("the condition flag is not 0, 1 or 2")),
        };
        Ok(StorageName {
            patient_id: patient.to_string(),
            day,
            data_type: data_type.to_string(),
            order_no: order_no.to_string(),
            // Compared as text: padded to milliseconds so a 14-digit stamp sorts with 17-digit ones.
            timestamp: format!("{timestamp:0<17}"),
            department: (department != "-" && !department.is_empty()).then(|| department.to_string()),
            flag,
        })
    }

    /// What names the order across its versions: its number, or for patient-level data (no
    /// order: fifteen 9s) the number and the day, since a visit or an admission of each day is
    /// its own.
    pub fn order_key(&self) -> String {
        if self.order_no.bytes().all(|b| b == b'9') {
            format!("{}@{}", self.order_no, self.day_text())
        } else {
            self.order_no.clone()
        }
    }

    /// The day as `YYYY-MM-DD`, or `-`.
    pub fn day_text(&self) -> String {
        self.day.map_or_else(|| "-".to_string(), |d| d.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guidelines_sample_names_read() {
        let n =
            StorageName::parse("0123456789_20080126_OML-11_081251234567800_200802031630123_01_1").unwrap();
        assert_eq!(n.patient_id, "0123456789");
        assert_eq!(n.day, NaiveDate::from_ymd_opt(2008, 1, 26));
        assert_eq!((n.data_type.as_str(), n.order_no.as_str()), ("OML-11", "081251234567800"));
        assert_eq!((n.department.as_deref(), n.flag), (Some("01"), ConditionFlag::Valid));
        let basic = StorageName::parse("000035526_-_ADT-00_999999999999999_ 20140111135649314_-_1").unwrap();
        assert_eq!((basic.day, basic.department), (None, None));
        assert_eq!(basic.timestamp, "20140111135649314");
        let ext = StorageName::parse(
            "0123456789_20160101_L-OBSERVATIONS^OBSERVATIONS^99ZL01_000000020160101_201601011500321_-_0",
        )
        .unwrap();
        assert_eq!(
            (ext.data_type.as_str(), ext.flag),
            ("L-OBSERVATIONS^OBSERVATIONS^99ZL01", ConditionFlag::Deleted)
        );
    }

    #[test]
    fn a_name_that_is_no_storage_file_is_refused_with_why() {
        for (name, why) in [
            ("readme.txt", "seven parts"),
            ("1_20260101_OMP-01_1_2026010112_01_1", "timestamp"),
            ("1_2026-01-01_OMP-01_1_20260101120000000_01_1", "YYYYMMDD"),
            ("1_20260101_OMP-01_1_20260101120000000_01_7", "condition flag"),
        ] {
            let e = StorageName::parse(name).unwrap_err();
            assert!(e.to_string().contains(why), "{name}: {e}");
        }
    }
}
