//! Form definitions: the shipped set in `forms/` (compiled in, so the program is self-contained)
//! and a hospital's own folder, whose files replace shipped forms of the same name or add new ones.

mod definition;
mod export_key;
pub mod view;

use std::path::Path;

pub use definition::{
    BarcodeSpec, DEFAULT_SCAN_ACTION, FIELD_LABEL_MM, Family, FieldDef, FieldType, FormDefinition, FormError,
    Layout, MIN_MODULE_MM, ScanSpec, TICK_BOX_MM, TickBox, TickOption,
};
pub use export_key::{ExportKey, ExportKeyError, FormKind, Segment, keys};

/// The shipped definitions: (id, text).
pub const BUILT_IN: [(&str, &str); 13] = [
    ("wristband_adult", include_str!("../../forms/wristband_adult.toml")),
    ("wristband_infant", include_str!("../../forms/wristband_infant.toml")),
    ("labels", include_str!("../../forms/labels.toml")),
    ("progress_note", include_str!("../../forms/progress_note.toml")),
    ("vital_signs", include_str!("../../forms/vital_signs.toml")),
    ("mar", include_str!("../../forms/mar.toml")),
    ("lab_order", include_str!("../../forms/lab_order.toml")),
    ("imaging_order", include_str!("../../forms/imaging_order.toml")),
    ("prescription", include_str!("../../forms/prescription.toml")),
    ("injection_order", include_str!("../../forms/injection_order.toml")),
    ("diet_order", include_str!("../../forms/diet_order.toml")),
    ("charge_slip", include_str!("../../forms/charge_slip.toml")),
    ("summary", include_str!("../../forms/summary.toml")),
];

/// The shipped forms, in kit order.
pub fn built_in() -> Vec<FormDefinition> {
    BUILT_IN
        .iter()
        .map(|(id, text)| {
            FormDefinition::parse(text, &format!("forms/{id}.toml"), id)
                .expect("shipped forms are valid (tested)")
        })
        .collect()
}

/// The shipped forms overlaid with every `*.toml` in `dir`. Any broken file is an error naming
/// it: a kit must never print from a definition that did not load.
pub fn load(dir: Option<&Path>) -> Result<Vec<FormDefinition>, FormError> {
    let mut forms = built_in();
    let Some(dir) = dir else { return Ok(forms) };
    let io = |message: String| FormError { file: dir.display().to_string(), key: String::new(), message };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(format!("cannot read the forms folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| FormError {
            file: file.clone(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let form = FormDefinition::parse(&text, &file, &id)?;
        match forms.iter_mut().find(|f| f.id == id) {
            Some(existing) => *existing = form,
            None => forms.push(form),
        }
    }
    let mut codes = std::collections::HashMap::new();
    for f in &forms {
        if let Some(other) = codes.insert(f.code.as_str().to_string(), f.id.clone()) {
            return Err(FormError {
                file: format!("forms/{}.toml", f.id),
                key: "code".into(),
                message: format!("code '{}' is also used by form '{other}'", f.code.as_str()),
            });
        }
    }
    Ok(forms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_form_loads_with_a_unique_code() {
        let forms = load(None).unwrap();
        assert_eq!(forms.len(), 13);
        let codes: std::collections::HashSet<_> = forms.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes.len(), 13);
        for family in Family::ALL {
            assert!(forms.iter().any(|f| f.family == family), "{family:?}");
        }
    }

    #[test]
    fn a_hospital_folder_replaces_a_form_and_a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILT_IN[3].1.replace("経過記録", "看護記録");
        std::fs::write(dir.path().join("progress_note.toml"), text).unwrap();
        let forms = load(Some(dir.path())).unwrap();
        assert_eq!(forms.iter().find(|f| f.id == "progress_note").unwrap().title, "看護記録");
        std::fs::write(dir.path().join("zz_broken.toml"), "code = \"PN\"\n").unwrap();
        let e = load(Some(dir.path())).unwrap_err();
        assert!(e.file.ends_with("zz_broken.toml"), "{e}");
    }
}
