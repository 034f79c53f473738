use super::{BloodType, DateOfBirth, KanaName, KanjiName, PatientId, Sex};

/// Where an inpatient lies. `bed` is the label the ward uses (e.g. `501-2`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub ward: String,
    pub room: String,
    pub bed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientStatus {
    Admitted,
    /// No longer in the latest census. Kept, never deleted: paper printed for them may still
    /// come back after recovery.
    Discharged,
}

impl PatientStatus {
    pub fn code(self) -> &'static str {
        match self {
            PatientStatus::Admitted => "admitted",
            PatientStatus::Discharged => "discharged",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "admitted" => Some(PatientStatus::Admitted),
            "discharged" => Some(PatientStatus::Discharged),
            _ => None,
        }
    }
}

/// One patient as the census knows them. Every field is already validated: build one through
/// the `parse` functions of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub name: KanjiName,
    pub kana: KanaName,
    pub dob: DateOfBirth,
    pub sex: Sex,
    pub blood: BloodType,
    pub location: Location,
    pub department: String,
    pub allergies: Vec<String>,
}

/// The one JSON shape of a patient, shared by `census list --json`, the audit trail's before and
/// after images, and later exports' debugging output.
impl serde::Serialize for Patient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(11))?;
        m.serialize_entry("id", self.id.as_str())?;
        m.serialize_entry("name", self.name.as_str())?;
        m.serialize_entry("kana", self.kana.as_str())?;
        m.serialize_entry("dob", &self.dob.iso())?;
        m.serialize_entry("sex", self.sex.code())?;
        m.serialize_entry("blood_type", &self.blood.code())?;
        m.serialize_entry("ward", &self.location.ward)?;
        m.serialize_entry("room", &self.location.room)?;
        m.serialize_entry("bed", &self.location.bed)?;
        m.serialize_entry("department", &self.department)?;
        m.serialize_entry("allergies", &self.allergies)?;
        m.end()
    }
}
