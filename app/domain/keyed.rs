//! What back-entry makes of a keyed page: charge lines for billing and structured records for
//! the chart. Plain types; `entry::derive` builds them from a form's values, `store` keeps them.

use serde_json::{Map, Value};

/// Where a charge line came from on the slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineOrigin {
    /// A tick box printed with the code.
    Tick,
    /// A code written on a free line.
    Typed,
}

impl LineOrigin {
    pub fn code(self) -> &'static str {
        match self {
            LineOrigin::Tick => "tick",
            LineOrigin::Typed => "typed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChargeLine {
    pub service_date: String,
    /// When it was done (`HH:MM`), when the slip says: surcharges depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time: Option<String>,
    pub code: String,
    pub quantity: f64,
    pub department: Option<String>,
    pub doctor: Option<String>,
    pub origin: LineOrigin,
    /// The 医事 system's insurance combination number (保険組合せ番号) the slip names: a
    /// reference to what 医事 holds, never insurance data of kamikarte's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance: Option<String>,
}

impl ChargeLine {
    /// What two keyings must agree on for the line to be the same line.
    pub fn key(&self) -> String {
        format!(
            "{}{} {} ×{} {} {}{}",
            self.service_date,
            self.service_time.as_deref().map(|t| format!(" {t}")).unwrap_or_default(),
            self.code,
            self.quantity,
            self.department.as_deref().unwrap_or("-"),
            self.doctor.as_deref().unwrap_or("-"),
            self.insurance.as_deref().map(|i| format!(" 保険{i}")).unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    ProgressNote,
    /// Vital signs and other measured values.
    Observation,
    /// A dose given (MAR).
    Administration,
    /// A lab, imaging, diet, drug or injection order.
    Order,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] =
        [RecordKind::ProgressNote, RecordKind::Observation, RecordKind::Administration, RecordKind::Order];

    pub fn code(self) -> &'static str {
        match self {
            RecordKind::ProgressNote => "progress_note",
            RecordKind::Observation => "observation",
            RecordKind::Administration => "administration",
            RecordKind::Order => "order",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One row of a paper page made structured: a vital-sign round, a dose, a drug line, a note.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaperRecord {
    pub kind: RecordKind,
    /// The row of the paper (`1`…), empty for the page as a whole.
    pub row: String,
    /// When it happened, as the paper says: `YYYY-MM-DDTHH:MM`, or the date alone.
    pub event_at: Option<String>,
    pub values: Map<String, Value>,
}
