//! `census export`: the census as a CSV that `census import` reads back with the built-in
//! mapping (UTF-8 with BOM, so spreadsheet programs on Japanese Windows open it correctly).

use std::io::Write;
use std::path::Path;

use super::mapping::{ColumnMapping, Field};
use crate::domain::formula_safe;
use crate::store::PatientRecord;

pub fn write_census_csv(records: &[PatientRecord], out: &mut dyn Write) -> std::io::Result<()> {
    let mapping = ColumnMapping::default_mapping();
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    w.write_record(Field::ALL.map(|f| mapping.primary(f)))?;
    for r in records {
        let p = &r.patient;
        let cells = [
            p.id.as_str(),
            p.name.as_str(),
            p.kana.as_str(),
            &p.dob.iso(),
            p.sex.code(),
            &p.blood.code(),
            &p.location.ward,
            &p.location.room,
            &p.location.bed,
            &p.department,
            &p.allergies.join(";"),
        ];
        w.write_record(cells.map(|c| formula_safe(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

/// Writes to a temporary file beside `path` and renames it into place, so a reader never sees a
/// half-written census.
pub fn export_census_file(records: &[PatientRecord], path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    write_census_csv(records, &mut bytes)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir_all(dir)?;
    }
    crate::files::write_private_atomic(path, &bytes, true)
}
