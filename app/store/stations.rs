//! Many PCs, one hospital (issue 18): this station's code, the stations this database knows, and
//! the rows that travel between a station and the hub — a station's bundle one way (what it
//! recorded during the outage), the hub's snapshot the other (census, clinical snapshot,
//! settings and blocks). The file around the rows (format, signature) is `crate::station`'s;
//! here is what the database holds and how rows from elsewhere are merged into it.

use std::collections::{BTreeMap, BTreeSet};

use super::db::{OptionalExtension, params};
use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::audit::AuditWriter;
use super::downtime::{BlockRecord, block_conflict, read_blocks};
use super::meta::set_meta;
use super::{Actor, Result, Settings, Store, StoreError, Tx, now_text};
use crate::domain::IdBlock;

pub const NO_STATION: &str = "this PC has no station code yet: an administrator gives it one \
    (`kamikarte station set CODE`, each PC its own, e.g. W3 for ward 3 or ER) or loads the \
    station snapshot the hub made for it (`kamikarte station load FILE`)";

/// The row a bundle's reader keeps of a travelling row: which table, its columns by name, and
/// the line of the file it came from (named in every refusal).
#[derive(Debug, Clone)]
pub struct TravellingRow {
    pub table: String,
    pub row: Map<String, Value>,
    pub line: usize,
}

/// What this station has to send since its last bundle.
#[derive(Debug, Clone)]
pub struct OutgoingBundle {
    pub station: String,
    pub seq: i64,
    /// Everything this station recorded (the first bundle, or `--all`), not only what is new.
    pub whole: bool,
    pub rows: Vec<TravellingRow>,
    marks: BTreeMap<String, i64>,
}

/// A verified bundle as the hub merges it.
pub struct IncomingBundle<'a> {
    pub station: &'a str,
    pub seq: i64,
    pub whole: bool,
    pub public_key: &'a str,
    pub digest: &'a str,
    pub rows: &'a [TravellingRow],
}

/// A verified snapshot as a station loads it.
#[derive(Clone, Copy)]
pub struct IncomingSnapshot<'a> {
    /// The hub's station code and key.
    pub hub: &'a str,
    pub public_key: &'a str,
    /// When the hub made it: an older one than the last loaded is refused.
    pub created_at: &'a str,
    /// The station it was made for.
    pub station: &'a str,
    pub rows: &'a [TravellingRow],
}

/// What a merge or a load changed, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeCounts {
    pub new: BTreeMap<String, u64>,
    pub updated: BTreeMap<String, u64>,
    /// The bundle was merged before: nothing changed.
    pub already_imported: bool,
    /// The signer's key was pinned by this run (`--trust`).
    pub pinned: bool,
    /// Earlier bundles of the station that are not merged here (rows may be missing until they
    /// are, or until a whole bundle is).
    pub missing_earlier: Vec<i64>,
}

impl MergeCounts {
    fn add(&mut self, table: &str) {
        *self.new.entry(table.to_string()).or_default() += 1;
    }
    fn change(&mut self, table: &str) {
        *self.updated.entry(table.to_string()).or_default() += 1;
    }
}

/// A station this database knows, as `station status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KnownStation {
    pub code: String,
    pub role: String,
    pub fingerprint: Option<String>,
    pub known_from: String,
    pub bundles: Vec<i64>,
    pub last_import: Option<String>,
    pub printed_pages: u64,
    pub registrations: u64,
    pub scan_events: u64,
}

/// A speakable name of a public key (hex): the first 16 bytes of the SHA-256 of its 32 bytes, in
/// groups of four hex digits.
pub fn fingerprint(public_key_hex: &str) -> String {
    let bytes = hex::decode(public_key_hex.trim()).unwrap_or_else(|_| public_key_hex.as_bytes().to_vec());
    let digest = Sha256::digest(&bytes);
    let hex = hex::encode(&digest[..16]);
    hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("hex")).collect::<Vec<_>>().join("-")
}

fn same_fingerprint(given: &str, key: &str) -> bool {
    let clean = |s: &str| s.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_lowercase();
    clean(given) == clean(&fingerprint(key))
}

/// The largest bundle number a file may carry (a station writing one a minute for years stays
/// far below it).
const MAX_SEQ: i64 = 10_000_000;

/// The tables of a bundle, in the order they are written and merged (a row's references come
/// before it).
const BUNDLE_TABLES: [&str; 11] = [
    "episodes",
    "episode_notes",
    "id_blocks",
    "patients",
    "registrations",
    "packets",
    "kits",
    "printed_pages",
    "station_counters",
    "scan_events",
    "audit",
];

/// The tables of a station snapshot, in order.
const SNAPSHOT_TABLES: [&str; 9] = [
    "settings",
    "stations",
    "id_blocks",
    "station_counters",
    "patients",
    "snapshot_runs",
    "snapshot_patients",
    "snapshot_records",
    "snapshot_stays",
];

const PATIENT_COLUMNS: [&str; 19] = [
    "id",
    "name",
    "kana",
    "kana_key",
    "dob",
    "sex",
    "blood_type",
    "ward",
    "room",
    "bed",
    "department",
    "allergies",
    "status",
    "discharged_at",
    "source",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];

/// A bundle's queries: the table, what it selects (?1 the station, ?2 the table's mark), and
/// whether it is read past a mark (its first column, `row`). Rows that change in place at the
/// station — an episode's phase and end, a block's next number, the serial counter, a patient's
/// details, a stop's dismissal — go in every bundle whatever their age (they are few, and merged
/// once), so no change depends on a clock.
const BUNDLE_QUERIES: [(&str, &str, bool); 11] = [
    (
        "episodes",
        "SELECT id, started_at, reason, phase, ended_at, created_at, created_by, updated_at, updated_by
         FROM episodes WHERE station IS NULL AND ?1 IS NOT NULL AND ?2 IS NOT NULL ORDER BY id",
        false,
    ),
    (
        "episode_notes",
        "SELECT n.id AS row, n.id, n.episode_id, n.text, n.created_at, n.created_by FROM episode_notes n
         JOIN episodes e ON e.id = n.episode_id
         WHERE e.station IS NULL AND n.id > ?2 AND ?1 IS NOT NULL ORDER BY n.id",
        true,
    ),
    (
        "id_blocks",
        "SELECT id, station, prefix, first, last, next, created_at, created_by, updated_at, updated_by
         FROM id_blocks WHERE station = ?1 AND ?2 IS NOT NULL ORDER BY id",
        false,
    ),
    // Every patient the station registered, with their registration (the hub merges the two
    // together): few, and a correction must not wait on a clock.
    (
        "patients",
        "SELECT p.id, p.name, p.kana, p.kana_key, p.dob, p.sex, p.blood_type, p.ward, p.room, p.bed,
                p.department, p.allergies, p.status, p.discharged_at, p.source, p.created_at,
                p.created_by, p.updated_at, p.updated_by
         FROM patients p JOIN registrations r ON r.patient_id = p.id
         WHERE r.block_id IN (SELECT id FROM id_blocks WHERE station = ?1) AND ?2 IS NOT NULL
         ORDER BY r.rowid",
        false,
    ),
    (
        "registrations",
        "SELECT rowid AS row, patient_id, episode_id, block_id, number, outpatient, identity_unknown,
                dob_estimated, created_at, created_by
         FROM registrations WHERE block_id IN (SELECT id FROM id_blocks WHERE station = ?1)
           AND ?2 IS NOT NULL ORDER BY rowid",
        false,
    ),
    (
        "packets",
        "SELECT rowid AS row, patient_id, block_id, number, station, reserved_at, reserved_by
         FROM packets WHERE station = ?1 AND rowid > ?2 ORDER BY rowid",
        true,
    ),
    (
        "kits",
        "SELECT id AS row, id, out_dir, pages, files, created_at, created_by FROM kits
         WHERE id > ?2 AND ?1 IS NOT NULL ORDER BY id",
        true,
    ),
    (
        "printed_pages",
        "SELECT rowid AS row, station, number, form_code, form_id, patient_id, ward, file, kit_id,
                created_at, created_by
         FROM printed_pages WHERE station = ?1 AND rowid > ?2 ORDER BY rowid",
        true,
    ),
    (
        "station_counters",
        "SELECT station, next_number FROM station_counters
         WHERE station = ?1 AND ?2 IS NOT NULL",
        false,
    ),
    (
        "scan_events",
        "SELECT id AS row, id, episode_id, at, day, station, user, kind, action, payload, patient_id,
                other_patient_id, form_code, serial, volume, dismissed_at, dismissed_by
         FROM scan_events WHERE station = ?1 AND (id > ?2 OR dismissed_at IS NOT NULL) ORDER BY id",
        true,
    ),
    (
        "audit",
        "SELECT seq AS row, seq, at, actor, action, entity, entity_id, before, after, prev_hash, hash
         FROM audit WHERE seq > ?2 AND ?1 IS NOT NULL ORDER BY seq",
        true,
    ),
];

