//! Encryption at rest (SQLCipher, behind the default `encryption` feature). A database is
//! encrypted with one of two keys:
//!
//! - **the key file's** (derived from the audit key beside the database): a copy of the database
//!   file alone, or of a backup, reveals nothing — but a stolen PC carries the key file too;
//! - **a passphrase** typed when the program starts: a stolen PC reveals nothing without it.
//!
//! A plain database stays plain until an administrator runs `kamikarte db encrypt`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::files::with_suffix;

use super::trust::AuditKey;

/// What unlocks an encrypted database.
#[derive(Clone, PartialEq, Eq)]
pub enum DbKey {
    /// 32 bytes derived from the audit key (hex), given to SQLCipher as a raw key.
    Derived(String),
    Passphrase(String),
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbKey::Derived(_) => "DbKey::Derived(…)",
            DbKey::Passphrase(_) => "DbKey::Passphrase(…)",
        })
    }
}

impl DbKey {
    /// The database key that goes with an audit key. A different domain than the audit chain's
    /// MACs, so neither use reveals the other.
    pub fn derived(key: &AuditKey) -> Self {
        DbKey::Derived(key.mac("sqlcipher database key", &[]))
    }

    /// The value of `PRAGMA key`: SQLCipher reads `x'…'` as a raw key and anything else as a
    /// passphrase it stretches (PBKDF2).
    pub(super) fn pragma_value(&self) -> String {
        match self {
            DbKey::Derived(hex) => format!("x'{hex}'"),
            DbKey::Passphrase(p) => p.clone(),
        }
    }

    /// Keys `conn`; must be the first thing done on it. SQLCipher's own log (a wrong key is an
    /// "hmac check failed" on stderr) is silenced: a key that does not fit is tried and reported
    /// here, in words.
    pub(super) fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "cipher_log_level", "NONE")?;
        conn.pragma_update(None, "key", self.pragma_value())
    }

    pub fn describe(&self) -> &'static str {
        match self {
            DbKey::Derived(_) => "the key file",
            DbKey::Passphrase(_) => "a passphrase",
        }
    }
}

/// What the first bytes of a database file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// No file, or an empty one: a new database.
    New,
    /// SQLite's own header: not encrypted.
    Plain,
    /// Anything else: encrypted (or not a database at all).
    Encrypted,
}

pub fn file_kind(path: &Path) -> FileKind {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else { return FileKind::New };
    let mut header = [0u8; 16];
    match file.read(&mut header) {
        Ok(0) => FileKind::New,
        Ok(16) if &header == b"SQLite format 3\0" => FileKind::Plain,
        _ => FileKind::Encrypted,
    }
}

/// Passphrases typed in this process, by database file: the app's background jobs open their own
/// connections and must not ask again.
static PASSPHRASES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

pub fn remember_passphrase(db: &Path, passphrase: &str) {
    let mut known = PASSPHRASES.lock().unwrap_or_else(|e| e.into_inner());
    known.retain(|(p, _)| p != db);
    known.push((db.to_path_buf(), passphrase.to_string()));
}

/// Every passphrase typed in this process (the one for `db` first): a backup is checked with the
/// passphrase of the database it came from.
pub(super) fn remembered(db: &Path) -> Vec<DbKey> {
    let known = PASSPHRASES.lock().unwrap_or_else(|e| e.into_inner());
    let mut keys: Vec<DbKey> =
        known.iter().filter(|(p, _)| p == db).map(|(_, k)| DbKey::Passphrase(k.clone())).collect();
    keys.extend(known.iter().filter(|(p, _)| p != db).map(|(_, k)| DbKey::Passphrase(k.clone())));
    keys
}

/// Opens `path` with the first of `keys` that unlocks it (a connection per try: SQLCipher takes
/// the key before anything else). `None` when none does.
pub(super) fn open_with_any(
    path: &Path,
    flags: Option<rusqlite::OpenFlags>,
    keys: &[DbKey],
) -> rusqlite::Result<Option<(Connection, DbKey)>> {
    for key in keys {
        let conn = match flags {
            Some(f) => Connection::open_with_flags(path, f)?,
            None => Connection::open(path)?,
        };
        key.apply(&conn)?;
        if conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).is_ok() {
            return Ok(Some((conn, key.clone())));
        }
    }
    Ok(None)
}

/// Whether this build can encrypt (the `encryption` feature).
pub const AVAILABLE: bool = cfg!(feature = "encryption");

