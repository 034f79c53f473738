//! SQLite storage: the only module that writes SQL. Every write runs in one transaction together
//! with its audit entries, so a crash leaves either all of a change or none of it.

mod audit;
mod backup;
pub mod cipher;
pub(crate) mod db;
mod downtime;
mod entries;
mod handoff;
mod masters;
mod meta;
mod migrations;
mod orca;
mod outbox;
mod patients;
mod pg_backup;
mod pg_schema;
mod reconcile;
mod registry;
mod scan_events;
mod scanned_pages;
mod seals;
mod settings;
mod snapshot;
mod stations;
mod trust;
mod users;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use db::Connection;

pub use crate::domain::{EntryState, Keying};
pub use audit::{AuditEntry, AuditVerification};
pub use backup::{BackupCheck, RestoreReport, list_backups, restore, sealed_key_id, verify_backup};
pub use downtime::{
    BlockRecord, EpisodeNote, EpisodeRecord, IdSource, IdSupply, PacketRecord, RegistrationFlags,
    RegistrationRecord,
};
pub use entries::{EntryRecord, ItemKey, NewEntry};
pub use handoff::{
    CurrentItem, HandoffRecord, HandoffRun, ItemHandoff, OutboxMessage, OutboxState, PackedContent,
    StagedItem, StagedMessage,
};
pub use masters::ReplaceCounts;
pub use orca::{OrcaAccepted, OrcaVisit};
pub use patients::{ApplyCounts, CensusApplied, CensusApply, OutpatientsAdded, PatientRecord, WardSummary};
pub use pg_backup::{HubRestore, is_dump as is_pg_dump};
pub use reconcile::{DowntimePatient, EhrFacts, MrnLink, PatientMerge};
pub use registry::PrintedPage;
pub use scan_events::{NewScanEvent, ScanEventRecord, ScanFacts, ScanKind, VolumeCount};
pub use scanned_pages::{
    Assignment, Filing, NewScannedPage, PageSource, PageState, PrintedPageState, Reading, ScannedCounts,
    ScannedPageRecord, StoredImage,
};
pub use settings::Settings;
pub use snapshot::{SnapshotBatch, SnapshotFile, SnapshotPerson, SnapshotRun, StoredRecord};
pub use stations::{
    IncomingBundle, IncomingSnapshot, KnownStation, MergeCounts, OutgoingBundle, TravellingRow, fingerprint,
};
pub use trust::{Anchor, AuditKey, TrustError};
pub use users::{LoginCheck, LoginOutcome, NewUser, UserRecord};

/// Who makes a change: a user of this program (its login), or `kamikarte` for what the program
/// does by itself (a scheduled backup). Never the machine's login: the EHR is handed the staff
/// code of the user named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

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
    #[error(
        "the database is busy: another station or job has been writing to it for {} seconds (a census import, a backup, an export?). Nothing was saved; try again when it has finished",
        BUSY_LIMIT.as_secs()
    )]
    Busy,
    #[error("database error: {0}")]
    Sql(db::Error),
    #[error("the database holds a {entity} '{id}' whose {field} cannot be read: {message}")]
    Corrupt { entity: &'static str, id: String, field: &'static str, message: String },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(
        "{} is encrypted with a passphrase: give it (KAMIKARTE_DB_PASSPHRASE, or the prompt) to open it",
        path.display()
    )]
    NeedsPassphrase { path: PathBuf },
    #[error("{}: the passphrase does not open it (or the file is not a kamikarte database)", path.display())]
    WrongPassphrase { path: PathBuf },
}

impl From<db::Error> for StoreError {
    fn from(e: db::Error) -> Self {
        if e.is_busy() { StoreError::Busy } else { StoreError::Sql(e) }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        db::Error::Lite(e).into()
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    /// Where the key, the anchor and the backups of this database lie: the database file itself
    /// for SQLite; for a PostgreSQL hub, a name in this PC's data folder (`hub_local_path`).
    local: Option<PathBuf>,
    trust: trust::Trust,
    /// What unlocked the database, when it is encrypted (backups are keyed the same).
    db_key: Option<cipher::DbKey>,
}

/// How long a write waits for another connection's write to finish before it gives up. Long
/// jobs commit in pieces well under this (a census import stages its rows in batches).
pub const BUSY_LIMIT: Duration = Duration::from_secs(30);

/// Called once per wait, after a write has waited a second for another one: the command line
/// says so on stderr, so a clerk knows the program is waiting, not hung.
static WAIT_NOTICE: OnceLock<fn()> = OnceLock::new();

/// Sets what is done when a write has to wait (see `WAIT_NOTICE`).
pub fn on_wait(notice: fn()) {
    let _ = WAIT_NOTICE.set(notice);
}

/// SQLite's busy handler: back off 1, 2, 4 … 64 ms, then every 100 ms, up to `BUSY_LIMIT`.
fn wait_for_writer(attempt: i32) -> bool {
    let attempt = attempt.max(0) as u64;
    let (waited_ms, delay_ms) =
        if attempt < 7 { ((1 << attempt) - 1, 1 << attempt) } else { (127 + (attempt - 7) * 100, 100) };
    if waited_ms >= BUSY_LIMIT.as_millis() as u64 {
        return false;
    }
    if waited_ms < 1000
        && waited_ms + delay_ms >= 1000
        && let Some(notice) = WAIT_NOTICE.get()
    {
        notice();
    }
    std::thread::sleep(Duration::from_millis(delay_ms));
    true
}

/// One write: an immediate transaction (it takes the write lock when it begins, so it never
/// fails half-way because another connection wrote first), whose commit also advances the anchor
/// when audit entries were added.
pub(crate) struct Tx<'s> {
    tx: db::Transaction<'s>,
    trust: &'s trust::Trust,
}