impl Store {
    /// The seed of this database's signing key (derived from its audit key).
    pub fn signing_seed(&self) -> [u8; 32] {
        self.trust.key.derive("station signing key v1")
    }

    /// Gives this PC its station code, refused when another station already has it here (from
    /// the hub's list, a merged bundle, blocks given to it) or when this station has already
    /// printed, registered or scanned under its code (the paper carries it).
    pub fn set_station_code(&mut self, actor: &Actor, code: &str) -> Result<()> {
        let code = Settings::check_station_code(code).map_err(StoreError::Refused)?;
        let current = self.settings()?.station_code;
        if current == code {
            return Ok(());
        }
        let tx = self.begin()?;
        if !current.is_empty() {
            // Its bundles are signed under the code too: the hub knows it by that.
            let exported: i64 = tx.query_row("SELECT count(*) FROM bundle_exports", [], |r| r.get(0))?;
            let used = station_use(&tx, &current)? + exported;
            if used > 0 {
                return Err(StoreError::Refused(format!(
                    "this station has printed, registered, scanned or sent bundles under code {current} ({used} records): its code cannot change, as its paper and the hub know it by it; a new PC gets a code of its own"
                )));
            }
        }
        refuse_known(&tx, &code)?;
        let mut audit = AuditWriter::start(&tx)?;
        set_meta(&tx, &mut audit, actor, "setting.station.code", &code)?;
        tx.commit()
    }

    /// A database made before stations were asked for used the old default `A`: migration 016
    /// marked it when it had printed, scanned or reserved serials under it (its paper carries
    /// it), and it keeps `A` here, unless a code was set. The mark goes in the same transaction,
    /// so a kill before or after loses nothing.
    pub(super) fn keep_legacy_station_code(&mut self) -> Result<()> {
        let pending: Option<String> =
            self.conn.query_row("SELECT code FROM legacy_station LIMIT 1", [], |r| r.get(0)).optional()?;
        let Some(code) = pending else { return Ok(()) };
        let set = self.meta("setting.station.code")?.is_some();
        let tx = self.begin()?;
        if !set {
            let mut audit = AuditWriter::start(&tx)?;
            set_meta(&tx, &mut audit, &Actor("kamikarte".into()), "setting.station.code", &code)?;
        }
        tx.execute("DELETE FROM legacy_station", [])?;
        tx.commit()
    }

