//! What makes the audit trail and the accounts tamper-evident to someone who can edit the
//! database file: a secret key kept *outside* it, and an anchor that remembers its newest entry.
//!
//! - **The key** (`<db>.key`, readable by its owner only) is 32 random bytes made when the
//!   database is first opened. Audit entries are chained with HMAC-SHA-256 under it, and every row
//!   that grants power (accounts, settings) carries a seal made with it: without the key, an entry
//!   cannot be rewritten, nor a role changed, without it showing.
//! - **The anchor** (`<db>.anchor`) holds the sequence number and MAC of the newest entry, written
//!   after every commit that added one. Entries deleted from the *end* of the chain leave every
//!   remaining link intact; the anchor is what misses them.
//!
//! Entries written before the key existed (a database made by an older kamikarte) keep their
//! SHA-256 chain; the key file records from which entry on the chain is keyed.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::db::{Connection, OptionalExtension, params};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{StoreError, Tx};
use crate::files::{self, with_suffix};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Separates the fields of what is MACed, so that `ab|c` and `a|bc` differ.
const SEPARATOR: u8 = 0x1f;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "the audit key {path} is missing, and this database was sealed with one (key id {key_id}). Put back the copy kept with the backups (`backups/<database>.key`, or the copy IT keeps); without it the audit trail and the accounts cannot be checked"
    )]
    KeyMissing { path: PathBuf, key_id: String },
    #[error("the audit key {path} cannot be read: {message}")]
    KeyUnreadable { path: PathBuf, message: String },
    #[error(
        "the audit key {path} (key id {found}) belongs to another database: this one was sealed with key id {expected}"
    )]
    WrongKey { path: PathBuf, found: String, expected: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the operating system gave no random bytes for a new key: {0}")]
    Random(String),
}

/// The secret under which the audit chain is keyed and powerful rows are sealed.
#[derive(Clone)]
pub struct AuditKey {
    secret: [u8; 32],
    keyed_from: i64,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).field("keyed_from", &self.keyed_from).finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyFile {
    version: u32,
    key: String,
    keyed_from: i64,
    created: String,
}

impl AuditKey {
    /// A new random key; entries from `keyed_from` on are chained under it.
    pub fn generate(keyed_from: i64) -> Result<Self, TrustError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TrustError::Random(e.to_string()))?;
        Ok(Self::from_secret(secret, keyed_from))
    }

    fn from_secret(secret: [u8; 32], keyed_from: i64) -> Self {
        let mut h = Sha256::new();
        h.update(b"kamikarte audit key id");
        h.update(secret);
        let id = hex::encode(h.finalize())[..16].to_string();
        Self { secret, keyed_from, id }
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let unreadable = |message: String| TrustError::KeyUnreadable { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let file: KeyFile = toml::from_str(&text).map_err(|e| unreadable(e.message().to_string()))?;
        if file.version != 1 {
            return Err(unreadable(format!("version {} is not one this kamikarte knows (1)", file.version)));
        }
        let bytes = hex::decode(file.key.trim()).map_err(|e| unreadable(format!("key: {e}")))?;
        let secret: [u8; 32] =
            bytes.try_into().map_err(|_| unreadable("key: not 32 bytes (64 hex digits)".into()))?;
        if file.keyed_from < 1 {
            return Err(unreadable("keyed_from must be 1 or more".into()));
        }
        Ok(Self::from_secret(secret, file.keyed_from))
    }

    /// Writes the key to a new file readable by its owner only; never replaces an existing one.
    pub fn save_new(&self, path: &Path) -> Result<(), TrustError> {
        let file = KeyFile {
            version: 1,
            key: hex::encode(self.secret),
            keyed_from: self.keyed_from,
            created: super::now_text(),
        };
        let text = format!(
            "# kamikarte audit key. Keep it secret, and keep a copy with the backups: without it the\n\
             # audit trail and the accounts of the database beside it cannot be checked.\n{}",
            toml::to_string(&file).expect("a key file serialises")
        );
        files::write_private_new(path, text.as_bytes())
            .map_err(|source| TrustError::Write { path: path.to_path_buf(), source })
    }

    /// A short public name of the key (a hash of it), stored in the database to match the two.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first audit entry chained under this key.
    pub fn keyed_from(&self) -> i64 {
        self.keyed_from
    }

    /// HMAC-SHA-256 of `parts` (each followed by a separator) in a named domain, as hex.
    pub(crate) fn mac(&self, domain: &str, parts: &[&str]) -> String {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[SEPARATOR]);
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(&[SEPARATOR]);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// A secret of its own for another use (`purpose` names it), derived from this key so it
    /// needs no file of its own and is kept, backed up and lost with it.
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"kamikarte derived key");
        mac.update(&[SEPARATOR]);
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key file that belongs to a database file: `kamikarte.sqlite.key`.
    pub fn path_for(db: &Path) -> PathBuf {
        with_suffix(db, ".key")
    }
}

