//! One SS-MIX2 storage file to what the snapshot keeps of it, by its data type
//! (docs/research/ssmix2-reader.md has the fields and their sources):
//!
//! | data type | message | read |
//! |---|---|---|
//! | `ADT-00` | ADT^A08 | PID-3 ID, PID-5 names (`I` kanji, `P` reading), PID-7 birth, PID-8 sex, AL1 allergies, OBX blood type |
//! | `ADT-61` | ADT^A60 | each IAM-2 type, IAM-3 allergen, IAM-4 severity (IAM-6 `D`: deleted) |
//! | `ADT-12` | ADT^A04 | an outpatient visit: PV1-10 department, PV1-44 (else EVN) when |
//! | `ADT-22` `ADT-42` `ADT-52` | ADT^A01 / A02 / A03 | admitted, moved, discharged: PV1-3 ward^room^bed, PV1-10, PV1-44/45, EVN |
//! | `PPR-01` | PPR^ZD1 | PRB-3 problem, PRB-16 onset, PRB-9 resolution |
//! | `OMP-01` `OMP-02` | RDE^O11 | each RXE-2 drug, RXE-3 amount and RXE-5 unit, TQ1-3 usage, TQ1-7/8 start and end, RXR-1 route |
//! | `OML-11` | OUL^R22 | each OBX-3 test, OBX-5 value, OBX-6 unit, OBX-7 range, OBX-8 flag, OBX-14 time |
//! | `OMD` | OMD^O03 | each ODS-3 diet, TQ1-7/8 |
//!
//! Any other data type is not part of the snapshot (`Ok(None)`).

use chrono::NaiveDate;

use crate::domain::er7_read::{Message, Segment};
use crate::domain::snapshot::{
    Allergy, DietOrder, LabValue, MedicationLine, Movement, MovementKind, Problem, Record, SnapshotPatient,
};
use crate::domain::ssmix2_name::StorageName;

/// What the snapshot keeps of a file, `None` for a data type it does not keep. The error says
/// what is wrong with the message.
pub fn read_file(name: &StorageName, bytes: &[u8]) -> Result<Option<Record>, String> {
    let kind = match name.data_type.as_str() {
        "ADT-00" | "ADT-61" | "ADT-12" | "ADT-22" | "ADT-42" | "ADT-52" | "PPR-01" | "OMP-01" | "OMP-02"
        | "OML-11" | "OMD" => name.data_type.as_str(),
        _ => return Ok(None),
    };
    let text = crate::handoff::hl7::charset::decode(bytes);
    let m = Message::parse(&text).map_err(|e| e.to_string())?;
    let record = match kind {
        "ADT-00" => Record::Patient(patient(&m, name)?),
        "ADT-61" => Record::Allergies { allergies: iam_allergies(&m) },
        "ADT-12" => Record::Movement(movement(&m, MovementKind::Visit)),
        "ADT-22" => Record::Movement(movement(&m, MovementKind::Admit)),
        "ADT-42" => Record::Movement(movement(&m, MovementKind::Transfer)),
        "ADT-52" => Record::Movement(movement(&m, MovementKind::Discharge)),
        "PPR-01" => Record::Problems { problems: problems(&m) },
        "OMP-01" => Record::Medication { lines: medication(&m, false) },
        "OMP-02" => Record::Medication { lines: medication(&m, true) },
        "OML-11" => Record::Results { values: results(&m) },
        _ => Record::Diet { orders: diet(&m) },
    };
    Ok(Some(record))
}

/// An HL7 date or date-time (`YYYYMMDD[HHMM[SS[.s]]][+ZZZZ]`) as `YYYY-MM-DD` or
/// `YYYY-MM-DDTHH:MM`; empty when it is not one.
fn when(ts: &str) -> String {
    let digits: String = ts.chars().take_while(|c| c.is_ascii_digit()).collect();
    match digits.len() {
        n if n >= 12 => format!(
            "{}-{}-{}T{}:{}",
            &digits[..4],
            &digits[4..6],
            &digits[6..8],
            &digits[8..10],
            &digits[10..12]
        ),
        n if n >= 8 => format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..8]),
        _ => String::new(),
    }
}

/// A coded field's text (component 2), or its code when the sender gave no text.
fn text_or_code(m: &Message, segment: &Segment, n: usize) -> String {
    let text = m.component(segment, n, 2);
    if text.is_empty() { m.component(segment, n, 1) } else { text }
}

fn day(ts: &str) -> Option<NaiveDate> {
    ts.get(..8).and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
}

