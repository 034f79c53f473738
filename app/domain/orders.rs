//! Paper orders as the volume monitor counts them.

use super::FieldError;

/// What kind of order a slip carries (from a form definition's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    Lab,
    Imaging,
    Prescription,
    Injection,
    Diet,
}

/// A line of the volume monitor: an order kind, with lab split by inpatient and outpatient
/// because that is where the case hospital's lab set its safe limit (200 outpatient tests a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VolumeCategory {
    LabOutpatient,
    LabInpatient,
    Imaging,
    Prescription,
    Injection,
    Diet,
}

impl VolumeCategory {
    pub const ALL: [VolumeCategory; 6] = [
        VolumeCategory::LabOutpatient,
        VolumeCategory::LabInpatient,
        VolumeCategory::Imaging,
        VolumeCategory::Prescription,
        VolumeCategory::Injection,
        VolumeCategory::Diet,
    ];

    pub fn of(kind: OrderKind, outpatient: bool) -> Self {
        match kind {
            OrderKind::Lab if outpatient => VolumeCategory::LabOutpatient,
            OrderKind::Lab => VolumeCategory::LabInpatient,
            OrderKind::Imaging => VolumeCategory::Imaging,
            OrderKind::Prescription => VolumeCategory::Prescription,
            OrderKind::Injection => VolumeCategory::Injection,
            OrderKind::Diet => VolumeCategory::Diet,
        }
    }

    /// The code in the database, settings (`volume.limit.<code>`) and JSON.
    pub fn code(self) -> &'static str {
        match self {
            VolumeCategory::LabOutpatient => "lab_outpatient",
            VolumeCategory::LabInpatient => "lab_inpatient",
            VolumeCategory::Imaging => "imaging",
            VolumeCategory::Prescription => "prescription",
            VolumeCategory::Injection => "injection",
            VolumeCategory::Diet => "diet",
        }
    }

    pub fn parse(code: &str) -> Result<Self, FieldError> {
        VolumeCategory::ALL.into_iter().find(|c| c.code() == code.trim()).ok_or_else(|| {
            let known: Vec<&str> = VolumeCategory::ALL.iter().map(|c| c.code()).collect();
            FieldError::new(format!("order type '{code}' is not one of {}", known.join(", ")))
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            VolumeCategory::LabOutpatient => "検体検査（外来） Lab, outpatient",
            VolumeCategory::LabInpatient => "検体検査（入院） Lab, inpatient",
            VolumeCategory::Imaging => "画像検査 Imaging",
            VolumeCategory::Prescription => "処方 Prescriptions",
            VolumeCategory::Injection => "注射 Injections",
            VolumeCategory::Diet => "食事 Diet",
        }
    }

    /// The safe limit per day when none is configured: the case hospital's lab asked that
    /// outpatient tests stay under 200 a day; the others have no limit until a hospital sets one.
    pub fn default_limit(self) -> Option<u32> {
        match self {
            VolumeCategory::LabOutpatient => Some(200),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_is_split_by_outpatient_and_codes_round_trip() {
        assert_eq!(VolumeCategory::of(OrderKind::Lab, true), VolumeCategory::LabOutpatient);
        assert_eq!(VolumeCategory::of(OrderKind::Lab, false), VolumeCategory::LabInpatient);
        assert_eq!(VolumeCategory::of(OrderKind::Diet, true), VolumeCategory::Diet);
        for c in VolumeCategory::ALL {
            assert_eq!(VolumeCategory::parse(c.code()).unwrap(), c);
        }
        assert!(VolumeCategory::parse("pizza").is_err());
        assert_eq!(VolumeCategory::LabOutpatient.default_limit(), Some(200));
    }
}
