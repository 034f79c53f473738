//! Downtime episodes, downtime-ID blocks and registrations. Each write is one transaction with
//! its audit entries.

use super::db::{OptionalExtension, Row, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::patients::{SOURCE_DOWNTIME, json as patient_json, upsert};
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::{IdBlock, Patient, PatientId, Phase};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeRecord {
    pub id: i64,
    pub started_at: String,
    pub started_by: String,
    pub reason: String,
    #[serde(serialize_with = "phase_number")]
    pub phase: Phase,
    pub ended_at: Option<String>,
    pub updated_at: String,
    /// The station whose episode this is, when it was merged from a station's bundle (at the
    /// hub); `None` for this database's own.
    pub station: Option<String>,
}

fn phase_number<S: serde::Serializer>(p: &Phase, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u8(p.number())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeNote {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// A block and how far the station has drawn from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    pub id: i64,
    pub station: String,
    pub block: IdBlock,
    /// The next number to hand out; `last + 1` once the block is used up.
    pub next: u64,
}

impl BlockRecord {
    pub fn remaining(&self) -> u64 {
        (self.block.last + 1).saturating_sub(self.next)
    }

    /// Fewer than 10% of the block left (or one ID, for a small block): time to ask the EHR
    /// team for the next block.
    pub fn running_low(&self) -> bool {
        self.remaining() * 10 < self.block.size() || self.remaining() <= 1
    }
}

/// What a station has left to hand out, over all its blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSupply {
    pub station: String,
    pub remaining: u64,
    /// The block IDs are drawn from now (the oldest with numbers left).
    pub current: Option<IdBlock>,
    pub configured: bool,
}

impl IdSupply {
    pub fn of(blocks: &[BlockRecord], station: &str) -> Self {
        let mine: Vec<&BlockRecord> = blocks.iter().filter(|b| b.station == station).collect();
        Self {
            station: station.to_string(),
            remaining: mine.iter().map(|b| b.remaining()).sum(),
            current: mine.iter().find(|b| b.remaining() > 0).map(|b| b.block.clone()),
            configured: !mine.is_empty(),
        }
    }

    /// A configured station with fewer than 10% of its current block left (or one ID), or none.
    pub fn running_low(&self) -> bool {
        match &self.current {
            _ if !self.configured => false,
            None => true,
            Some(b) => self.remaining * 10 < b.size() || self.remaining <= 1,
        }
    }

    pub fn describe(&self) -> String {
        match &self.current {
            None => format!(
                "station {} has no downtime IDs left: registration stops until an administrator adds the next block the EHR reserves",
                self.station
            ),
            Some(b) => format!(
                "station {} has {} downtime ID{} left (block {}): ask the EHR team for the next block",
                self.station,
                self.remaining,
                if self.remaining == 1 { "" } else { "s" },
                b.describe()
            ),
        }
    }
}

/// What a registration adds beside the patient row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistrationFlags {
    pub outpatient: bool,
    pub identity_unknown: bool,
    pub dob_estimated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    pub patient_id: PatientId,
    pub episode_id: i64,
    pub flags: RegistrationFlags,
    pub created_at: String,
    pub created_by: String,
}

const EPISODE_COLUMNS: &str = "id, started_at, created_by, reason, phase, ended_at, updated_at, station";

fn read_episode(r: &Row<'_>) -> rusqlite::Result<(EpisodeRecord, i64)> {
    let phase: i64 = r.get(4)?;
    Ok((
        EpisodeRecord {
            id: r.get(0)?,
            started_at: r.get(1)?,
            started_by: r.get(2)?,
            reason: r.get(3)?,
            phase: Phase::PastUnknown,
            ended_at: r.get(5)?,
            updated_at: r.get(6)?,
            station: r.get(7)?,
        },
        phase,
    ))
}

fn with_phase((mut e, phase): (EpisodeRecord, i64)) -> Result<EpisodeRecord> {
    e.phase = u8::try_from(phase).ok().and_then(|p| Phase::from_number(p).ok()).ok_or_else(|| {
        StoreError::Corrupt {
            entity: "episode",
            id: e.id.to_string(),
            field: "phase",
            message: format!("{phase} is not a phase 1–4"),
        }
    })?;
    Ok(e)
}