impl<'s> Deref for Tx<'s> {
    type Target = db::Transaction<'s>;
    fn deref(&self) -> &db::Transaction<'s> {
        &self.tx
    }
}

impl Tx<'_> {
    pub(crate) fn key(&self) -> &AuditKey {
        &self.trust.key
    }

    pub(crate) fn commit(self) -> Result<()> {
        let head = audit::head(&self.tx)?;
        self.tx.commit()?;
        if let Some((seq, mac)) = head {
            // Committed whatever happens to the anchor: a lagging anchor is allowed (a kill
            // between the two leaves it so) and the next commit catches it up.
            if let Err(e) = self.trust.anchor_after_commit(seq, &mac) {
                self.trust.note_anchor_error(e);
            }
        }
        Ok(())
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, brings its schema up to date and loads
    /// its audit key (made on first use, see `trust`). An encrypted database opens with the key
    /// file's key or a passphrase typed earlier in this process; otherwise `NeedsPassphrase`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(url) = postgres_url(path) {
            return Self::open_postgres(url);
        }
        Self::open_keyed(path, None)
    }

    /// Connects to the PostgreSQL hub at `url`, making its schema the first time (under the
    /// write lock, so two PCs starting together make it once).
    fn open_postgres(url: &str) -> Result<Self> {
        let shown = redact_url(url);
        let config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Refused(format!(
                "{shown} is not a PostgreSQL address (postgres://user@host/database): {e}"
            ))
        })?;
        let local = hub_local_path(&config);
        Self::connect_postgres(&config, Some(url), &shown, Some(local))
    }

    fn connect_postgres(
        config: &postgres::Config,
        url: Option<&str>,
        shown: &str,
        local: Option<PathBuf>,
    ) -> Result<Self> {
        let mut config = config.clone();
        // The postgres crate reads no environment: PGPASSWORD is honoured here, as libpq (and
        // so pg_dump) honours it.
        if config.get_password().is_none()
            && let Some(password) = std::env::var_os("PGPASSWORD")
        {
            config.password(password.to_string_lossy().as_bytes());
        }
        // A PC that drops off the network mid-write must not hold the write lock for hours.
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let config = &config;
        let mut client = config.connect(tls_connector()?).map_err(|e| {
            // The cause says what it was (refused, a certificate not trusted, a password).
            let cause = std::error::Error::source(&e).map(|c| format!(" ({c})")).unwrap_or_default();
            StoreError::Refused(format!(
                "cannot connect to the PostgreSQL hub {shown}: {e}{cause}. Is the server running, and does the database exist (createdb)? A server with its own certificate authority: KAMIKARTE_PG_CA=ca.pem"
            ))
        })?;
        // The same patience as SQLite's busy handler, and PostgreSQL's own chatter kept quiet.
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{}s'; SET idle_in_transaction_session_timeout = '{}s'; SET client_min_messages = warning",
                BUSY_LIMIT.as_secs(),
                2 * BUSY_LIMIT.as_secs()
            ))
            .map_err(db::Error::from)?;
        let conn = Connection::Pg(Box::new(db::Pg::new(client, config.clone())));
        pg_schema::ensure(&conn, shown)?;
        if let Some(dir) = local.as_deref().and_then(Path::parent) {
            crate::files::create_private_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let trust = trust::establish(&conn, local.as_deref())?;
        let mut store = Self { conn, path: url.map(PathBuf::from), local, trust, db_key: None };
        store.keep_legacy_station_code()?;
        Ok(store)
    }

    /// Opens a database encrypted with `passphrase` (remembered for this process's other
    /// connections to it).
    pub fn open_with_passphrase(path: &Path, passphrase: &str) -> Result<Self> {
        let store = Self::open_keyed(path, Some(cipher::DbKey::Passphrase(passphrase.to_string())))?;
        cipher::remember_passphrase(path, passphrase);
        Ok(store)
    }

    fn open_keyed(path: &Path, given: Option<cipher::DbKey>) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        if !path.exists() {
            // Private from its first byte; SQLite gives its -wal and -shm files the same mode.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(false);
            crate::files::private_mode(&mut options);
            options
                .open(path)
                .map_err(|e| StoreError::Refused(format!("cannot create {}: {e}", path.display())))?;
        }
        let open_error = |source| StoreError::Open { path: path.to_path_buf(), source };
        let (conn, db_key) = match cipher::file_kind(path) {
            cipher::FileKind::New | cipher::FileKind::Plain => {
                (rusqlite::Connection::open(path).map_err(open_error)?, None)
            }
            cipher::FileKind::Encrypted => {
                if !cipher::AVAILABLE {
                    return Err(StoreError::Refused(format!(
                        "{} is encrypted (or not a database), and this build has no encryption (the `encryption` feature)",
                        path.display()
                    )));
                }
                let mut keys: Vec<cipher::DbKey> = given.iter().cloned().collect();
                keys.extend(cipher::remembered(path));
                let key_file = AuditKey::path_for(path);
                if key_file.exists() {
                    keys.push(cipher::DbKey::derived(&AuditKey::load(&key_file)?));
                }
                match cipher::open_with_any(path, None, &keys).map_err(open_error)? {
                    Some((conn, key)) => (conn, Some(key)),
                    None if given.is_some() => {
                        return Err(StoreError::WrongPassphrase { path: path.to_path_buf() });
                    }
                    None => return Err(StoreError::NeedsPassphrase { path: path.to_path_buf() }),
                }
            }
        };
        let mut store = Self::configure(conn, Some(path.to_path_buf()))?;
        store.db_key = db_key;
        Ok(store)
    }

    /// A private database in memory, for tests and benchmarks; its key lives as long as it does.
    ///
    /// When `KAMIKARTE_TEST_POSTGRES` names a PostgreSQL server (scripts/pg.sh), it is a new
    /// database of its own on that server instead: that is how the store's tests run against
    /// both engines.
    pub fn open_in_memory() -> Result<Self> {
        if std::env::var("KAMIKARTE_TEST_ENGINE").is_ok_and(|e| e == "postgres") {
            let server = std::env::var("KAMIKARTE_TEST_POSTGRES").map_err(|_| {
                StoreError::Refused(
                    "KAMIKARTE_TEST_ENGINE=postgres needs KAMIKARTE_TEST_POSTGRES (scripts/pg.sh)".into(),
                )
            })?;
            let address = new_postgres_database(&server, "kk_test")?;
            let config: postgres::Config =
                address.parse().map_err(|e| StoreError::Refused(format!("{e}")))?;
            // Like a database in memory: no key file, no anchor; dropped with the store.
            let mut store = Self::connect_postgres(&config, None, &redact_url(&address), None)?;
            if let Connection::Pg(pg) = &mut store.conn {
                pg.scratch = Some((config.clone(), database_of(&config).to_string()));
            }
            return Ok(store);
        }
        Self::configure(rusqlite::Connection::open_in_memory()?, None)
    }

    fn configure(mut conn: rusqlite::Connection, path: Option<PathBuf>) -> Result<Self> {
        // WAL lets the app read while an import writes from another connection; NORMAL
        // synchronous is durable in WAL mode against process kills (fsync at checkpoint).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A hand-off prepares thousands of versions in one transaction: a page cache of 32 MB
        // (instead of 2) keeps it from spilling to the WAL before the commit.
        conn.pragma_update(None, "cache_size", -32_768)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_handler(Some(wait_for_writer))?;
        migrations::migrations().to_latest(&mut conn)?;
        let conn = Connection::Lite(conn);
        let trust = trust::establish(&conn, path.as_deref())?;
        let mut store = Self { conn, local: path.clone(), path, trust, db_key: None };
        store.keep_legacy_station_code()?;
        Ok(store)
    }

    /// How the database is encrypted: `None` when it is not.
    pub fn encryption(&self) -> Option<&'static str> {
        self.db_key.as_ref().map(cipher::DbKey::describe)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Begins a write (see `Tx`).
    pub(crate) fn begin(&mut self) -> Result<Tx<'_>> {
        let tx = self.conn.begin_write()?;
        Ok(Tx { tx, trust: &self.trust })
    }

    /// The key this database's audit is chained under.
    pub fn audit_key(&self) -> &AuditKey {
        &self.trust.key
    }

    /// Where the key file is (none for a database in memory).
    pub fn audit_key_path(&self) -> Option<PathBuf> {
        self.local.as_deref().map(AuditKey::path_for)
    }

    /// The last failure to update the anchor file, if any (the commit itself succeeded).
    pub fn anchor_problem(&self) -> Option<String> {
        self.trust.anchor_error()
    }
}

