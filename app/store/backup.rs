//! Backups of the database while it is in use (SQLite's online backup API), their rotation,
//! their verification, and restore: into a new file first, verified, then swapped in.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::audit::{AuditWriter, verify_chain};
use super::{Actor, AuditVerification, Result, Store, StoreError};

const BACKUP_PREFIX: &str = "kamikarte-";
const BACKUP_SUFFIX: &str = ".sqlite";

/// What `verify_backup` found in a backup file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupCheck {
    pub path: PathBuf,
    /// SQLite's `integrity_check` verdict: `ok` or the first problems.
    pub integrity: String,
    pub audit: AuditVerification,
    pub patients: usize,
    pub users: usize,
}

impl BackupCheck {
    pub fn ok(&self) -> bool {
        self.integrity == "ok" && self.audit.first_broken.is_none()
    }

    pub fn problem(&self) -> Option<String> {
        if self.integrity != "ok" {
            return Some(format!("integrity check failed: {}", self.integrity));
        }
        self.audit.first_broken.as_ref().map(|(seq, why)| format!("audit trail broken at entry {seq}: {why}"))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub restored_from: PathBuf,
    /// The database that was replaced, kept beside it.
    pub previous_saved_as: Option<PathBuf>,
    pub patients: usize,
}

/// Copies `from` into a new database file at `dest` in one read transaction (so a writer in
/// another process never makes it restart), then renames it into place.
fn copy_database(from: &Connection, dest: &Path) -> Result<()> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
    }
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    {
        let mut to = Connection::open(&partial)?;
        {
            let backup = Backup::new(from, &mut to)?;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(50)),
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        // One self-contained file: no -wal beside it.
        to.pragma_update(None, "journal_mode", "DELETE")?;
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| StoreError::Refused(format!("cannot write {}: {e}", dest.display())))?;
    Ok(())
}

impl Store {
    /// Writes a consistent copy of the database to `dest` while it stays in use.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        copy_database(&self.conn, dest)
    }

    /// The folder automatic backups go to: the configured one, else `backups/` beside the
    /// database. `None` for an in-memory database.
    pub fn backup_folder(&self) -> Result<Option<PathBuf>> {
        if let Some(dir) = self.settings()?.backup_dir {
            return Ok(Some(dir));
        }
        Ok(self.path.as_ref().map(|p| p.parent().unwrap_or(Path::new(".")).join("backups")))
    }

    /// A timestamped backup into the backup folder, keeping the newest `backup.keep` of them.
    pub fn automatic_backup(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = self.backup_folder()? else { return Ok(None) };
        let stamp = Utc::now().format("%Y%m%d-%H%M%S-%3f");
        let dest = dir.join(format!("{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"));
        self.backup_to(&dest)?;
        let keep = self.settings()?.backup_keep as usize;
        let mut existing = list_backups(&dir);
        if existing.len() > keep {
            existing.sort();
            for old in &existing[..existing.len() - keep] {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(Some(dest))
    }
}

/// Automatic backups in `dir`, oldest first (their names sort by time).
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(BACKUP_PREFIX) && n.ends_with(BACKUP_SUFFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Opens a backup read-only and checks SQLite's integrity and the audit chain.
pub fn verify_backup(path: &Path) -> Result<BackupCheck> {
    if !path.is_file() {
        return Err(StoreError::Refused(format!("{}: no such backup file", path.display())));
    }
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    let integrity: String = conn.query_row("PRAGMA integrity_check(5)", [], |r| r.get(0)).map_err(|e| {
        StoreError::Refused(format!("{}: not a readable SQLite database ({e})", path.display()))
    })?;
    let count = |table: &str| -> Result<usize> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|_| {
                StoreError::Refused(format!(
                    "{}: not a kamikarte database (no {table} table)",
                    path.display()
                ))
            })
    };
    let patients = count("patients")?;
    let users = count("users").unwrap_or(0);
    let audit = verify_chain(&conn)?;
    Ok(BackupCheck { path: path.to_path_buf(), integrity, audit, patients, users })
}

/// Replaces the database at `db` with the backup at `backup`: the backup is verified, copied to a
/// new file beside `db`, verified again, and only then swapped in. The old database is kept as
/// `<db>.pre-restore-<time>.sqlite`. The app must be closed on every station using `db`.
pub fn restore(db: &Path, backup: &Path, actor: &Actor) -> Result<RestoreReport> {
    let check = verify_backup(backup)?;
    if let Some(problem) = check.problem() {
        return Err(StoreError::Refused(format!("{}: {problem}; not restored", backup.display())));
    }
    let staging = db.with_extension("restoring");
    {
        let from = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        copy_database(&from, &staging)?;
    }
    if let Some(problem) = verify_backup(&staging)?.problem() {
        let _ = std::fs::remove_file(&staging);
        return Err(StoreError::Refused(format!(
            "the restored copy failed its check ({problem}); nothing was replaced"
        )));
    }
    let mut previous = None;
    if db.exists() {
        // Fold the WAL into the main file so the saved old database is complete on its own.
        {
            let conn =
                Connection::open(db).map_err(|source| StoreError::Open { path: db.to_path_buf(), source })?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            conn.pragma_update(None, "journal_mode", "DELETE")?;
        }
        let stamp = Utc::now().format("%Y%m%d-%H%M%S");
        let saved = db.with_extension(format!("pre-restore-{stamp}.sqlite"));
        std::fs::rename(db, &saved)
            .map_err(|e| StoreError::Refused(format!("cannot move {} aside: {e}", db.display())))?;
        for ext in ["sqlite-wal", "sqlite-shm"] {
            let _ = std::fs::remove_file(db.with_extension(ext));
        }
        previous = Some(saved);
    }
    std::fs::rename(&staging, db)
        .map_err(|e| StoreError::Refused(format!("cannot move the restored copy into place: {e}")))?;
    let mut store = Store::open(db)?;
    let tx = store.conn.transaction()?;
    let mut audit = AuditWriter::start(&tx)?;
    let detail = serde_json::json!({
        "from": backup.display().to_string(),
        "previous_saved_as": previous.as_ref().map(|p| p.display().to_string()),
    });
    audit.append(&tx, actor, "restore", "database", &db.display().to_string(), None, Some(&detail))?;
    tx.commit()?;
    Ok(RestoreReport {
        restored_from: backup.to_path_buf(),
        previous_saved_as: previous,
        patients: check.patients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::settings::Settings;

    #[test]
    fn automatic_backups_rotate_keeping_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("k.sqlite")).unwrap();
        store.set_setting(&Actor("a".into()), "backup.keep", "2").unwrap();
        for _ in 0..4 {
            store.automatic_backup().unwrap().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let backups = list_backups(&dir.path().join("backups"));
        assert_eq!(backups.len(), 2);
        for b in &backups {
            assert!(verify_backup(b).unwrap().ok());
        }
        assert!(Settings::KEYS.contains(&"backup.keep"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database at all").unwrap();
        let err = verify_backup(&junk).unwrap_err().to_string();
        assert!(err.contains("junk.sqlite"), "{err}");
        let db = dir.path().join("k.sqlite");
        assert!(restore(&db, &junk, &Actor("a".into())).is_err());
        assert!(!db.exists(), "nothing was created");
    }
}
