//! A downtime episode and its phases, as the case hospital's BCP names them.

use super::FieldError;

/// Where the hospital stands during an outage (DESIGN.md, "The four phases").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The patient's past is unknown: print from the last census snapshot.
    PastUnknown = 1,
    /// Patient information is available: kits, wristbands, downtime registration.
    PatientInfo = 2,
    /// Minimal orders (tests, imaging, drugs) are possible: order slips, scan station, volume.
    MinimalOrders = 3,
    /// Everything is back: scan import, back-entry, reconciliation, hand-off.
    Recovery = 4,
}

impl Phase {
    pub const ALL: [Phase; 4] =
        [Phase::PastUnknown, Phase::PatientInfo, Phase::MinimalOrders, Phase::Recovery];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Result<Self, FieldError> {
        Phase::ALL
            .get(usize::from(n).wrapping_sub(1))
            .copied()
            .ok_or_else(|| FieldError::new(format!("phase {n} does not exist (phases are 1–4)")))
    }

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let text = input.trim();
        text.parse::<u8>()
            .map_err(|_| FieldError::new(format!("phase '{text}' is not a number 1–4")))
            .and_then(Self::from_number)
    }

    /// What the phase means, in Japanese and English, for banners and listings.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::PastUnknown => "過去情報なし The patient's past is unknown",
            Phase::PatientInfo => "患者情報あり Patient information available",
            Phase::MinimalOrders => "最小限のオーダー Minimal orders possible",
            Phase::Recovery => "復旧 Everything is back",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_numbered_one_to_four() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_number(p.number()).unwrap(), p);
            assert_eq!(Phase::parse(&p.to_string()).unwrap(), p);
        }
        assert!(Phase::from_number(0).is_err());
        assert!(Phase::parse("5").unwrap_err().message.contains("1–4"));
        assert!(Phase::parse("two").is_err());
    }
}
