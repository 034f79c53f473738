//! The scan station: a nurse scans a wristband, checks ID + name + date of birth on screen, then
//! scans the slips and pages of that patient; each is recorded as an event.
//!
//! Rules, in the order they are applied:
//! 1. While a wrong-patient stop is open, every scan is ignored until a person dismisses it.
//! 2. A scan that is not a valid page code or patient ID (or a downtime ID with a wrong check
//!    character) is refused with the reason.
//! 3. The active patient is let go after the configured time without a scan, or by hand (Esc).
//! 4. A patient ID (wristband or label) with nobody active makes that patient active. The same
//!    patient's ID again changes nothing. **Another patient's ID while one is active is a hard
//!    stop**: specimen labels carry the bare patient ID too, and a label of patient B on patient
//!    A's tube is exactly the mistake to stop. Moving to the next patient is an explicit Esc.
//! 5. A page or slip needs an active patient. One printed for another patient is a hard stop;
//!    a blank form is recorded for the active patient.
//! 6. A page already recorded for another patient (a blank form used twice) is a hard stop.
//! 7. A slip already recorded is a duplicate, whenever it is scanned again; a sheet used again and
//!    again (the form's `scan.repeat`, e.g. the MAR: one scan per dose) is a duplicate only
//!    within the duplicate window.

use chrono::{DateTime, Duration, Local, SecondsFormat, Utc};

use crate::auth::{AuthError, Session};
use crate::domain::kana::readings_alike;
use crate::domain::{
    FieldError, PageCode, Patient, PatientId, Permission, Scanned, VolumeCategory, check_typed_id,
};
use crate::form::{DEFAULT_SCAN_ACTION, FormDefinition};
use crate::store::{Actor, NewScanEvent, ScanEventRecord, ScanFacts, ScanKind, Settings, Store, StoreError};

/// The patient being worked on.
#[derive(Debug, Clone, PartialEq)]
pub struct Active {
    pub patient: Patient,
    /// Registered during downtime (so their ID is a downtime ID).
    pub downtime: bool,
    pub outpatient: bool,
    pub last_scan: DateTime<Utc>,
    /// Other patients whose reading is the same or nearly the same (同姓同名): shown beside the
    /// identity, because a name alone does not tell them apart — the date of birth does.
    pub similar: Vec<Patient>,
}

/// A wrong-patient stop on screen: both identities, until a person dismisses it.
#[derive(Debug, Clone, PartialEq)]
pub struct HardStop {
    pub event_id: i64,
    pub active: Patient,
    /// The scanned item's patient, when the database knows them.
    pub item_patient: Option<Patient>,
    pub item_patient_id: String,
    /// What was scanned, e.g. `検体検査伝票 Lab order slip` or `リストバンド/ラベル Wristband or label`.
    pub item: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A patient is now active (or was already: `again`).
    Identified { patient: Patient, again: bool },
    /// An item was recorded for the active patient.
    Recorded { event: ScanEventRecord, what: String },
    /// The same code was recorded moments ago; nothing new was recorded.
    Duplicate { previous: ScanEventRecord, what: String },
    /// Another patient's item: the hard stop now on screen.
    WrongPatient(HardStop),
    /// Not recorded, with the reason (bad code, unknown patient, no active patient…).
    Refused(String),
    /// Ignored because a stop is open.
    Ignored,
}

