//! Backups of a PostgreSQL hub: PostgreSQL's own `pg_dump` (custom format) and `pg_restore`,
//! with the same trust rules as SQLite's backups.
//!
//! - **Consistent with its anchor.** The dump reads a snapshot this connection exported, and the
//!   newest audit entry is read in that same snapshot, so the anchor written beside the dump
//!   (`<dump>.anchor`) is exactly the dump's newest entry, while clerks go on writing.
//! - **Verified by restoring it.** `pg_restore` loads the dump into a new, private database on
//!   the same server; the audit chain, the seals and the counts are checked there as for a SQLite
//!   backup; the database is dropped afterwards. A dump that does not restore is not a backup.
//! - **Restored beside, never over.** A restore loads the dump into a new database, checks it, and
//!   says which address to use; the hub it came from is left as it was.
//!
//! Passwords go to the tools by `PGPASSWORD`, never on their command line (and a hub's address
//! may leave its password out: `Store::open` reads PGPASSWORD as libpq does).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::audit::{AuditWriter, head};
use super::backup::{BackupCheck, check_database};
use super::trust::{Anchor, AuditKey};
use super::{Actor, Result, Store, StoreError, db};

/// A hub's backup restored into a new database.
#[derive(Debug, Clone)]
pub struct HubRestore {
    pub check: BackupCheck,
    /// The new database's address, as `--db` takes it (without the password).
    pub address: String,
}

/// The first host of `config`: a name, or a socket's folder.
pub(super) fn host_of(config: &postgres::Config) -> Option<String> {
    config.get_hosts().first().map(|host| match host {
        postgres::config::Host::Tcp(name) => name.clone(),
        #[cfg(unix)]
        postgres::config::Host::Unix(path) => path.display().to_string(),
    })
}

/// A `postgres://` address for `config` without its password (given by PGPASSWORD, which
/// kamikarte reads as libpq does).
fn address_of(config: &postgres::Config) -> String {
    let mut query = Vec::new();
    if let Some(host) = host_of(config) {
        query.push(format!("host={host}"));
    }
    if let Some(port) = config.get_ports().first() {
        query.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        query.push(format!("user={user}"));
    }
    format!("postgres:///{}?{}", super::database_of(config), query.join("&"))
}

/// `address_of` with the password, for a new database on a server whose address had one.
pub(super) fn address_with_password(config: &postgres::Config) -> String {
    let address = address_of(config);
    match config.get_password() {
        Some(p) => format!("{address}&password={}", String::from_utf8_lossy(p)),
        None => address,
    }
}

/// What a hub's backup file is called after (`kamikarte-<time>.pgdump`).
pub const DUMP_SUFFIX: &str = ".pgdump";

/// Whether `path` is a pg_dump archive (custom format: it begins `PGDMP`).
pub fn is_dump(path: &Path) -> bool {
    let mut magic = [0u8; 5];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"PGDMP"
}

/// A PostgreSQL program: from `KAMIKARTE_PG_BIN` (a folder), else the PATH, else Debian's
/// versioned folders.
fn tool(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("KAMIKARTE_PG_BIN") {
        return PathBuf::from(dir).join(name);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
        .unwrap_or(None);
    if let Some(found) = on_path {
        return found;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name))).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(name))
}

/// libpq's `key='value'` connection string for `database` on the server of `config`, and the
/// password to give by environment.
fn conninfo(config: &postgres::Config, database: &str) -> (String, Option<String>) {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = Vec::new();
    if let Some(host) = host_of(config) {
        parts.push(format!("host={}", quote(&host)));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    parts.push(format!("dbname={}", quote(database)));
    // The tools are given the same sslmode. libpq checks the server's certificate only against
    // a CA it is given: with KAMIKARTE_PG_CA it checks chain and host name (verify-full), as
    // kamikarte always does; without it, `require` encrypts but checks nothing (README says to
    // give the CA on a network).
    let mode = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable => "disable",
        postgres::config::SslMode::Require => "require",
        _ => "prefer",
    };
    match std::env::var_os("KAMIKARTE_PG_CA") {
        Some(ca) if mode != "disable" => {
            parts.push("sslmode=verify-full".to_string());
            parts.push(format!("sslrootcert={}", quote(&ca.to_string_lossy())));
        }
        _ => parts.push(format!("sslmode={mode}")),
    }
    let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
    (parts.join(" "), password)
}

fn run(mut command: Command, password: Option<String>, what: &str) -> Result<()> {
    if let Some(p) = password {
        command.env("PGPASSWORD", p);
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| {
        StoreError::Refused(format!(
            "cannot run {program} for {what}: {e}. Install PostgreSQL's client programs (Debian: postgresql-client), or set KAMIKARTE_PG_BIN to their folder"
        ))
    })?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(StoreError::Refused(format!("{program} failed for {what}: {}", said.trim())));
    }
    Ok(())
}

fn hub(conn: &db::Connection) -> Result<&db::Pg> {
    conn.pg().ok_or_else(|| StoreError::Refused("not a PostgreSQL hub".into()))
}

