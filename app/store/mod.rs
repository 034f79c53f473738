//! SQLite storage: the only module that writes SQL. Every write runs in one transaction together
//! with its audit entries, so a crash leaves either all of a change or none of it.

mod audit;
mod backup;
mod downtime;
mod entries;
mod handoff;
mod masters;
mod meta;
mod migrations;
mod patients;
mod reconcile;
mod registry;
mod scan_events;
mod scanned_pages;
mod settings;
mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rusqlite::Connection;

pub use audit::{AuditEntry, AuditVerification};
pub use backup::{BackupCheck, RestoreReport, restore, verify_backup};
pub use downtime::{
    BlockRecord, EpisodeNote, EpisodeRecord, IdSupply, RegistrationFlags, RegistrationRecord,
};
pub use entries::{EntryRecord, EntryState, ItemKey, Keying, NewEntry};
pub use handoff::{
    CurrentItem, HandoffRecord, HandoffRun, ItemHandoff, OutboxMessage, OutboxState, PackedContent,
    StagedItem, StagedMessage,
};
pub use masters::ReplaceCounts;
pub use patients::{ApplyCounts, CensusApply, PatientRecord, WardSummary};
pub use reconcile::{DowntimePatient, EhrFacts, MrnLink, PatientMerge};
pub use registry::PrintedPage;
pub use scan_events::{NewScanEvent, ScanEventRecord, ScanFacts, ScanKind, VolumeCount};
pub use scanned_pages::{
    Assignment, Filing, NewScannedPage, PageSource, PageState, PrintedPageState, Reading, ScannedCounts,
    ScannedPageRecord, StoredImage,
};
pub use settings::Settings;
pub use users::{NewUser, UserRecord};

/// Who makes a change. Until user accounts exist this is the name given with `--user` (or
/// `KAMIKARTE_USER`), else the operating-system login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn from_os() -> Self {
        let login = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        Actor(format!("os:{login}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the folder {path} for the database: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database holds a {entity} '{id}' whose {field} cannot be read: {message}")]
    Corrupt { entity: &'static str, id: String, field: &'static str, message: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let conn =
            Connection::open(path).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        Self::configure(conn, Some(path.to_path_buf()))
    }

    /// A private database in memory, for tests and benchmarks.
    pub fn open_in_memory() -> Result<Self> {
        Self::configure(Connection::open_in_memory()?, None)
    }

    fn configure(mut conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        // WAL lets the app read while an import writes from another connection; NORMAL
        // synchronous is durable in WAL mode against process kills (fsync at checkpoint).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A hand-off prepares thousands of versions in one transaction: a page cache of 32 MB
        // (instead of 2) keeps it from spilling to the WAL before the commit.
        conn.pragma_update(None, "cache_size", -32_768)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        migrations::migrations().to_latest(&mut conn)?;
        Ok(Self { conn, path })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// `kamikarte.sqlite` in the user's data directory (e.g. `~/.local/share/kamikarte/` on Linux,
/// `%APPDATA%\kamikarte\` on Windows).
pub fn default_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("kamikarte").join("kamikarte.sqlite"))
}

/// Timestamps are stored as RFC 3339 UTC with milliseconds, which sort as text.
pub(crate) fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_keeps_schema_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/k.sqlite");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn migrations_are_valid() {
        migrations::migrations().validate().unwrap();
    }
}