fn patient(m: &Message, name: &StorageName) -> Result<SnapshotPatient, String> {
    let pid = m.first("PID").ok_or("ADT-00 without a PID segment")?;
    let id = m
        .repetitions(pid, 3)
        .into_iter()
        .next()
        .and_then(|cx| cx.into_iter().next())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| name.patient_id.clone());
    // PID-5 repeats: the kanji name (representation `I`), the reading (`P`).
    let mut kanji = String::new();
    let mut kana = String::new();
    for xpn in m.repetitions(pid, 5) {
        let part = |i: usize| xpn.get(i).map(String::as_str).unwrap_or("");
        let full = [part(0), part(1)].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
        match part(7) {
            "P" if kana.is_empty() => kana = full,
            "I" | "" if kanji.is_empty() => kanji = full,
            _ => {}
        }
    }
    if kanji.is_empty() && kana.is_empty() {
        return Err("PID-5 gives no name".into());
    }
    let allergies = m
        .all("AL1")
        .map(|al1| Allergy {
            kind: m.component(al1, 2, 1),
            code: m.component(al1, 3, 1),
            text: m.component(al1, 3, 2),
            severity: m.component(al1, 4, 1),
        })
        .filter(|a| !a.code.is_empty() || !a.text.is_empty())
        .collect();
    Ok(SnapshotPatient {
        id,
        name: if kanji.is_empty() { kana.clone() } else { kanji },
        kana: crate::domain::kana::to_katakana(&kana),
        dob: day(&m.component(pid, 7, 1)),
        sex: match m.component(pid, 8, 1).as_str() {
            s @ ("M" | "F" | "O" | "U") => s.to_string(),
            _ => "U".to_string(),
        },
        blood_type: blood_type(m),
        allergies,
    })
}

/// The blood type from the OBX segments JAHIS's patient message carries (ABO and Rh as their
/// own observations), as `A+`, `O-`, `AB` or empty.
fn blood_type(m: &Message) -> String {
    let mut abo = String::new();
    let mut rh = String::new();
    for obx in m.all("OBX") {
        let what = format!("{} {}", m.component(obx, 3, 1), m.component(obx, 3, 2)).to_uppercase();
        let value = m.component(obx, 5, 1);
        let value = value.trim().trim_end_matches('型');
        if what.contains("ABO") {
            if matches!(value.to_uppercase().as_str(), "A" | "B" | "O" | "AB") {
                abo = value.to_uppercase();
            }
        } else if what.contains("RH") {
            rh = match value {
                "+" | "POS" | "Rh+" | "RH+" | "陽性" => "+".into(),
                "-" | "NEG" | "Rh-" | "RH-" | "陰性" => "-".into(),
                _ => rh,
            };
        }
    }
    if abo.is_empty() { String::new() } else { format!("{abo}{rh}") }
}

/// The allergies of an ADT-61 (IAM segments); one whose action (IAM-6) is `D` was deleted.
fn iam_allergies(m: &Message) -> Vec<Allergy> {
    m.all("IAM")
        .filter(|iam| m.component(iam, 6, 1) != "D")
        .map(|iam| Allergy {
            kind: m.component(iam, 2, 1),
            code: m.component(iam, 3, 1),
            text: m.component(iam, 3, 2),
            severity: m.component(iam, 4, 1),
        })
        .filter(|a| !a.code.is_empty() || !a.text.is_empty())
        .collect()
}

fn movement(m: &Message, kind: MovementKind) -> Movement {
    let pv1 = m.first("PV1");
    let get = |n: usize, c: usize| pv1.map(|s| m.component(s, n, c)).unwrap_or_default();
    let at = match kind {
        MovementKind::Discharge => get(45, 1),
        _ => get(44, 1),
    };
    let at = if at.is_empty() {
        // The event's own time (EVN-6 occurred, else EVN-2 recorded).
        let evn = m.first("EVN");
        let occurred = evn.map(|e| m.component(e, 6, 1)).unwrap_or_default();
        if occurred.is_empty() { evn.map(|e| m.component(e, 2, 1)).unwrap_or_default() } else { occurred }
    } else {
        at
    };
    Movement { kind, ward: get(3, 1), room: get(3, 2), bed: get(3, 3), department: get(10, 1), at: when(&at) }
}

fn problems(m: &Message) -> Vec<Problem> {
    m.all("PRB")
        .map(|prb| Problem {
            code: m.component(prb, 3, 1),
            name: m.component(prb, 3, 2),
            onset: day(&m.component(prb, 16, 1)).or_else(|| day(&m.component(prb, 7, 1))),
            ended: day(&m.component(prb, 9, 1)),
        })
        .filter(|p| !p.code.is_empty() || !p.name.is_empty())
        .collect()
}

