//! Registering a patient who arrives during the outage, under the station's next downtime ID.
//!
//! Whatever is known is taken; an unconscious or unidentified patient is registered under the
//! hospital's convention for unknown patients: kanji name `身元不明 <ID>`, kana `ミモトフメイ <ID>`
//! (unique, so two unknown patients never share a name), the sex as seen and a date of birth
//! estimated from the apparent age (1 January of the year, marked as estimated).

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::auth::{AuthError, Session};
use crate::domain::Permission;
use crate::domain::{
    BloodType, DateOfBirth, FieldError, KanaName, KanjiName, Location, Patient, PatientId, Sex, clean_text,
    kana::readings_alike, split_list,
};
use crate::print::{KitError, KitRequest};
use crate::store::{Actor, IdSource, PatientRecord, RegistrationFlags, Store, StoreError};

/// The ward of a patient registered without one: an outpatient (ER, clinic).
pub const OUTPATIENT_WARD: &str = "OPD";

/// What the registration form or the command line gives, as typed.
#[derive(Debug, Clone, Default)]
pub struct RegistrationInput {
    pub kana: String,
    pub name: String,
    /// Western calendar; empty when unknown.
    pub dob: String,
    /// Apparent age in years, when the date of birth is unknown.
    pub estimated_age: Option<u32>,
    pub sex: String,
    /// Empty means unknown: a blood type is never guessed.
    pub blood: String,
    /// Empty means an outpatient.
    pub ward: String,
    pub room: String,
    pub bed: String,
    pub department: String,
    pub allergies: String,
    /// The patient cannot be identified (no name known).
    pub identity_unknown: bool,
    /// A pre-printed packet's ID, scanned from its wristband or label: the patient is registered
    /// under it. Empty: the next ID of this station.
    pub packet: String,
}

