//! The printed-page registry: serials reserved per station (never reused, even if a kit fails),
//! and every page a kit printed.

use super::db::params;

use super::audit::AuditWriter;
use super::{Actor, Result, Store, now_text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedPage {
    pub station: String,
    pub number: u64,
    pub form_code: String,
    pub form_id: String,
    pub patient_id: Option<String>,
    pub ward: String,
    pub file: String,
}

/// A printed page from the first seven columns of a row: station, number, form_code, form_id,
/// patient_id, ward, file.
pub(super) fn read_printed_page(r: &super::db::Row<'_>) -> rusqlite::Result<PrintedPage> {
    Ok(PrintedPage {
        station: r.get(0)?,
        number: r.get::<_, i64>(1)? as u64,
        form_code: r.get(2)?,
        form_id: r.get(3)?,
        patient_id: r.get(4)?,
        ward: r.get(5)?,
        file: r.get(6)?,
    })
}

impl Store {
    /// Reserves `count` consecutive serial numbers for `station` and returns the first. A
    /// reserved number is never handed out again, printed or not.
    pub fn reserve_serials(&mut self, station: &str, count: u64) -> Result<u64> {
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO station_counters (station, next_number) VALUES (?1, 1) ON CONFLICT DO NOTHING",
            [station],
        )?;
        let first: i64 =
            tx.query_row("SELECT next_number FROM station_counters WHERE station = ?1", [station], |r| {
                r.get(0)
            })?;
        tx.execute(
            "UPDATE station_counters SET next_number = ?2 WHERE station = ?1",
            params![station, first + count as i64],
        )?;
        tx.commit()?;
        Ok(first as u64)
    }

    /// Records a kit and all its pages in one transaction, with one audit entry for the kit.
    pub fn record_kit(
        &mut self,
        actor: &Actor,
        out_dir: &str,
        files: usize,
        pages: &[PrintedPage],
    ) -> Result<i64> {
        let tx = self.begin()?;
        let now = now_text();
        tx.execute(
            "INSERT INTO kits (out_dir, pages, files, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![out_dir, pages.len() as i64, files as i64, now, actor.0],
        )?;
        let kit = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO printed_pages (station, number, form_code, form_id, patient_id, ward, file, kit_id, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for p in pages {
                stmt.execute(params![
                    p.station,
                    p.number as i64,
                    p.form_code,
                    p.form_id,
                    p.patient_id,
                    p.ward,
                    p.file,
                    kit,
                    now,
                    actor.0
                ])?;
            }
        }
        let detail = serde_json::json!({ "out_dir": out_dir, "pages": pages.len(), "files": files });
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(&tx, actor, "print", "kit", &kit.to_string(), None, Some(&detail))?;
        tx.commit()?;
        Ok(kit)
    }

    /// Pages printed (all kits), optionally for one patient.
    pub fn printed_pages(&self, patient_id: Option<&str>) -> Result<Vec<PrintedPage>> {
        let mut stmt = self.conn.prepare(
            "SELECT station, number, form_code, form_id, patient_id, ward, file FROM printed_pages
             WHERE (?1 IS NULL OR patient_id = ?1) ORDER BY station, number",
        )?;
        let rows = stmt.query_map([patient_id], read_printed_page)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