/// The address of a PostgreSQL hub, when `--db` (or `KAMIKARTE_DB`) names one rather than a file.
pub fn postgres_url(db: &Path) -> Option<&str> {
    db.to_str().filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Makes a new, empty database on the PostgreSQL server `server` (an address, as `--db` takes
/// it) named `<prefix>_<process>_<n>_<random>`, in the C locale (text sorts by code point, as in
/// SQLite), and returns its address. For tests and benchmarks.
pub fn new_postgres_database(server: &str, prefix: &str) -> Result<String> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let shown = redact_url(server);
    let config: postgres::Config = server
        .parse()
        .map_err(|e| StoreError::Refused(format!("{shown} is not a PostgreSQL address: {e}")))?;
    let name = format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        fastrand::u32(..)
    );
    let mut admin = config
        .connect(tls_connector()?)
        .map_err(|e| StoreError::Refused(format!("cannot connect to {shown}: {e}")))?;
    admin.batch_execute(&pg_schema::create_database_sql(&name)).map_err(db::Error::from)?;
    let mut address = config;
    address.dbname(&name);
    Ok(pg_backup::address_with_password(&address))
}

/// TLS for a hub's connection. The address's `sslmode` decides whether it is used (`prefer`, the
/// default, when the server offers it; `require` always; `disable` never). The server's
/// certificate is checked against the system's roots and, when `KAMIKARTE_PG_CA` names a PEM file,
/// against that certificate authority too (a hospital's own CA, or the server's self-signed
/// certificate).
pub(crate) fn tls_connector() -> Result<postgres_native_tls::MakeTlsConnector> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(ca) = std::env::var_os("KAMIKARTE_PG_CA") {
        let path = PathBuf::from(ca);
        let pem = std::fs::read(&path).map_err(|e| {
            StoreError::Refused(format!("KAMIKARTE_PG_CA: cannot read {}: {e}", path.display()))
        })?;
        let certificate = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            StoreError::Refused(format!("KAMIKARTE_PG_CA: {} is not a PEM certificate: {e}", path.display()))
        })?;
        builder.add_root_certificate(certificate);
    }
    let connector = builder
        .build()
        .map_err(|e| StoreError::Refused(format!("cannot set up TLS for the hub's connection: {e}")))?;
    Ok(postgres_native_tls::MakeTlsConnector::new(connector))
}