pub struct Station {
    station: String,
    forms: Vec<FormDefinition>,
    settings: Settings,
    active: Option<Active>,
    stop: Option<HardStop>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a scan could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Station {
    /// A station reading its settings and forms; re-opens any stop left undismissed (a restart
    /// must not clear a wrong-patient stop).
    pub fn open(store: &Store, forms: Vec<FormDefinition>) -> Result<Self, StoreError> {
        let settings = store.settings()?;
        let station = settings.station()?.to_string();
        let mut me = Self { station, forms, settings, active: None, stop: None };
        if let Some(open) = store.open_stops(&me.station)?.into_iter().next() {
            let lookup = |id: &Option<String>| -> Result<Option<Patient>, StoreError> {
                let Some(id) = id.as_deref().and_then(|i| PatientId::parse(i).ok()) else { return Ok(None) };
                Ok(store.patient(&id)?.map(|r| r.patient))
            };
            if let Some(active) = lookup(&open.facts.patient_id)? {
                me.stop = Some(HardStop {
                    event_id: open.id,
                    active,
                    item_patient: lookup(&open.facts.other_patient_id)?,
                    item_patient_id: open.facts.other_patient_id.clone().unwrap_or_default(),
                    item: open.facts.action.clone(),
                });
            }
        }
        Ok(me)
    }

    pub fn active(&self) -> Option<&Active> {
        self.active.as_ref()
    }

    pub fn stop(&self) -> Option<&HardStop> {
        self.stop.as_ref()
    }

    /// Lets go of the active patient (Esc: "next patient").
    pub fn finish_patient(&mut self) {
        self.active = None;
    }

    /// Lets go of the active patient once the timeout has passed without a scan.
    pub fn expire(&mut self, now: DateTime<Utc>) -> bool {
        let timeout = Duration::seconds(self.settings.scan_patient_timeout_seconds.into());
        if self.active.as_ref().is_some_and(|a| now - a.last_scan > timeout) {
            self.active = None;
            return true;
        }
        false
    }

    /// Records that a person looked at the stop and dismissed it.
    /// The active patient is let go as well: after a wrong-patient stop, the nurse starts again
    /// from the wristband of the patient in front of them, never from an assumption.
    pub fn dismiss(&mut self, store: &mut Store, session: &Session) -> Result<(), StationError> {
        session.require(Permission::ScanStation)?;
        if let Some(stop) = &self.stop {
            store.dismiss_scan(&session.actor(), stop.event_id)?;
            self.stop = None;
            self.active = None;
        }
        Ok(())
    }

    /// Handles one scanned (or typed) code.
    pub fn scan(
        &mut self,
        store: &mut Store,
        session: &Session,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StationError> {
        session.require(Permission::ScanStation)?;
        let actor = &session.actor();
        if self.stop.is_some() {
            return Ok(Outcome::Ignored);
        }
        let scanned = match Scanned::parse(text) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Outcome::Refused(format!("読めないコード Not a code we print: {}", e.message)));
            }
        };
        self.expire(now);
        let outcome = match scanned {
            Scanned::Patient(id) => self.scan_patient(store, actor, id, now),
            Scanned::Page(code) => self.scan_page(store, actor, code, now),
        };
        // A scan that could not be written (a locked or full disk) leaves no patient active: the
        // next slip must not be recorded for a patient whose stop or check never reached the screen.
        if outcome.is_err() {
            self.active = None;
        }
        Ok(outcome?)
    }

    fn check_id(&self, store: &Store, id: &PatientId) -> Result<Result<(), FieldError>, StoreError> {
        let blocks: Vec<_> = store.id_blocks()?.into_iter().map(|b| b.block).collect();
        Ok(check_typed_id(id, &blocks))
    }

    fn scan_patient(
        &mut self,
        store: &mut Store,
        actor: &Actor,
        id: PatientId,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        if let Err(e) = self.check_id(store, &id)? {
            return Ok(Outcome::Refused(e.message));
        }
        let payload = id.to_string();
        // Another patient's ID while one is active stops, whether or not this station knows them
        // (a label from another ward is as wrong as one from this ward).
        if let Some(active) = &mut self.active {
            if active.patient.id == id {
                active.last_scan = now;
                let patient = active.patient.clone();
                return Ok(Outcome::Identified { patient, again: true });
            }
            let known = store.patient(&id)?.map(|r| r.patient);
            let item = "リストバンド/ラベル Wristband or label".to_string();
            return self.hard_stop(store, actor, &payload, known, id.to_string(), item, None, now);
        }
        let Some(record) = store.patient(&id)? else {
            // A pre-printed packet's band before its patient is registered: say what to do.
            if store.packet(&id)?.is_some() {
                return Ok(Outcome::Refused(format!(
                    "未登録のパケット Packet {id} is not registered yet: register the patient under it first (F3, scan the band into the packet field)"
                )));
            }
            return Ok(Outcome::Refused(format!(
                "患者が見つかりません No patient with ID {id} in this station's census"
            )));
        };
        let registration = store.registration(&id)?;
        let similar = store
            .patients(None, false)?
            .into_iter()
            .map(|r| r.patient)
            .filter(|p| p.id != id && readings_alike(p.kana.as_str(), record.patient.kana.as_str()))
            .collect();
        self.active = Some(Active {
            patient: record.patient.clone(),
            downtime: registration.is_some(),
            outpatient: registration.is_some_and(|r| r.flags.outpatient),
            last_scan: now,
            similar,
        });
        let event = self.event(
            ScanKind::Identify,
            "本人確認 Identity checked",
            &payload,
            Some(&id),
            None,
            None,
            now,
            store,
        )?;
        store.record_scan(actor, &event)?;
        Ok(Outcome::Identified { patient: record.patient, again: false })
    }

    #[allow(clippy::too_many_arguments)]
    fn hard_stop(
        &mut self,
        store: &mut Store,
        actor: &Actor,
        payload: &str,
        item_patient: Option<Patient>,
        item_patient_id: String,
        item: String,
        code: Option<&PageCode>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let active = self.active.as_ref().expect("a stop needs an active patient").patient.clone();
        let mut event = self.event(
            ScanKind::WrongPatient,
            &format!("患者違い Wrong patient: {item}"),
            payload,
            Some(&active.id),
            code,
            None,
            now,
            store,
        )?;
        event.facts.other_patient_id = Some(item_patient_id.clone());
        let recorded = store.record_scan(actor, &event)?;
        let stop = HardStop { event_id: recorded.id, active, item_patient, item_patient_id, item };
        self.stop = Some(stop.clone());
        Ok(Outcome::WrongPatient(stop))
    }

    fn scan_page(
        &mut self,
        store: &mut Store,
        actor: &Actor,
        code: PageCode,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let form = self.forms.iter().find(|f| f.code == code.form);
        let what = form.map_or_else(
            || format!("様式 {} Form {}", code.form.as_str(), code.form.as_str()),
            |f| format!("{} {}", f.title, f.title_en),
        );
        let Some(active) = self.active.clone() else {
            return Ok(Outcome::Refused(format!(
                "先にリストバンドをスキャン Scan the patient's wristband first ({what})"
            )));
        };
        let payload = code.encode();
        if let Some(item_patient) = &code.patient
            && *item_patient != active.patient.id
        {
            let known = store.patient(item_patient)?.map(|r| r.patient);
            return self.hard_stop(
                store,
                actor,
                &payload,
                known,
                item_patient.to_string(),
                what,
                Some(&code),
                now,
            );
        }
        // A sheet already recorded for someone else (a blank form) is the wrong patient too.
        let earlier = store.last_item_of(&payload)?;
        if let Some(e) = &earlier
            && e.facts.patient_id.as_deref() != Some(active.patient.id.as_str())
        {
            let other = e.facts.patient_id.clone().unwrap_or_default();
            let known = match PatientId::parse(&other) {
                Ok(id) => store.patient(&id)?.map(|r| r.patient),
                Err(_) => None,
            };
            return self.hard_stop(store, actor, &payload, known, other, what, Some(&code), now);
        }
        // A slip is one order: scanned again at any time it is a duplicate. A sheet used again
        // and again (the MAR: one scan per dose) is a duplicate only within the short window.
        let repeatable = form.is_some_and(FormDefinition::scan_repeats);
        let since = ts(now - Duration::seconds(self.settings.scan_duplicate_seconds.into()));
        let duplicate = if repeatable { store.last_scan_of(&payload, &since)? } else { earlier };
        if let Some(previous) = duplicate {
            self.active.as_mut().expect("checked").last_scan = now;
            return Ok(Outcome::Duplicate { previous, what });
        }
        let action = form.map_or(DEFAULT_SCAN_ACTION, FormDefinition::scan_action).to_string();
        let volume =
            form.and_then(FormDefinition::order_kind).map(|k| VolumeCategory::of(k, active.outpatient));
        let event = self.event(
            ScanKind::Item,
            &action,
            &payload,
            Some(&active.patient.id),
            Some(&code),
            volume,
            now,
            store,
        )?;
        let recorded = store.record_scan(actor, &event)?;
        self.active.as_mut().expect("checked").last_scan = now;
        let what = if code.patient.is_none() { format!("{what} (白紙 blank form)") } else { what };
        Ok(Outcome::Recorded { event: recorded, what })
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        kind: ScanKind,
        action: &str,
        payload: &str,
        patient: Option<&PatientId>,
        code: Option<&PageCode>,
        volume: Option<VolumeCategory>,
        now: DateTime<Utc>,
        store: &Store,
    ) -> Result<NewScanEvent, StoreError> {
        Ok(NewScanEvent {
            episode_id: store.open_episode()?.map(|e| e.id),
            at: now,
            day: now.with_timezone(&Local).format("%Y-%m-%d").to_string(),
            facts: ScanFacts {
                station: self.station.clone(),
                kind,
                action: action.to_string(),
                payload: payload.to_string(),
                patient_id: patient.map(ToString::to_string),
                other_patient_id: None,
                form_code: code.map(|c| c.form.as_str().to_string()),
                serial: code.map(|c| c.serial.to_string()),
                volume: volume.map(|v| v.code().to_string()),
            },
        })
    }
}