/// Each RXE with the TQ1 and RXR that follow it (before the next RXE or ORC).
fn medication(m: &Message, injection: bool) -> Vec<MedicationLine> {
    let mut lines: Vec<MedicationLine> = Vec::new();
    // The order's own timing (a TQ1 before the first RXE, in the ORC group) for lines without one.
    let mut order_tq1: Option<&Segment> = None;
    let mut cancelled = false;
    // When the order was written (ORC-9): the start of a drug line whose TQ1 gives none.
    let mut ordered: Option<NaiveDate> = None;
    // A TQ1 or RXR belongs to the RXE before it only within the same ORC group.
    let mut rxe_in_group = false;
    for seg in m.segments() {
        match seg.name.as_str() {
            "ORC" => {
                order_tq1 = None;
                rxe_in_group = false;
                ordered = day(&m.component(seg, 9, 1));
                // A cancelled or discontinued order (ORC-1 CA, DC, OC) stands no longer.
                cancelled = matches!(m.component(seg, 1, 1).as_str(), "CA" | "DC" | "OC" | "CR");
            }
            "RXE" if !cancelled => {
                rxe_in_group = true;
                let amount = m.component(seg, 3, 1);
                let unit = text_or_code(m, seg, 5);
                let mut line = MedicationLine {
                    injection,
                    code: m.component(seg, 2, 1),
                    name: m.component(seg, 2, 2),
                    dose: [amount.as_str(), unit.as_str()]
                        .iter()
                        .filter(|p| !p.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    route: String::new(),
                    schedule: String::new(),
                    start: None,
                    end: None,
                };
                if let Some(tq1) = order_tq1 {
                    timing(m, tq1, &mut line, ordered);
                } else {
                    line.start = ordered;
                }
                lines.push(line);
            }
            "TQ1" => match lines.last_mut() {
                Some(line) if rxe_in_group && !cancelled => timing(m, seg, line, ordered),
                _ => order_tq1 = Some(seg),
            },
            "RXR" => {
                if let Some(line) = lines.last_mut().filter(|_| rxe_in_group && !cancelled) {
                    line.route = text_or_code(m, seg, 1);
                }
            }
            _ => {}
        }
    }
    lines.retain(|l| !l.code.is_empty() || !l.name.is_empty());
    lines
}

/// TQ1 of a drug line: the usage (TQ1-3, a CWE inside the repeat pattern: `code&text&system`,
/// or written as components), the start (TQ1-7) and end (TQ1-8); without an end, the end is the
/// start plus the days of TQ1-6 (`7^d`), as the order was written for that many days.
fn timing(m: &Message, tq1: &Segment, line: &mut MedicationLine, ordered: Option<NaiveDate>) {
    let pattern = m.subcomponents(tq1, 3, 1);
    let usage = match pattern.as_slice() {
        [code] if code.is_empty() => String::new(),
        [code] => {
            let text = m.component(tq1, 3, 2);
            if text.is_empty() { code.clone() } else { text }
        }
        [code, text, ..] => {
            if text.is_empty() {
                code.clone()
            } else {
                text.clone()
            }
        }
        _ => String::new(),
    };
    if !usage.is_empty() {
        line.schedule = usage;
    }
    if let Some(start) = day(&m.component(tq1, 7, 1)).or(ordered) {
        line.start = Some(start);
    }
    if let Some(end) = day(&m.component(tq1, 8, 1)) {
        line.end = Some(end);
    } else if let (Some(start), Ok(days)) = (line.start, m.component(tq1, 6, 1).parse::<u64>())
        && days > 0
        && matches!(m.subcomponents(tq1, 6, 2).first().map(String::as_str), Some("d" | "D" | "日"))
    {
        line.end = start.checked_add_days(chrono::Days::new(days - 1));
    }
}

fn results(m: &Message) -> Vec<LabValue> {
    // The specimen's collection time (SPM-17) for a result without its own.
    let collected = m.first("SPM").map(|s| m.component(s, 17, 1)).unwrap_or_default();
    m.all("OBX")
        .map(|obx| {
            let at = m.component(obx, 14, 1);
            LabValue {
                code: m.component(obx, 3, 1),
                name: m.component(obx, 3, 2),
                value: m.component(obx, 5, 1),
                unit: text_or_code(m, obx, 6),
                range: m.component(obx, 7, 1),
                flag: m.component(obx, 8, 1),
                at: when(if at.is_empty() { &collected } else { &at }),
            }
        })
        .filter(|v| !v.code.is_empty() || !v.name.is_empty())
        .collect()
}

fn diet(m: &Message) -> Vec<DietOrder> {
    let tq1 = m.first("TQ1");
    let start = tq1.and_then(|t| day(&m.component(t, 7, 1)));
    let end = tq1.and_then(|t| day(&m.component(t, 8, 1)));
    m.all("ODS")
        .map(|ods| DietOrder { name: text_or_code(m, ods, 3), start, end })
        .filter(|d| !d.name.is_empty())
        .collect()
}
