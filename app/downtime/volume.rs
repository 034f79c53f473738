//! The volume monitor: paper orders per day and category against the safe daily limits.
//! Paper operation has a safe limit (the case hospital's lab asked for fewer than 200 outpatient
//! tests a day); the monitor shows how close each day came and flags the days over it.

use chrono::{Days, NaiveDate};

use crate::domain::VolumeCategory;
use crate::store::{Result, Store};

/// One category's line: a count per day, and its limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VolumeLine {
    pub category: &'static str,
    pub label: &'static str,
    pub limit: Option<u32>,
    /// One count per day of `VolumeReport::days`.
    pub counts: Vec<u32>,
}

/// A day on which a category reached its limit (the lab asked to stay *under* 200 a day, so 200
/// itself is flagged).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverLimit {
    pub day: String,
    pub category: &'static str,
    pub label: &'static str,
    pub count: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VolumeReport {
    /// YYYY-MM-DD, oldest first, ending today.
    pub days: Vec<String>,
    pub lines: Vec<VolumeLine>,
    pub over: Vec<OverLimit>,
}

impl VolumeReport {
    /// Today's count and limit of a category.
    pub fn today(&self, category: VolumeCategory) -> (u32, Option<u32>) {
        self.lines
            .iter()
            .find(|l| l.category == category.code())
            .map_or((0, None), |l| (l.counts.last().copied().unwrap_or(0), l.limit))
    }
}

/// The last `days` days up to `today`, every category, with the configured limits.
pub fn volume_report(store: &Store, today: NaiveDate, days: u32) -> Result<VolumeReport> {
    let days = days.max(1);
    let first = today.checked_sub_days(Days::new(u64::from(days - 1))).unwrap_or(today);
    let day_names: Vec<String> =
        first.iter_days().take(days as usize).map(|d| d.format("%Y-%m-%d").to_string()).collect();
    let counts = store.volume_counts(&day_names[0])?;
    let settings = store.settings()?;
    let mut lines = Vec::new();
    let mut over = Vec::new();
    for category in VolumeCategory::ALL {
        let limit = settings.volume_limit(category);
        let per_day: Vec<u32> = day_names
            .iter()
            .map(|d| {
                counts.iter().filter(|c| &c.day == d && c.category == category.code()).map(|c| c.count).sum()
            })
            .collect();
        if let Some(limit) = limit {
            for (day, &count) in day_names.iter().zip(&per_day) {
                if count >= limit {
                    over.push(OverLimit {
                        day: day.clone(),
                        category: category.code(),
                        label: category.label(),
                        count,
                        limit,
                    });
                }
            }
        }
        lines.push(VolumeLine { category: category.code(), label: category.label(), limit, counts: per_day });
    }
    Ok(VolumeReport { days: day_names, lines, over })
}
