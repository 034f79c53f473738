use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// No one alive was born before this; a year earlier is a typo (1870 for 1970), not a patient.
const OLDEST_AGE_YEARS: i32 = 130;

/// A date of birth in the Western (Gregorian) calendar, never in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    /// Accepts `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` (one-digit month and day too) and
    /// `YYYYMMDD`, in half- or full-width digits. `today` is passed in so tests and imports agree
    /// on what "the future" is.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let text: String = input.nfkc().collect::<String>().trim().to_string();
        if text.is_empty() {
            return Err(FieldError::new("date of birth is empty"));
        }
        let (y, m, d) = split_ymd(&text).ok_or_else(|| {
            FieldError::new(format!(
                "date of birth '{text}' is not a date (expected YYYY-MM-DD, Western calendar)"
            ))
        })?;
        let date = NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| FieldError::new(format!("date of birth '{text}' is not a real date")))?;
        Self::new(date, today).map_err(|e| FieldError::new(format!("'{text}': {e}")))
    }

    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, FieldError> {
        if date > today {
            return Err(FieldError::new("date of birth is in the future"));
        }
        if today.year() - date.year() > OLDEST_AGE_YEARS {
            return Err(FieldError::new(format!("date of birth is more than {OLDEST_AGE_YEARS} years ago")));
        }
        Ok(Self(date))
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// Age in whole years on `on`; a person born on 29 February ages on 1 March in other years.
    pub fn age_on(&self, on: NaiveDate) -> u32 {
        on.years_since(self.0).unwrap_or(0)
    }

    /// The ISO form, `YYYY-MM-DD`, used in files and JSON.
    pub fn iso(&self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

fn split_ymd(text: &str) -> Option<(i32, u32, u32)> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() <= 2 && d.len() <= 2 => {
            if !(all_digits(y) && all_digits(m) && all_digits(d)) {
                return None;
            }
            Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
        }
        [compact] if compact.len() == 8 && all_digits(compact) => {
            Some((compact[..4].parse().ok()?, compact[4..6].parse().ok()?, compact[6..].parse().ok()?))
        }
        _ => None,
    }
}

impl std::fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn common_written_forms_are_accepted() {
        for s in ["1975-02-03", "1975/2/3", "19750203", "１９７５－０２－０３", "1975.02.03"] {
            assert_eq!(DateOfBirth::parse(s, today()).unwrap().iso(), "1975-02-03", "{s}");
        }
    }

    #[test]
    fn impossible_future_and_ancient_dates_are_refused() {
        assert!(DateOfBirth::parse("1975-02-30", today()).unwrap_err().message.contains("not a real date"));
        assert!(DateOfBirth::parse("2026-11-23", today()).unwrap_err().message.contains("future"));
        assert!(DateOfBirth::parse("1870-01-01", today()).is_err());
        assert!(DateOfBirth::parse("S50.2.3", today()).unwrap_err().message.contains("YYYY-MM-DD"));
        assert!(DateOfBirth::parse("75-02-03", today()).is_err());
    }

    #[test]
    fn age_counts_whole_years() {
        let dob = DateOfBirth::parse("2000-11-23", today()).unwrap();
        assert_eq!(dob.age_on(today()), 25);
        assert_eq!(DateOfBirth::parse("2026-11-22", today()).unwrap().age_on(today()), 0);
    }
}
