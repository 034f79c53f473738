//! Backups of the database while it is in use (SQLite's online backup API), their rotation,
//! their verification, and restore: into a new file first, verified, then swapped in.
//!
//! Each backup gets an anchor of its own beside it (`<backup>.anchor`: its newest audit entry),
//! and the audit key is copied into the backup folder once, so a backup can be checked — and
//! restored on a new PC — with what lies beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::db::{self, OptionalExtension};

use super::audit::{AuditWriter, head, verify};
use super::cipher::{self, DbKey};
use super::trust::{Anchor, AuditKey, KEY_ID};
use super::{Actor, AuditVerification, Result, Store, StoreError};

const BACKUP_PREFIX: &str = "kamikarte-";
const BACKUP_SUFFIX: &str = ".sqlite";

/// What `verify_backup` found in a backup file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupCheck {
    pub path: PathBuf,
    /// SQLite's `integrity_check` verdict: `ok` or the first problems.
    pub integrity: String,
    /// The key the backup was sealed with (`None`: a backup made before keys existed).
    pub key_id: Option<String>,
    pub audit: AuditVerification,
    pub patients: usize,
    /// Each account in the backup: name and role (for comparing with the live database's).
    pub accounts: Vec<(String, String)>,
}

impl BackupCheck {
    pub fn ok(&self) -> bool {
        self.problem().is_none()
    }