impl Store {
    /// Dumps the hub to `dest` (through a temporary file beside it) and writes the anchor of
    /// exactly what the dump holds beside it.
    pub(super) fn dump_to(&mut self, dest: &Path) -> Result<()> {
        let pg = hub(&self.conn)?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        // The database this connection is in (an address may leave the name to the server).
        let database: String = self.conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
        let (target, password) = conninfo(&pg.config, &database);
        let partial = crate::files::with_suffix(dest, ".partial");
        let read = self.conn.unchecked_transaction()?;
        // This transaction waits, idle, for as long as pg_dump reads its snapshot.
        read.execute_batch("SET LOCAL idle_in_transaction_session_timeout = 0")?;
        let snapshot: String = read.query_row("SELECT pg_export_snapshot()", [], |r| r.get(0))?;
        let (seq, mac) = head(&read)?.unwrap_or((0, String::new()));
        let mut dump = Command::new(tool("pg_dump"));
        dump.args(["--format=custom", "--no-owner", "--no-privileges"])
            .arg(format!("--snapshot={snapshot}"))
            .arg(format!("--file={}", partial.display()))
            .arg(format!("--dbname={target}"));
        let dumped = run(dump, password, &format!("the backup {}", dest.display()));
        drop(read);
        if let Err(e) = dumped {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        // pg_dump inherits this program's umask (files.rs): the dump is its owner's only.
        std::fs::rename(&partial, dest)
            .map_err(|e| StoreError::Refused(format!("cannot write {}: {e}", dest.display())))?;
        let anchor = Anchor::path_for(dest);
        Anchor { seq, mac, key_id: self.trust.key.id().to_string() }
            .replace(&anchor)
            .map_err(|e| StoreError::Refused(format!("cannot write {}: {e}", anchor.display())))
    }

    /// Checks a hub's backup by restoring it into a private database on this hub's server:
    /// the archive must restore whole, then it gets every check a SQLite backup gets.
    pub fn verify_dump(&self, path: &Path, key: &AuditKey) -> Result<BackupCheck> {
        let scratch = format!("kamikarte_verify_{}_{}", std::process::id(), fastrand::u32(..));
        let checked = self.restore_dump_into(path, &scratch).and_then(|restored| {
            let integrity = match restored {
                Ok(()) => "ok".to_string(),
                Err(problem) => problem,
            };
            let conn = self.connect_to(&scratch)?;
            check_database(&conn, path, key, integrity)
        });
        let dropped = self.conn.execute_batch(&super::pg_schema::drop_database_sql(&scratch));
        let check = checked?;
        dropped?;
        Ok(check)
    }

    /// The hub's database name.
    pub fn database_name(&self) -> Option<String> {
        self.conn.pg()?;
        self.conn.query_row("SELECT current_database()", [], |r| r.get(0)).ok()
    }

    /// Restores a hub's backup into a new database `name` on this hub's server and checks it;
    /// then gives it this PC's copy of the key and an anchor, and audits the restore in both. The
    /// live hub is not changed but for that entry.
    pub fn restore_dump(
        &mut self,
        path: &Path,
        name: &str,
        key: &AuditKey,
        actor: &Actor,
    ) -> Result<HubRestore> {
        let valid = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::Refused(format!(
                "{name}: a new database's name is up to 63 small letters, digits and _, not starting with a digit"
            )));
        }
        let restored = self.restore_dump_into(path, name)?;
        // Whatever goes wrong from here, the half-made database does not stay behind.
        let finished = self.finish_restore(path, name, key, actor, restored);
        if finished.is_err() {
            let _ = self.conn.execute_batch(&super::pg_schema::drop_database_sql(name));
        }
        finished
    }

    fn finish_restore(
        &mut self,
        path: &Path,
        name: &str,
        key: &AuditKey,
        actor: &Actor,
        restored: std::result::Result<(), String>,
    ) -> Result<HubRestore> {
        let conn = self.connect_to(name)?;
        let check = check_database(&conn, path, key, restored.err().unwrap_or_else(|| "ok".into()))?;
        drop(conn);
        if let Some(problem) = check.problem() {
            return Err(StoreError::Refused(format!("{}: {problem}; not restored", path.display())));
        }
        let mut config = hub(&self.conn)?.config.clone();
        config.dbname(name);
        let local = super::hub_local_path(&config);
        key.save_new(&AuditKey::path_for(&local)).or_else(|e| match e {
            super::TrustError::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(())
            }
            other => Err(other),
        })?;
        let address = address_of(&config);
        let mut restored =
            Store::connect_postgres(&config, Some(&address), &super::redact_url(&address), Some(local))?;
        let detail = serde_json::json!({ "file": path.display().to_string(), "into": name });
        let tx = restored.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "restored_from", "database", name, None, Some(&detail))?;
        tx.commit()?;
        let tx = self.begin()?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "restored_into", "database", name, None, Some(&detail))?;
        tx.commit()?;
        Ok(HubRestore { check, address })
    }

    /// Creates `name` and loads the dump into it: `Err` when the server cannot make it, `Ok(Err)`
    /// with pg_restore's words when the archive does not restore whole.
    fn restore_dump_into(&self, path: &Path, name: &str) -> Result<std::result::Result<(), String>> {
        if !path.is_file() {
            return Err(StoreError::Refused(format!("{}: no such backup file", path.display())));
        }
        if !is_dump(path) {
            return Err(StoreError::Refused(format!(
                "{}: not a PostgreSQL hub's backup (a pg_dump archive)",
                path.display()
            )));
        }
        let pg = hub(&self.conn)?;
        self.conn.execute_batch(&super::pg_schema::create_database_sql(name))?;
        let (target, password) = conninfo(&pg.config, name);
        let mut restore = Command::new(tool("pg_restore"));
        restore
            .args(["--exit-on-error", "--no-owner", "--no-privileges", "--single-transaction"])
            .arg(format!("--dbname={target}"))
            .arg(path);
        Ok(run(restore, password, &format!("the backup {}", path.display())).map_err(|e| e.to_string()))
    }

    fn connect_to(&self, database: &str) -> Result<db::Connection> {
        let mut config = hub(&self.conn)?.config.clone();
        config.dbname(database);
        let client = config.connect(super::tls_connector()?).map_err(db::Error::from)?;
        Ok(db::Connection::Pg(Box::new(db::Pg::new(client, config))))
    }
}
