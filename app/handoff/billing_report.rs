//! The billing reconciliation for the 医事 manager who signs the month off: per department and
//! day of service, how many charge lines (and points, from the charges master) were keyed,
//! verified, handed to billing and acknowledged — so what was charged on paper can be matched
//! with what billing received. A line counts at every stage its slip has reached (a verified
//! line was keyed too). "Handed over" is written to a billing CSV, ORCA or an HL7 export;
//! "acknowledged" is accepted by the receiver (an MLLP ACK, or ORCA's answer to `send orca`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::stage::ExportError;
use crate::auth::Session;
use crate::domain::billing::inout_conflict;
use crate::domain::paper_time::japan_time;
use crate::domain::{MasterItem, MasterKind, PatientId, Permission};
use crate::entry::worklist::{Stage, worklist};
use crate::form::FormDefinition;
use crate::print::{Column, table_pdf};
use crate::store::Store;

/// Lines and points at one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Count {
    pub lines: u64,
    pub points: f64,
}

impl Count {
    fn add(&mut self, points: f64) {
        self.lines += 1;
        self.points += points;
    }
}

/// One department's charges of one day of service, by stage.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Row {
    pub department: String,
    pub day: String,
    pub slips: u64,
    pub keyed: Count,
    pub verified: Count,
    pub handed_over: Count,
    pub acknowledged: Count,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BillingReport {
    pub episode: Option<i64>,
    pub rows: Vec<Row>,
    pub total: Row,
    /// Lines whose code the charges master lacks (no points to count): billing must look.
    pub unknown_codes: Vec<String>,
    /// Lines the master allows only for inpatients on an outpatient, or the other way round.
    pub inout_conflicts: Vec<InOutConflict>,
}

/// A charge line where the master's 入外適用区分 says it cannot be (医事 refuses it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InOutConflict {
    pub patient: String,
    pub day: String,
    pub code: String,
    pub name: String,
    /// What the master allows (`入院のみ inpatients only`).
    pub allowed: &'static str,
    /// The slip's item (form code and serial).
    pub slip: String,
}

/// The report of `episode` (all when `None`), audited as a list view.
pub fn billing_report(
    store: &mut Store,
    session: &Session,
    forms: &[FormDefinition],
    episode: Option<i64>,
) -> Result<BillingReport, ExportError> {
    session.require(Permission::Export)?;
    let scope = store.episode_named(episode)?;
    let items = worklist(store, forms, scope.as_ref())?;
    let charges: HashMap<String, MasterItem> =
        store.master_items(MasterKind::Charges.code())?.into_iter().map(|i| (i.code.clone(), i)).collect();
    // Census patients are inpatients; a downtime registration says which it is.
    let mut inpatient: HashMap<String, bool> = HashMap::new();
    let mut conflicts = Vec::new();
    let lines = store.live_charge_lines()?;
    let charge_forms: Vec<&str> = forms.iter().filter(|f| f.makes_charges()).map(|f| f.id.as_str()).collect();
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut unknown = std::collections::BTreeSet::new();
    for item in items.iter().filter(|i| charge_forms.contains(&i.form_id.as_str())) {
        let Some(entry) = item.entry_id else { continue };
        let item_key = item.item.describe();
        let reached = |stage: Stage| item.stage >= stage;
        let mut slips_counted: Vec<(String, String)> = Vec::new();
        for (line, _) in lines.get(&entry).map(Vec::as_slice).unwrap_or_default() {
            let department = line.department.clone().unwrap_or_else(|| "(診療科なし)".into());
            let key = (department.clone(), line.service_date.clone());
            let row = rows.entry(key.clone()).or_insert_with(|| Row {
                department,
                day: line.service_date.clone(),
                ..Row::default()
            });
            if !slips_counted.contains(&key) {
                row.slips += 1;
                slips_counted.push(key);
            }
            let each = match charges.get(&line.code) {
                Some(item) => item.points.unwrap_or(0.0),
                None => {
                    unknown.insert(line.code.clone());
                    0.0
                }
            };
            if let (Some(item), Some(patient)) = (charges.get(&line.code), item.patient.as_deref()) {
                let is_inpatient = match inpatient.get(patient) {
                    Some(known) => *known,
                    None => {
                        let id = PatientId::parse(patient).map_err(|e| ExportError::Message(e.message))?;
                        let known = store.registration(&id)?.is_none_or(|r| !r.flags.outpatient);
                        inpatient.insert(patient.to_string(), known);
                        known
                    }
                };
                if let Some(allowed) = inout_conflict(item.detail("inout"), is_inpatient) {
                    conflicts.push(InOutConflict {
                        patient: patient.to_string(),
                        day: line.service_date.clone(),
                        code: item.code.clone(),
                        name: item.name.clone(),
                        allowed,
                        slip: item_key.clone(),
                    });
                }
            }
            let p = each * line.quantity;
            if reached(Stage::Entered) {
                row.keyed.add(p);
            }
            if reached(Stage::Verified) {
                row.verified.add(p);
            }
            if reached(Stage::Exported) {
                row.handed_over.add(p);
            }
            if reached(Stage::Acknowledged) {
                row.acknowledged.add(p);
            }
        }
    }
    let rows: Vec<Row> = rows.into_values().collect();
    let mut total = Row { department: "合計 Total".into(), ..Row::default() };
    for r in &rows {
        total.slips += r.slips;
        for (sum, part) in [
            (&mut total.keyed, &r.keyed),
            (&mut total.verified, &r.verified),
            (&mut total.handed_over, &r.handed_over),
            (&mut total.acknowledged, &r.acknowledged),
        ] {
            sum.lines += part.lines;
            sum.points += part.points;
        }
    }
    store.record_list_view(&session.actor(), "billing report", rows.len())?;
    Ok(BillingReport {
        episode: scope.map(|e| e.id),
        rows,
        total,
        unknown_codes: unknown.into_iter().collect(),
        inout_conflicts: conflicts,
    })
}

