//! Dates and times as clerks type them from paper: `1105` for 5 November, `0930` for half past
//! nine, `1105 0930` for both at once. The year is not on most slips, so it is inferred from
//! today: paper is written before it is typed, so a date more than a month ahead of today is
//! last year's.

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, NaiveTime};
use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// Japan Standard Time (UTC+9, no daylight saving): the time the paper was written in and the
/// time the EHR's messages and file names carry.
pub fn japan_time() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is inside ±24 hours")
}

/// How far ahead of today a typed date may lie before it is read as last year's (a slip dated
/// for tomorrow's test is real; one dated next month is almost always last December's).
const AHEAD_DAYS: i64 = 31;

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

fn fold(input: &str) -> String {
    input.nfkc().collect::<String>().trim().to_string()
}

/// Accepts `MMDD`, `M/D`, `MM-DD`, `YYYY-MM-DD` (or `/` `.` separators), `YYYYMMDD`, and the
/// Reiwa era as `R8.11.5` or `R81105`; full-width digits too.
pub fn parse_paper_date(input: &str, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    let text = fold(input);
    let bad = || {
        FieldError::new(format!("'{text}' is not a date (type MMDD like 1105, M/D, YYYY-MM-DD or R8.11.5)"))
    };
    if text.is_empty() {
        return Err(FieldError::new("the date is empty"));
    }
    let (era, body) = match text.strip_prefix(['R', 'r']) {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let parts: Vec<&str> = body.split(['-', '/', '.']).collect();
    // Digits only: the splits below cut by byte, and `+5` is not a month.
    if parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let numbers: Option<Vec<u32>> = parts.iter().map(|p| p.parse::<u32>().ok()).collect();
    let numbers = numbers.ok_or_else(bad)?;
    let (year, month, day) = match (era, parts.as_slice(), numbers.as_slice()) {
        (false, [p], _) if p.len() == 4 => (None, p[..2].parse().unwrap_or(0), p[2..].parse().unwrap_or(0)),
        (false, [p], _) if p.len() == 8 => {
            (Some(p[..4].parse().unwrap_or(0)), p[4..6].parse().unwrap_or(0), p[6..].parse().unwrap_or(0))
        }
        (true, [p], _) if p.len() == 5 || p.len() == 6 => {
            let split = p.len() - 4;
            let reiwa: i32 = p[..split].parse().unwrap_or(0);
            (
                Some(2018 + reiwa),
                p[split..split + 2].parse().unwrap_or(0),
                p[split + 2..].parse().unwrap_or(0),
            )
        }
        (false, [_, _], [m, d]) => (None, *m, *d),
        (false, [y, _, _], [yy, m, d]) if y.len() == 4 => (Some(*yy as i32), *m, *d),
        (true, [_, _, _], [r, m, d]) if (1..=99).contains(r) => (Some(2018 + *r as i32), *m, *d),
        _ => return Err(bad()),
    };
    let date = match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => infer_year(month, day, today),
    }
    .ok_or_else(|| FieldError::new(format!("'{text}' is not a real date (month {month}, day {day})")))?;
    if date > today + Duration::days(AHEAD_DAYS) {
        return Err(FieldError::new(format!("{} is more than a month in the future", show_date(date))));
    }
    Ok(date)
}

/// The most recent year in which `month`/`day` is a real date no more than `AHEAD_DAYS` ahead.
fn infer_year(month: u32, day: u32, today: NaiveDate) -> Option<NaiveDate> {
    let limit = today + Duration::days(AHEAD_DAYS);
    // 29 February may be four years back, and the search starts a year ahead.
    (0..=5)
        .map(|back| today.year() + 1 - back)
        .find_map(|y| NaiveDate::from_ymd_opt(y, month, day).filter(|d| *d <= limit))
}

/// Accepts `HHMM`, `HMM`, `H`, `HH`, `H:MM` and `HH:MM` (24-hour clock; full-width digits too).
pub fn parse_paper_time(input: &str) -> Result<NaiveTime, FieldError> {
    let text = fold(input);
    if text.is_empty() {
        return Err(FieldError::new("the time is empty"));
    }
    let bad = || FieldError::new(format!("'{text}' is not a time (type HHMM like 0930, or 9:30)"));
    // Digits and one colon only: the split below cuts by byte (`9時` must be refused, not cut).
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return Err(bad());
    }
    let (h, m) = match text.split_once(':') {
        Some((h, m)) if !h.is_empty() && h.len() <= 2 && m.len() == 2 => (h, m),
        Some(_) => return Err(bad()),
        None if text.len() <= 2 => (text.as_str(), "00"),
        None if text.len() == 3 || text.len() == 4 => text.split_at(text.len() - 2),
        None => return Err(bad()),
    };
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    NaiveTime::from_hms_opt(h, m, 0)
        .filter(|_| h < 24)
        .ok_or_else(|| FieldError::new(format!("'{text}' is not a time of day (00:00 to 23:59)")))
}

