//! `census import`: read, check, then write all-or-nothing (or the good rows, when asked).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::mapping::ColumnMapping;
use super::parse::{RowError, parse_census};
use crate::auth::{AuthError, Session};
use crate::csv_in::{Encoding, decode};
use crate::domain::Permission;
use crate::store::{ApplyCounts, CensusApply, Store, StoreError};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub encoding: Encoding,
    /// Import the valid rows and list the others, instead of refusing the whole file.
    pub skip_invalid: bool,
    /// Leave patients absent from the file as they are (for a file that covers only some wards).
    pub keep_absent: bool,
    /// A mapping file; the built-in mapping when `None`.
    pub mapping: Option<PathBuf>,
    /// The date against which dates of birth are checked.
    pub today: NaiveDate,
}

impl ImportOptions {
    pub fn new(today: NaiveDate) -> Self {
        Self { encoding: Encoding::Auto, skip_invalid: false, keep_absent: false, mapping: None, today }
    }
}

/// Where an import has got to, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading,
    Writing,
}

/// What an import did, or why it did nothing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub file: String,
    pub encoding: Encoding,
    pub rows: usize,
    /// `None` when nothing was written.
    pub applied: Option<ApplyCounts>,
    pub skipped: usize,
    pub errors: Vec<RowError>,
    pub warnings: Vec<String>,
    /// The automatic backup taken after the import, if the store has a backup folder.
    pub backup: Option<PathBuf>,
    /// The demo's public accounts, switched off by this import (real data is here now).
    pub demo_accounts_disabled: Vec<String>,
}

impl ImportReport {
    /// True when the file was refused and the database left as it was.
    pub fn rejected(&self) -> bool {
        self.applied.is_none()
    }
}

/// A failure that is not about the rows (those go in the report): unreadable file, bad mapping,
/// database error.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line} is not valid {encoding} (try --encoding utf-8 or --encoding cp932)")]
    Encoding { path: PathBuf, line: usize, encoding: Encoding },
    #[error("mapping {0}")]
    Mapping(#[from] crate::domain::FileError),
    #[error(
        "{path}: the file holds no valid patients; importing it would discharge all {admitted} admitted patients (use --keep-absent if that is really meant)"
    )]
    WouldEmptyCensus { path: PathBuf, admitted: usize },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn import_file(
    store: &mut Store,
    session: &Session,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    session.require(Permission::ImportCensus)?;
    let mapping = match &options.mapping {
        None => ColumnMapping::default_mapping(),
        Some(m) => {
            let text = std::fs::read_to_string(m)
                .map_err(|e| crate::domain::FileError::new(m.display().to_string(), e.to_string()))?;
            ColumnMapping::parse(&text, &m.display().to_string())?
        }
    };
    let bytes =
        std::fs::read(path).map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?;
    progress(Progress { stage: Stage::Reading, done: 0, total: 1 });
    let (text, encoding) = decode(&bytes, options.encoding).map_err(|e| ImportError::Encoding {
        path: path.to_path_buf(),
        line: e.line,
        encoding: e.encoding,
    })?;
    let parsed = parse_census(&text, &mapping, options.today);
    progress(Progress { stage: Stage::Reading, done: 1, total: 1 });

    let file =
        path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let mut report = ImportReport {
        file: file.clone(),
        encoding,
        rows: parsed.rows,
        applied: None,
        skipped: parsed.rows - parsed.patients.len(),
        errors: parsed.errors,
        warnings: parsed.warnings,
        backup: None,
        demo_accounts_disabled: Vec::new(),
    };
    let refuse = parsed.fatal || (!report.errors.is_empty() && !options.skip_invalid);
    if refuse {
        report.skipped = 0;
        return Ok(report);
    }

    let mut discharge = !options.keep_absent;
    if discharge && parsed.unreadable_ids > 0 {
        discharge = false;
        report.warnings.push(format!(
            "{} skipped rows have no readable ID, so no patient was marked discharged by this import",
            parsed.unreadable_ids
        ));
    }
    if discharge && parsed.patients.is_empty() {
        let admitted = store.wards()?.iter().map(|w| w.admitted).sum();
        if admitted > 0 {
            return Err(ImportError::WouldEmptyCensus { path: path.to_path_buf(), admitted });
        }
    }
    let patients: Vec<_> = parsed.patients.into_iter().map(|(_, p)| p).collect();
    let apply = CensusApply {
        file: &file,
        encoding: &encoding.to_string(),
        rows: report.rows,
        skipped: report.skipped,
        discharge_missing: discharge,
        keep: Some(&parsed.refused_ids),
        mark_demo: false,
    };
    let applied = store.apply_census(&session.actor(), &patients, &apply, &mut |done, total| {
        progress(Progress { stage: Stage::Writing, done, total })
    })?;
    report.applied = Some(applied.counts);
    report.demo_accounts_disabled = applied.demo_accounts_disabled;
    // The import is committed whatever happens to the backup; a failed backup is reported.
    match store.automatic_backup() {
        Ok(path) => report.backup = path,
        Err(e) => report.warnings.push(format!("the automatic backup after the import failed: {e}")),
    }
    Ok(report)
}
