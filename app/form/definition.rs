//! A form definition: one TOML file in `forms/` drives the printed layout, the back-entry screen
//! (the same fields, in reading order, with types and validation) and the export mapping (each
//! field's `export` key). Coordinates are millimetres from the page's top-left corner, as a form
//! designer measures them on paper.

use super::export_key::{ExportKey, FormKind, keys};
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use crate::domain::{FormCode, MasterKind, OrderKind};

/// The thinnest bar a 203-dpi thermal printer draws reliably (2 dots) and a 200-dpi scanner still
/// resolves: 0.25 mm.
pub const MIN_MODULE_MM: f32 = 0.25;

/// Which printer a form goes to; the kit writes one PDF per ward per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Wristband printer (thermal, band stock).
    Wristbands,
    /// Label sheets (A4 label stock).
    Labels,
    /// Charts kept at the bedside (A4 plain paper).
    Charts,
    /// Order and charge slips (A4 plain paper, go to departments).
    Slips,
}

impl Family {
    pub const ALL: [Family; 4] = [Family::Wristbands, Family::Labels, Family::Charts, Family::Slips];

    pub fn name(self) -> &'static str {
        match self {
            Family::Wristbands => "wristbands",
            Family::Labels => "labels",
            Family::Charts => "charts",
            Family::Slips => "slips",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Layout {
    /// A sheet with the patient header, the page barcode and fields.
    Page,
    /// A band: the patient ID as Code 128 (what bedside scanners read), ID, kana, kanji, DOB,
    /// sex, blood type, hospital.
    Wristband,
    /// A sheet of identical labels (chart and specimen labels), each with the patient ID barcode.
    Labels {
        columns: u32,
        rows: u32,
        label_width_mm: f32,
        label_height_mm: f32,
        left_mm: f32,
        top_mm: f32,
        #[serde(default)]
        gap_x_mm: f32,
        #[serde(default)]
        gap_y_mm: f32,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarcodeSpec {
    pub x_mm: f32,
    pub y_mm: f32,
    /// Width of the narrowest bar.
    pub module_mm: f32,
    pub height_mm: f32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TickOption {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum FieldType {
    Text {
        #[serde(default)]
        max_chars: Option<u32>,
    },
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        decimals: u32,
        #[serde(default)]
        unit: Option<String>,
    },
    Date,
    Time,
    /// A code from a master (lab tests, drugs, charges), typed or picked at back-entry.
    Code {
        master: String,
    },
    /// One box to tick.
    Tick,
    /// A list of boxes to tick, read back by their known positions (OMR).
    Ticks {
        options: Vec<TickOption>,
        #[serde(default = "one")]
        columns: u32,
        /// The master whose codes the options are (`charges`, `lab_tests`): each option's code
        /// is checked against it when the master is imported or the forms are checked.
        #[serde(default)]
        master: Option<String>,
    },
    /// Free writing, ruled with `lines` lines; typed from handwriting at back-entry.
    Area {
        lines: u32,
    },
}

fn one() -> u32 {
    1
}

/// The largest counts a definition may ask for: a hospital's own form is data, and a typo such
/// as `lines = 4000000000` must be an error naming the key, not gigabytes of drawing.
const MAX_LABEL_COLUMNS: u32 = 20;
const MAX_LABEL_ROWS: u32 = 40;
const MAX_TICK_OPTIONS: usize = 200;
const MAX_TICK_COLUMNS: u32 = 10;
const MAX_TEXT_CHARS: u32 = 10_000;
const MAX_DECIMALS: u32 = 6;
const MAX_AGE_YEARS: u32 = 150;
/// Ruled lines at least 2 mm apart.
const MIN_LINE_SPACING_MM: f32 = 2.0;
const MAX_BARCODE_MODULE_MM: f32 = 2.0;

/// Every number of a definition is finite and within reason; each error names its key.
fn check_bounds(raw: &FormFile) -> Result<(), (String, String)> {
    let mm = |key: &str, v: f32| {
        if v.is_finite() && (0.0..=1000.0).contains(&v) {
            Ok(())
        } else {
            Err((key.to_string(), format!("{v} is not a length in mm (0 to 1000)")))
        }
    };
    let count = |key: &str, v: u32, max: u32| {
        if v <= max { Ok(()) } else { Err((key.to_string(), format!("{v} is more than {max}"))) }
    };
    mm("width_mm", raw.width_mm)?;
    mm("height_mm", raw.height_mm)?;
    mm("margin_mm", raw.margin_mm)?;
    for (key, age) in [("min_age_years", raw.min_age_years), ("max_age_years", raw.max_age_years)] {
        count(key, age.unwrap_or(0), MAX_AGE_YEARS)?;
    }
    if let Layout::Labels {
        columns,
        rows,
        label_width_mm,
        label_height_mm,
        left_mm,
        top_mm,
        gap_x_mm,
        gap_y_mm,
    } = &raw.layout
    {
        count("layout.columns", *columns, MAX_LABEL_COLUMNS)?;
        count("layout.rows", *rows, MAX_LABEL_ROWS)?;
        for (key, v) in [
            ("layout.label_width_mm", label_width_mm),
            ("layout.label_height_mm", label_height_mm),
            ("layout.left_mm", left_mm),
            ("layout.top_mm", top_mm),
            ("layout.gap_x_mm", gap_x_mm),
            ("layout.gap_y_mm", gap_y_mm),
        ] {
            mm(key, *v)?;
        }
    }
    if let Some(b) = &raw.barcode {
        for (key, v) in
            [("barcode.x_mm", b.x_mm), ("barcode.y_mm", b.y_mm), ("barcode.height_mm", b.height_mm)]
        {
            mm(key, v)?;
        }
        if !(b.module_mm.is_finite() && b.module_mm <= MAX_BARCODE_MODULE_MM) {
            return Err((
                "barcode.module_mm".into(),
                format!("{} mm bars: at most {MAX_BARCODE_MODULE_MM}", b.module_mm),
            ));
        }
    }
    for (i, f) in raw.fields.iter().enumerate() {
        let at = |k: &str| format!("field[{i}] ({}).{k}", f.key);
        for (k, v) in
            [("x_mm", f.x_mm), ("y_mm", f.y_mm), ("width_mm", f.width_mm), ("height_mm", f.height_mm)]
        {
            mm(&at(k), v)?;
        }
        match &f.kind {
            FieldType::Text { max_chars: Some(n) } => count(&at("max_chars"), *n, MAX_TEXT_CHARS)?,
            FieldType::Number { min, max, decimals, .. } => {
                count(&at("decimals"), *decimals, MAX_DECIMALS)?;
                for (k, v) in [("min", min), ("max", max)] {
                    if v.is_some_and(|v| !v.is_finite()) {
                        return Err((at(k), "must be a finite number".into()));
                    }
                }
            }
            FieldType::Ticks { options, columns, .. } => {
                count(&at("columns"), *columns, MAX_TICK_COLUMNS)?;
                if options.len() > MAX_TICK_OPTIONS {
                    return Err((
                        at("options"),
                        format!("{} options is more than {MAX_TICK_OPTIONS}", options.len()),
                    ));
                }
            }
            FieldType::Area { lines } => {
                let fit = (f.height_mm / MIN_LINE_SPACING_MM).floor().max(1.0) as u32;
                if *lines > fit {
                    return Err((
                        at("lines"),
                        format!(
                            "{lines} lines do not fit a {} mm area ({MIN_LINE_SPACING_MM} mm apart: at most {fit})",
                            f.height_mm
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `deny_unknown_fields` cannot sit beside `flatten`; the flattened `FieldType` refuses unknown
/// keys instead (it receives every key `FieldDef` does not know).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldDef<E = ExportKey> {
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: FieldType,
    pub x_mm: f32,
    pub y_mm: f32,
    pub width_mm: f32,
    pub height_mm: f32,
    #[serde(default)]
    pub required: bool,
    /// What the value becomes in the hand-off (`export_key.rs`). Read as text, checked when the
    /// form loads.
    #[serde(default)]
    pub export: Option<E>,
}

/// What the scan station records when a nurse scans this form's page barcode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSpec {
    /// What the scan means, e.g. `検体採取 Specimen collected`.
    pub action: String,
    /// Before the form's `kind` existed, the order a slip carried. Read only to say where it
    /// went: a form folder written then must not load with its orders silently uncounted.
    #[serde(default)]
    order: Option<String>,
    /// The sheet is scanned again for each use (the MAR: once per dose), so a later scan is a
    /// new event; without it a second scan is a duplicate, however late.
    #[serde(default)]
    pub repeat: bool,
}

/// The scan-station action of a form that names none.
pub const DEFAULT_SCAN_ACTION: &str = "用紙受領 Page received";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormFile {
    code: String,
    title: String,
    title_en: String,
    family: Family,
    width_mm: f32,
    height_mm: f32,
    #[serde(default = "default_margin")]
    margin_mm: f32,
    layout: Layout,
    #[serde(default)]
    barcode: Option<BarcodeSpec>,
    #[serde(default)]
    min_age_years: Option<u32>,
    #[serde(default)]
    max_age_years: Option<u32>,
    #[serde(default)]
    scan: Option<ScanSpec>,
    #[serde(default, rename = "field")]
    fields: Vec<FieldDef<String>>,
    /// What the form is: which messages and records its pages become.
    kind: FormKind,
}

fn default_margin() -> f32 {
    10.0
}

/// Where one box of a tick list is printed: the back-entry OMR reads it from the same place.
#[derive(Debug, Clone, PartialEq)]
pub struct TickBox {
    pub code: String,
    pub label: String,
    pub x_mm: f32,
    pub y_mm: f32,
    pub size_mm: f32,
}

/// The side of a printed tick box.
pub const TICK_BOX_MM: f32 = 4.0;
/// Room above the boxes of a field for its label.
pub const FIELD_LABEL_MM: f32 = 5.0;

impl FieldDef {
    /// The boxes of a tick field, laid out in `columns` columns filling down each column.
    pub fn tick_boxes(&self) -> Vec<TickBox> {
        let (options, columns) = match &self.kind {
            FieldType::Ticks { options, columns, .. } => (options.clone(), (*columns).max(1) as usize),
            FieldType::Tick => (vec![TickOption { code: self.key.clone(), label: self.label.clone() }], 1),
            _ => return Vec::new(),
        };
        let rows = options.len().div_ceil(columns);
        let top =
            if matches!(self.kind, FieldType::Ticks { .. }) { self.y_mm + FIELD_LABEL_MM } else { self.y_mm };
        let row_h = ((self.y_mm + self.height_mm - top) / rows as f32).min(10.0);
        let col_w = self.width_mm / columns as f32;
        options
            .into_iter()
            .enumerate()
            .map(|(i, o)| TickBox {
                x_mm: self.x_mm + (i / rows) as f32 * col_w + 1.0,
                y_mm: top + (i % rows) as f32 * row_h + (row_h - TICK_BOX_MM) / 2.0,
                size_mm: TICK_BOX_MM,
                code: o.code,
                label: o.label,
            })
            .collect()
    }
}

/// Serde cannot refuse unknown keys in a field (it is flattened), so they are checked here, per
/// field type, before parsing: a typo such as `requird` must not silently drop a rule.
fn check_field_keys(text: &str) -> Result<(), (String, String)> {
    const COMMON: [&str; 9] =
        ["key", "label", "type", "x_mm", "y_mm", "width_mm", "height_mm", "required", "export"];
    let Ok(doc) = text.parse::<toml::Table>() else { return Ok(()) };
    let Some(fields) = doc.get("field").and_then(|f| f.as_array()) else { return Ok(()) };
    for (i, field) in fields.iter().enumerate() {
        let Some(table) = field.as_table() else { continue };
        let name = table.get("key").and_then(|k| k.as_str()).unwrap_or("?");
        let kind = table.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let extra: &[&str] = match kind {
            "text" => &["max_chars"],
            "number" => &["min", "max", "decimals", "unit"],
            "code" => &["master"],
            "ticks" => &["options", "columns", "master"],
            "area" => &["lines"],
            _ => &[],
        };
        for k in table.keys() {
            if !COMMON.contains(&k.as_str()) && !extra.contains(&k.as_str()) {
                let mut allowed: Vec<&str> = COMMON.to_vec();
                allowed.extend(extra);
                return Err((
                    format!("field[{i}] ({name}).{k}"),
                    format!("unknown key for a '{kind}' field (known: {})", allowed.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

/// A checked form definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FormDefinition {
    /// The file's stem, e.g. `progress_note`: what `--forms` names.
    pub id: String,
    pub code: FormCode,
    pub title: String,
    pub title_en: String,
    pub family: Family,
    pub width_mm: f32,
    pub height_mm: f32,
    pub margin_mm: f32,
    pub layout: Layout,
    pub barcode: Option<BarcodeSpec>,
    /// Printed only for patients of these ages (in whole years), e.g. the infant wristband.
    pub min_age_years: Option<u32>,
    pub max_age_years: Option<u32>,
    pub scan: Option<ScanSpec>,
    pub kind: FormKind,
    /// In reading order (top to bottom, then left to right), as back-entry tabs through them.
    pub fields: Vec<FieldDef>,
}

/// A broken definition: the file, the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub file: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

impl std::error::Error for FormError {}

impl FormDefinition {
    /// What scanning this form's page means at the scan station.
    pub fn scan_action(&self) -> &str {
        self.scan.as_ref().map_or(DEFAULT_SCAN_ACTION, |s| s.action.as_str())
    }

    pub fn scan_repeats(&self) -> bool {
        self.scan.as_ref().is_some_and(|s| s.repeat)
    }

    /// The fields exported as `key`, on any row, in reading order.
    pub fn fields_with<'a, 'k>(
        &'a self,
        key: &'k ExportKey,
    ) -> impl Iterator<Item = &'a FieldDef> + use<'a, 'k> {
        self.fields.iter().filter(move |f| f.export.as_ref() == Some(key))
    }

    /// Whether pages of this form come back to be keyed: a page with fields (not a wristband,
    /// a label sheet or the summary printed from the snapshot).
    pub fn is_returnable(&self) -> bool {
        matches!(self.layout, Layout::Page) && !self.fields.is_empty()
    }

    /// Whether keying a page of this form makes charge lines (a charge slip) rather than records.
    pub fn makes_charges(&self) -> bool {
        self.kind.makes_charges()
    }

    /// The paper order this slip carries (counted by the volume monitor), from its kind.
    pub fn order_kind(&self) -> Option<OrderKind> {
        self.kind.order()
    }

    /// Whether the kit prints this form for a patient of `age_years`.
    pub fn applies_to_age(&self, age_years: u32) -> bool {
        self.min_age_years.is_none_or(|min| age_years >= min)
            && self.max_age_years.is_none_or(|max| age_years <= max)
    }

    /// Parses and checks one definition. `file` names it in errors; `id` is its stem.
    pub fn parse(text: &str, file: &str, id: &str) -> Result<Self, FormError> {
        let err =
            |key: &str, message: String| FormError { file: file.to_string(), key: key.to_string(), message };
        check_field_keys(text).map_err(|(key, message)| err(&key, message))?;
        let raw: FormFile = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let key = match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                }
                None => String::new(),
            };
            err(&key, message)
        })?;
        check_bounds(&raw).map_err(|(key, message)| err(&key, message))?;
        let code = FormCode::parse(&raw.code).map_err(|e| err("code", e.message))?;
        if raw.title.trim().is_empty() {
            return Err(err("title", "is empty".into()));
        }
        for (key, v) in [("width_mm", raw.width_mm), ("height_mm", raw.height_mm)] {
            if !(10.0..=1000.0).contains(&v) {
                return Err(err(key, format!("{v} mm is not a page size (10 to 1000 mm)")));
            }
        }
        if !(0.0..raw.width_mm.min(raw.height_mm) / 3.0).contains(&raw.margin_mm) {
            return Err(err("margin_mm", format!("{} mm leaves no room on the page", raw.margin_mm)));
        }
        let inside = |x: f32, y: f32, w: f32, h: f32| {
            x >= 0.0
                && y >= 0.0
                && w > 0.0
                && h > 0.0
                && x + w <= raw.width_mm + 0.01
                && y + h <= raw.height_mm + 0.01
        };
        match (&raw.layout, raw.family) {
            (Layout::Wristband, Family::Wristbands) => {
                if raw.height_mm > 40.0 {
                    return Err(err(
                        "height_mm",
                        format!("{} mm is too tall for a wristband (at most 40)", raw.height_mm),
                    ));
                }
            }
            (Layout::Wristband, _) | (_, Family::Wristbands) => {
                return Err(err("layout", "wristband layout and family go together".into()));
            }
            (
                Layout::Labels {
                    columns,
                    rows,
                    label_width_mm,
                    label_height_mm,
                    left_mm,
                    top_mm,
                    gap_x_mm,
                    gap_y_mm,
                },
                _,
            ) => {
                if *columns == 0 || *rows == 0 {
                    return Err(err(
                        "layout.columns",
                        "a label sheet needs at least one column and one row".into(),
                    ));
                }
                let w = left_mm + *columns as f32 * label_width_mm + (*columns - 1) as f32 * gap_x_mm;
                let h = top_mm + *rows as f32 * label_height_mm + (*rows - 1) as f32 * gap_y_mm;
                if *label_width_mm < 20.0
                    || *label_height_mm < 10.0
                    || w > raw.width_mm + 0.01
                    || h > raw.height_mm + 0.01
                {
                    return Err(err(
                        "layout",
                        format!("the labels ({w:.1} × {h:.1} mm) do not fit the sheet or are too small"),
                    ));
                }
            }
            (Layout::Page, _) => {}
        }
        if let Some(b) = &raw.barcode {
            if b.module_mm < MIN_MODULE_MM {
                return Err(err(
                    "barcode.module_mm",
                    format!(
                        "{} mm bars are too thin for a 203-dpi printer (at least {MIN_MODULE_MM})",
                        b.module_mm
                    ),
                ));
            }
            if b.height_mm < 5.0 || !inside(b.x_mm, b.y_mm, 1.0, b.height_mm) {
                return Err(err("barcode", "must be at least 5 mm tall and on the page".into()));
            }
        } else if raw.layout != Layout::Wristband {
            return Err(err("barcode", "is missing: every printed page carries its page barcode".into()));
        }
        let mut keys = HashSet::new();
        for (i, f) in raw.fields.iter().enumerate() {
            let at = |k: &str| format!("field[{i}] ({}).{k}", f.key);
            if f.key.is_empty()
                || !f.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(err(&format!("field[{i}].key"), format!("'{}' must be a-z, 0-9, _", f.key)));
            }
            if !keys.insert(f.key.as_str()) {
                return Err(err(&at("key"), "is used by another field".into()));
            }
            if !inside(f.x_mm, f.y_mm, f.width_mm, f.height_mm) {
                return Err(err(
                    &at("x_mm"),
                    format!(
                        "the box {}×{} mm at ({}, {}) is not on the {}×{} mm page",
                        f.width_mm, f.height_mm, f.x_mm, f.y_mm, raw.width_mm, raw.height_mm
                    ),
                ));
            }
            match &f.kind {
                FieldType::Ticks { options, columns, master } => {
                    if let Some(master) = master
                        && let Err(e) = MasterKind::parse(master)
                    {
                        return Err(err(&at("master"), e.message));
                    }
                    if options.is_empty() || *columns == 0 {
                        return Err(err(
                            &at("options"),
                            "a tick list needs options and at least one column".into(),
                        ));
                    }
                    let mut codes = HashSet::new();
                    for o in options {
                        if o.code.trim().is_empty() || !codes.insert(o.code.as_str()) {
                            return Err(err(
                                &at("options"),
                                format!("option code '{}' is empty or repeated", o.code),
                            ));
                        }
                    }
                }
                FieldType::Number { min: Some(lo), max: Some(hi), .. } if lo > hi => {
                    return Err(err(&at("min"), format!("min {lo} is above max {hi}")));
                }
                FieldType::Area { lines } if *lines == 0 => {
                    return Err(err(&at("lines"), "an area needs at least one line".into()));
                }
                FieldType::Code { master } if master.trim().is_empty() => {
                    return Err(err(&at("master"), "names no code master".into()));
                }
                _ => {}
            }
        }
        if let Some(scan) = &raw.scan
            && (scan.action.trim().is_empty() || scan.action.chars().count() > 40)
        {
            return Err(err("scan.action", "must be 1 to 40 characters".into()));
        }
        if raw.scan.as_ref().is_some_and(|s| s.order.is_some()) {
            return Err(err(
                "scan.order",
                "the order a slip carries is now the form's kind: remove scan.order and write kind = \"lab\" (prescription, injection, imaging, diet …) at the top of the file".into(),
            ));
        }
        let mut fields = Vec::with_capacity(raw.fields.len());
        for (i, f) in raw.fields.into_iter().enumerate() {
            let export = match &f.export {
                None => None,
                Some(text) => Some(
                    ExportKey::parse(text)
                        .map_err(|e| err(&format!("field[{i}] ({}).export", f.key), e.to_string()))?,
                ),
            };
            fields.push(FieldDef {
                key: f.key,
                label: f.label,
                kind: f.kind,
                x_mm: f.x_mm,
                y_mm: f.y_mm,
                width_mm: f.width_mm,
                height_mm: f.height_mm,
                required: f.required,
                export,
            });
        }
        let has = |key: &ExportKey| fields.iter().any(|f| f.export.as_ref() == Some(key));
        if raw.kind == FormKind::Charges && !has(&keys::CHARGE_CODE) {
            return Err(err(
                "kind",
                format!("a charge slip needs a field exported as {}", keys::CHARGE_CODE),
            ));
        }
        if raw.kind != FormKind::Charges && has(&keys::CHARGE_CODE) {
            return Err(err(
                "kind",
                format!("only a charge slip (kind = \"charges\") has {} fields", keys::CHARGE_CODE),
            ));
        }
        // Reading order: rows top to bottom (within 2 mm counts as one row), then left to right.
        fields.sort_by(|a, b| {
            let row = |f: &FieldDef| (f.y_mm / 2.0).round() as i64;
            row(a).cmp(&row(b)).then(a.x_mm.total_cmp(&b.x_mm))
        });
        Ok(Self {
            id: id.to_string(),
            code,
            title: raw.title,
            title_en: raw.title_en,
            family: raw.family,
            width_mm: raw.width_mm,
            height_mm: raw.height_mm,
            margin_mm: raw.margin_mm,
            layout: raw.layout,
            barcode: raw.barcode,
            min_age_years: raw.min_age_years,
            max_age_years: raw.max_age_years,
            scan: raw.scan,
            kind: raw.kind,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
kind = "note"
code = "PN"
title = "経過記録"
title_en = "Progress note"
family = "charts"
width_mm = 210
height_mm = 297
layout = { kind = "page" }
barcode = { x_mm = 120, y_mm = 8, module_mm = 0.33, height_mm = 10 }

[[field]]
key = "note"
label = "記録"
type = "area"
lines = 20
x_mm = 10
y_mm = 80
width_mm = 190
height_mm = 200

[[field]]
key = "date"
label = "日付"
type = "date"
x_mm = 10
y_mm = 60
width_mm = 40
height_mm = 8
required = true
export = "TXA-4"
"#;

    fn parse(text: &str) -> Result<FormDefinition, FormError> {
        FormDefinition::parse(text, "forms/test.toml", "test")
    }

    #[test]
    fn a_minimal_definition_parses_with_fields_in_reading_order() {
        let f = parse(MINIMAL).unwrap();
        assert_eq!(f.code.as_str(), "PN");
        let keys: Vec<&str> = f.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["date", "note"]);
    }

    #[test]
    fn the_scan_spec_is_checked_and_defaults_to_page_received() {
        assert_eq!(parse(MINIMAL).unwrap().scan_action(), DEFAULT_SCAN_ACTION);
        let with = |scan: &str| MINIMAL.replace("layout = {", &format!("{scan}\nlayout = {{"));
        let f = parse(&with(r#"scan = { action = "与薬実施 Dose given", repeat = true }"#)).unwrap();
        assert!(f.scan_repeats() && f.order_kind().is_none());
        let f = parse(&MINIMAL.replace("kind = \"note\"", "kind = \"lab\"")).unwrap();
        assert_eq!(f.order_kind(), Some(OrderKind::Lab));
        let e = parse(&with(r#"scan = { action = "検体採取", order = "lab" }"#)).unwrap_err();
        assert!(e.key == "scan.order" && e.message.contains("kind = "), "{e}");
        let e = parse(&with(r#"scan = { action = " " }"#)).unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("forms/test.toml", "scan.action"), "{e}");
        let e = parse(&MINIMAL.replace("kind = \"note\"", "kind = \"pizza\"")).unwrap_err();
        assert!(e.key.starts_with("line ") && e.message.contains("pizza"), "{e}");
        let e = parse(&with(r#"scan = { acton = "x" }"#)).unwrap_err();
        assert!(e.message.contains("acton"), "{e}");
    }

    #[test]
    fn an_export_typo_is_an_error_naming_the_field_not_a_silently_dropped_value() {
        let e = parse(&MINIMAL.replace("export = \"TXA-4\"", "export = \"TXA-44\"")).unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("forms/test.toml", "field[1] (date).export"), "{e}");
        assert!(e.message.contains("'TXA-44'") && e.message.contains("TXA-4,"), "{e}");
        let f = parse(MINIMAL).unwrap();
        assert_eq!(f.fields_with(&keys::NOTE_AT).count(), 1);
    }

    #[test]
    fn the_kind_is_required_and_must_agree_with_the_charge_fields() {
        let e = parse(&MINIMAL.replace("kind = \"note\"\n", "")).unwrap_err();
        assert!(e.message.contains("kind"), "{e}");
        let e = parse(&MINIMAL.replace("kind = \"note\"", "kind = \"charges\"")).unwrap_err();
        assert_eq!(e.key, "kind", "{e}");
        assert!(e.message.contains("FT1-7"), "{e}");
        let e = parse(&MINIMAL.replace("export = \"TXA-4\"", "export = \"FT1-7\"")).unwrap_err();
        assert_eq!(e.key, "kind", "{e}");
        let slip = parse(
            &MINIMAL
                .replace("kind = \"note\"", "kind = \"charges\"")
                .replace("export = \"TXA-4\"", "export = \"FT1-7\""),
        )
        .unwrap();
        assert!(slip.makes_charges() && slip.order_kind().is_none());
    }

    #[test]
    fn an_unknown_key_names_the_file_and_line() {
        let e = parse(&MINIMAL.replace("required = true", "requird = true")).unwrap_err();
        assert_eq!(e.file, "forms/test.toml");
        assert_eq!(e.key, "field[1] (date).requird", "{e}");
        let e = parse(&MINIMAL.replace("title_en", "title_eng")).unwrap_err();
        assert!(e.key.starts_with("line ") && e.message.contains("title_eng"), "{e}");
    }

    #[test]
    fn a_field_off_the_page_is_named() {
        let e = parse(&MINIMAL.replace("width_mm = 190", "width_mm = 290")).unwrap_err();
        assert!(e.key.contains("field[0] (note)"), "{e}");
        assert!(e.message.contains("not on the 210×297 mm page"), "{e}");
    }

    #[test]
    fn thin_bars_duplicate_keys_and_missing_barcodes_are_refused() {
        let e = parse(&MINIMAL.replace("module_mm = 0.33", "module_mm = 0.1")).unwrap_err();
        assert_eq!(e.key, "barcode.module_mm");
        let e = parse(&MINIMAL.replace("key = \"date\"", "key = \"note\"")).unwrap_err();
        assert!(e.message.contains("another field"), "{e}");
        let e = parse(
            &MINIMAL.replace("barcode = { x_mm = 120, y_mm = 8, module_mm = 0.33, height_mm = 10 }", ""),
        )
        .unwrap_err();
        assert_eq!(e.key, "barcode");
    }

    #[test]
    fn huge_counts_and_non_numbers_are_refused_by_key() {
        let e = parse(&MINIMAL.replace("lines = 20", "lines = 4000000000")).unwrap_err();
        assert_eq!(e.key, "field[0] (note).lines", "{e}");
        assert!(e.message.contains("do not fit"), "{e}");
        let e = parse(&MINIMAL.replace("width_mm = 190", "width_mm = nan")).unwrap_err();
        assert_eq!(e.key, "field[0] (note).width_mm", "{e}");
        let e = parse(&MINIMAL.replace("module_mm = 0.33", "module_mm = inf")).unwrap_err();
        assert_eq!(e.key, "barcode.module_mm", "{e}");
        let e = parse(&MINIMAL.replace("height_mm = 297", "height_mm = 1e30")).unwrap_err();
        assert_eq!(e.key, "height_mm", "{e}");
        let labels = MINIMAL.replace(
            "layout = { kind = \"page\" }",
            "layout = { kind = \"labels\", columns = 3, rows = 100000, label_width_mm = 60, label_height_mm = nan, left_mm = 5, top_mm = 5, gap_x_mm = 2, gap_y_mm = 0 }",
        );
        let e = parse(&labels).unwrap_err();
        assert_eq!(e.key, "layout.rows", "{e}");
    }
}
