//! Scanned pages brought back after recovery: filing one page (one transaction each, so an
//! import killed at any moment resumes cleanly), the manual indexing queue, and what the
//! completeness report reads.

use std::collections::HashSet;

use super::db::{OptionalExtension, Row, Transaction, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::registry::read_printed_page;
use super::{Actor, PrintedPage, Result, Store, StoreError, now_text};
use crate::domain::{PageCode, PatientId, Serial};

/// Where a page came from: the source file's hash, the page inside it (1-based) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSource {
    pub sha256: String,
    pub page: u32,
    pub name: String,
}

/// The page image as stored in the page store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub sha256: String,
    /// Path relative to the page store.
    pub file: String,
    /// `png` or `jpeg`.
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What the barcode search found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A kamikarte page code.
    Code {
        code: PageCode,
        upside_down: bool,
    },
    /// A barcode that is not a kamikarte page code (another system's, or misread).
    Foreign(String),
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScannedPage {
    pub source: PageSource,
    pub image: StoredImage,
    pub reading: Reading,
}

/// Where a new page goes, decided before its row is written.
enum Placement {
    Filed(Option<String>),
    Queued(String),
    Duplicate(i64),
}

/// What became of one page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Filing {
    Filed {
        page: i64,
        warning: Option<String>,
    },
    Queued {
        page: i64,
        reason: String,
    },
    /// Another scan of a page already filed or queued (same serial).
    Duplicate {
        page: i64,
        of: i64,
    },
    /// Exactly this image is stored already (the same file scanned in twice, or copied).
    SameImage {
        of: i64,
    },
    /// This page of this source file was imported by an earlier run.
    AlreadyImported {
        page: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageState {
    Filed,
    Queued,
    Duplicate,
    SetAside,
}

impl PageState {
    pub fn code(self) -> &'static str {
        match self {
            PageState::Filed => "filed",
            PageState::Queued => "queued",
            PageState::Duplicate => "duplicate",
            PageState::SetAside => "set_aside",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [PageState::Filed, PageState::Queued, PageState::Duplicate, PageState::SetAside]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScannedPageRecord {
    pub id: i64,
    pub source_name: String,
    pub source_page: u32,
    pub image_file: String,
    pub image_format: String,
    pub width: u32,
    pub height: u32,
    pub upside_down: bool,
    pub barcode: Option<String>,
    pub state: PageState,
    pub reason: Option<String>,
    pub form_code: Option<String>,
    pub patient_id: Option<String>,
    /// `STATION-NUMBER` as printed.
    pub serial: Option<String>,
    pub duplicate_of: Option<i64>,
    pub warning: Option<String>,
    pub manual: bool,
    pub imported_at: String,
    pub imported_by: String,
}

/// A clerk's indexing of a queued page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub patient_id: PatientId,
    pub form_code: String,
    /// When the clerk typed the page code printed under an unreadable barcode.
    pub serial: Option<Serial>,
}

/// A printed page and whether it came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedPageState {
    pub page: PrintedPage,
    pub printed_at: String,
    /// The scanned page that brought it back (filed, or still waiting in the queue as a blank
    /// form), if any.
    pub scanned_as: Option<(i64, PageState)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScannedCounts {
    pub filed: u64,
    /// Filed although the registry does not know the serial (printed elsewhere) or by hand
    /// without one.
    pub filed_not_in_registry: u64,
    pub queued: u64,
    pub duplicates: u64,
    pub set_aside: u64,
}

const COLUMNS: &str = "id, source_name, source_page, image_file, image_format, width, height, upside_down,
    barcode, state, reason, form_code, patient_id, station, number, duplicate_of, warning, manual,
    imported_at, imported_by";

fn read_record(r: &Row<'_>) -> rusqlite::Result<(ScannedPageRecord, String)> {
    let station: Option<String> = r.get(13)?;
    let number: Option<i64> = r.get(14)?;
    let serial = match (station, number) {
        (Some(station), Some(n)) => Some(Serial { station, number: n as u64 }.to_string()),
        _ => None,
    };
    let state: String = r.get(9)?;
    Ok((
        ScannedPageRecord {
            id: r.get(0)?,
            source_name: r.get(1)?,
            source_page: r.get::<_, i64>(2)? as u32,
            image_file: r.get(3)?,
            image_format: r.get(4)?,
            width: r.get::<_, i64>(5)? as u32,
            height: r.get::<_, i64>(6)? as u32,
            upside_down: r.get(7)?,
            barcode: r.get(8)?,
            state: PageState::Queued,
            reason: r.get(10)?,
            form_code: r.get(11)?,
            patient_id: r.get(12)?,
            serial,
            duplicate_of: r.get(15)?,
            warning: r.get(16)?,
            manual: r.get(17)?,
            imported_at: r.get(18)?,
            imported_by: r.get(19)?,
        },
        state,
    ))
}

fn with_state((mut record, state): (ScannedPageRecord, String)) -> Result<ScannedPageRecord> {
    record.state = PageState::from_code(&state).ok_or_else(|| StoreError::Corrupt {
        entity: "scanned page",
        id: record.id.to_string(),
        field: "state",
        message: format!("unknown state '{state}'"),
    })?;
    Ok(record)
}

/// The page (filed or waiting in the queue) that already holds `serial`: its id, and whether it
/// is the same sheet as `code` (same barcode, or indexed to the same form and patient).
fn holder_of(tx: &Transaction<'_>, serial: &Serial, code: Option<&PageCode>) -> Result<Option<(i64, bool)>> {
    /// id, barcode, form, patient
    type Holder = (i64, Option<String>, Option<String>, Option<String>);
    let holder: Option<Holder> = tx
        .query_row(
            "SELECT id, barcode, form_code, patient_id FROM scanned_pages
             WHERE station = ?1 AND number = ?2 AND state IN ('filed', 'queued')
             ORDER BY state = 'filed' DESC, id LIMIT 1",
            params![serial.station, serial.number as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    Ok(holder.map(|(id, barcode, form, patient)| {
        let same = code.is_some_and(|c| {
            barcode.as_deref() == Some(c.encode().as_str())
                || (form.as_deref() == Some(c.form.as_str())
                    && patient.as_deref() == c.patient.as_ref().map(PatientId::as_str))
        });
        (id, same)
    }))
}

/// Why a page with this code is filed with a warning: the registry or the census does not
/// know what its barcode names (it may come from another station's kit).
fn filing_warning(tx: &Transaction<'_>, code: &PageCode, patient: &PatientId) -> Result<Option<String>> {
    let printed: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT form_code, patient_id FROM printed_pages WHERE station = ?1 AND number = ?2",
            params![code.serial.station, code.serial.number as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let mut warnings = Vec::new();
    match printed {
        None => warnings.push(format!(
            "serial {} is not in this database's printed-page registry (printed by another station?)",
            code.serial
        )),
        Some((form, registered))
            if form != code.form.as_str() || registered.as_deref() != Some(patient.as_str()) =>
        {
            warnings.push(format!(
                "the registry has serial {} as {form} for {}, the barcode says {} for {patient}",
                code.serial,
                registered.as_deref().unwrap_or("a blank form"),
                code.form.as_str()
            ))
        }
        Some(_) => {}
    }
    let known: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)", [patient.as_str()], |r| {
            r.get(0)
        })?;
    if !known {
        warnings.push(format!("patient {patient} is not in the census"));
    }
    Ok((!warnings.is_empty()).then(|| warnings.join("; ")))
}

impl Store {
    /// Every (source hash, page) already imported, so a new run can skip them without decoding.
    pub fn imported_sources(&self) -> Result<HashSet<(String, u32)>> {
        let mut stmt = self.conn.prepare("SELECT source_sha256, source_page FROM scanned_pages")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u32)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Files one scanned page: by its barcode when it carries a page code for a patient, else
    /// into the manual indexing queue; a second scan of a serial is kept as a duplicate. One
    /// transaction with its audit entry.
    pub fn file_scanned_page(&mut self, actor: &Actor, page: &NewScannedPage) -> Result<Filing> {
        // Immediate: it reads, then writes; a clerk indexing on another connection meanwhile
        // must make it wait (busy timeout), not fail it.
        let tx = self.begin()?;
        if let Some(id) = tx
            .query_row(
                "SELECT id FROM scanned_pages WHERE source_sha256 = ?1 AND source_page = ?2",
                params![page.source.sha256, page.source.page as i64],
                |r| r.get(0),
            )
            .optional()?
        {
            return Ok(Filing::AlreadyImported { page: id });
        }
        if let Some(of) = tx
            .query_row("SELECT id FROM scanned_pages WHERE image_sha256 = ?1", [&page.image.sha256], |r| {
                r.get(0)
            })
            .optional()?
        {
            return Ok(Filing::SameImage { of });
        }
        let (barcode, code, upside_down) = match &page.reading {
            Reading::Nothing => (None, None, false),
            Reading::Foreign(text) => (Some(text.clone()), None, false),
            Reading::Code { code, upside_down } => (Some(code.encode()), Some(code), *upside_down),
        };
        let placement = match (&page.reading, code) {
            (Reading::Foreign(text), _) => {
                Placement::Queued(format!("barcode '{text}' is not a kamikarte page code"))
            }
            (_, None) => Placement::Queued("no barcode found".into()),
            (_, Some(code)) => match (holder_of(&tx, &code.serial, Some(code))?, &code.patient) {
                (Some((of, true)), _) => Placement::Duplicate(of),
                // Another sheet with this serial: two stations printing with one station code, or
                // a restored database. Neither sheet may hide the other.
                (Some((other, false)), _) => Placement::Queued(format!(
                    "serial {} is already used by page {other}, another sheet (two stations with one station code?)",
                    code.serial
                )),
                (None, Some(patient)) => Placement::Filed(filing_warning(&tx, code, patient)?),
                (None, None) => Placement::Queued("blank form: assign the patient it was used for".into()),
            },
        };
        let (state, reason, warning, duplicate_of) = match &placement {
            Placement::Filed(warning) => ("filed", None, warning.clone(), None),
            Placement::Queued(reason) => ("queued", Some(reason.clone()), None, None),
            Placement::Duplicate(of) => ("duplicate", None, None, Some(*of)),
        };
        let now = now_text();
        tx.execute(
            "INSERT INTO scanned_pages (source_sha256, source_page, source_name, image_sha256, image_file,
                 image_format, width, height, upside_down, barcode, state, reason, form_code, patient_id,
                 station, number, duplicate_of, warning, imported_at, imported_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            params![
                page.source.sha256,
                page.source.page as i64,
                page.source.name,
                page.image.sha256,
                page.image.file,
                page.image.format,
                page.image.width as i64,
                page.image.height as i64,
                upside_down,
                barcode,
                state,
                reason,
                code.map(|c| c.form.as_str()),
                code.and_then(|c| c.patient.as_ref().map(PatientId::as_str)),
                code.map(|c| c.serial.station.as_str()),
                code.map(|c| c.serial.number as i64),
                duplicate_of,
                warning,
                now,
                actor.0,
            ],
        )?;
        let id = tx.last_insert_rowid();
        let detail = json!({
            "source": page.source.name, "page": page.source.page, "state": state,
            "barcode": barcode, "image": page.image.sha256, "reason": reason, "warning": warning,
        });
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "import", "scanned_page", &id.to_string(), None, Some(&detail))?;
        tx.commit()?;
        Ok(match placement {
            Placement::Filed(warning) => Filing::Filed { page: id, warning },
            Placement::Duplicate(of) => Filing::Duplicate { page: id, of },
            Placement::Queued(reason) => Filing::Queued { page: id, reason },
        })
    }

    pub fn scanned_page(&self, id: i64) -> Result<Option<ScannedPageRecord>> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM scanned_pages WHERE id = ?1"), [id], read_record)
            .optional()?
            .map(with_state)
            .transpose()
    }

    /// Scanned pages in one state (all when `None`), oldest first.
    pub fn scanned_pages(&self, state: Option<PageState>) -> Result<Vec<ScannedPageRecord>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM scanned_pages WHERE (?1 IS NULL OR state = ?1) ORDER BY id"
        ))?;
        let rows = stmt.query_map([state.map(PageState::code)], read_record)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?.into_iter().map(with_state).collect()
    }

    fn changing(
        &mut self,
        actor: &Actor,
        id: i64,
        action: &str,
        change: impl FnOnce(&Transaction<'_>, &ScannedPageRecord) -> Result<()>,
    ) -> Result<ScannedPageRecord> {
        let tx = self.begin()?;
        let before = tx
            .query_row(&format!("SELECT {COLUMNS} FROM scanned_pages WHERE id = ?1"), [id], read_record)
            .optional()?
            .map(with_state)
            .transpose()?
            .ok_or_else(|| StoreError::Refused(format!("there is no scanned page {id}")))?;
        change(&tx, &before)?;
        tx.execute(
            "UPDATE scanned_pages SET changed_at = ?2, changed_by = ?3 WHERE id = ?1",
            params![id, now_text(), actor.0],
        )?;
        let after = tx
            .query_row(&format!("SELECT {COLUMNS} FROM scanned_pages WHERE id = ?1"), [id], read_record)
            .map_err(StoreError::from)
            .and_then(with_state)?;
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            action,
            "scanned_page",
            &id.to_string(),
            Some(&serde_json::to_value(&before).unwrap_or_default()),
            Some(&serde_json::to_value(&after).unwrap_or_default()),
        )?;
        tx.commit()?;
        Ok(after)
    }

    /// Files a queued page by a clerk's hand. The patient must be in the census; a serial the
    /// clerk typed must not be filed already.
    pub fn assign_page(
        &mut self,
        actor: &Actor,
        id: i64,
        assignment: &Assignment,
    ) -> Result<ScannedPageRecord> {
        self.changing(actor, id, "assign", |tx, page| {
            if page.state != PageState::Queued {
                return Err(StoreError::Refused(format!(
                    "page {id} is {}, not in the queue; return it to the queue first",
                    page.state.code()
                )));
            }
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?1)",
                [assignment.patient_id.as_str()],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::Refused(format!(
                    "patient {} is not in the census; check the ID on the page",
                    assignment.patient_id
                )));
            }
            if let Some(serial) = &assignment.serial
                && let Some((holder, _)) = holder_of(tx, serial, None)?.filter(|&(h, _)| h != id)
            {
                return Err(StoreError::Refused(format!(
                    "serial {serial} is already filed as page {holder}: this page is a second scan of it"
                )));
            }
            // The page's own serial, unless another sheet already holds it (a serial printed
            // twice): then this sheet is filed without one, its barcode still on record.
            let own = match (&page.serial, page.barcode.as_deref().and_then(|b| PageCode::parse(b).ok())) {
                (Some(_), Some(code)) => holder_of(tx, &code.serial, None)?
                    .filter(|&(h, _)| h != id)
                    .is_none()
                    .then_some(code.serial),
                _ => None,
            };
            let serial = assignment.serial.clone().or(own);
            tx.execute(
                "UPDATE scanned_pages SET state = 'filed', reason = NULL, manual = 1, patient_id = ?2,
                     form_code = ?3, station = ?4, number = ?5
                 WHERE id = ?1",
                params![
                    id,
                    assignment.patient_id.as_str(),
                    assignment.form_code,
                    serial.as_ref().map(|s| s.station.clone()),
                    serial.as_ref().map(|s| s.number as i64)
                ],
            )?;
            Ok(())
        })
    }

    /// Sets a queued page aside (a separator sheet, a page of another system), with the reason.
    pub fn set_page_aside(&mut self, actor: &Actor, id: i64, reason: &str) -> Result<ScannedPageRecord> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Refused("say why the page is set aside".into()));
        }
        self.changing(actor, id, "set_aside", |tx, page| {
            if page.state != PageState::Queued {
                return Err(StoreError::Refused(format!(
                    "page {id} is {}, not in the queue",
                    page.state.code()
                )));
            }
            tx.execute(
                "UPDATE scanned_pages SET state = 'set_aside', reason = ?2 WHERE id = ?1",
                params![id, reason],
            )?;
            Ok(())
        })
    }

    /// Undoes a clerk's indexing or setting aside: the page waits in the queue again, with what
    /// its barcode said (if anything).
    pub fn requeue_page(&mut self, actor: &Actor, id: i64) -> Result<ScannedPageRecord> {
        self.changing(actor, id, "requeue", |tx, page| {
            let by_hand =
                page.state == PageState::SetAside || (page.state == PageState::Filed && page.manual);
            if !by_hand {
                return Err(StoreError::Refused(format!(
                    "page {id} was not indexed or set aside by hand; only that can be undone"
                )));
            }
            let code = page.barcode.as_deref().and_then(|b| PageCode::parse(b).ok());
            let reason = match (&code, page.barcode.as_deref()) {
                (Some(_), _) => "blank form: assign the patient it was used for".to_string(),
                (None, Some(text)) => format!("barcode '{text}' is not a kamikarte page code"),
                (None, None) => "no barcode found".to_string(),
            };
            tx.execute(
                "UPDATE scanned_pages SET state = 'queued', manual = 0, reason = ?2, patient_id = NULL,
                     form_code = ?3, station = ?4, number = ?5
                 WHERE id = ?1",
                params![
                    id,
                    reason,
                    code.as_ref().map(|c| c.form.as_str().to_string()),
                    code.as_ref().map(|c| c.serial.station.clone()),
                    code.as_ref().map(|c| c.serial.number as i64),
                ],
            )?;
            Ok(())
        })
    }

    /// Printed pages of the given forms (the ones that come back on paper), each with the
    /// scanned page filed for it.
    pub fn printed_page_states(&self, forms: &[String]) -> Result<Vec<PrintedPageState>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.station, p.number, p.form_code, p.form_id, p.patient_id, p.ward, p.file, p.created_at,
                    s.id, s.state
             FROM printed_pages p
             LEFT JOIN scanned_pages s ON s.id = (
                 SELECT id FROM scanned_pages WHERE station = p.station AND number = p.number
                   AND state IN ('filed', 'queued', 'set_aside') AND form_code = p.form_code
                   AND (p.patient_id IS NULL OR patient_id = p.patient_id)
                 ORDER BY state = 'filed' DESC, id LIMIT 1)
             ORDER BY p.station, p.number",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PrintedPageState {
                page: read_printed_page(r)?,
                printed_at: r.get(7)?,
                scanned_as: match (r.get::<_, Option<i64>>(8)?, r.get::<_, Option<String>>(9)?) {
                    (Some(id), Some(state)) => PageState::from_code(&state).map(|s| (id, s)),
                    _ => None,
                },
            })
        })?;
        let all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(all.into_iter().filter(|p| forms.contains(&p.page.form_id)).collect())
    }

    /// The page filed for a printed serial, if it is back.
    pub fn filed_page_of(&self, serial: &Serial) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM scanned_pages WHERE station = ?1 AND number = ?2 AND state = 'filed'",
                params![serial.station, serial.number as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn scanned_counts(&self) -> Result<ScannedCounts> {
        Ok(self.conn.query_row(
            "SELECT
                 COUNT(*) FILTER (WHERE state = 'filed'),
                 COUNT(*) FILTER (WHERE state = 'filed' AND NOT EXISTS (
                     SELECT 1 FROM printed_pages p WHERE p.station = s.station AND p.number = s.number)),
                 COUNT(*) FILTER (WHERE state = 'queued'),
                 COUNT(*) FILTER (WHERE state = 'duplicate'),
                 COUNT(*) FILTER (WHERE state = 'set_aside')
             FROM scanned_pages s",
            [],
            |r| {
                Ok(ScannedCounts {
                    filed: r.get::<_, i64>(0)? as u64,
                    filed_not_in_registry: r.get::<_, i64>(1)? as u64,
                    queued: r.get::<_, i64>(2)? as u64,
                    duplicates: r.get::<_, i64>(3)? as u64,
                    set_aside: r.get::<_, i64>(4)? as u64,
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FormCode;

    fn actor() -> Actor {
        Actor("clerk".into())
    }

    /// A scanned page from source `n`, reading `reading`.
    fn page(n: u32, reading: Reading) -> NewScannedPage {
        NewScannedPage {
            source: PageSource { sha256: format!("src{n}"), page: 1, name: format!("scan-{n}.png") },
            image: StoredImage {
                sha256: format!("img{n}"),
                file: format!("im/img{n}.png"),
                format: "png",
                width: 10,
                height: 10,
            },
            reading,
        }
    }

    fn blank_pn(number: u64) -> Reading {
        let code = PageCode {
            form: FormCode::parse("PN").unwrap(),
            patient: None,
            serial: Serial::new("A", number).unwrap(),
        };
        Reading::Code { code, upside_down: false }
    }

    #[test]
    fn a_blank_form_waits_in_the_queue_and_its_second_scan_is_a_duplicate() {
        let mut store = Store::open_in_memory().unwrap();
        let first = store.file_scanned_page(&actor(), &page(1, blank_pn(7))).unwrap();
        let Filing::Queued { page: id, reason } = first else { panic!("{first:?}") };
        assert!(reason.contains("blank form"));
        assert_eq!(
            store.file_scanned_page(&actor(), &page(2, blank_pn(7))).unwrap(),
            Filing::Duplicate { page: id + 1, of: id }
        );
        assert_eq!(
            store.file_scanned_page(&actor(), &page(1, blank_pn(7))).unwrap(),
            Filing::AlreadyImported { page: id }
        );
        let mut same = page(3, Reading::Nothing);
        same.image.sha256 = "img1".into();
        assert_eq!(store.file_scanned_page(&actor(), &same).unwrap(), Filing::SameImage { of: id });
        let counts = store.scanned_counts().unwrap();
        assert_eq!((counts.queued, counts.duplicates, counts.filed), (1, 1, 0));
    }

    #[test]
    fn another_sheet_with_a_used_serial_waits_in_the_queue_instead_of_hiding_as_a_duplicate() {
        let mut store = Store::open_in_memory().unwrap();
        let for_patient = |patient: &str| {
            let code = PageCode {
                form: FormCode::parse("PN").unwrap(),
                patient: Some(PatientId::parse(patient).unwrap()),
                serial: Serial::new("A", 5).unwrap(),
            };
            Reading::Code { code, upside_down: false }
        };
        let Filing::Filed { page: first, .. } =
            store.file_scanned_page(&actor(), &page(1, for_patient("10000017"))).unwrap()
        else {
            panic!()
        };
        let other = store.file_scanned_page(&actor(), &page(2, for_patient("10000031"))).unwrap();
        let Filing::Queued { reason, .. } = other else { panic!("{other:?}") };
        assert!(reason.contains(&format!("already used by page {first}, another sheet")), "{reason}");
        let again = store.file_scanned_page(&actor(), &page(3, for_patient("10000017"))).unwrap();
        assert!(matches!(again, Filing::Duplicate { of, .. } if of == first), "{again:?}");
    }

    #[test]
    fn setting_aside_and_requeueing_restore_the_reason_and_a_held_serial_is_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let Filing::Queued { page: foreign, .. } =
            store.file_scanned_page(&actor(), &page(1, Reading::Foreign("INV-1".into()))).unwrap()
        else {
            panic!()
        };
        assert!(store.set_page_aside(&actor(), foreign, " ").is_err(), "a reason is needed");
        let aside = store.set_page_aside(&actor(), foreign, "invoice of the lab").unwrap();
        assert_eq!(aside.state, PageState::SetAside);
        assert!(store.set_page_aside(&actor(), foreign, "again").is_err(), "only from the queue");
        let back = store.requeue_page(&actor(), foreign).unwrap();
        assert_eq!(back.state, PageState::Queued);
        assert_eq!(back.reason.as_deref(), Some("barcode 'INV-1' is not a kamikarte page code"));

        let Filing::Queued { page: blank, .. } =
            store.file_scanned_page(&actor(), &page(2, blank_pn(9))).unwrap()
        else {
            panic!()
        };
        // The assignment's patient must be in the census (none here) and its serial free.
        let assignment = Assignment {
            patient_id: PatientId::parse("10000017").unwrap(),
            form_code: "PN".into(),
            serial: Some(Serial::new("A", 9).unwrap()),
        };
        let e = store.assign_page(&actor(), foreign, &assignment).unwrap_err();
        assert!(e.to_string().contains("not in the census"), "{e}");
        assert!(store.requeue_page(&actor(), blank).is_err(), "nothing to undo on a page no one indexed");
        assert!(store.verify_audit().unwrap().first_broken.is_none());
    }
}
