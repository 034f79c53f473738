//! A hospital of many PCs (issue 18). During the outage each ward PC, the ER and the clinics run
//! standalone with their own station code, blocks and serials; on a USB stick a station carries
//! to the hub what it recorded (`export`, a bundle), and the hub merges it (`import`), in any
//! order, once. The other way the hub prepares a station (`snapshot`, loaded there by `load`):
//! census, clinical snapshot, settings and the station's blocks. Files are signed (`file`); the
//! store pins each signer's key the first time an operator vouches for its fingerprint.

pub mod file;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{SecondsFormat, Utc};

use crate::auth::{AuthError, Session};
use crate::domain::Permission;
use crate::store::{
    IncomingBundle, IncomingSnapshot, MergeCounts, Settings, Store, StoreError, TravellingRow, fingerprint,
};

pub use file::{FileError, Kind};

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}")]
    Refused(String),
}

type Result<T> = std::result::Result<T, TransferError>;

/// Who this database is to the others: its code and the key its files are signed with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub station: Option<String>,
    pub public_key: String,
    pub fingerprint: String,
}

pub fn identity(store: &Store) -> Result<Identity> {
    let public_key = file::public_key_hex(&file::signing_key(store));
    let code = store.settings()?.station_code;
    Ok(Identity {
        station: Some(code).filter(|c| !c.is_empty()),
        fingerprint: fingerprint(&public_key),
        public_key,
    })
}

/// A bundle written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub file: String,
    pub station: String,
    pub seq: i64,
    pub whole: bool,
    pub rows: BTreeMap<String, usize>,
}

/// Writes what this station recorded since its last bundle (everything with `whole`) to `out`,
/// signed, and remembers how far it reached.
pub fn export(store: &mut Store, session: &Session, out: &Path, whole: bool) -> Result<Exported> {
    session.require(Permission::ExportBundle)?;
    let bundle = store.outgoing_bundle(whole)?;
    let key = file::signing_key(store);
    let header = header(
        Kind::Bundle,
        &bundle.station,
        &bundle.station,
        (bundle.seq, bundle.whole),
        session,
        &key,
        &bundle.rows,
    );
    file::write(out, &header, &bundle.rows, &key)?;
    let name = out.display().to_string();
    store.record_bundle_export(&session.actor(), &bundle, &name)?;
    let rows = per_table(&bundle.rows);
    Ok(Exported { file: name, station: bundle.station, seq: bundle.seq, whole: bundle.whole, rows })
}

/// A file's header, signed by `key` for `session`'s user now.
fn header(
    kind: Kind,
    from: &str,
    station: &str,
    (seq, whole): (i64, bool),
    session: &Session,
    key: &ed25519_dalek::SigningKey,
    rows: &[TravellingRow],
) -> file::Header {
    file::Header {
        format: file::FORMAT.into(),
        version: file::VERSION,
        kind,
        from: from.to_string(),
        station: station.to_string(),
        seq,
        whole,
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        created_by: session.user().to_string(),
        public_key: file::public_key_hex(key),
        rows: rows.len(),
    }
}

/// How many rows of each table.
fn per_table(rows: &[TravellingRow]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in rows {
        *counts.entry(r.table.clone()).or_default() += 1;
    }
    counts
}

/// A bundle merged (or found merged before).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub station: String,
    pub seq: i64,
    pub fingerprint: String,
    #[serde(flatten)]
    pub counts: MergeCounts,
}

/// Merges a station's bundle at the hub: the signature is checked, then the signer's key
/// against the station's pinned one (`trust`, the fingerprint read off the station, pins it
/// the first time), then every row, in one transaction.
pub fn import(store: &mut Store, session: &Session, path: &Path, trust: Option<&str>) -> Result<Imported> {
    session.require(Permission::Configure)?;
    let verified = file::read(path)?;
    let h = &verified.header;
    if h.kind != Kind::Bundle {
        return Err(TransferError::Refused(format!(
            "{} is a station snapshot (made by the hub for station {}), not a bundle: load it at that station with `kamikarte station load`",
            path.display(),
            h.station
        )));
    }
    if h.from != h.station {
        return Err(TransferError::Refused(format!(
            "{}: a bundle signed by {} for station {}: a station writes its own bundle",
            path.display(),
            h.from,
            h.station
        )));
    }
    refuse_own_key(store, path, &h.public_key)?;
    let bundle = IncomingBundle {
        station: &h.station,
        seq: h.seq,
        whole: h.whole,
        public_key: &h.public_key,
        digest: &verified.digest,
        rows: &verified.rows,
    };
    let counts = store.merge_bundle(&session.actor(), &bundle, trust).map_err(|e| in_file(path, e))?;
    Ok(Imported { station: h.station.clone(), seq: h.seq, fingerprint: fingerprint(&h.public_key), counts })
}