/// `name.sqlite` + `.key` → `name.sqlite.key` (never replacing the extension).
/// The newest audit entry as last recorded outside the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    pub seq: i64,
    pub mac: String,
    pub key_id: String,
}

impl Anchor {
    /// The anchor file that belongs to a database (or backup) file: `kamikarte.sqlite.anchor`.
    pub fn path_for(db: &Path) -> PathBuf {
        with_suffix(db, ".anchor")
    }

    /// Reads an anchor; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map(Some).map_err(|e| format!("{}: {}", path.display(), e.message()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the anchor unless the file already records a newer entry. Several processes commit
    /// to one database, each after its own commit: a lock file orders them, so the anchor never
    /// moves back.
    pub fn advance(&self, path: &Path) -> std::io::Result<()> {
        let lock = lock_file(path)?;
        let current = Anchor::read(path).ok().flatten();
        if current.is_some_and(|c| c.key_id == self.key_id && c.seq >= self.seq) {
            return Ok(());
        }
        let written = self.replace(path);
        drop(lock);
        written
    }

    /// Writes the anchor whatever the file holds (a restore moves the chain back on purpose).
    pub fn replace(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).expect("an anchor serialises");
        files::write_private_atomic(path, text.as_bytes(), false)
    }
}

/// An exclusive lock on `<anchor>.lock`, released when the file is dropped.
fn lock_file(anchor: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    files::private_mode(&mut options);
    let file = options.open(with_suffix(anchor, ".lock"))?;
    file.lock()?;
    Ok(file)
}

/// The key and anchor of one open database.
pub(crate) struct Trust {
    pub key: AuditKey,
    /// `None` for a database in memory.
    pub anchor: Option<PathBuf>,
    /// The newest entry this connection has anchored, so a commit without audit entries writes
    /// no file.
    anchored: Cell<i64>,
    anchor_error: RefCell<Option<String>>,
}

impl Trust {
    pub fn new(key: AuditKey, anchor: Option<PathBuf>) -> Self {
        Self { key, anchor, anchored: Cell::new(0), anchor_error: RefCell::new(None) }
    }

    /// Records `(seq, mac)` as the newest entry, after the commit that wrote it.
    pub fn anchor_after_commit(&self, seq: i64, mac: &str) -> std::io::Result<()> {
        let Some(path) = &self.anchor else { return Ok(()) };
        if seq <= self.anchored.get() {
            return Ok(());
        }
        Anchor { seq, mac: mac.to_string(), key_id: self.key.id.clone() }.advance(path)?;
        self.anchored.set(seq);
        Ok(())
    }

    /// A restore moves the chain back on purpose: the anchor follows it.
    pub fn reset_anchor(&self, seq: i64, mac: &str) -> std::io::Result<()> {
        let Some(path) = &self.anchor else { return Ok(()) };
        Anchor { seq, mac: mac.to_string(), key_id: self.key.id.clone() }.replace(path)?;
        self.anchored.set(seq);
        Ok(())
    }

    pub fn note_anchor_error(&self, e: std::io::Error) {
        let path = self.anchor.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        *self.anchor_error.borrow_mut() = Some(format!("cannot update the anchor file {path}: {e}"));
    }

    pub fn anchor_error(&self) -> Option<String> {
        self.anchor_error.borrow().clone()
    }
}

/// The meta key that names the key a database is sealed with.
pub(super) const KEY_ID: &str = "audit.key_id";

fn stored_key_id(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [KEY_ID], |r| r.get(0)).optional()?)
}

