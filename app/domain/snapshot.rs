//! The clinical snapshot: what the hospital's SS-MIX2 storage says of a patient, kept so the
//! paper and the reference screen can show it while the EHR is down. No I/O; the reader is in
//! `crate::snapshot`, the tables in `store::snapshot`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An allergy (AL1): its type (HL7 0127: `DA` drug, `FA` food, `EA` environmental, `MA`
/// miscellaneous…), the allergen as coded and as text, and the severity (HL7 0128).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allergy {
    pub kind: String,
    pub code: String,
    pub text: String,
    pub severity: String,
}

impl Allergy {
    /// One line for paper: `薬剤 ペニシリン (重度)`.
    pub fn describe(&self) -> String {
        let kind = match self.kind.as_str() {
            "DA" => "薬剤",
            "FA" => "食物",
            "EA" => "環境",
            "MA" => "その他",
            "AA" => "動物",
            "PA" => "植物",
            "LA" => "花粉",
            _ => "",
        };
        let severity = match self.severity.as_str() {
            "SV" => " (重度)",
            "MO" => " (中等度)",
            "MI" => " (軽度)",
            _ => "",
        };
        let text = if self.text.is_empty() { &self.code } else { &self.text };
        format!("{kind}{}{text}{severity}", if kind.is_empty() { "" } else { " " })
    }
}

/// A patient of the patient master (ADT-00).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPatient {
    pub id: String,
    /// Kanji name as the EHR has it (display text, never folded).
    pub name: String,
    /// Reading in katakana, family and given joined by a space.
    pub kana: String,
    pub dob: Option<NaiveDate>,
    /// HL7 0001: `M`, `F`, `O`, `U`.
    pub sex: String,
    /// `A+`, `O-`, `AB`, or empty when the storage does not say.
    pub blood_type: String,
    pub allergies: Vec<Allergy>,
}

/// Where a patient went, by an ADT message of the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// ADT-12: an outpatient visit (外来受診).
    Visit,
    /// ADT-22: admitted (入院実施).
    Admit,
    /// ADT-42: moved to another ward or bed (転棟・転床).
    Transfer,
    /// ADT-52: discharged (退院実施).
    Discharge,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub ward: String,
    pub room: String,
    pub bed: String,
    /// The department's code as PV1-10 gives it.
    pub department: String,
    /// When it happened (`YYYY-MM-DDTHH:MM` or the day), from EVN or PV1.
    pub at: String,
}

/// A problem (病名, PPR-01).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub code: String,
    pub name: String,
    pub onset: Option<NaiveDate>,
    /// Ended on (転帰日), when the problem was closed.
    pub ended: Option<NaiveDate>,
}

/// One drug line of a prescription (OMP-01) or an injection (OMP-02).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationLine {
    pub injection: bool,
    pub code: String,
    pub name: String,
    /// The dose as given (RXE-3 with RXE-5's unit): `1 錠`, `500 mL`.
    pub dose: String,
    /// HL7 0162 route as text (`経口`, `静脈内`), or its code.
    pub route: String,
    /// The usage (用法, TQ1-3) as text: `1日3回 毎食後`.
    pub schedule: String,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl MedicationLine {
    /// Still given on `day`: started, and not ended before it.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.start.is_none_or(|s| s <= day) && self.end.is_none_or(|e| e >= day)
    }
}

/// One result of a lab test (OML-11's OBX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabValue {
    pub code: String,
    pub name: String,
    pub value: String,
    pub unit: String,
    pub range: String,
    /// HL7 0078: `H`, `L`, `HH`, `LL`, `A`, or empty.
    pub flag: String,
    /// When it was observed (`YYYY-MM-DDTHH:MM` or the day).
    pub at: String,
}

/// A diet order (OMD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DietOrder {
    pub name: String,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

/// What one storage file says, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Tagged `record`: a movement has a `kind` of its own.
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Patient(SnapshotPatient),
    /// ADT-61: the patient's allergies as the latest message lists them (IAM), with severity.
    Allergies {
        allergies: Vec<Allergy>,
    },
    Movement(Movement),
    Problems {
        problems: Vec<Problem>,
    },
    Medication {
        lines: Vec<MedicationLine>,
    },
    Results {
        values: Vec<LabValue>,
    },
    Diet {
        orders: Vec<DietOrder>,
    },
}

/// How old the patient information is, for every screen and printed page, from when the last
/// snapshot run started (RFC 3339): `患者情報 2026-11-30 08:15 時点` in Japan time.
pub fn age_label(taken_at: &str) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(taken_at).ok()?;
    let local = at.with_timezone(&super::paper_time::japan_time());
    Some(format!("患者情報 {} 時点", local.format("%Y-%m-%d %H:%M")))
}