fn cell(c: &Count) -> String {
    format!("{} / {}", c.lines, crate::form::view::number_text(c.points))
}

impl BillingReport {
    /// As a table for the terminal: lines / points at each stage.
    pub fn to_text(&self) -> String {
        let mut out = String::from("department\tday\tslips\tkeyed\tverified\thanded over\tacknowledged\n");
        for r in self.rows.iter().chain(std::iter::once(&self.total)) {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                r.department,
                r.day,
                r.slips,
                cell(&r.keyed),
                cell(&r.verified),
                cell(&r.handed_over),
                cell(&r.acknowledged)
            ));
        }
        if !self.unknown_codes.is_empty() {
            out.push_str(&format!(
                "codes the charges master lacks (counted without points): {}\n",
                self.unknown_codes.join(", ")
            ));
        }
        for c in &self.inout_conflicts {
            out.push_str(&format!(
                "in/out conflict (入外適用区分): {} {} is {} but {} on {} ({}) is not\n",
                c.code, c.name, c.allowed, c.patient, c.day, c.slip
            ));
        }
        out
    }

    /// The lines billing must look at before the month is signed off, as rows of the printed
    /// table (under the total).
    fn to_check(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        if !self.unknown_codes.is_empty() {
            rows.push(vec![
                "要確認 マスタにないコード Codes not in the master".to_string(),
                self.unknown_codes.join(", "),
            ]);
        }
        for c in &self.inout_conflicts {
            rows.push(vec![
                format!("要確認 入外区分 In/out: {} {}", c.code, c.name),
                c.day.clone(),
                String::new(),
                c.patient.clone(),
                c.allowed.to_string(),
                c.slip.clone(),
            ]);
        }
        rows.into_iter()
            .map(|mut r| {
                r.resize(7, String::new());
                r
            })
            .collect()
    }

    /// A printable A4 PDF with a line for the manager's signature.
    pub fn write_pdf(&self, path: &Path, hospital: &str, now: DateTime<Utc>) -> Result<PathBuf, ExportError> {
        let printed = now.with_timezone(&japan_time()).format("%Y-%m-%d %H:%M");
        let scope =
            self.episode.map_or("全期間 all episodes".to_string(), |e| format!("エピソード episode {e}"));
        let title = format!("会計照合表 Billing reconciliation — {hospital}");
        let subtitle = format!(
            "{scope}  {printed} 時点  件数 / 点数 (lines / points)   確認者署名 Signed: ____________________"
        );
        let columns = [
            Column { heading: "診療科 Department", share: 2.6 },
            Column { heading: "実施日 Day", share: 1.8 },
            Column { heading: "伝票 Slips", share: 1.0 },
            Column { heading: "入力 Keyed", share: 1.8 },
            Column { heading: "確認 Verified", share: 1.8 },
            Column { heading: "送付 Handed over", share: 1.8 },
            Column { heading: "受領 Acknowledged", share: 1.8 },
        ];
        let table: Vec<Vec<String>> = self
            .rows
            .iter()
            .chain(std::iter::once(&self.total))
            .map(|r| {
                vec![
                    r.department.clone(),
                    r.day.clone(),
                    r.slips.to_string(),
                    cell(&r.keyed),
                    cell(&r.verified),
                    cell(&r.handed_over),
                    cell(&r.acknowledged),
                ]
            })
            .chain(self.to_check())
            .collect();
        let pdf = table_pdf(&title, &subtitle, &columns, &table).map_err(ExportError::Message)?;
        crate::files::write_private_atomic(path, &pdf, true)
            .map_err(|source| ExportError::Write { path: path.to_path_buf(), source })?;
        Ok(path.to_path_buf())
    }
}