/// Loads the key of the database at `db` — or makes it, the first time the database is opened
/// by a kamikarte that seals (a new database, or one made by an older version). A database that
/// was sealed and whose key file is gone is refused: making a new key would bless whatever was
/// changed while it was away.
pub(super) fn establish(conn: &Connection, db: Option<&Path>) -> Result<Trust, StoreError> {
    let Some(db) = db else {
        let trust = Trust::new(AuditKey::generate(1)?, None);
        enrol(conn, &trust)?;
        return Ok(trust);
    };
    let key_path = AuditKey::path_for(db);
    let stored = stored_key_id(conn)?;
    if !key_path.exists() {
        if let Some(key_id) = stored {
            return Err(TrustError::KeyMissing { path: key_path, key_id }.into());
        }
        let head: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?;
        match AuditKey::generate(head + 1)?.save_new(&key_path) {
            Ok(()) => {}
            // Another process opening the same database made it a moment ago: use theirs.
            Err(TrustError::Write { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    let key = AuditKey::load(&key_path)?;
    let trust = Trust::new(key, Some(Anchor::path_for(db)));
    match stored {
        Some(id) if id == trust.key.id() => Ok(trust),
        Some(id) => {
            Err(TrustError::WrongKey { path: key_path, found: trust.key.id().to_string(), expected: id }
                .into())
        }
        None => {
            enrol(conn, &trust)?;
            Ok(trust)
        }
    }
}

/// Records the key's id in the database and seals what has no seal yet, in one transaction. On a
/// database that already held entries, the sealing is itself audited (it blesses the rows as
/// they are).
fn enrol(conn: &Connection, trust: &Trust) -> Result<(), StoreError> {
    let tx = Tx { tx: conn.begin_write()?, trust };
    match stored_key_id(&tx)? {
        Some(id) if id == trust.key.id() => return Ok(()),
        Some(id) => {
            return Err(StoreError::Refused(format!(
                "this database was sealed with key id {id} while it was being opened with key id {}",
                trust.key.id()
            )));
        }
        None => {}
    }
    let head: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?;
    if head >= trust.key.keyed_from() {
        return Err(StoreError::Refused(format!(
            "the audit key beside this database (key id {}) was not made for it: it starts at entry {} and the trail already has {head}. Move the key file away if this database is new",
            trust.key.id(),
            trust.key.keyed_from()
        )));
    }
    let now = super::now_text();
    tx.execute(
        "INSERT INTO meta (key, value, updated_at, updated_by, seal) VALUES (?1, ?2, ?3, 'kamikarte', ?4)",
        params![KEY_ID, trust.key.id(), now, super::seals::meta_seal(&trust.key, KEY_ID, trust.key.id())],
    )?;
    let (accounts, settings) = super::seals::seal_unsealed(&tx, &trust.key)?;
    if head > 0 || accounts > 0 || settings > 0 {
        let mut audit = super::audit::AuditWriter::start(&tx)?;
        let detail = serde_json::json!({
            "key_id": trust.key.id(), "keyed_from": trust.key.keyed_from(),
            "accounts_sealed": accounts, "settings_sealed": settings,
        });
        audit.append(
            &tx,
            &super::Actor("kamikarte".into()),
            "seal",
            "database",
            "audit key",
            None,
            Some(&detail),
        )?;
    }
    tx.commit()?;
    // The anchor exists from the start, so deleting every entry *and* the anchor still shows.
    if trust.anchored.get() == 0
        && let Some(path) = &trust.anchor
        && Anchor::read(path).ok().flatten().is_none()
    {
        Anchor { seq: 0, mac: String::new(), key_id: trust.key.id().to_string() }
            .advance(path)
            .map_err(|source| TrustError::Write { path: path.clone(), source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_file_and_macs_depend_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite.key");
        let key = AuditKey::generate(7).unwrap();
        key.save_new(&path).unwrap();
        let back = AuditKey::load(&path).unwrap();
        assert_eq!((back.id(), back.keyed_from()), (key.id(), 7));
        assert_eq!(back.mac("x", &["a", "b"]), key.mac("x", &["a", "b"]));
        assert_ne!(key.mac("x", &["ab", ""]), key.mac("x", &["a", "b"]), "fields are separated");
        let other = AuditKey::generate(1).unwrap();
        assert_ne!(other.mac("x", &["a"]), key.mac("x", &["a"]));
        assert!(key.save_new(&path).is_err(), "an existing key is never replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        std::fs::write(&path, "version = 1\nkey = \"abcd\"\nkeyed_from = 1\ncreated = \"x\"\n").unwrap();
        let err = AuditKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("k.key") && err.contains("32 bytes"), "{err}");
    }

    #[test]
    fn the_anchor_never_moves_back_but_a_restore_can_move_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite.anchor");
        let at = |seq| Anchor { seq, mac: format!("m{seq}"), key_id: "id".into() };
        at(10).advance(&path).unwrap();
        at(9).advance(&path).unwrap();
        assert_eq!(Anchor::read(&path).unwrap().unwrap().seq, 10);
        at(11).advance(&path).unwrap();
        assert_eq!(Anchor::read(&path).unwrap().unwrap().seq, 11);
        at(3).replace(&path).unwrap();
        assert_eq!(Anchor::read(&path).unwrap().unwrap(), at(3));
    }
}