/// Where a patient is after their movements (oldest first): admitted to a ward (with the latest
/// ward and bed) or not. `None` when they were never admitted.
pub fn current_stay(movements: &[&Movement]) -> Option<Stay> {
    let mut stay: Option<Stay> = None;
    for m in movements {
        match m.kind {
            MovementKind::Admit => {
                stay = Some(Stay { admitted: true, since: m.at.clone(), place: (*m).clone() });
            }
            MovementKind::Transfer => match &mut stay {
                Some(s) if s.admitted => s.place = (*m).clone(),
                // A transfer without the admission read: admitted all the same.
                _ => stay = Some(Stay { admitted: true, since: m.at.clone(), place: (*m).clone() }),
            },
            MovementKind::Discharge => {
                if let Some(s) = &mut stay {
                    s.admitted = false;
                    s.since = m.at.clone();
                } else {
                    stay = Some(Stay { admitted: false, since: m.at.clone(), place: (*m).clone() });
                }
            }
            MovementKind::Visit => {}
        }
    }
    stay
}

/// A patient's current stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub admitted: bool,
    /// Admitted (or discharged) at.
    pub since: String,
    /// The latest ward, room, bed and department.
    pub place: Movement,
}

/// The last `n` results of each test, newest first, tests in the order of their newest result.
pub fn latest_results(values: &[LabValue], n: usize) -> Vec<Vec<&LabValue>> {
    let mut sorted: Vec<&LabValue> = values.iter().collect();
    sorted.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.code.cmp(&b.code)));
    let mut by_test: Vec<Vec<&LabValue>> = Vec::new();
    for v in sorted {
        let key = if v.code.is_empty() { &v.name } else { &v.code };
        match by_test.iter_mut().find(|t| {
            let k = if t[0].code.is_empty() { &t[0].name } else { &t[0].code };
            k == key
        }) {
            Some(t) if t.len() < n => t.push(v),
            Some(_) => {}
            None if n > 0 => by_test.push(vec![v]),
            None => {}
        }
    }
    by_test
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(kind: MovementKind, ward: &str, at: &str) -> Movement {
        Movement {
            kind,
            ward: ward.into(),
            room: String::new(),
            bed: String::new(),
            department: "01".into(),
            at: at.into(),
        }
    }

    #[test]
    fn the_latest_admission_transfer_or_discharge_decides_where_a_patient_is() {
        let admit = moved(MovementKind::Admit, "5E", "2026-11-01");
        let transfer = moved(MovementKind::Transfer, "ICU", "2026-11-03");
        let discharge = moved(MovementKind::Discharge, "ICU", "2026-11-09");
        let visit = moved(MovementKind::Visit, "", "2026-11-20");
        let s = current_stay(&[&admit, &transfer]).unwrap();
        assert!(s.admitted);
        assert_eq!((s.place.ward.as_str(), s.since.as_str()), ("ICU", "2026-11-01"));
        let s = current_stay(&[&admit, &transfer, &discharge, &visit]).unwrap();
        assert!(!s.admitted);
        assert_eq!(current_stay(&[&visit]), None);
    }

    #[test]
    fn every_record_reads_back_as_it_was_kept() {
        let records = [
            Record::Movement(moved(MovementKind::Admit, "5E", "2026-11-01")),
            Record::Problems { problems: vec![] },
        ];
        for r in records {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r, "{json}");
        }
    }

    #[test]
    fn a_medication_is_active_between_its_start_and_end_days() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let line = MedicationLine {
            injection: false,
            code: "1".into(),
            name: "x".into(),
            dose: "1 錠".into(),
            route: "経口".into(),
            schedule: "1日3回".into(),
            start: Some(day(1)),
            end: Some(day(7)),
        };
        assert!(line.active_on(day(1)) && line.active_on(day(7)));
        assert!(!line.active_on(day(8)));
        assert!(MedicationLine { end: None, ..line }.active_on(day(30)));
    }

    #[test]
    fn the_last_n_results_of_each_test_are_kept_newest_first() {
        let v = |code: &str, at: &str, value: &str| LabValue {
            code: code.into(),
            name: code.into(),
            value: value.into(),
            unit: String::new(),
            range: String::new(),
            flag: String::new(),
            at: at.into(),
        };
        let values = [
            v("CRP", "2026-11-01", "0.3"),
            v("CRP", "2026-11-05", "2.1"),
            v("WBC", "2026-11-03", "9800"),
            v("CRP", "2026-11-03", "1.0"),
        ];
        let latest = latest_results(&values, 2);
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[0].iter().map(|v| v.value.as_str()).collect::<Vec<_>>(), ["2.1", "1.0"]);
        assert_eq!(latest[1][0].value, "9800");
        assert!(latest_results(&values, 0).is_empty());
    }
}