    pub fn problem(&self) -> Option<String> {
        if self.integrity != "ok" {
            return Some(format!("integrity check failed: {}", self.integrity));
        }
        let problems = self.audit.problems();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub restored_from: PathBuf,
    /// The database that was replaced, kept beside it.
    pub previous_saved_as: Option<PathBuf>,
    pub patients: usize,
}

/// Opens a database or backup file read-only: an encrypted one with the key file's key (derived
/// from `key`) or a passphrase typed in this process. Returns the key that opened it.
fn open_readonly(path: &Path, key: &AuditKey) -> Result<(Connection, Option<DbKey>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let open_error = |source| StoreError::Open { path: path.to_path_buf(), source };
    if cipher::file_kind(path) != cipher::FileKind::Encrypted || !cipher::AVAILABLE {
        return Ok((Connection::open_with_flags(path, flags).map_err(open_error)?, None));
    }
    let mut keys = vec![DbKey::derived(key)];
    keys.extend(cipher::remembered(path));
    match cipher::open_with_any(path, Some(flags), &keys).map_err(open_error)? {
        Some((conn, key)) => Ok((conn, Some(key))),
        None => Err(StoreError::NeedsPassphrase { path: path.to_path_buf() }),
    }
}

/// Copies `from` into a new database file at `dest` in one read transaction (so a writer in
/// another process never makes it restart), then renames it into place. An encrypted source
/// gives an encrypted copy, under the same key.
fn copy_database(from: &Connection, dest: &Path, key: Option<&DbKey>) -> Result<()> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir_all(dir)
            .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
    }
    let (partial, file) = crate::files::private_temp_beside(dest)
        .map_err(|e| StoreError::Refused(format!("cannot write beside {}: {e}", dest.display())))?;
    drop(file);
    let copied = (|| {
        let mut to = Connection::open(&partial)?;
        if let Some(key) = key {
            key.apply(&to)?;
        }
        {
            let backup = Backup::new(from, &mut to)?;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        // One self-contained file: no -wal beside it.
        to.pragma_update(None, "journal_mode", "DELETE")?;
        Ok::<_, StoreError>(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| StoreError::Refused(format!("cannot write {}: {e}", dest.display())))?;
    Ok(())
}

/// The anchor a backup carries: its own newest entry, read from the copy itself.
fn anchor_copy(dest: &Path, key: &AuditKey) -> Result<()> {
    let (conn, _) = open_readonly(dest, key)?;
    let (seq, mac) = head(&db::Connection::Lite(conn))?.unwrap_or((0, String::new()));
    let anchor = Anchor::path_for(dest);
    Anchor { seq, mac, key_id: key.id().to_string() }
        .replace(&anchor)
        .map_err(|e| StoreError::Refused(format!("cannot write {}: {e}", anchor.display())))
}

impl Store {
    /// Writes a consistent copy of the database to `dest` while it stays in use, with its
    /// anchor beside it and a copy of the audit key in the same folder.
    pub fn backup_to(&mut self, dest: &Path) -> Result<()> {
        let written = match self.conn.lite() {
            Some(conn) => copy_database(conn, dest, self.db_key.as_ref()),
            None => self.dump_to(dest),
        };
        if let Err(e) = &written {
            log::error!("backup to {} failed: {e}", dest.display());
        }
        written?;
        log::info!("backup written: {}", dest.display());
        if self.conn.lite().is_some() {
            anchor_copy(dest, &self.trust.key)?;
        }
        self.keep_key_beside(dest)?;
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        let detail = serde_json::json!({ "file": dest.display().to_string() });
        audit.append(&tx, &Actor("kamikarte".into()), "backup", "database", "backup", None, Some(&detail))?;
        tx.commit()
    }

    /// Copies the key file into the backup's folder (`<database>.key`) unless it is there: a
    /// backup is checked, and restored on a new PC, with it.
    fn keep_key_beside(&self, backup: &Path) -> Result<()> {
        let (Some(db), Some(folder)) = (self.local.as_deref(), backup.parent()) else { return Ok(()) };
        let name = AuditKey::path_for(db);
        let Some(file_name) = name.file_name() else { return Ok(()) };
        let copy = folder.join(file_name);
        if copy == name || AuditKey::load(&copy).is_ok_and(|k| k.id() == self.trust.key.id()) {
            return Ok(());
        }
        let bytes = std::fs::read(&name)
            .map_err(|e| StoreError::Refused(format!("cannot read {}: {e}", name.display())))?;
        crate::files::write_private_atomic(&copy, &bytes, true)
            .map_err(|e| StoreError::Refused(format!("cannot copy the audit key to {}: {e}", copy.display())))
    }

    /// The folder automatic backups go to: the configured one, else `backups/` beside the
    /// database. `None` for an in-memory database.
    pub fn backup_folder(&self) -> Result<Option<PathBuf>> {
        if let Some(dir) = self.settings()?.backup_dir {
            return Ok(Some(dir));
        }
        Ok(self.local.as_ref().map(|p| p.parent().unwrap_or(Path::new(".")).join("backups")))
    }

    /// A timestamped backup into the backup folder, keeping the newest `backup.keep` of them.
    pub fn automatic_backup(&mut self) -> Result<Option<PathBuf>> {
        let Some(dir) = self.backup_folder()? else { return Ok(None) };
        let stamp = Utc::now().format("%Y%m%d-%H%M%S-%3f");
        let suffix = if self.conn.lite().is_some() { BACKUP_SUFFIX } else { super::pg_backup::DUMP_SUFFIX };
        let dest = dir.join(format!("{BACKUP_PREFIX}{stamp}{suffix}"));
        self.backup_to(&dest)?;
        let keep = self.settings()?.backup_keep as usize;
        let mut existing = list_backups(&dir);
        if existing.len() > keep {
            existing.sort();
            for old in &existing[..existing.len() - keep] {
                log::info!("old backup removed (keeping {keep}): {}", old.display());
                let _ = std::fs::remove_file(old);
                let _ = std::fs::remove_file(Anchor::path_for(old));
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
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.starts_with(BACKUP_PREFIX)
                            && (n.ends_with(BACKUP_SUFFIX) || n.ends_with(super::pg_backup::DUMP_SUFFIX))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The key id a database or backup file was sealed with, read without opening it for writing.
pub fn sealed_key_id(path: &Path) -> Result<Option<String>> {
    if cipher::file_kind(path) == cipher::FileKind::Encrypted {
        // Its key id is inside it; the caller must name the key.
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    Ok(db::Connection::Lite(conn)
        .query_row("SELECT value FROM meta WHERE key = ?1", [KEY_ID], |r| r.get(0))
        .optional()?)
}

/// Opens a backup read-only and checks SQLite's integrity, its audit chain under `key` against
/// the anchor beside it, and the seals of its accounts and settings.
pub fn verify_backup(path: &Path, key: &AuditKey) -> Result<BackupCheck> {
    if !path.is_file() {
        return Err(StoreError::Refused(format!("{}: no such backup file", path.display())));
    }
    if super::pg_backup::is_dump(path) {
        return Err(StoreError::Refused(format!(
            "{} is a PostgreSQL hub's backup (pg_dump): check it against the hub, `kamikarte --db postgres://… backup verify {}`",
            path.display(),
            path.display()
        )));
    }
    let (conn, _) = open_readonly(path, key)?;
    let conn = db::Connection::Lite(conn);
    let integrity: String = conn.query_row("PRAGMA integrity_check(5)", [], |r| r.get(0)).map_err(|e| {
        StoreError::Refused(format!("{}: not a readable SQLite database ({e})", path.display()))
    })?;
    check_database(&conn, path, key, integrity)
}

/// The checks every backup gets once it can be read (`integrity`: the engine's verdict): its
/// patients, its accounts, and its audit trail under `key` against the anchor beside it.
pub(super) fn check_database(
    conn: &db::Connection,
    path: &Path,
    key: &AuditKey,
    integrity: String,
) -> Result<BackupCheck> {
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
    count("audit")?;
    let key_id: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [KEY_ID], |r| r.get(0)).optional()?;
    let mut audit = match key_id.as_deref() {
        Some(id) if id != key.id() => AuditVerification {
            entries: 0,
            first_broken: Some((
                1,
                format!(
                    "the backup was sealed with audit key {id}, not with this key ({}): it is a backup of another database, or a database made elsewhere",
                    key.id()
                ),
            )),
            broken_seals: Vec::new(),
        },
        Some(_) => verify(conn, key, Some(&Anchor::path_for(path)))?,
        None => AuditVerification {
            entries: 0,
            first_broken: Some((
                1,
                "the backup carries no audit key id: it was made by a kamikarte without keys, or by hand"
                    .into(),
            )),
            broken_seals: Vec::new(),
        },
    };
    if audit.entries == 0 && audit.first_broken.is_none() {
        audit.first_broken = Some((1, "the backup has no audit entries at all".into()));
    }
    let accounts = {
        let mut stmt = conn.prepare("SELECT name, role FROM users ORDER BY name").map_err(|_| {
            StoreError::Refused(format!("{}: not a kamikarte database (no users table)", path.display()))
        })?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(BackupCheck { path: path.to_path_buf(), integrity, key_id, audit, patients, accounts })
}

/// Replaces the database at `db` with the backup at `backup` for `actor` (who has logged in as an
/// administrator; the caller checks that): the backup is verified under `key`, copied to a new
/// file beside `db`, verified again, and only then swapped in. The replaced database is kept as
/// `<db>.pre-restore-<time>.sqlite` and records the restore in its own audit trail first; the
/// restored one records it as its newest entry, and the anchor moves to it. The app must be
/// closed on every station using `db`.
pub fn restore(db: &Path, backup: &Path, key: &AuditKey, actor: &Actor) -> Result<RestoreReport> {
    let check = verify_backup(backup, key)?;
    if let Some(problem) = check.problem() {
        return Err(StoreError::Refused(format!("{}: {problem}; not restored", backup.display())));
    }
    let staging = db.with_extension("restoring");
    let copied =
        open_readonly(backup, key).and_then(|(from, db_key)| copy_database(&from, &staging, db_key.as_ref()));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    let (from_anchor, to_anchor) = (Anchor::path_for(backup), Anchor::path_for(&staging));
    if let Err(e) = std::fs::copy(&from_anchor, &to_anchor) {
        let _ = std::fs::remove_file(&staging);
        return Err(StoreError::Refused(format!(
            "cannot copy the backup's anchor {} to {} ({e}); nothing was replaced",
            from_anchor.display(),
            to_anchor.display()
        )));
    }
    let again = verify_backup(&staging, key);
    let _ = std::fs::remove_file(Anchor::path_for(&staging));
    if let Some(problem) = again.as_ref().map_or_else(|e| Some(e.to_string()), BackupCheck::problem) {
        let _ = std::fs::remove_file(&staging);
        return Err(StoreError::Refused(format!(
            "the restored copy failed its check ({problem}); nothing was replaced"
        )));
    }
    let detail = serde_json::json!({ "from": backup.display().to_string(), "patients": check.patients });
    let mut previous = None;
    if db.exists() {
        let stamp = Utc::now().format("%Y%m%d-%H%M%S");
        let saved = db.with_extension(format!("pre-restore-{stamp}.sqlite"));
        {
            let mut old = Store::open(db)?;
            let tx = old.begin()?;
            let mut audit = AuditWriter::start(&tx)?;
            let mut replaced = detail.clone();
            replaced["kept_as"] = saved.display().to_string().into();
            audit.append(
                &tx,
                actor,
                "replaced_by_restore",
                "database",
                &db.display().to_string(),
                None,
                Some(&replaced),
            )?;
            tx.commit()?;
            // Fold the WAL into the main file so the saved old database is complete on its own.
            if let Some(conn) = old.conn.lite() {
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                conn.pragma_update(None, "journal_mode", "DELETE")?;
            }
        }
        std::fs::rename(db, &saved)
            .map_err(|e| StoreError::Refused(format!("cannot move {} aside: {e}", db.display())))?;
        let _ = std::fs::rename(Anchor::path_for(db), Anchor::path_for(&saved));
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(crate::files::with_suffix(db, suffix));
        }
        previous = Some(saved);
    }
    if let Err(e) = std::fs::rename(&staging, db) {
        // Put the replaced database back rather than leave none.
        let back = previous.as_ref().map(|saved| std::fs::rename(saved, db));
        return Err(StoreError::Refused(match back {
            Some(Err(b)) => format!(
                "cannot move the restored copy {} into place ({e}), nor the replaced database back ({b}): move one of them to {} by hand",
                staging.display(),
                db.display()
            ),
            _ => format!(
                "cannot move the restored copy {} into place ({e}); the database was left as it was",
                staging.display()
            ),
        }));
    }
    let key_path = AuditKey::path_for(db);
    if !key_path.exists() {
        key.save_new(&key_path)?;
    }
    let mut store = Store::open(db)?;
    let tx = store.begin()?;
    let mut audit = AuditWriter::start(&tx)?;
    let mut restored = detail;
    restored["previous_saved_as"] = previous.as_ref().map(|p| p.display().to_string()).into();
    audit.append(&tx, actor, "restore", "database", &db.display().to_string(), None, Some(&restored))?;
    let (seq, mac) = head(&tx)?.unwrap_or((0, String::new()));
    tx.commit()?;
    store
        .trust
        .reset_anchor(seq, &mac)
        .map_err(|e| StoreError::Refused(format!("restored, but cannot write its anchor: {e}")))?;
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
            let check = verify_backup(b, store.audit_key()).unwrap();
            assert!(check.ok(), "{:?}", check.problem());
        }
        assert!(Settings::KEYS.contains(&"backup.keep"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database at all").unwrap();
        let key = AuditKey::generate(1).unwrap();
        let err = verify_backup(&junk, &key).unwrap_err().to_string();
        assert!(err.contains("junk.sqlite"), "{err}");
        let db = dir.path().join("k.sqlite");
        assert!(restore(&db, &junk, &key, &Actor("a".into())).is_err());
        assert!(!db.exists(), "nothing was created");
    }
}