impl Store {
    /// The episode running now, if any.
    pub fn open_episode(&self) -> Result<Option<EpisodeRecord>> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {EPISODE_COLUMNS} FROM episodes WHERE ended_at IS NULL AND station IS NULL"),
                [],
                read_episode,
            )
            .optional()?;
        row.map(with_phase).transpose()
    }

    /// The episode a command names, refused by name when there is none; `None` asks for none.
    pub fn episode_named(&self, id: Option<i64>) -> Result<Option<EpisodeRecord>> {
        let Some(id) = id else { return Ok(None) };
        match self.episodes()?.into_iter().find(|e| e.id == id) {
            Some(e) => Ok(Some(e)),
            None => Err(StoreError::Refused(format!("there is no downtime episode {id}"))),
        }
    }

    /// Every episode, newest first.
    pub fn episodes(&self) -> Result<Vec<EpisodeRecord>> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {EPISODE_COLUMNS} FROM episodes ORDER BY id DESC"))?;
        let rows = stmt.query_map([], read_episode)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(with_phase).collect()
    }

    pub fn start_episode(&mut self, actor: &Actor, reason: &str, phase: Phase) -> Result<EpisodeRecord> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Refused(
                "give the reason for the downtime (e.g. 'ransomware', 'power cut')".into(),
            ));
        }
        if let Some(open) = self.open_episode()? {
            return Err(StoreError::Refused(format!(
                "episode {} (started {}, {}) is still running: end it before starting another",
                open.id, open.started_at, open.reason
            )));
        }
        let tx = self.begin()?;
        let now = now_text();
        tx.execute(
            "INSERT INTO episodes (started_at, reason, phase, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?1, ?4, ?1, ?4)",
            params![now, reason, phase.number(), actor.0],
        )?;
        let id = tx.last_insert_rowid();
        let mut audit = AuditWriter::start(&tx)?;
        let after = json!({ "reason": reason, "phase": phase.number(), "started_at": now });
        audit.append(&tx, actor, "start", "episode", &id.to_string(), None, Some(&after))?;
        tx.commit()?;
        Ok(self.open_episode()?.expect("just started"))
    }

    fn require_open(&self) -> Result<EpisodeRecord> {
        self.open_episode()?.ok_or_else(|| {
            StoreError::Refused("no downtime episode is running (start one: kamikarte episode start)".into())
        })
    }

    pub fn set_phase(&mut self, actor: &Actor, phase: Phase) -> Result<EpisodeRecord> {
        let open = self.require_open()?;
        if open.phase == phase {
            return Ok(open);
        }
        let tx = self.begin()?;
        tx.execute(
            "UPDATE episodes SET phase = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?1",
            params![open.id, phase.number(), now_text(), actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "phase",
            "episode",
            &open.id.to_string(),
            Some(&json!({ "phase": open.phase.number() })),
            Some(&json!({ "phase": phase.number() })),
        )?;
        tx.commit()?;
        self.require_open()
    }

    pub fn add_episode_note(&mut self, actor: &Actor, text: &str) -> Result<()> {
        let open = self.require_open()?;
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Refused("the note is empty".into()));
        }
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO episode_notes (episode_id, text, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![open.id, text, now_text(), actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "note",
            "episode",
            &open.id.to_string(),
            None,
            Some(&json!({ "text": text })),
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn episode_notes(&self, episode_id: i64) -> Result<Vec<EpisodeNote>> {
        let mut stmt = self.conn.prepare(
            "SELECT created_at, created_by, text FROM episode_notes WHERE episode_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([episode_id], |r| Ok(EpisodeNote { at: r.get(0)?, by: r.get(1)?, text: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn end_episode(&mut self, actor: &Actor) -> Result<EpisodeRecord> {
        let open = self.require_open()?;
        let tx = self.begin()?;
        let now = now_text();
        tx.execute(
            "UPDATE episodes SET ended_at = ?2, updated_at = ?2, updated_by = ?3 WHERE id = ?1",
            params![open.id, now, actor.0],
        )?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "end",
            "episode",
            &open.id.to_string(),
            None,
            Some(&json!({ "ended_at": now })),
        )?;
        tx.commit()?;
        Ok(EpisodeRecord { ended_at: Some(now), ..open })
    }

    /// Every block of every station, oldest first.
    pub fn id_blocks(&self) -> Result<Vec<BlockRecord>> {
        read_blocks(&self.conn, None)
    }

    /// Adds a block for `station`, refusing any overlap with a block already configured — for
    /// this station or another, used up or not — so no downtime ID can be handed out twice.
    pub fn add_id_block(&mut self, actor: &Actor, station: &str, block: &IdBlock) -> Result<BlockRecord> {
        let station = station.trim().to_uppercase();
        if let Some(conflict) = block_conflict(&self.id_blocks()?, block) {
            return Err(StoreError::Refused(conflict));
        }
        let tx = self.begin()?;
        let now = now_text();
        tx.execute(
            "INSERT INTO id_blocks (station, prefix, first, last, next, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6, ?5, ?6)",
            params![station, block.prefix, block.first as i64, block.last as i64, now, actor.0],
        )?;
        let id = tx.last_insert_rowid();
        let mut audit = AuditWriter::start(&tx)?;
        let after =
            json!({ "station": station, "prefix": block.prefix, "first": block.first, "last": block.last });
        audit.append(&tx, actor, "insert", "id_block", &id.to_string(), None, Some(&after))?;
        tx.commit()?;
        Ok(BlockRecord { id, station, block: block.clone(), next: block.first })
    }

    /// Registers a patient in the open episode, in one transaction: the ID (the next of
    /// `station`'s blocks, or a pre-printed packet's), the patient, the registration and the audit
    /// entries. `make` builds the patient once the ID is known (unknown patients are named after
    /// it). Returns the patient and the IDs skipped because the census already held them — a sign
    /// that the EHR uses numbers of this block, which the EHR team must hear about.
    pub fn register_patient(
        &mut self,
        actor: &Actor,
        source: IdSource<'_>,
        flags: RegistrationFlags,
        make: impl FnOnce(&PatientId) -> Patient,
    ) -> Result<(Patient, Vec<PatientId>)> {
        let episode = self.open_episode()?.ok_or_else(|| {
            StoreError::Refused(
                "no downtime episode is running: start one before registering under downtime IDs".into(),
            )
        })?;
        let tx = self.begin()?;
        let now = now_text();
        let mut audit = AuditWriter::start(&tx)?;
        let (block_id, number, id, skipped) = match source {
            IdSource::Next(station) => {
                let station = station.trim().to_uppercase();
                let mut draw = draw_ids(&tx, &mut audit, actor, &station, 1, &now)?;
                let Some((block, number, id)) = draw.drawn.pop() else {
                    // The numbers passed over are census patients': their skips and the block's
                    // position are kept (the EHR team must hear of them) before refusing.
                    let refusal = draw.shortage(&station, 1);
                    tx.commit()?;
                    return Err(refusal);
                };
                (block, number, id, draw.skipped)
            }
            IdSource::Packet(id) => {
                let packet: Option<(i64, i64)> = tx
                    .query_row(
                        "SELECT block_id, number FROM packets WHERE patient_id = ?1",
                        [id.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((block, number)) = packet else {
                    return Err(StoreError::Refused(format!(
                        "{id} is no pre-printed packet's ID: scan the packet's wristband or label, or register under the next ID"
                    )));
                };
                let registered: Option<String> = tx
                    .query_row(
                        "SELECT created_at FROM registrations WHERE patient_id = ?1",
                        [id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(at) = registered {
                    return Err(StoreError::Refused(format!(
                        "packet {id} was registered already ({at}): one packet is one patient"
                    )));
                }
                // The EHR may have given the number to a patient of a later census: the packet's
                // ID is theirs now, and registering over it would overwrite them.
                let taken: Option<String> = tx
                    .query_row("SELECT name FROM patients WHERE id = ?1", [id.as_str()], |r| r.get(0))
                    .optional()?;
                if taken.is_some() {
                    return Err(StoreError::Refused(format!(
                        "packet {id}'s number belongs to a census patient now (the EHR uses numbers of this block): register under the next ID, move the packet's paper to it, and tell the EHR team"
                    )));
                }
                (block, number as u64, id.clone(), Vec::new())
            }
        };
        let patient = make(&id);
        debug_assert_eq!(patient.id, id);
        upsert(&tx, &patient, SOURCE_DOWNTIME, &now, actor)?;
        tx.execute(
            "INSERT INTO registrations (patient_id, episode_id, block_id, number, outpatient, identity_unknown,
             dob_estimated, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id.as_str(),
                episode.id,
                block_id,
                number as i64,
                flags.outpatient,
                flags.identity_unknown,
                flags.dob_estimated,
                now,
                actor.0
            ],
        )?;
        let mut after = patient_json(&patient);
        after["episode"] = json!(episode.id);
        after["outpatient"] = json!(flags.outpatient);
        after["identity_unknown"] = json!(flags.identity_unknown);
        after["dob_estimated"] = json!(flags.dob_estimated);
        if matches!(source, IdSource::Packet(_)) {
            after["packet"] = json!(true);
        }
        audit.append(&tx, actor, "register", "patient", id.as_str(), None, Some(&after))?;
        tx.commit()?;
        Ok((patient, skipped))
    }

    /// Reserves `count` downtime IDs of `station`'s blocks for pre-printed packets, in one
    /// transaction (audited): they are never handed out to a registration. Returns them in order,
    /// and the IDs skipped because the census held them.
    pub fn reserve_packet_ids(
        &mut self,
        actor: &Actor,
        station: &str,
        count: usize,
    ) -> Result<(Vec<PatientId>, Vec<PatientId>)> {
        let station = station.trim().to_uppercase();
        let tx = self.begin()?;
        let now = now_text();
        let mut audit = AuditWriter::start(&tx)?;
        let draw = draw_ids(&tx, &mut audit, actor, &station, count, &now)?;
        if draw.drawn.len() < count {
            // Refused whole: nothing is reserved, and the numbers stay free.
            return Err(draw.shortage(&station, count));
        }
        let skipped = draw.skipped;
        let mut ids = Vec::with_capacity(draw.drawn.len());
        for (block, number, id) in draw.drawn {
            tx.execute(
                "INSERT INTO packets (patient_id, block_id, number, station, reserved_at, reserved_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.as_str(), block, number as i64, station, now, actor.0],
            )?;
            let after = json!({ "station": station, "block": block, "number": number });
            audit.append(&tx, actor, "reserve", "packet", id.as_str(), None, Some(&after))?;
            ids.push(id);
        }
        tx.commit()?;
        Ok((ids, skipped))
    }

    /// A pre-printed packet's ID: whether it exists and when it was registered.
    pub fn packet(&self, id: &PatientId) -> Result<Option<PacketRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT k.station, k.reserved_at, r.created_at FROM packets k
                 LEFT JOIN registrations r ON r.patient_id = k.patient_id WHERE k.patient_id = ?1",
                [id.as_str()],
                |r| {
                    Ok(PacketRecord {
                        id: id.clone(),
                        station: r.get(0)?,
                        reserved_at: r.get(1)?,
                        registered_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn registration(&self, id: &PatientId) -> Result<Option<RegistrationRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT episode_id, outpatient, identity_unknown, dob_estimated, created_at, created_by
                 FROM registrations WHERE patient_id = ?1",
                [id.as_str()],
                |r| {
                    Ok(RegistrationRecord {
                        patient_id: id.clone(),
                        episode_id: r.get(0)?,
                        flags: RegistrationFlags {
                            outpatient: r.get(1)?,
                            identity_unknown: r.get(2)?,
                            dob_estimated: r.get(3)?,
                        },
                        created_at: r.get(4)?,
                        created_by: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }
}

/// Where a registration's ID comes from.
#[derive(Debug, Clone, Copy)]
pub enum IdSource<'a> {
    /// The next free number of this station's blocks.
    Next(&'a str),
    /// A pre-printed packet's reserved ID, written on paper before the patient was registered.
    Packet(&'a PatientId),
}

/// A downtime ID reserved for a pre-printed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRecord {
    pub id: PatientId,
    pub station: String,
    pub reserved_at: String,
    /// When the patient who got the packet was registered, if yet.
    pub registered_at: Option<String>,
}

/// The blocks of every station, or of one, oldest first (within a transaction or not).
/// Why `block` cannot join `existing`: it overlaps one (for this station or another, used up or
/// not), or makes IDs of another length under the same prefix.
pub(super) fn block_conflict(existing: &[BlockRecord], block: &IdBlock) -> Option<String> {
    for other in existing {
        if other.block.overlaps(block) {
            return Some(format!(
                "block {} overlaps block {} of station {}: every station needs its own numbers",
                block.describe(),
                other.block.describe(),
                other.station
            ));
        }
        if other.block.prefix == block.prefix && other.block.width() != block.width() {
            return Some(format!(
                "prefix {} is used with {}-digit numbers (block {}); a block of {}-digit numbers would make IDs of two lengths",
                block.prefix,
                other.block.width(),
                other.block.describe(),
                block.width()
            ));
        }
    }
    None
}

pub(super) fn read_blocks(conn: &super::db::Connection, station: Option<&str>) -> Result<Vec<BlockRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, station, prefix, first, last, next FROM id_blocks WHERE ?1 IS NULL OR station = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([station], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, station, prefix, first, last, next) = row?;
        let block = IdBlock::new(&prefix, first as u64, last as u64).map_err(|e| StoreError::Corrupt {
            entity: "id block",
            id: id.to_string(),
            field: "range",
            message: e.message,
        })?;
        out.push(BlockRecord { id, station, block, next: next as u64 });
    }
    Ok(out)
}

/// A number drawn from a block: the block's row, the number, and the ID it makes.
type Drawn = (i64, u64, PatientId);

/// What `draw_ids` drew, passed over, and from which blocks.
struct Draw {
    drawn: Vec<Drawn>,
    /// Numbers the census already holds.
    skipped: Vec<PatientId>,
    blocks: Vec<IdBlock>,
}

impl Draw {
    /// Why fewer than `count` IDs were drawn, naming the blocks.
    fn shortage(&self, station: &str, count: usize) -> StoreError {
        let described: Vec<String> = self.blocks.iter().map(IdBlock::describe).collect();
        StoreError::Refused(if count > 1 {
            format!(
                "station {station} has {} downtime IDs left, not {count} ({}): ask the EHR team for a new block",
                self.drawn.len(),
                described.join(", ")
            )
        } else if !self.skipped.is_empty() {
            format!(
                "every downtime ID left in the blocks of station {station} is taken by a census patient: ask the EHR team for a new block"
            )
        } else {
            format!(
                "every downtime-ID block of station {station} is used up ({}): ask the EHR team for a new block",
                described.join(", ")
            )
        })
    }
}

/// Draws `count` numbers from `station`'s blocks, oldest block first, within `tx`. Numbers the
/// EHR already gave a census patient are skipped (and audited), so one clash never stops
/// registration during an outage. Fewer than `count` are drawn when the blocks run out: the
/// caller refuses (`Draw::shortage`).
fn draw_ids(
    tx: &super::db::Transaction<'_>,
    audit: &mut AuditWriter,
    actor: &Actor,
    station: &str,
    count: usize,
    now: &str,
) -> Result<Draw> {
    let blocks: Vec<(i64, IdBlock)> =
        read_blocks(tx, Some(station))?.into_iter().map(|b| (b.id, b.block)).collect();
    if blocks.is_empty() {
        return Err(StoreError::Refused(format!(
            "station {station} has no downtime-ID block: an administrator adds one (kamikarte block add)"
        )));
    }
    let mut drawn = Vec::with_capacity(count);
    let mut skipped = Vec::new();
    for (block_id, block) in &blocks {
        if drawn.len() == count {
            break;
        }
        let next: i64 = tx.query_row("SELECT next FROM id_blocks WHERE id = ?1", [block_id], |r| r.get(0))?;
        let mut number = next as u64;
        while number <= block.last && drawn.len() < count {
            let id = block.id_of(number);
            let taken: Option<String> = tx
                .query_row("SELECT id FROM patients WHERE id = ?1", [id.as_str()], |r| r.get(0))
                .optional()?;
            if taken.is_none() {
                drawn.push((*block_id, number, id));
            } else {
                let skip = json!({ "block": block.describe(), "id": id.as_str(), "reason": "ID already in the census" });
                audit.append(tx, actor, "skip", "id_block", &block_id.to_string(), None, Some(&skip))?;
                skipped.push(id);
            }
            number += 1;
        }
        // A block passed over untouched keeps its last change.
        if number != next as u64 {
            tx.execute(
                "UPDATE id_blocks SET next = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?1",
                params![block_id, number as i64, now, actor.0],
            )?;
        }
    }
    Ok(Draw { drawn, skipped, blocks: blocks.into_iter().map(|(_, b)| b).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> Actor {
        Actor("admin".into())
    }

    /// An outpatient to register under `id`.
    fn person(id: &PatientId) -> Patient {
        use crate::domain::{BloodType, DateOfBirth, KanaName, KanjiName, Location, Sex};
        Patient {
            id: id.clone(),
            name: KanjiName::parse("山田　花子").unwrap(),
            kana: KanaName::parse("ヤマダ　ハナコ").unwrap(),
            dob: DateOfBirth::parse("1980-01-01", chrono::Local::now().date_naive()).unwrap(),
            sex: Sex::Female,
            blood: BloodType::UNKNOWN,
            location: Location { ward: "OPD".into(), ..Location::default() },
            department: String::new(),
            allergies: Vec::new(),
        }
    }

    #[test]
    fn one_episode_runs_at_a_time_and_its_phase_and_end_are_recorded() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(store.open_episode().unwrap().is_none());
        let e = store.start_episode(&actor(), "ransomware", Phase::PastUnknown).unwrap();
        assert!(
            store
                .start_episode(&actor(), "again", Phase::PastUnknown)
                .unwrap_err()
                .to_string()
                .contains("still running")
        );
        assert_eq!(store.set_phase(&actor(), Phase::MinimalOrders).unwrap().phase, Phase::MinimalOrders);
        store.add_episode_note(&actor(), "lab on paper from 10:00").unwrap();
        assert_eq!(store.episode_notes(e.id).unwrap()[0].text, "lab on paper from 10:00");
        let ended = store.end_episode(&actor()).unwrap();
        assert!(ended.ended_at.is_some());
        assert!(store.open_episode().unwrap().is_none());
        assert!(store.set_phase(&actor(), Phase::Recovery).is_err());
        assert_eq!(store.episodes().unwrap().len(), 1);
        assert!(store.verify_audit().unwrap().first_broken.is_none());
    }

    #[test]
    fn overlapping_blocks_and_mixed_widths_are_refused_across_stations() {
        let mut store = Store::open_in_memory().unwrap();
        store.add_id_block(&actor(), "A", &IdBlock::new("DT", 100_000, 100_999).unwrap()).unwrap();
        let e =
            store.add_id_block(&actor(), "B", &IdBlock::new("DT", 100_500, 101_499).unwrap()).unwrap_err();
        assert!(e.to_string().contains("overlaps block DT100000–DT100999 of station A"), "{e}");
        store.add_id_block(&actor(), "B", &IdBlock::new("DT", 101_000, 101_999).unwrap()).unwrap();
        store.add_id_block(&actor(), "B", &IdBlock::new("DX", 100_000, 100_999).unwrap()).unwrap();
        let e = store.add_id_block(&actor(), "C", &IdBlock::new("DT", 1, 999).unwrap()).unwrap_err();
        assert!(e.to_string().contains("3-digit"), "{e}");
        assert_eq!(store.id_blocks().unwrap().len(), 3);
    }

    #[test]
    fn a_number_the_census_already_uses_is_skipped_and_audited() {
        let mut store = Store::open_in_memory().unwrap();
        let block = IdBlock::new("DT", 1, 9).unwrap();
        store.add_id_block(&actor(), "A", &block).unwrap();
        store.start_episode(&actor(), "drill", Phase::PatientInfo).unwrap();
        // The EHR gave DT1's number to a patient who is in the census.
        let clash = person(&block.id_of(1));
        store
            .apply_census(&actor(), &[clash], &crate::store::CensusApply::default(), &mut |_, _| {})
            .unwrap();
        let (p, skipped) = store
            .register_patient(&actor(), IdSource::Next("A"), RegistrationFlags::default(), person)
            .unwrap();
        assert_eq!(p.id, block.id_of(2));
        assert_eq!(skipped, vec![block.id_of(1)], "the clash is reported");
        let rec = store.id_blocks().unwrap().remove(0);
        assert_eq!((rec.next, rec.remaining()), (3, 7));
        assert!(
            store.audit_of("id_block", &rec.id.to_string(), 10).unwrap().iter().any(|e| e.action == "skip")
        );
        let supply = IdSupply::of(&store.id_blocks().unwrap(), "A");
        assert_eq!((supply.remaining, supply.running_low()), (7, false));

        // A block whose every number left is a census patient's: the refusal says so, and the
        // skips it found stay audited.
        let small = IdBlock::new("DX", 1, 2).unwrap();
        store.add_id_block(&actor(), "B", &small).unwrap();
        let both: Vec<Patient> = (1..=2).map(|n| person(&small.id_of(n))).collect();
        store.apply_census(&actor(), &both, &crate::store::CensusApply::default(), &mut |_, _| {}).unwrap();
        let e = store
            .register_patient(&actor(), IdSource::Next("B"), RegistrationFlags::default(), person)
            .unwrap_err()
            .to_string();
        assert!(e.contains("taken by a census patient"), "{e}");
        let b = store.id_blocks().unwrap().into_iter().find(|b| b.station == "B").unwrap();
        assert_eq!(b.next, 3, "the block's position past the census's numbers is kept");
        let skips = store.audit_of("id_block", &b.id.to_string(), 10).unwrap();
        assert_eq!(skips.iter().filter(|e| e.action == "skip").count(), 2);
    }

    #[test]
    fn packet_ids_are_reserved_past_registrations_and_each_registers_once() {
        let mut store = Store::open_in_memory().unwrap();
        let block = IdBlock::new("DT", 1, 5).unwrap();
        store.add_id_block(&actor(), "A", &block).unwrap();
        let (ids, skipped) = store.reserve_packet_ids(&actor(), "a", 3).unwrap();
        assert_eq!(ids, vec![block.id_of(1), block.id_of(2), block.id_of(3)]);
        assert!(skipped.is_empty());
        let e = store.reserve_packet_ids(&actor(), "A", 3).unwrap_err().to_string();
        assert!(e.contains("has 2 downtime IDs left, not 3"), "{e}");
        assert_eq!(store.id_blocks().unwrap()[0].next, 4, "a refused reservation draws nothing");

        store.start_episode(&actor(), "drill", Phase::PatientInfo).unwrap();
        // The next registration skips the reserved numbers; a packet registers under its own.
        let (next, _) = store
            .register_patient(&actor(), IdSource::Next("A"), RegistrationFlags::default(), person)
            .unwrap();
        assert_eq!(next.id, block.id_of(4));
        let packet = block.id_of(2);
        let (p, _) = store
            .register_patient(&actor(), IdSource::Packet(&packet), RegistrationFlags::default(), person)
            .unwrap();
        assert_eq!(p.id, packet);
        assert!(store.packet(&packet).unwrap().unwrap().registered_at.is_some());
        assert!(store.packet(&block.id_of(1)).unwrap().unwrap().registered_at.is_none());
        let again = store
            .register_patient(&actor(), IdSource::Packet(&packet), RegistrationFlags::default(), person)
            .unwrap_err()
            .to_string();
        assert!(again.contains("registered already"), "{again}");
        let stranger = store
            .register_patient(
                &actor(),
                IdSource::Packet(&block.id_of(5)),
                RegistrationFlags::default(),
                person,
            )
            .unwrap_err()
            .to_string();
        assert!(stranger.contains("no pre-printed packet"), "{stranger}");
        // A later census gives packet 3's number to a patient: the packet no longer registers.
        let clash = person(&block.id_of(3));
        store
            .apply_census(
                &actor(),
                std::slice::from_ref(&clash),
                &crate::store::CensusApply::default(),
                &mut |_, _| {},
            )
            .unwrap();
        let taken = store
            .register_patient(
                &actor(),
                IdSource::Packet(&block.id_of(3)),
                RegistrationFlags::default(),
                |id| Patient { name: crate::domain::KanjiName::parse("別人").unwrap(), ..person(id) },
            )
            .unwrap_err()
            .to_string();
        assert!(taken.contains("belongs to a census patient"), "{taken}");
        assert_eq!(
            store.patient(&block.id_of(3)).unwrap().unwrap().patient,
            clash,
            "the census patient is untouched"
        );
        assert!(store.registration(&packet).unwrap().is_some());
        assert!(
            store
                .audit_of("packet", block.id_of(1).as_str(), 5)
                .unwrap()
                .iter()
                .any(|e| e.action == "reserve")
        );
        assert!(store.verify_audit().unwrap().first_broken.is_none());
    }
}