/// The database a PostgreSQL address names (libpq's default: the user's name).
pub(crate) fn database_of(config: &postgres::Config) -> &str {
    config.get_dbname().or(config.get_user()).unwrap_or("postgres")
}

/// `--db` as it may be shown or logged: a hub's address without its password.
pub fn shown(db: &Path) -> String {
    match postgres_url(db) {
        Some(url) => redact_url(url),
        None => db.display().to_string(),
    }
}

/// A PostgreSQL address as it may be shown: without its password.
pub fn redact_url(url: &str) -> String {
    let url = &match url.find("password=") {
        Some(at) => {
            let end = url[at..].find('&').map(|e| at + e).unwrap_or(url.len());
            format!("{}password=***{}", &url[..at], &url[end..])
        }
        None => url.to_string(),
    };
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_part = &url[scheme + 3..at];
            match user_part.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &user_part[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// What stands for the database on this PC's disk: the file itself, or for a PostgreSQL hub its
/// local name (`hub_local_path`). Logs, page images and demo kits lie beside it.
pub fn local_path(db: &Path) -> PathBuf {
    match postgres_url(db).and_then(|url| url.parse::<postgres::Config>().ok()) {
        Some(config) => hub_local_path(&config),
        None => db.to_path_buf(),
    }
}

static HUB_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Keeps this process's hub keys and anchors in `dir` rather than KAMIKARTE_HUB_DIR or the data
/// folder (tests and benchmarks; the first call wins).
pub fn use_hub_dir(dir: &Path) {
    let _ = HUB_DIR.set(dir.to_path_buf());
}

/// Where this PC keeps a hub's audit key and anchor: `hubs/<host>-<port>-<database>.hub` in its
/// data folder (or `KAMIKARTE_HUB_DIR`). Every PC that writes to the hub needs the same key file.
pub(crate) fn hub_local_path(config: &postgres::Config) -> PathBuf {
    let dir = HUB_DIR
        .get()
        .cloned()
        .or_else(|| std::env::var_os("KAMIKARTE_HUB_DIR").map(PathBuf::from))
        .unwrap_or_else(|| {
            dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("kamikarte").join("hubs")
        });
    let host = pg_backup::host_of(config).unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = database_of(config);
    let name: String = format!("{host}-{port}-{database}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .collect();
    dir.join(format!("{}.hub", name.trim_start_matches(['_', '.'])))
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
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0usize)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0usize)).unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn migrations_are_valid() {
        migrations::migrations().validate().unwrap();
    }
}