    /// Every station this database knows besides itself, with what it holds of each.
    pub fn known_stations(&self) -> Result<Vec<KnownStation>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.code, s.role, s.public_key, s.known_from,
                    (SELECT string_agg(CAST(seq AS TEXT), ',' ORDER BY seq) FROM (SELECT DISTINCT seq FROM bundle_imports WHERE station = s.code) AS seqs),
                    (SELECT max(imported_at) FROM bundle_imports WHERE station = s.code),
                    (SELECT count(*) FROM printed_pages WHERE station = s.code),
                    (SELECT count(*) FROM registrations r JOIN id_blocks b ON b.id = r.block_id WHERE b.station = s.code),
                    (SELECT count(*) FROM scan_events WHERE station = s.code)
             FROM stations s ORDER BY s.code",
        )?;
        let rows = stmt.query_map([], |r| {
            let key: Option<String> = r.get(2)?;
            let bundles: Option<String> = r.get(4)?;
            Ok(KnownStation {
                code: r.get(0)?,
                role: r.get(1)?,
                fingerprint: key.as_deref().map(fingerprint),
                known_from: r.get(3)?,
                bundles: bundles.unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).collect(),
                last_import: r.get(5)?,
                printed_pages: r.get::<_, i64>(6)? as u64,
                registrations: r.get::<_, i64>(7)? as u64,
                scan_events: r.get::<_, i64>(8)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A digest of everything merged here from stations, in the order of its natural keys and
    /// without the hub's own row numbers or times: two hubs that merged the same bundles, in
    /// any order, give the same digest.
    pub fn merged_digest(&self) -> Result<String> {
        const QUERIES: [&str; 10] = [
            "SELECT station, started_at, reason, phase, ended_at, updated_at FROM episodes
             WHERE station IS NOT NULL ORDER BY station, started_at",
            "SELECT e.station, e.started_at, n.text, n.created_at, n.created_by FROM episode_notes n
             JOIN episodes e ON e.id = n.episode_id WHERE e.station IS NOT NULL
             ORDER BY e.station, n.created_at, n.text",
            "SELECT station, prefix, first, last, next FROM id_blocks ORDER BY station, prefix, first",
            "SELECT r.patient_id, b.station, b.prefix, r.number, e.station, e.started_at, r.outpatient,
                    r.identity_unknown, r.dob_estimated, r.created_at, r.created_by, p.name, p.kana,
                    p.dob, p.sex, p.ward, p.status, p.updated_at
             FROM registrations r JOIN id_blocks b ON b.id = r.block_id
             JOIN episodes e ON e.id = r.episode_id JOIN patients p ON p.id = r.patient_id
             ORDER BY r.patient_id",
            "SELECT p.patient_id, p.station, b.prefix, p.number FROM packets p
             JOIN id_blocks b ON b.id = p.block_id ORDER BY p.patient_id",
            "SELECT p.station, p.number, p.form_code, p.form_id, p.patient_id, p.ward, p.file, k.out_dir
             FROM printed_pages p JOIN kits k ON k.id = p.kit_id ORDER BY p.station, p.number",
            "SELECT station, next_number FROM station_counters ORDER BY station",
            "SELECT station, at, kind, action, payload, patient_id, other_patient_id, serial, volume,
                    dismissed_at, dismissed_by
             FROM scan_events ORDER BY station, at, payload, kind",
            "SELECT station, seq, hash FROM station_audit ORDER BY station, seq",
            "SELECT code, role, public_key FROM stations ORDER BY code",
        ];
        let mut hasher = Sha256::new();
        for sql in QUERIES {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                for i in 0..row.column_names().len() {
                    let v: SqlValue = row.get(i)?;
                    hasher.update(format!("{v:?}").as_bytes());
                    hasher.update([0x1f]);
                }
                hasher.update([0x1e]);
            }
            hasher.update([0x1d]);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// What this station recorded since its last bundle (everything, when `whole` or when it
    /// never wrote one), read in one consistent view.
    pub fn outgoing_bundle(&self, whole: bool) -> Result<OutgoingBundle> {
        let station = self.settings()?.station()?.to_string();
        let tx = self.conn.unchecked_transaction()?;
        let last: Option<(i64, String)> = tx
            .query_row("SELECT seq, marks FROM bundle_exports ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let whole = whole || last.is_none();
        let (seq, mut marks) = match &last {
            Some((seq, marks)) if !whole => {
                let marks: BTreeMap<String, i64> =
                    serde_json::from_str(marks).map_err(|e| StoreError::Corrupt {
                        entity: "bundle export",
                        id: seq.to_string(),
                        field: "marks",
                        message: e.to_string(),
                    })?;
                (seq + 1, marks)
            }
            Some((seq, _)) => (seq + 1, BTreeMap::new()),
            None => (1, BTreeMap::new()),
        };
        let mut rows = Vec::new();
        for (table, sql, marked) in BUNDLE_QUERIES {
            let mark = marks.get(table).copied().unwrap_or(0);
            let read = read_rows(&tx, table, sql, params![station, mark])?;
            if marked {
                let top = read.iter().filter_map(|r| r.row.get("row").and_then(Value::as_i64)).max();
                if let Some(top) = top.filter(|t| *t > mark) {
                    marks.insert(table.to_string(), top);
                }
            }
            rows.extend(read);
        }
        Ok(OutgoingBundle { station, seq, whole, rows, marks })
    }

    /// Records a bundle written to `file`, so the next one starts after it.
    pub fn record_bundle_export(&mut self, actor: &Actor, bundle: &OutgoingBundle, file: &str) -> Result<()> {
        let tx = self.begin()?;
        let marks = serde_json::to_string(&bundle.marks).expect("marks serialise");
        tx.execute(
            "INSERT INTO bundle_exports (seq, file, marks, rows, whole, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![bundle.seq, file, marks, bundle.rows.len() as i64, bundle.whole, now_text(), actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        let after = json!({ "file": file, "rows": bundle.rows.len(), "whole": bundle.whole });
        audit.append(
            &tx,
            actor,
            "export",
            "station bundle",
            &format!("{}#{}", bundle.station, bundle.seq),
            None,
            Some(&after),
        )?;
        tx.commit()
    }

    /// Merges a station's verified bundle in one transaction: new rows are added, rows changed
    /// in place at the station (an episode ended, a stop dismissed) updated, rows merged before
    /// left alone. Anything that contradicts what is here — a serial or downtime ID another
    /// station holds, a block overlapping another's, a key other than the station's pinned one
    /// — refuses the whole bundle by name. `trust` is the fingerprint the operator read off the
    /// station, needed the first time its key is seen.
    pub fn merge_bundle(
        &mut self,
        actor: &Actor,
        bundle: &IncomingBundle<'_>,
        trust: Option<&str>,
    ) -> Result<MergeCounts> {
        let own = self.settings()?.station()?.to_string();
        let station = Settings::check_station_code(bundle.station).map_err(StoreError::Refused)?;
        let station = station.as_str();
        if station == own {
            return Err(StoreError::Refused(format!(
                "the bundle is from station {station}, which is this PC's own code: import it at the hub"
            )));
        }
        if !(1..=MAX_SEQ).contains(&bundle.seq) {
            return Err(StoreError::Refused(format!(
                "bundle number {} is not one a station writes",
                bundle.seq
            )));
        }
        let tx = self.begin()?;
        let mut counts = MergeCounts::default();
        // The digest covers the header and so the key: the same file merged before is reported
        // as such, whichever key is pinned now.
        let merged_before: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM bundle_imports WHERE station = ?1 AND seq = ?2 AND digest = ?3)",
            params![station, bundle.seq, bundle.digest],
            |r| r.get(0),
        )?;
        if merged_before {
            counts.already_imported = true;
            return Ok(counts);
        }
        counts.pinned = check_key(&tx, actor, station, "station", bundle.public_key, trust)?;
        if let Some(r) = bundle.rows.iter().find(|r| !BUNDLE_TABLES.contains(&r.table.as_str())) {
            return Err(refused(r, "table", "is not one a bundle carries"));
        }
        let mut merge = Merge { tx: &tx, station, seq: bundle.seq, counts };
        for table in BUNDLE_TABLES {
            for row in bundle.rows.iter().filter(|r| r.table == table) {
                merge.row(row)?;
            }
        }
        let mut counts = merge.counts;
        let counts_json = serde_json::to_string(
            &json!({ "new": counts.new, "updated": counts.updated, "whole": bundle.whole }),
        )
        .expect("counts serialise");
        let now = now_text();
        tx.execute(
            "INSERT INTO bundle_imports (station, seq, digest, counts, imported_at, imported_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![station, bundle.seq, bundle.digest, counts_json, now, actor.0],
        )?;
        counts.missing_earlier = missing_earlier(&tx, station, bundle.seq)?;
        let mut audit = AuditWriter::start(&tx)?;
        let after = json!({ "digest": bundle.digest, "new": counts.new, "updated": counts.updated, "whole": bundle.whole });
        audit.append(
            &tx,
            actor,
            "import",
            "station bundle",
            &format!("{station}#{}", bundle.seq),
            None,
            Some(&after),
        )?;
        tx.commit()?;
        Ok(counts)
    }

    /// What the hub gives station `station` to prepare it: settings, the stations it knows, the
    /// station's blocks and serial counter, the census and the clinical snapshot, read in one
    /// consistent view without holding up writers (`record_snapshot_export` records it once the
    /// file is written).
    pub fn outgoing_snapshot(&self, station: &str) -> Result<Vec<TravellingRow>> {
        let station = Settings::check_station_code(station).map_err(StoreError::Refused)?;
        let own = self.settings()?.station()?.to_string();
        if station == own {
            return Err(StoreError::Refused(format!(
                "{station} is this PC's own station code: a snapshot prepares another station"
            )));
        }
        let tx = self.conn.unchecked_transaction()?;
        let mut rows = Vec::new();
        // Each read through its seal (one changed outside kamikarte is refused, not spread to
        // every station); not the PC's own: its code, and where its backups go (a path on the
        // hub's disk).
        for key in Settings::KEYS.iter().filter(|k| !["station.code", "backup.dir", "pages.dir"].contains(k))
        {
            if let Some(value) = self.meta(&format!("setting.{key}"))? {
                let mut row = Map::new();
                row.insert("key".into(), Value::String(key.to_string()));
                row.insert("value".into(), Value::String(value));
                rows.push(TravellingRow { table: "settings".into(), row, line: 0 });
            }
        }
        // Known: stations met before, and codes the hub gave blocks to.
        let stations = "SELECT code, role FROM stations WHERE code != ?1
             UNION SELECT DISTINCT station, 'station' FROM id_blocks
                   WHERE station NOT IN (?1, ?2) AND station NOT IN (SELECT code FROM stations)
             UNION SELECT ?2, 'hub' ORDER BY 1";
        rows.extend(read_rows(&tx, "stations", stations, [&station, &own])?);
        let blocks =
            "SELECT station, prefix, first, last, next FROM id_blocks WHERE station = ?1 ORDER BY id";
        rows.extend(read_rows(&tx, "id_blocks", blocks, [&station])?);
        let counter = "SELECT station, next_number FROM station_counters WHERE station = ?1";
        rows.extend(read_rows(&tx, "station_counters", counter, [&station])?);
        let patients =
            format!("SELECT {} FROM patients WHERE ?1 IS NOT NULL ORDER BY id", PATIENT_COLUMNS.join(", "));
        rows.extend(read_rows(&tx, "patients", &patients, [&station])?);
        let run = "SELECT root, started_at, started_by, finished_at, counts_json FROM snapshot_runs
             WHERE finished_at IS NOT NULL AND ?1 IS NOT NULL ORDER BY id DESC LIMIT 1";
        rows.extend(read_rows(&tx, "snapshot_runs", run, [&station])?);
        for table in ["snapshot_patients", "snapshot_records", "snapshot_stays"] {
            // Its columns by name: a hub on PostgreSQL has a `rowid` column SQLite keeps hidden.
            let sql =
                format!("SELECT {} FROM {table} WHERE ?1 IS NOT NULL", tx.columns_of(table)?.join(", "));
            rows.extend(read_rows(&tx, table, &sql, [&station])?);
        }
        Ok(rows)
    }

    /// Records a snapshot written for `station` to `file`, and the station as known here.
    pub fn record_snapshot_export(
        &mut self,
        actor: &Actor,
        station: &str,
        rows: usize,
        file: &str,
    ) -> Result<()> {
        let tx = self.begin()?;
        let now = now_text();
        let added = tx.execute(
            "INSERT INTO stations (code, role, public_key, known_from, created_at, created_by, updated_at, updated_by)
             VALUES (?1, 'station', NULL, 'prepared by a snapshot', ?2, ?3, ?2, ?3) ON CONFLICT DO NOTHING",
            params![station, now, actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        let after = json!({ "file": file, "rows": rows, "newly_known": added == 1 });
        audit.append(&tx, actor, "export", "station snapshot", station, None, Some(&after))?;
        tx.commit()
    }

    /// Loads the hub's verified snapshot for this station in one transaction. A PC without a
    /// code takes the snapshot's; a PC with another code refuses it. This station's own
    /// registrations are never overwritten; the clinical snapshot is replaced whole.
    pub fn load_snapshot(
        &mut self,
        actor: &Actor,
        snapshot: &IncomingSnapshot<'_>,
        trust: Option<&str>,
    ) -> Result<MergeCounts> {
        let own = self.settings()?.station_code;
        let station = Settings::check_station_code(snapshot.station).map_err(StoreError::Refused)?;
        let hub = Settings::check_station_code(snapshot.hub).map_err(StoreError::Refused)?;
        if hub == station {
            return Err(StoreError::Refused(format!(
                "the snapshot says station {station} made it for itself"
            )));
        }
        if !own.is_empty() && own != station {
            return Err(StoreError::Refused(format!(
                "the snapshot was made for station {station}, and this PC is station {own}: ask the hub for this station's"
            )));
        }
        let snapshot = IncomingSnapshot { hub: &hub, station: &station, ..*snapshot };
        if let Some(r) = snapshot.rows.iter().find(|r| !SNAPSHOT_TABLES.contains(&r.table.as_str())) {
            return Err(refused(r, "table", "is not one a snapshot carries"));
        }
        let tx = self.begin()?;
        let mut counts = MergeCounts {
            pinned: check_key(&tx, actor, snapshot.hub, "hub", snapshot.public_key, trust)?,
            ..Default::default()
        };
        let newest: Option<String> = tx
            .query_row("SELECT last_file_at FROM stations WHERE code = ?1", [snapshot.hub], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(newest) = newest.filter(|n| snapshot.created_at <= n.as_str()) {
            return Err(StoreError::Refused(format!(
                "this snapshot was made at {}, and one made at {newest} is loaded here already: an old file cannot turn the census back (ask the hub for a new one); nothing was changed",
                snapshot.created_at
            )));
        }
        tx.execute(
            "UPDATE stations SET last_file_at = ?2 WHERE code = ?1",
            params![snapshot.hub, snapshot.created_at],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        let now = now_text();
        for r in snapshot.rows.iter().filter(|r| r.table == "stations") {
            let code = Settings::check_station_code(&text(r, "code")?).map_err(|e| refused(r, "code", &e))?;
            let role = text(r, "role")?;
            if !["station", "hub"].contains(&role.as_str()) {
                return Err(refused(r, "role", "is neither station nor hub"));
            }
            if code == snapshot.station {
                return Err(refused(r, "code", "names the station the snapshot is for"));
            }
            let n = exec(
                &tx,
                r,
                "INSERT INTO stations (code, role, public_key, known_from, created_at, created_by, updated_at, updated_by)
                 VALUES (?1, ?2, NULL, 'the hub''s snapshot', ?3, ?4, ?3, ?4) ON CONFLICT DO NOTHING",
                params![code, role, now, actor.0],
            )?;
            if n == 1 {
                counts.add("stations");
            }
        }
        if own.is_empty() {
            refuse_known(&tx, snapshot.station)?;
            set_meta(&tx, &mut audit, actor, "setting.station.code", snapshot.station)?;
        }
        for r in snapshot.rows.iter().filter(|r| r.table == "settings") {
            let key = text(r, "key")?;
            let value = text(r, "value")?;
            if key == "station.code" {
                return Err(refused(r, "key", "station.code is each station's own"));
            }
            Settings::default().apply(&key, &value).map_err(|e| refused(r, "value", &e))?;
            let name = format!("setting.{key}");
            let current: Option<String> =
                tx.query_row("SELECT value FROM meta WHERE key = ?1", [&name], |r| r.get(0)).optional()?;
            if current.as_deref() != Some(value.as_str()) {
                set_meta(&tx, &mut audit, actor, &name, &value)?;
                counts.change("settings");
            }
        }
        let mut merge = Merge { tx: &tx, station: snapshot.station, seq: 0, counts };
        for r in snapshot.rows.iter().filter(|r| r.table == "id_blocks") {
            merge.own_station(r)?;
            merge.block(r, Some(actor))?;
        }
        for r in snapshot.rows.iter().filter(|r| r.table == "station_counters") {
            merge.row(r)?;
        }
        for r in snapshot.rows.iter().filter(|r| r.table == "patients") {
            merge.hub_patient(r)?;
        }
        let mut counts = merge.counts;
        if let Some(run) = snapshot.rows.iter().find(|r| r.table == "snapshot_runs") {
            // The folder times too: they say which rows a local import read (issue 17).
            for table in ["snapshot_records", "snapshot_stays", "snapshot_patients", "snapshot_dirs"] {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
            let root = format!("the hub's snapshot ({})", text(run, "root")?);
            insert_row(
                &tx,
                run,
                &["started_at", "started_by", "finished_at", "counts_json"],
                &[("root", SqlValue::Text(root))],
            )?;
            for r in snapshot
                .rows
                .iter()
                .filter(|r| r.table.starts_with("snapshot_") && r.table != "snapshot_runs")
            {
                let columns: Vec<&str> = r.row.keys().map(String::as_str).collect();
                check_columns(&tx, r, &columns)?;
                insert_row(&tx, r, &columns, &[])?;
                counts.add(&r.table);
            }
        }
        let after = json!({ "hub": snapshot.hub, "new": counts.new, "updated": counts.updated });
        audit.append(&tx, actor, "load", "station snapshot", snapshot.station, None, Some(&after))?;
        tx.commit()?;
        Ok(counts)
    }
}

/// How many records this database holds under station `code` (pages, blocks, scans, packets).
fn station_use(conn: &super::db::Connection, code: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM printed_pages WHERE station = ?1)
              + (SELECT count(*) FROM id_blocks WHERE station = ?1)
              + (SELECT count(*) FROM scan_events WHERE station = ?1)
              + (SELECT count(*) FROM station_counters WHERE station = ?1)
              + (SELECT count(*) FROM packets WHERE station = ?1)",
        [code],
        |r| r.get(0),
    )?)
}

/// Refuses a code another station already has here.
fn refuse_known(tx: &Tx<'_>, code: &str) -> Result<()> {
    let known: Option<(String, String)> = tx
        .query_row("SELECT role, known_from FROM stations WHERE code = ?1", [code], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((role, from)) = known {
        return Err(StoreError::Refused(format!(
            "station code {code} is already the {role} of another PC here (known from {from}): choose a code no other PC has"
        )));
    }
    let used = station_use(tx, code)?;
    if used > 0 {
        return Err(StoreError::Refused(format!(
            "this database already holds {used} records of station {code} (pages, blocks or scans given to or merged from it): choose a code no other PC has"
        )));
    }
    Ok(())
}

/// Checks the signer's key against the one pinned for `code`, pinning it when the operator
/// gives its fingerprint. True when it was pinned now.
fn check_key(
    tx: &Tx<'_>,
    actor: &Actor,
    code: &str,
    role: &str,
    key: &str,
    trust: Option<&str>,
) -> Result<bool> {
    let key = key.trim().to_lowercase();
    let pinned: Option<(String, Option<String>)> = tx
        .query_row("SELECT role, public_key FROM stations WHERE code = ?1", [code], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let what = if role == "hub" { "the hub" } else { "station" };
    if let Some((known_as, _)) = &pinned
        && known_as != role
    {
        return Err(StoreError::Refused(format!(
            "{code} is known here as a {known_as}, and this file says it is {what}; nothing was changed"
        )));
    }
    let elsewhere: Option<String> = tx
        .query_row(
            "SELECT code FROM stations WHERE public_key = ?1 AND code != ?2",
            params![key, code],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(other) = elsewhere {
        return Err(StoreError::Refused(format!(
            "the file of {code} is signed with the key of {other}: two PCs share one database key (a PC copied from another's disk image?). Give each PC a database of its own; nothing was changed"
        )));
    }
    let fp = fingerprint(&key);
    if matches!(&pinned, Some((_, Some(k))) if *k == key) {
        return Ok(false);
    }
    if !trust.is_some_and(|t| same_fingerprint(t, &key)) {
        return Err(StoreError::Refused(match pinned {
            Some((_, Some(old))) => format!(
                "{what} {code}'s file is signed with another key (fingerprint {fp}) than the one known here ({}): two PCs may be using code {code}, or its key was replaced. Only if `kamikarte station show` on that PC prints {fp}, run again with --trust and that fingerprint; nothing was changed",
                fingerprint(&old)
            ),
            _ => format!(
                "{what} {code} is new here: its file is signed by the key with fingerprint {fp}. Only if `kamikarte station show` on that PC prints the same, run again with --trust and that fingerprint; nothing was changed"
            ),
        }));
    }
    let now = now_text();
    tx.execute(
        "INSERT INTO stations (code, role, public_key, known_from, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, 'its signed file', ?4, ?5, ?4, ?5)
         ON CONFLICT (code) DO UPDATE SET role = ?2, public_key = ?3, updated_at = ?4, updated_by = ?5",
        params![code, role, key, now, actor.0],
    )?;
    let mut audit = AuditWriter::start(tx)?;
    let before = pinned.and_then(|(_, k)| k).map(|k| json!({ "fingerprint": fingerprint(&k) }));
    audit.append(
        tx,
        actor,
        "pin key",
        "station",
        code,
        before.as_ref(),
        Some(&json!({ "role": role, "fingerprint": fp })),
    )?;
    Ok(true)
}

/// Earlier bundles of `station` neither merged here nor covered by a whole one merged.
fn missing_earlier(tx: &Tx<'_>, station: &str, seq: i64) -> Result<Vec<i64>> {
    // The flag is read here, not by SQL: the two engines name their JSON functions differently.
    let mut stmt = tx.prepare("SELECT seq, counts FROM bundle_imports WHERE station = ?1")?;
    let merged: Vec<(i64, bool)> = stmt
        .query_map([station], |r| {
            let counts: String = r.get(1)?;
            let whole = serde_json::from_str::<Value>(&counts)
                .ok()
                .and_then(|c| c.get("whole").and_then(|w| w.as_bool().or(w.as_i64().map(|n| n != 0))))
                .unwrap_or(false);
            Ok((r.get(0)?, whole))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let newest_whole = merged.iter().filter(|(_, whole)| *whole).map(|(s, _)| *s).max().unwrap_or(0);
    Ok((newest_whole + 1..seq).filter(|s| !merged.iter().any(|(m, _)| m == s)).collect())
}

/// Reads rows as travelling rows (`line` 0: they have no file yet).
fn read_rows<P: super::db::Params>(
    conn: &super::db::Connection,
    table: &str,
    sql: &str,
    params: P,
) -> Result<Vec<TravellingRow>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let names = r.column_names();
        let mut row = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get::<_, SqlValue>(i)? {
                SqlValue::Null => Value::Null,
                SqlValue::Integer(n) => json!(n),
                SqlValue::Real(f) => json!(f),
                SqlValue::Text(t) => Value::String(t),
                SqlValue::Blob(b) => Value::String(hex::encode(b)),
            };
            row.insert(name.clone(), v);
        }
        out.push(TravellingRow { table: table.to_string(), row, line: 0 });
    }
    Ok(out)
}

fn refused(r: &TravellingRow, column: &str, message: &str) -> StoreError {
    StoreError::Refused(format!("line {}: {} row, {column}: {message}; nothing was changed", r.line, r.table))
}

fn value<'r>(r: &'r TravellingRow, column: &str) -> Result<&'r Value> {
    r.row.get(column).ok_or_else(|| refused(r, column, "missing"))
}

fn text(r: &TravellingRow, column: &str) -> Result<String> {
    value(r, column)?.as_str().map(str::to_string).ok_or_else(|| refused(r, column, "is not text"))
}

fn opt_text(r: &TravellingRow, column: &str) -> Result<Option<String>> {
    match value(r, column)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(refused(r, column, "is not text")),
    }
}

fn int(r: &TravellingRow, column: &str) -> Result<i64> {
    value(r, column)?.as_i64().ok_or_else(|| refused(r, column, "is not a whole number"))
}

fn sql_value(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => {
            n.as_i64().map(SqlValue::Integer).unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)))
        }
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Refuses a row naming columns its table lacks (only the snapshot's tables are copied by
/// whatever columns the row has).
fn check_columns(tx: &Tx<'_>, r: &TravellingRow, columns: &[&str]) -> Result<()> {
    let known: BTreeSet<String> = tx.columns_of(&r.table)?.into_iter().collect();
    if let Some(c) = columns.iter().find(|c| !known.contains(**c)) {
        return Err(refused(r, c, "is not a column of the table"));
    }
    Ok(())
}

/// Inserts `columns` of a row into its table, with `extra` values beside them; the new row's
/// number.
fn insert_row(tx: &Tx<'_>, r: &TravellingRow, columns: &[&str], extra: &[(&str, SqlValue)]) -> Result<i64> {
    let mut names: Vec<&str> = columns.to_vec();
    let mut values: Vec<SqlValue> =
        columns.iter().map(|c| value(r, c).map(sql_value)).collect::<Result<_>>()?;
    for (name, v) in extra {
        names.push(name);
        values.push(v.clone());
    }
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO {} ({}) VALUES ({})", r.table, names.join(", "), marks.join(", "));
    exec(tx, r, &sql, super::db::params_from_iter(values))?;
    Ok(tx.last_insert_rowid())
}

/// Runs one statement for a row, a failure named by the row's line.
fn exec<P: super::db::Params>(tx: &Tx<'_>, r: &TravellingRow, sql: &str, params: P) -> Result<usize> {
    tx.prepare_cached(sql)?.execute(params).map_err(|e| match StoreError::from(e) {
        StoreError::Sql(e) => refused(r, "row", &format!("cannot be stored here ({e})")),
        other => other,
    })
}

/// One merge in progress: the transaction, the station the rows are from, the number of its
/// bundle (0 for a hub's snapshot), what changed.
struct Merge<'t, 's> {
    tx: &'t Tx<'s>,
    station: &'t str,
    seq: i64,
    counts: MergeCounts,
}

impl Merge<'_, '_> {
    fn mapped(&self, kind: &str, origin: i64) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT local_id FROM bundle_rows WHERE station = ?1 AND kind = ?2 AND origin_id = ?3",
            )?
            .query_row(params![self.station, kind, origin], |r| r.get(0))
            .optional()?)
    }

    fn map(&self, kind: &str, origin: i64, local: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO bundle_rows (station, kind, origin_id, local_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![self.station, kind, origin, local])?;
        Ok(())
    }

    /// True when this bundle is at least as new as the one that last set the state of the row
    /// `kind`/`key` (then it is recorded as the one): the station's bundle numbers order its
    /// changes, its clock does not.
    fn newer_state(&self, kind: &str, key: &str) -> Result<bool> {
        let last: Option<i64> = self
            .tx
            .prepare_cached("SELECT seq FROM merged_states WHERE station = ?1 AND kind = ?2 AND key = ?3")?
            .query_row(params![self.station, kind, key], |r| r.get(0))
            .optional()?;
        if last.is_some_and(|l| l > self.seq) {
            return Ok(false);
        }
        self.tx
            .prepare_cached(
                "INSERT INTO merged_states (station, kind, key, seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (station, kind, key) DO UPDATE SET seq = excluded.seq",
            )?
            .execute(params![self.station, kind, key, self.seq])?;
        Ok(true)
    }

    /// Refuses a row found again by its number at the station whose `column` — a value set once,
    /// when the row was made — differs from the one merged before: the station's numbers were
    /// used twice (its database restored from a backup, or another PC under its code).
    fn same_as_before(&self, r: &TravellingRow, table: &str, local: i64, column: &str) -> Result<()> {
        let here: SqlValue =
            self.tx.query_row(&format!("SELECT {column} FROM {table} WHERE rowid = ?1"), [local], |row| {
                row.get(0)
            })?;
        if here != sql_value(value(r, column)?) {
            return Err(refused(
                r,
                column,
                &format!(
                    "differs from the row merged before under the same number ({here:?}): station {}'s numbers were used twice (its database restored from a backup, or another PC under its code)",
                    self.station
                ),
            ));
        }
        Ok(())
    }

    /// The row here of a row the bundle referred to by its number at the station.
    fn reference(&self, r: &TravellingRow, column: &str, kind: &str) -> Result<Option<i64>> {
        match value(r, column)? {
            Value::Null => Ok(None),
            _ => {
                let origin = int(r, column)?;
                match self.mapped(kind, origin)? {
                    Some(local) => Ok(Some(local)),
                    None => Err(refused(
                        r,
                        column,
                        &format!("names {kind} {origin}, which the bundle does not carry"),
                    )),
                }
            }
        }
    }

    fn own_station(&self, r: &TravellingRow) -> Result<()> {
        let station = text(r, "station")?;
        if station != self.station {
            return Err(refused(
                r,
                "station",
                &format!("is {station}, in a file of station {}", self.station),
            ));
        }
        Ok(())
    }

    fn row(&mut self, r: &TravellingRow) -> Result<()> {
        match r.table.as_str() {
            "episodes" => self.episode(r),
            "episode_notes" => self.simple(
                r,
                "episode_note",
                &["text", "created_at", "created_by"],
                &[("episode_id", "episode")],
                "id",
            ),
            "id_blocks" => {
                self.own_station(r)?;
                let local = self.block(r, None)?;
                let origin = int(r, "id")?;
                match self.mapped("block", origin)? {
                    None => self.map("block", origin, local),
                    Some(mapped) if mapped == local => Ok(()),
                    Some(_) => Err(refused(
                        r,
                        "id",
                        &format!(
                            "names another block than the one merged before under its number: station {}'s numbers were used twice",
                            self.station
                        ),
                    )),
                }
            }
            "patients" => self.patient(r),
            "registrations" => self.registration(r),
            "packets" => self.packet(r),
            "kits" => {
                self.simple(r, "kit", &["out_dir", "pages", "files", "created_at", "created_by"], &[], "id")
            }
            "printed_pages" => self.printed_page(r),
            "station_counters" => {
                self.own_station(r)?;
                let n = exec(
                    self.tx,
                    r,
                    "INSERT INTO station_counters (station, next_number) VALUES (?1, ?2)
                     ON CONFLICT (station) DO UPDATE SET next_number = excluded.next_number
                     WHERE excluded.next_number > station_counters.next_number",
                    params![self.station, int(r, "next_number")?],
                )?;
                if n == 1 {
                    self.counts.change("station_counters");
                }
                Ok(())
            }
            "scan_events" => self.scan_event(r),
            "audit" => self.audit(r),
            _ => Err(refused(r, "table", "is not one a bundle carries")),
        }
    }

    /// A row kept by its number at the station: added once, with its references mapped.
    fn simple(
        &mut self,
        r: &TravellingRow,
        kind: &str,
        columns: &[&str],
        refs: &[(&str, &str)],
        id: &str,
    ) -> Result<()> {
        let origin = int(r, id)?;
        if let Some(local) = self.mapped(kind, origin)? {
            return self.same_as_before(r, &r.table, local, "created_at");
        }
        let mut extra = Vec::new();
        for (column, target) in refs {
            extra.push((
                *column,
                self.reference(r, column, target)?.map(SqlValue::Integer).unwrap_or(SqlValue::Null),
            ));
        }
        let local = insert_row(self.tx, r, columns, &extra)?;
        self.map(kind, origin, local)?;
        self.counts.add(&r.table);
        Ok(())
    }

    fn episode(&mut self, r: &TravellingRow) -> Result<()> {
        let origin = int(r, "id")?;
        match self.mapped("episode", origin)? {
            Some(local) => {
                self.same_as_before(r, "episodes", local, "started_at")?;
                if !self.newer_state("episode", &origin.to_string())? {
                    return Ok(());
                }
                // An end is final: a bundle written before it cannot open the episode again.
                let n = exec(
                    self.tx,
                    r,
                    "UPDATE episodes SET phase = ?2, ended_at = coalesce(ended_at, ?3), updated_at = ?4,
                            updated_by = ?5
                     WHERE id = ?1 AND (phase != ?2 OR ended_at IS DISTINCT FROM coalesce(ended_at, ?3))",
                    params![
                        local,
                        int(r, "phase")?,
                        opt_text(r, "ended_at")?,
                        text(r, "updated_at")?,
                        text(r, "updated_by")?
                    ],
                )?;
                if n == 1 {
                    self.counts.change("episodes");
                }
            }
            None => {
                let columns = [
                    "started_at",
                    "reason",
                    "phase",
                    "ended_at",
                    "created_at",
                    "created_by",
                    "updated_at",
                    "updated_by",
                ];
                let local = insert_row(
                    self.tx,
                    r,
                    &columns,
                    &[("station", SqlValue::Text(self.station.to_string()))],
                )?;
                self.map("episode", origin, local)?;
                self.newer_state("episode", &origin.to_string())?;
                self.counts.add("episodes");
            }
        }
        Ok(())
    }

    /// A block: the same block here (given to the station by the hub, or merged before) takes
    /// the further `next`; a new one must overlap nobody's. Its number here. `loaded_by` is who
    /// loads a hub's snapshot; a bundle's block keeps who made it at the station.
    fn block(&mut self, r: &TravellingRow, loaded_by: Option<&Actor>) -> Result<i64> {
        let station = text(r, "station")?;
        let block =
            IdBlock::new(&text(r, "prefix")?, int(r, "first")?.max(0) as u64, int(r, "last")?.max(0) as u64)
                .map_err(|e| refused(r, "prefix", &e.message))?;
        let next = int(r, "next")?;
        let existing: Vec<BlockRecord> = read_blocks(self.tx, None)?;
        if let Some(same) = existing.iter().find(|b| b.station == station && b.block == block) {
            if next > same.next as i64 {
                let by = loaded_by.map_or_else(|| format!("station {}", self.station), |a| a.0.clone());
                exec(
                    self.tx,
                    r,
                    "UPDATE id_blocks SET next = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?1",
                    params![same.id, next, now_text(), by],
                )?;
                self.counts.change("id_blocks");
            }
            return Ok(same.id);
        }
        if let Some(conflict) = block_conflict(&existing, &block) {
            return Err(refused(r, "first", &format!("station {station}'s {conflict}")));
        }
        let now = now_text();
        let (at, by) = match loaded_by {
            None => (text(r, "created_at")?, text(r, "created_by")?),
            Some(actor) => (now, actor.0.clone()),
        };
        exec(
            self.tx,
            r,
            "INSERT INTO id_blocks (station, prefix, first, last, next, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?7)",
            params![station, block.prefix, block.first as i64, block.last as i64, next, at, by],
        )?;
        self.counts.add("id_blocks");
        Ok(self.tx.last_insert_rowid())
    }

    /// A patient a station registered: new here, or the station's later correction of one it
    /// sent before. A number someone else holds here is a clash, refused.
    fn patient(&mut self, r: &TravellingRow) -> Result<()> {
        let id = text(r, "id")?;
        let here: Option<(String, String)> = self
            .tx
            .query_row("SELECT source, updated_at FROM patients WHERE id = ?1", [&id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match here {
            None => {
                insert_row(self.tx, r, &PATIENT_COLUMNS, &[])?;
                self.newer_state("patient", &id)?;
                self.counts.add("patients");
            }
            Some((source, updated_at)) => {
                let holder: Option<String> = self
                    .tx
                    .query_row(
                        "SELECT b.station FROM registrations g JOIN id_blocks b ON b.id = g.block_id WHERE g.patient_id = ?1",
                        [&id],
                        |row| row.get(0),
                    )
                    .optional()?;
                match holder {
                    Some(s) if s == self.station => {}
                    Some(s) => {
                        return Err(refused(
                            r,
                            "id",
                            &format!(
                                "downtime ID {id} was registered by station {s} too: the same number was given twice"
                            ),
                        ));
                    }
                    None => {
                        return Err(refused(
                            r,
                            "id",
                            &format!(
                                "{id} is already a patient here (from the {source}): the same number was given twice"
                            ),
                        ));
                    }
                }
                if self.newer_state("patient", &id)? && text(r, "updated_at")? != updated_at {
                    self.update_patient(r)?;
                }
            }
        }
        Ok(())
    }

    /// A patient from the hub's census at a station: the hub's row wins, but never over a
    /// patient this station registered.
    fn hub_patient(&mut self, r: &TravellingRow) -> Result<()> {
        let id = text(r, "id")?;
        let registered_here: bool = self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM registrations g JOIN id_blocks b ON b.id = g.block_id
                            WHERE g.patient_id = ?1 AND b.station = ?2)",
            params![id, self.station],
            |row| row.get(0),
        )?;
        if registered_here {
            return Ok(());
        }
        let here: Option<String> = self
            .tx
            .query_row("SELECT updated_at FROM patients WHERE id = ?1", [&id], |row| row.get(0))
            .optional()?;
        match here {
            None => {
                insert_row(self.tx, r, &PATIENT_COLUMNS, &[])?;
                self.counts.add("patients");
            }
            Some(updated_at) if text(r, "updated_at")? != updated_at => self.update_patient(r)?,
            Some(_) => {}
        }
        Ok(())
    }

    /// Every column of a patient here takes the row's value.
    fn update_patient(&mut self, r: &TravellingRow) -> Result<()> {
        let sets: Vec<String> =
            PATIENT_COLUMNS[1..].iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 2)).collect();
        let values: Vec<SqlValue> =
            PATIENT_COLUMNS.iter().map(|c| value(r, c).map(sql_value)).collect::<Result<_>>()?;
        self.tx.execute(
            &format!("UPDATE patients SET {} WHERE id = ?1", sets.join(", ")),
            super::db::params_from_iter(values),
        )?;
        self.counts.change("patients");
        Ok(())
    }

    fn registration(&mut self, r: &TravellingRow) -> Result<()> {
        let id = text(r, "patient_id")?;
        let block =
            self.reference(r, "block_id", "block")?.ok_or_else(|| refused(r, "block_id", "missing"))?;
        let episode =
            self.reference(r, "episode_id", "episode")?.ok_or_else(|| refused(r, "episode_id", "missing"))?;
        let number = int(r, "number")?;
        let here: Option<(i64, i64, i64)> = self
            .tx
            .query_row(
                "SELECT block_id, number, rowid FROM registrations WHERE patient_id = ?1",
                [&id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        match here {
            Some((b, n, local)) if b == block && n == number => {
                self.same_as_before(r, "registrations", local, "created_at")?;
                self.same_as_before(r, "registrations", local, "created_by")
            }
            Some(_) => Err(refused(
                r,
                "patient_id",
                &format!("downtime ID {id} is registered here already, from another block"),
            )),
            None => {
                let columns = [
                    "patient_id",
                    "number",
                    "outpatient",
                    "identity_unknown",
                    "dob_estimated",
                    "created_at",
                    "created_by",
                ];
                insert_row(
                    self.tx,
                    r,
                    &columns,
                    &[("block_id", SqlValue::Integer(block)), ("episode_id", SqlValue::Integer(episode))],
                )?;
                self.counts.add("registrations");
                Ok(())
            }
        }
    }

    fn packet(&mut self, r: &TravellingRow) -> Result<()> {
        self.own_station(r)?;
        let id = text(r, "patient_id")?;
        let block =
            self.reference(r, "block_id", "block")?.ok_or_else(|| refused(r, "block_id", "missing"))?;
        let here: Option<(i64, String, i64)> = self
            .tx
            .query_row("SELECT block_id, station, rowid FROM packets WHERE patient_id = ?1", [&id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        match here {
            Some((b, _, local)) if b == block => self.same_as_before(r, "packets", local, "reserved_at"),
            Some((_, s, _)) => {
                Err(refused(r, "patient_id", &format!("packet {id} was reserved by station {s} too")))
            }
            None => {
                let columns = ["patient_id", "number", "station", "reserved_at", "reserved_by"];
                insert_row(self.tx, r, &columns, &[("block_id", SqlValue::Integer(block))])?;
                self.counts.add("packets");
                Ok(())
            }
        }
    }

    fn printed_page(&mut self, r: &TravellingRow) -> Result<()> {
        self.own_station(r)?;
        let number = int(r, "number")?;
        let here: Option<(String, Option<String>, String, i64)> = self
            .tx
            .query_row(
                "SELECT form_code, patient_id, created_at, rowid FROM printed_pages WHERE station = ?1 AND number = ?2",
                params![self.station, number],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        match here {
            Some((form, patient, at, _))
                if form == text(r, "form_code")?
                    && patient == opt_text(r, "patient_id")?
                    && at == text(r, "created_at")? =>
            {
                Ok(())
            }
            Some(_) => Err(refused(
                r,
                "number",
                &format!(
                    "serial {}-{number:06} is here already for another page: two PCs printed under code {}",
                    self.station, self.station
                ),
            )),
            None => {
                let kit =
                    self.reference(r, "kit_id", "kit")?.ok_or_else(|| refused(r, "kit_id", "missing"))?;
                let columns = [
                    "station",
                    "number",
                    "form_code",
                    "form_id",
                    "patient_id",
                    "ward",
                    "file",
                    "created_at",
                    "created_by",
                ];
                insert_row(self.tx, r, &columns, &[("kit_id", SqlValue::Integer(kit))])?;
                self.counts.add("printed_pages");
                Ok(())
            }
        }
    }

    fn scan_event(&mut self, r: &TravellingRow) -> Result<()> {
        self.own_station(r)?;
        let origin = int(r, "id")?;
        match self.mapped("scan_event", origin)? {
            Some(local) => {
                self.same_as_before(r, "scan_events", local, "at")?;
                self.same_as_before(r, "scan_events", local, "payload")?;
                let n = self.tx.execute(
                    "UPDATE scan_events SET dismissed_at = ?2, dismissed_by = ?3
                     WHERE id = ?1 AND dismissed_at IS NULL AND ?2 IS NOT NULL",
                    params![local, opt_text(r, "dismissed_at")?, opt_text(r, "dismissed_by")?],
                )?;
                if n == 1 {
                    self.counts.change("scan_events");
                }
                Ok(())
            }
            None => {
                let episode = self.reference(r, "episode_id", "episode")?;
                let columns = [
                    "at",
                    "day",
                    "station",
                    "user",
                    "kind",
                    "action",
                    "payload",
                    "patient_id",
                    "other_patient_id",
                    "form_code",
                    "serial",
                    "volume",
                    "dismissed_at",
                    "dismissed_by",
                ];
                let local = insert_row(
                    self.tx,
                    r,
                    &columns,
                    &[("episode_id", episode.map(SqlValue::Integer).unwrap_or(SqlValue::Null))],
                )?;
                self.map("scan_event", origin, local)?;
                self.counts.add("scan_events");
                Ok(())
            }
        }
    }

    fn audit(&mut self, r: &TravellingRow) -> Result<()> {
        let seq = int(r, "seq")?;
        let hash = text(r, "hash")?;
        let here: Option<String> = self
            .tx
            .query_row(
                "SELECT hash FROM station_audit WHERE station = ?1 AND seq = ?2",
                params![self.station, seq],
                |row| row.get(0),
            )
            .optional()?;
        match here {
            Some(h) if h == hash => Ok(()),
            Some(_) => Err(refused(
                r,
                "hash",
                &format!(
                    "station {}'s audit entry {seq} differs from the one merged before: two PCs may be using its code, or its database was replaced",
                    self.station
                ),
            )),
            None => {
                let columns = [
                    "seq",
                    "at",
                    "actor",
                    "action",
                    "entity",
                    "entity_id",
                    "before",
                    "after",
                    "prev_hash",
                    "hash",
                ];
                let mut row = r.clone();
                row.table = "station_audit".into();
                insert_row(
                    self.tx,
                    &row,
                    &columns,
                    &[("station", SqlValue::Text(self.station.to_string()))],
                )?;
                self.counts.add("audit");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_short_stable_and_forgives_case_and_dashes() {
        let key = "ab".repeat(32);
        let fp = fingerprint(&key);
        assert_eq!(fp.len(), 39, "{fp}");
        assert_eq!(fp, fingerprint(&key.to_uppercase()));
        assert!(same_fingerprint(&fp.to_uppercase().replace('-', " "), &key));
        assert!(!same_fingerprint("0000-0000-0000-0000", &key));
    }

    #[test]
    fn a_new_database_has_no_station_code_until_one_is_given() {
        let mut store = Store::open_in_memory().unwrap();
        let err = store.settings().unwrap().station().unwrap_err().to_string();
        assert!(err.contains("station set CODE"), "{err}");
        let admin = Actor("admin".into());
        store.set_station_code(&admin, "w3").unwrap();
        assert_eq!(store.settings().unwrap().station().unwrap(), "W3");
        assert!(store.set_station_code(&admin, "W-3").is_err(), "letters and digits only");
    }

    #[test]
    fn a_station_code_known_for_another_pc_or_already_used_is_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let admin = Actor("admin".into());
        store.add_id_block(&admin, "ER", &IdBlock::new("D", 1, 100).unwrap()).unwrap();
        let err = store.set_station_code(&admin, "ER").unwrap_err().to_string();
        assert!(err.contains("already holds 1 records of station ER"), "{err}");
        store.set_station_code(&admin, "W1").unwrap();
        store.reserve_serials("W1", 3).unwrap();
        let err = store.set_station_code(&admin, "W2").unwrap_err().to_string();
        assert!(err.contains("cannot change"), "{err}");
        let err = store.set_setting(&admin, "station.code", "W2").unwrap_err().to_string();
        assert!(err.contains("cannot change"), "config set goes through the same check: {err}");
    }

    #[test]
    fn a_station_that_sent_a_bundle_keeps_its_code() {
        let mut store = Store::open_in_memory().unwrap();
        let admin = Actor("admin".into());
        store.set_station_code(&admin, "W3").unwrap();
        store.set_station_code(&admin, "W4").unwrap();
        let bundle = store.outgoing_bundle(false).unwrap();
        assert!(bundle.whole && bundle.seq == 1, "the first bundle holds everything");
        store.record_bundle_export(&admin, &bundle, "w4-1.bundle").unwrap();
        let err = store.set_station_code(&admin, "W5").unwrap_err().to_string();
        assert!(err.contains("cannot change"), "the hub knows it as W4 now: {err}");
        assert_eq!(store.outgoing_bundle(false).unwrap().seq, 2);
    }

    #[test]
    fn a_database_that_used_the_old_default_keeps_station_a() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let mut store = Store::open(&path).unwrap();
            store.reserve_serials("A", 10).unwrap();
            let fresh_use = store.settings().unwrap();
            assert!(fresh_use.station().is_err(), "a database made now never takes A by itself");
            // As a database of migration 15 was: 016 undone (its tables dropped, its version).
            store.raw_execute(
                "DROP TABLE stations; DROP TABLE bundle_exports; DROP TABLE bundle_imports;
                 DROP TABLE bundle_rows; DROP TABLE station_audit; DROP TABLE merged_states;
                 DROP TABLE legacy_station; DROP INDEX episodes_one_open;
                 DROP INDEX episodes_one_open_per_station; ALTER TABLE episodes DROP COLUMN station;
                 CREATE UNIQUE INDEX episodes_one_open ON episodes ((ended_at IS NULL)) WHERE ended_at IS NULL;
                 PRAGMA user_version = 15;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.settings().unwrap().station().unwrap(),
            "A",
            "upgraded, it keeps the A it printed under"
        );
        let fresh = Store::open(&dir.path().join("new.sqlite")).unwrap();
        assert!(fresh.settings().unwrap().station().is_err(), "a new database is not given A");
    }
}