/// A snapshot written for a station.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prepared {
    pub file: String,
    pub station: String,
    pub rows: BTreeMap<String, usize>,
}

/// Writes, at the hub, what station `station` needs to run standalone: settings, the other
/// stations' codes, its blocks, the census and the clinical snapshot.
pub fn snapshot(store: &mut Store, session: &Session, station: &str, out: &Path) -> Result<Prepared> {
    session.require(Permission::Configure)?;
    let rows = store.outgoing_snapshot(station)?;
    let key = file::signing_key(store);
    let station = station.trim().to_uppercase();
    let hub = store.settings()?.station()?.to_string();
    let header = header(Kind::Snapshot, &hub, &station, (0, true), session, &key, &rows);
    file::write(out, &header, &rows, &key)?;
    store.record_snapshot_export(&session.actor(), &station, rows.len(), &out.display().to_string())?;
    Ok(Prepared { file: out.display().to_string(), station, rows: per_table(&rows) })
}

/// A snapshot loaded at a station.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Loaded {
    pub station: String,
    pub hub: String,
    pub fingerprint: String,
    #[serde(flatten)]
    pub counts: MergeCounts,
}

/// Loads the hub's snapshot at the station it was made for. A PC without a code yet is told
/// which station it is (`station`), so a snapshot picked up by mistake cannot claim it.
pub fn load(
    store: &mut Store,
    session: &Session,
    path: &Path,
    trust: Option<&str>,
    station: Option<&str>,
) -> Result<Loaded> {
    session.require(Permission::Configure)?;
    let verified = file::read(path)?;
    let h = &verified.header;
    if h.kind != Kind::Snapshot {
        return Err(TransferError::Refused(format!(
            "{} is station {}'s bundle, not a snapshot: import it at the hub with `kamikarte station import`",
            path.display(),
            h.station
        )));
    }
    let own = store.settings()?.station_code;
    match station.map(Settings::check_station_code).transpose().map_err(TransferError::Refused)? {
        None if own.is_empty() => {
            return Err(TransferError::Refused(
                "this PC has no station code yet: say which station it is with --station CODE (the snapshot must be the one made for it)".into(),
            ));
        }
        Some(code) if code != h.station => {
            return Err(TransferError::Refused(format!(
                "{} was made for station {}, not {code}: nothing was changed",
                path.display(),
                h.station
            )));
        }
        _ => {}
    }
    refuse_own_key(store, path, &h.public_key)?;
    let snapshot = IncomingSnapshot {
        hub: &h.from,
        public_key: &h.public_key,
        created_at: &h.created_at,
        station: &h.station,
        rows: &verified.rows,
    };
    let counts = store.load_snapshot(&session.actor(), &snapshot, trust).map_err(|e| in_file(path, e))?;
    Ok(Loaded {
        station: h.station.clone(),
        hub: h.from.clone(),
        fingerprint: fingerprint(&h.public_key),
        counts,
    })
}

/// A file signed with this database's own key was written here, or on a PC copied from this
/// one's disk (which would sign as this one): either way it is not another station's.
fn refuse_own_key(store: &Store, path: &Path, key: &str) -> Result<()> {
    if key.trim().eq_ignore_ascii_case(&file::public_key_hex(&file::signing_key(store))) {
        return Err(TransferError::Refused(format!(
            "{} is signed with this PC's own key: it was written here, or on a PC copied from this one's disk (give each PC a database of its own); nothing was changed",
            path.display()
        )));
    }
    Ok(())
}

/// A refusal about a row names the file it is in.
fn in_file(path: &Path, e: StoreError) -> TransferError {
    match e {
        StoreError::Refused(message) if message.starts_with("line ") => {
            TransferError::Refused(format!("{}: {message}", path.display()))
        }
        other => other.into(),
    }
}
