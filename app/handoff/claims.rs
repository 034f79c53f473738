//! Charge lines as a 医事 (billing) system needs them to make a claim: who (the record number 医事
//! registered; a patient still known only by a downtime ID is never billed), inpatient or not,
//! when (day and time of service: surcharges depend on it), which department and doctor by the
//! billing system's codes, what (the receipt-computer code, its fee-schedule section and ORCA's
//! 診療種別区分), how many — and whether the line adds a charge or cancels one billing had from
//! an earlier version of the slip. Insurance is 医事's own: kamikarte never sends or invents it.
//! The billing CSV, ORCA's requests and the billing report are all made from these.

use std::collections::HashMap;

use super::content::{Content, HandoffItem, Keyed};
use crate::domain::billing::{MedicalClass, medical_class};
use crate::domain::staff::{StaffDirectory, Written, without_title};

/// Whether a line charges or takes back a charge billing had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    /// A line of an earlier version of a corrected slip: its quantity is negated, so an
    /// importer that only sums quantities still ends at the corrected total.
    Cancel,
}

impl Action {
    pub fn code(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Cancel => "cancel",
        }
    }
}

/// One charge line with the facts of its claim.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Claim {
    pub action: Action,
    /// The record number 医事 registered (`item.patient.id` once mapped).
    pub patient_id: String,
    pub downtime_id: Option<String>,
    pub patient_kana: String,
    pub inpatient: bool,
    pub service_date: String,
    /// `HH:MM`, when the slip gives it.
    pub service_time: Option<String>,
    /// 医事's 保険組合せ番号 when the slip names one (a reference, never insurance data).
    pub insurance: Option<String>,
    /// As written on the slip.
    pub department: Option<String>,
    /// The departments master's code for it.
    pub department_code: Option<String>,
    /// As written, the title taken off.
    pub doctor: Option<String>,
    /// The billing system's doctor code (the doctors master's `billing`, else its staff code).
    pub doctor_code: Option<String>,
    pub code: String,
    pub name: Option<String>,
    /// The fee schedule's section number (`A000`) from the charges master.
    pub section: Option<String>,
    pub medical_class: MedicalClass,
    /// Negative for a cancellation.
    pub quantity: f64,
    pub points: Option<f64>,
    pub unit: Option<String>,
    pub origin: &'static str,
    pub slip: String,
    pub line_no: u32,
    pub version: u32,
    /// Staff codes (the staff master), the login when it has none.
    pub keyed_by: String,
    pub verified_by: Option<String>,
}

impl Claim {
    /// Quantity × points, when the master has points.
    pub fn total_points(&self) -> Option<f64> {
        self.points.map(|p| p * self.quantity)
    }
}

/// What claims are resolved with: the departments and the doctors and staff masters.
pub struct ClaimContext<'a> {
    pub departments: &'a HashMap<String, String>,
    pub staff: &'a StaffDirectory,
}

/// Whether 医事 can bill this patient: it has registered them (a census patient, or a downtime ID
/// mapped to a record number). Charges of a patient known only by a downtime ID wait.
pub fn billable(item: &HandoffItem) -> bool {
    item.patient.downtime_id.is_none() || item.patient.mrn.is_some()
}

/// The claims of one version of a charge slip (none for anything else).
pub fn claims(item: &HandoffItem, version: u32, action: Action, ctx: &ClaimContext) -> Vec<Claim> {
    let Content::Keyed(k) = &item.content else { return Vec::new() };
    k.lines.iter().map(|line| claim(item, k, line, version, action, ctx)).collect()
}

fn claim(
    item: &HandoffItem,
    k: &Keyed,
    out: &super::content::ChargeOut,
    version: u32,
    action: Action,
    ctx: &ClaimContext,
) -> Claim {
    let line = &out.line;
    let department = line.department.clone();
    let department_code = department.as_deref().and_then(|d| ctx.departments.get(d.trim()).cloned());
    let (doctor, doctor_code) = match line.doctor.as_deref() {
        Some(written) => {
            let places: Vec<&str> =
                department.iter().map(String::as_str).chain(department_code.as_deref()).collect();
            match ctx.staff.doctor(written, &places) {
                Written::Known(m) => (Some(m.name.clone()), Some(m.billing_code().to_string())),
                Written::Unknown(_) => (Some(without_title(written)), None),
            }
        }
        None => (None, None),
    };
    let section = k.code_facts.get(&line.code).and_then(|f| f.get("section")).cloned();
    let inpatient = !item.patient.outpatient;
    let staff_code =
        |login: &str| ctx.staff.user(login).map_or_else(|| login.to_string(), |m| m.code.clone());
    Claim {
        action,
        patient_id: item.patient.id.clone(),
        downtime_id: item.patient.downtime_id.clone(),
        patient_kana: item.patient.kana.clone(),
        inpatient,
        service_date: line.service_date.clone(),
        service_time: line.service_time.clone(),
        insurance: line.insurance.clone(),
        department,
        department_code,
        doctor,
        doctor_code,
        code: line.code.clone(),
        name: out.name.clone(),
        medical_class: medical_class(section.as_deref(), inpatient),
        section,
        quantity: if action == Action::Cancel { -line.quantity } else { line.quantity },
        points: out.points,
        unit: out.unit.clone(),
        origin: line.origin.code(),
        slip: k.item.clone(),
        line_no: out.line_no,
        version,
        keyed_by: staff_code(&k.entered_by),
        verified_by: k.verified_by.as_deref().map(staff_code),
    }
}