/// Encrypts the plain database at `db` in place, with `passphrase` or (none given) the key file's
/// key: the database is exported into an encrypted copy (SQLCipher's `sqlcipher_export`), the copy
/// is checked — it opens, its integrity holds and its audit trail verifies against the anchor —
/// and only then replaces the plain file, which is overwritten before it is removed (on a disk
/// that remaps blocks, such as an SSD, the old blocks may survive: README says so). The change is
/// the newest audit entry. Close the app on every station first.
pub fn encrypt_database(
    db: &Path,
    actor: &super::Actor,
    passphrase: Option<&str>,
) -> super::Result<&'static str> {
    use super::{Store, StoreError};
    if !AVAILABLE {
        return Err(StoreError::Refused("this build has no encryption (the `encryption` feature)".into()));
    }
    if file_kind(db) != FileKind::Plain {
        return Err(StoreError::Refused(format!(
            "{} is not a plain database (encrypted already?)",
            db.display()
        )));
    }
    if passphrase.is_some_and(|p| p.chars().count() < 16) {
        return Err(StoreError::Refused("a database passphrase needs at least 16 characters".into()));
    }
    let target = with_suffix(db, ".encrypting");
    let _ = std::fs::remove_file(&target);
    let mut store = Store::open(db)?;
    let key = match passphrase {
        Some(p) => DbKey::Passphrase(p.to_string()),
        None => DbKey::derived(&store.trust.key),
    };
    // The entry goes in first, so the encrypted copy carries it; if the copy then fails, a second
    // entry says so and the trail stays true.
    {
        let tx = store.begin()?;
        let mut audit = super::audit::AuditWriter::start(&tx)?;
        let detail = serde_json::json!({ "with": key.describe() });
        audit.append(&tx, actor, "encrypt", "database", &db.display().to_string(), None, Some(&detail))?;
        tx.commit()?;
    }
    let failed = |store: &mut Store, problem: String| -> StoreError {
        let _ = std::fs::remove_file(&target);
        let recorded = (|| {
            let tx = store.begin()?;
            let mut audit = super::audit::AuditWriter::start(&tx)?;
            let detail = serde_json::json!({ "problem": problem });
            audit.append(
                &tx,
                actor,
                "encrypt_failed",
                "database",
                &db.display().to_string(),
                None,
                Some(&detail),
            )?;
            tx.commit()
        })();
        let note = match recorded {
            Ok(()) => "",
            Err(_) => " (and the failure could not be added to the audit trail)",
        };
        StoreError::Refused(format!("{problem}; the plain database was left as it was{note}"))
    };
    let exported = (|| -> super::Result<()> {
        store.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        crate::files::write_private_new(&target, &[])
            .map_err(|e| StoreError::Refused(format!("cannot create {}: {e}", target.display())))?;
        store.conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            rusqlite::params![target.to_string_lossy(), key.pragma_value()],
        )?;
        // sqlcipher_export copies schema and rows, not the schema version the migrations keep.
        let version: i64 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let exported = store
            .conn
            .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
            .and_then(|()| store.conn.execute_batch(&format!("PRAGMA encrypted.user_version = {version}")));
        store.conn.execute_batch("DETACH DATABASE encrypted")?;
        Ok(exported?)
    })();
    if let Err(e) = exported {
        return Err(failed(&mut store, format!("the encrypted copy could not be written ({e})")));
    }
    // The copy is checked as the database it will become, with its anchor.
    let check = (|| {
        let conn = open_with_any(&target, None, std::slice::from_ref(&key))?
            .map(|(c, _)| c)
            .ok_or(rusqlite::Error::InvalidQuery)?;
        let integrity: String = conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
        Ok::<_, rusqlite::Error>((conn, integrity))
    })();
    let problem = match check {
        Err(e) => Some(format!("the encrypted copy does not open ({e})")),
        Ok((_, integrity)) if integrity != "ok" => {
            Some(format!("the encrypted copy fails its integrity check: {integrity}"))
        }
        Ok((conn, _)) => {
            let verified =
                AuditKey::load(&AuditKey::path_for(db)).map_err(StoreError::from).and_then(|audit_key| {
                    super::audit::verify(
                        &super::db::Connection::Lite(conn),
                        &audit_key,
                        Some(&super::trust::Anchor::path_for(db)),
                    )
                });
            match verified {
                Err(e) => Some(format!("the encrypted copy's audit cannot be checked ({e})")),
                Ok(v) if !v.ok() => {
                    Some(format!("the encrypted copy's audit does not verify: {}", v.problems().join("; ")))
                }
                Ok(_) => None,
            }
        }
    };
    if let Some(problem) = problem {
        return Err(failed(&mut store, problem));
    }
    drop(store);
    // Closed and checkpointed: its -wal and -shm hold nothing now, and must not be taken for the
    // encrypted file's.
    for suffix in ["-wal", "-shm"] {
        overwrite_and_remove(&with_suffix(db, suffix));
    }
    // The plain file steps aside before the copy takes its name, and is wiped only once the
    // encrypted one is in place: at no moment is there no database.
    let plain = with_suffix(db, ".plain");
    std::fs::rename(db, &plain).map_err(|e| {
        StoreError::Refused(format!(
            "cannot move the plain database aside to {} ({e}); it was left as it was, the encrypted copy is {}",
            plain.display(),
            target.display()
        ))
    })?;
    if let Err(e) = std::fs::rename(&target, db) {
        let back = std::fs::rename(&plain, db);
        return Err(StoreError::Refused(match back {
            Ok(()) => format!(
                "cannot move the encrypted copy into place ({e}); the plain database was left as it was"
            ),
            Err(b) => format!(
                "cannot move the encrypted copy {} into place ({e}), nor the plain database {} back ({b}): move one of them to {} by hand",
                target.display(),
                plain.display(),
                db.display()
            ),
        }));
    }
    if let Some(dir) = db.parent() {
        let _ = crate::files::sync_dir(dir);
    }
    overwrite_and_remove(&plain);
    if let DbKey::Passphrase(p) = &key {
        remember_passphrase(db, p);
    }
    Ok(key.describe())
}

/// Overwrites a file with zeros, flushed, then removes it: best effort against reading the
/// plain database back from the disk.
fn overwrite_and_remove(path: &Path) {
    use std::io::Write;
    if let Ok(meta) = std::fs::metadata(path)
        && let Ok(mut file) = std::fs::OpenOptions::new().write(true).open(path)
    {
        let zeros = vec![0u8; 1 << 16];
        let mut left = meta.len();
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            if file.write_all(&zeros[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = file.sync_all();
    }
    let _ = std::fs::remove_file(path);
}