/// A registration's problems, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
pub struct InputErrors(pub Vec<(&'static str, String)>);

/// The validated input, waiting only for its ID.
#[derive(Debug, Clone)]
pub struct CheckedRegistration {
    kana: Option<KanaName>,
    name: Option<KanjiName>,
    dob: DateOfBirth,
    sex: Sex,
    blood: BloodType,
    location: Location,
    department: String,
    allergies: Vec<String>,
    pub flags: RegistrationFlags,
}

impl RegistrationInput {
    /// Checks every field and reports every problem at once.
    pub fn check(&self, today: NaiveDate) -> Result<CheckedRegistration, InputErrors> {
        let mut errors = Vec::new();
        let unknown = self.identity_unknown || (self.kana.trim().is_empty() && self.name.trim().is_empty());
        if self.identity_unknown && !(self.kana.trim().is_empty() && self.name.trim().is_empty()) {
            errors.push((
                "kana",
                "a name was typed but 'identity unknown' is ticked: clear the name or untick it".to_string(),
            ));
        }
        let kana = if unknown { None } else { take(&mut errors, "kana", KanaName::parse(&self.kana)) };
        let name = if unknown || self.name.trim().is_empty() {
            None
        } else {
            take(&mut errors, "name", KanjiName::parse(&self.name))
        };
        let sex = take(&mut errors, "sex", Sex::parse(&self.sex));
        // Blank parses as unknown: a blood type is never guessed.
        let blood = take(&mut errors, "blood", BloodType::parse(&self.blood));
        let (dob, estimated) = match (self.dob.trim().is_empty(), self.estimated_age) {
            (false, _) => (take(&mut errors, "dob", DateOfBirth::parse(&self.dob, today)), false),
            (true, Some(age)) => (take(&mut errors, "age", estimated_dob(age, today)), true),
            (true, None) => {
                errors
                    .push(("dob", "give the date of birth, or the estimated age when it is unknown".into()));
                (None, false)
            }
        };
        let ward = self.ward.trim();
        let location = Location {
            ward: if ward.is_empty() { OUTPATIENT_WARD.to_string() } else { ward.to_uppercase() },
            room: self.room.trim().to_string(),
            bed: self.bed.trim().to_string(),
        };
        if !location.ward.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || location.ward.len() > 10 {
            errors.push((
                "ward",
                format!("ward '{ward}' must be up to 10 letters, digits or '-' (e.g. 5E, ICU)"),
            ));
        }
        let department = if self.department.trim().is_empty() {
            Some(String::new())
        } else {
            take(&mut errors, "department", clean_text(&self.department, "department"))
        };
        let allergies = take(&mut errors, "allergies", split_list(&self.allergies, "allergies"));
        if !errors.is_empty() {
            return Err(InputErrors(errors));
        }
        let (Some(sex), Some(blood), Some(dob), Some(department), Some(allergies)) =
            (sex, blood, dob, department, allergies)
        else {
            unreachable!("every missing value pushed an error");
        };
        Ok(CheckedRegistration {
            kana,
            name,
            dob,
            sex,
            blood,
            location,
            department,
            allergies,
            flags: RegistrationFlags {
                outpatient: ward.is_empty(),
                identity_unknown: unknown,
                dob_estimated: estimated,
            },
        })
    }
}

fn take<T>(
    errors: &mut Vec<(&'static str, String)>,
    field: &'static str,
    r: Result<T, FieldError>,
) -> Option<T> {
    r.map_err(|e| errors.push((field, e.message))).ok()
}

fn estimated_dob(age: u32, today: NaiveDate) -> Result<DateOfBirth, FieldError> {
    let year = i32::try_from(age).ok().and_then(|a| today.year().checked_sub(a));
    let date = year.and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1));
    date.ok_or_else(|| FieldError::new(format!("estimated age {age} is not an age")))
        .and_then(|d| DateOfBirth::new(d.min(today), today))
}

impl CheckedRegistration {
    /// The patient, once the ID is drawn. Unknown patients are named after their ID.
    pub fn patient(&self, id: &PatientId) -> Patient {
        let kana = self.kana.clone().unwrap_or_else(|| {
            KanaName::parse(&format!("ミモトフメイ　{id}")).expect("katakana and an ID form a kana name")
        });
        let name = self.name.clone().unwrap_or_else(|| {
            if self.flags.identity_unknown {
                KanjiName::parse(&format!("身元不明　{id}")).expect("a fixed name with an ID")
            } else {
                // Only the reading is known: print it where the kanji would go.
                KanjiName::parse(kana.as_str()).expect("a kana name is a name")
            }
        });
        Patient {
            id: id.clone(),
            name,
            kana,
            dob: self.dob,
            sex: self.sex,
            blood: self.blood,
            location: self.location.clone(),
            department: self.department.clone(),
            allergies: self.allergies.clone(),
        }
    }

    /// Patients already known whose reading is the same or nearly the same: the clerk checks
    /// they are not registering someone twice.
    pub fn similar_patients(&self, known: &[PatientRecord]) -> Vec<PatientRecord> {
        let Some(kana) = &self.kana else { return Vec::new() };
        known.iter().filter(|r| readings_alike(kana.as_str(), r.patient.kana.as_str())).cloned().collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Input(#[from] InputErrors),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The patient is registered (the ID is drawn and kept) but the band did not print: print it
    /// again for that ID, never register the patient again.
    #[error("{id} registered, but the wristband could not be printed: {1} (print it again: kamikarte kit --out DIR --patient {id} --forms wristband_adult,wristband_infant --blanks 0)", id = .0.patient.id)]
    Wristband(Box<Registered>, KitError),
}

/// A registration done: the patient and, when asked, the wristband's PDF.
#[derive(Debug, Clone)]
pub struct Registered {
    pub patient: Patient,
    pub flags: RegistrationFlags,
    pub wristband: Option<PathBuf>,
    /// Known patients with a similar reading (warned about, not refused).
    pub similar: Vec<PatientRecord>,
    /// Downtime IDs passed over because the census already holds them: the EHR uses numbers of
    /// the block, and its team must hear of it before downtime records are merged back.
    pub skipped: Vec<PatientId>,
}

impl Registered {
    /// The warning for skipped IDs, if any.
    pub fn skipped_warning(&self) -> Option<String> {
        skipped_warning(&self.skipped)
    }
}

/// The warning for downtime IDs passed over because census patients hold them (a registration
/// or a packet reservation), if any.
pub fn skipped_warning(skipped: &[PatientId]) -> Option<String> {
    (!skipped.is_empty()).then(|| {
        let ids: Vec<&str> = skipped.iter().map(PatientId::as_str).collect();
        format!(
            "downtime ID(s) {} already belong to census patients and were skipped: the EHR uses numbers of this block — tell the EHR team before more are handed out",
            ids.join(", ")
        )
    })
}

/// Registers under the next downtime ID of this station and, with `wristband_dir`, prints the
/// wristband at once (into `<dir>/register-<ID>/`, so earlier bands are never overwritten).
pub fn register(
    store: &mut Store,
    session: &Session,
    input: &RegistrationInput,
    today: NaiveDate,
    wristband_dir: Option<&Path>,
) -> Result<Registered, RegisterError> {
    session.require(Permission::Register)?;
    let actor = &session.actor();
    let checked = input.check(today)?;
    let similar = checked.similar_patients(&store.patients(None, true)?);
    let station = store.settings()?.station()?.to_string();
    let packet = match input.packet.trim() {
        "" => None,
        // The packet's wristband carries the bare ID; each of its pages a page code naming it.
        raw => match crate::domain::PageCode::parse(raw) {
            Ok(code) => Some(code.patient.ok_or_else(|| {
                InputErrors(vec![("packet", format!("'{raw}' is a blank form's code, not a packet's"))])
            })?),
            Err(e) if raw.contains('.') => {
                return Err(InputErrors(vec![(
                    "packet",
                    format!("'{raw}' is no page code of a packet: {e}"),
                )])
                .into());
            }
            Err(_) => Some(PatientId::parse(raw).map_err(|e| InputErrors(vec![("packet", e.message)]))?),
        },
    };
    let source = match &packet {
        Some(id) => IdSource::Packet(id),
        None => IdSource::Next(&station),
    };
    let (patient, skipped) =
        store.register_patient(actor, source, checked.flags, |id| checked.patient(id))?;
    let mut done = Registered { patient, flags: checked.flags, wristband: None, similar, skipped };
    if let Some(dir) = wristband_dir {
        match wristband(store, actor, &done.patient.id, dir) {
            Ok(path) => done.wristband = Some(path),
            Err(e) => return Err(RegisterError::Wristband(Box::new(done), e)),
        }
    }
    Ok(done)
}

/// Prints one patient's wristband again (adult or infant, by age) and returns the PDF's path.
pub fn print_wristband(
    store: &mut Store,
    session: &Session,
    id: &PatientId,
    dir: &Path,
) -> Result<PathBuf, KitError> {
    session.require(Permission::Register)?;
    wristband(store, &session.actor(), id, dir)
}

fn wristband(store: &mut Store, actor: &Actor, id: &PatientId, dir: &Path) -> Result<PathBuf, KitError> {
    let request = KitRequest {
        out_dir: dir.join(format!("register-{id}")),
        patients: vec![id.to_string()],
        forms: vec!["wristband_adult".into(), "wristband_infant".into()],
        blanks: 0,
        ..KitRequest::default()
    };
    let report = crate::print::print_kit(store, actor, &request, &mut |_, _| {})?;
    report.files.into_iter().next().map(|f| f.path).ok_or(KitError::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let input = RegistrationInput {
            kana: "山田".into(),
            sex: "X".into(),
            dob: "2030-01-01".into(),
            blood: "C".into(),
            ..Default::default()
        };
        let e = input.check(today()).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["kana", "sex", "blood", "dob"], "{e}");
        let contradictory = RegistrationInput {
            identity_unknown: true,
            kana: "ヤマダ".into(),
            sex: "M".into(),
            estimated_age: Some(40),
            ..Default::default()
        };
        assert!(contradictory.check(today()).unwrap_err().to_string().contains("identity unknown"));
    }

    #[test]
    fn an_unknown_patient_is_named_after_the_id_with_an_estimated_birth_year() {
        let input = RegistrationInput {
            identity_unknown: true,
            sex: "M".into(),
            estimated_age: Some(60),
            ..Default::default()
        };
        let checked = input.check(today()).unwrap();
        assert!(checked.flags.identity_unknown && checked.flags.dob_estimated && checked.flags.outpatient);
        let p = checked.patient(&PatientId::parse("DT1000003").unwrap());
        assert_eq!(p.kana.as_str(), "ミモトフメイ　DT1000003");
        assert_eq!(p.name.as_str(), "身元不明　DT1000003");
        assert_eq!(p.dob.iso(), "1966-01-01");
        assert!(p.blood.is_unknown(), "a blood type is never guessed");
        assert_eq!(p.location.ward, OUTPATIENT_WARD);
    }

    #[test]
    fn a_known_reading_without_kanji_prints_the_reading() {
        let input = RegistrationInput {
            kana: "やまだ　はなこ".into(),
            sex: "F".into(),
            dob: "1980-04-01".into(),
            ward: "5e".into(),
            ..Default::default()
        };
        let checked = input.check(today()).unwrap();
        assert!(!checked.flags.outpatient && !checked.flags.identity_unknown);
        let p = checked.patient(&PatientId::parse("DT1000003").unwrap());
        assert_eq!(
            (p.kana.as_str(), p.name.as_str(), p.location.ward.as_str()),
            ("ヤマダ　ハナコ", "ヤマダ　ハナコ", "5E")
        );
    }
}