/// A date followed by a time, separated by a space: `1105 0930`. The time is optional.
pub fn parse_paper_date_time(
    input: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, Option<NaiveTime>), FieldError> {
    let text = fold(input);
    let mut parts = text.split_whitespace();
    let date = parse_paper_date(parts.next().unwrap_or(""), today)?;
    let time = parts.next().map(parse_paper_time).transpose()?;
    if let Some(extra) = parts.next() {
        return Err(FieldError::new(format!("'{extra}' after the date and time is not understood")));
    }
    Ok((date, time))
}

/// How a date is shown back to the clerk: `2026-11-05 (木)`.
pub fn show_date(date: NaiveDate) -> String {
    format!("{} ({})", date.format("%Y-%m-%d"), WEEKDAYS_JA[date.weekday().num_days_from_monday() as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn four_digits_are_month_and_day_of_the_most_recent_year() {
        let today = day(2026, 11, 23);
        assert_eq!(parse_paper_date("1105", today).unwrap(), day(2026, 11, 5));
        assert_eq!(parse_paper_date("１１０５", today).unwrap(), day(2026, 11, 5));
        // December typed in January is last December.
        assert_eq!(parse_paper_date("1228", day(2027, 1, 4)).unwrap(), day(2026, 12, 28));
        // Tomorrow's slip is this year.
        assert_eq!(parse_paper_date("1124", today).unwrap(), day(2026, 11, 24));
        assert_eq!(parse_paper_date("0229", day(2026, 3, 1)).unwrap(), day(2024, 2, 29));
    }

    #[test]
    fn separators_full_dates_and_the_reiwa_era_are_read() {
        let today = day(2026, 11, 23);
        for text in ["11/5", "11-05", "2026-11-05", "2026/11/5", "20261105", "R8.11.5", "r81105"] {
            assert_eq!(parse_paper_date(text, today).unwrap(), day(2026, 11, 5), "{text}");
        }
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_refused_with_the_reason() {
        let today = day(2026, 11, 23);
        assert!(parse_paper_date("115", today).unwrap_err().message.contains("MMDD"));
        assert!(parse_paper_date("1332", today).unwrap_err().message.contains("not a real date"));
        assert!(parse_paper_date("2027-06-01", today).unwrap_err().message.contains("future"));
        assert!(parse_paper_date("", today).unwrap_err().message.contains("empty"));
        assert!(parse_paper_date("11/5/2026", today).is_err());
        for bad in ["あ1", "１１月", "+105", "11/+5", "R八.11.5"] {
            assert!(parse_paper_date(bad, today).is_err(), "{bad}");
        }
        // 29 February four years back, seen from early January.
        assert_eq!(parse_paper_date("0229", day(2028, 1, 10)).unwrap(), day(2024, 2, 29));
    }

    #[test]
    fn times_accept_the_short_forms() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        for (text, want) in [
            ("0930", t(9, 30)),
            ("930", t(9, 30)),
            ("9:30", t(9, 30)),
            ("９３０", t(9, 30)),
            ("14", t(14, 0)),
        ] {
            assert_eq!(parse_paper_time(text).unwrap(), want, "{text}");
        }
        for bad in ["2400", "0960", "12345", "9:3", "ab", "あ", "9時", "９時", "+930", "1:2:3"] {
            assert!(parse_paper_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_date_and_a_time_typed_together_are_split() {
        let today = day(2026, 11, 23);
        assert_eq!(
            parse_paper_date_time("1105 0930", today).unwrap(),
            (day(2026, 11, 5), Some(NaiveTime::from_hms_opt(9, 30, 0).unwrap()))
        );
        assert_eq!(parse_paper_date_time("1105", today).unwrap(), (day(2026, 11, 5), None));
        assert!(parse_paper_date_time("1105 0930 x", today).is_err());
        assert_eq!(show_date(day(2026, 11, 5)), "2026-11-05 (木)");
    }
}
