//! Code masters (lab tests, drugs, charges): CSV import and incremental search.
//!
//! A master file is CSV with a header row (UTF-8 with or without BOM, or Shift_JIS / CP932):
//! `code` and `name` are required; `kana`, `unit`, `points` and `uses` are optional; any other
//! column is ignored (real masters have dozens). An import is all-or-nothing and replaces the
//! whole master; every problem is listed as `file:line: field: message`.
//!
//! Search runs in memory (`MasterIndex`), fast enough for every keystroke of a code field.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::assets;
use crate::auth::Session;
use crate::csv_in::{Encoding, decode};
use crate::domain::Permission;
use crate::domain::Specimen;
use crate::domain::kana::search_key;
use crate::domain::master_details::{DetailColumn, Details};
use crate::store::{Actor, ReplaceCounts, Store, StoreError};

pub use crate::domain::{MasterItem, MasterKind};

/// One problem in a master file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MasterRowError {
    /// 1-based line where the row starts (1 is the header).
    pub line: u64,
    /// The column's name (`code`, `uses`, …), or empty for the file as a whole.
    pub field: String,
    pub value: String,
    pub message: String,
}

impl MasterRowError {
    /// `file:line: field: message`, the form every import error takes.
    pub fn display<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        struct Show<'a>(&'a MasterRowError, &'a str);
        impl fmt::Display for Show<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let Show(e, file) = self;
                match e.field.as_str() {
                    "" => write!(f, "{file}:{}: {}", e.line, e.message),
                    field => write!(f, "{file}:{}: {field}: {}", e.line, e.message),
                }
            }
        }
        Show(self, file)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{file}: line {line} is neither UTF-8 nor CP932 (Shift_JIS) text")]
    Encoding { file: String, line: usize },
    /// Every problem of the file; nothing was imported.
    #[error("{}", show_invalid(file, errors))]
    Invalid { file: String, errors: Vec<MasterRowError> },
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn show_invalid(file: &str, errors: &[MasterRowError]) -> String {
    let mut out = format!("{file}: rejected, nothing imported: {} problem(s)", errors.len());
    for e in errors {
        out.push_str(&format!("\n{}", e.display(file)));
    }
    out
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub master: MasterKind,
    pub file: String,
    pub encoding: Encoding,
    /// Items in the file.
    pub items: usize,
    #[serde(flatten)]
    pub counts: ReplaceCounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Code,
    Name,
    Kana,
    Unit,
    Points,
    Uses,
}

impl Column {
    const ALL: [Column; 6] =
        [Column::Code, Column::Name, Column::Kana, Column::Unit, Column::Points, Column::Uses];

    fn key(self) -> &'static str {
        match self {
            Column::Code => "code",
            Column::Name => "name",
            Column::Kana => "kana",
            Column::Unit => "unit",
            Column::Points => "points",
            Column::Uses => "uses",
        }
    }

    /// Header names read as this column (besides `key`): the usual Japanese headings.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Code => &["コード"],
            Column::Name => &["名称"],
            Column::Kana => &["カナ", "カナ名称", "よみ", "読み"],
            Column::Unit => &["単位"],
            Column::Points => &["点数"],
            Column::Uses => &["使用回数"],
        }
    }

    fn required(self) -> bool {
        matches!(self, Column::Code | Column::Name)
    }

    /// Which column a header cell names, if any (case, width and kana script forgiven).
    fn of_header(cell: &str) -> Option<Self> {
        let cell = search_key(cell);
        Self::ALL.into_iter().find(|c| {
            std::iter::once(c.key()).chain(c.aliases().iter().copied()).any(|name| search_key(name) == cell)
        })
    }
}

/// Reads a master file (bytes as they are on disk), checking every row. `file_name` is only
/// for the messages.
pub fn parse_master_csv(
    kind: MasterKind,
    bytes: &[u8],
    file_name: &str,
) -> Result<Vec<MasterItem>, MasterImportError> {
    read_master(kind, bytes, file_name).map(|(items, _)| items)
}

fn read_master(
    kind: MasterKind,
    bytes: &[u8],
    file_name: &str,
) -> Result<(Vec<MasterItem>, Encoding), MasterImportError> {
    let (text, encoding) = decode(bytes, Encoding::Auto)
        .map_err(|e| MasterImportError::Encoding { file: file_name.to_string(), line: e.line })?;
    parse_text(kind, &text)
        .map(|items| (items, encoding))
        .map_err(|errors| MasterImportError::Invalid { file: file_name.to_string(), errors })
}

fn file_error(line: u64, field: &str, message: impl Into<String>) -> MasterRowError {
    MasterRowError { line, field: field.to_string(), value: String::new(), message: message.into() }
}

fn parse_text(kind: MasterKind, text: &str) -> Result<Vec<MasterItem>, Vec<MasterRowError>> {
    let mut reader = crate::csv_in::csv_reader(text);
    let mut records = reader.records();
    let csv_error = |e: csv::Error| {
        file_error(e.position().map_or(0, |p| p.line()), "", format!("not readable CSV: {e}"))
    };
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(vec![csv_error(e)]),
        None => {
            return Err(vec![file_error(1, "", "the file is empty (expected a header row: code,name,…)")]);
        }
    };

    // The receipt-computer masters as published have no header: the first row is an item.
    if let Some(layout) = super::receipt_layout::detect(kind, &header) {
        let (items, errors) =
            super::receipt_layout::read(kind, layout, std::iter::once(Ok(header)).chain(records));
        return finish(kind, items, errors);
    }
    let mut errors = Vec::new();
    let mut columns: HashMap<Column, usize> = HashMap::new();
    // This master's own extra columns (`master_details`), by their position in the header.
    let mut detail_columns: Vec<(&'static DetailColumn, usize)> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let key = search_key(cell);
        if let Some(detail) = kind.detail_columns().find(|d| {
            std::iter::once(d.key).chain(d.aliases.iter().copied()).any(|name| search_key(name) == key)
        }) {
            if let Some((_, first)) = detail_columns.iter().find(|(d, _)| d.key == detail.key) {
                errors.push(file_error(
                    1,
                    detail.key,
                    format!("two columns for '{}' (columns {} and {})", detail.key, first + 1, i + 1),
                ));
            } else {
                detail_columns.push((detail, i));
            }
            continue;
        }
        let Some(column) = Column::of_header(cell) else { continue };
        if let Some(&first) = columns.get(&column) {
            errors.push(file_error(
                1,
                column.key(),
                format!("two columns for '{}' (columns {} and {})", column.key(), first + 1, i + 1),
            ));
        } else {
            columns.insert(column, i);
        }
    }
    for column in Column::ALL.into_iter().filter(|c| c.required() && !columns.contains_key(c)) {
        let found: Vec<&str> = header.iter().map(str::trim).collect();
        errors.push(file_error(
            1,
            column.key(),
            format!("required column '{}' not found (the header has: {})", column.key(), found.join(", ")),
        ));
    }

    // Rows are checked even when the header lacks a column, so one report names every problem.
    let mut items: Vec<(u64, MasterItem)> = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(csv_error(e));
                break;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        // `None` only for a column the header lacks; a short row's missing cells are empty.
        let cell = |c: Column| columns.get(&c).map(|&i| record.get(i).unwrap_or(""));
        let mut row_errors = Vec::new();
        let mut check = |column: Column, e: crate::domain::FieldError| {
            row_errors.push(MasterRowError {
                line,
                field: column.key().to_string(),
                value: cell(column).unwrap_or("").to_string(),
                message: e.message,
            });
        };
        // A missing required column is reported once, on the header.
        let code = match cell(Column::Code).map(MasterItem::parse_code) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                check(Column::Code, e);
                None
            }
            None => None,
        };
        let name = match cell(Column::Name).map(MasterItem::parse_name) {
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                check(Column::Name, e);
                None
            }
            None => None,
        };
        let kana = MasterItem::parse_kana(cell(Column::Kana).unwrap_or("")).unwrap_or_else(|e| {
            check(Column::Kana, e);
            None
        });
        let unit = MasterItem::parse_unit(cell(Column::Unit).unwrap_or("")).unwrap_or_else(|e| {
            check(Column::Unit, e);
            None
        });
        let points = MasterItem::parse_points(cell(Column::Points).unwrap_or("")).unwrap_or_else(|e| {
            check(Column::Points, e);
            None
        });
        let uses = MasterItem::parse_uses(cell(Column::Uses).unwrap_or("")).unwrap_or_else(|e| {
            check(Column::Uses, e);
            0
        });
        let mut details = Details::new();
        for (detail, i) in &detail_columns {
            let value = record.get(*i).unwrap_or("");
            match (detail.parse)(value) {
                Ok(Some(v)) => {
                    details.insert(detail.key.to_string(), v);
                }
                Ok(None) => {}
                Err(e) => row_errors.push(MasterRowError {
                    line,
                    field: detail.key.to_string(),
                    value: value.to_string(),
                    message: e.message,
                }),
            }
        }
        if let Err(e) = consistent_details(&details) {
            row_errors.push(MasterRowError {
                line,
                field: e.0.to_string(),
                value: details.get(e.0).cloned().unwrap_or_default(),
                message: e.1,
            });
        }
        match (code, name) {
            (Some(code), Some(name)) if row_errors.is_empty() => {
                items.push((line, MasterItem { code, name, kana, unit, points, uses, details }));
            }
            (Some(code), _) => {
                // Kept for the duplicate check only.
                items.push((
                    line,
                    MasterItem { code, name: String::new(), kana, unit, points, uses, details },
                ));
                errors.append(&mut row_errors);
            }
            _ => errors.append(&mut row_errors),
        }
    }

    finish(kind, items, errors)
}

/// The checks across rows, after each row was read: a code (or a unique column's value) given
/// twice, a file with no items. Returns the items, or every problem sorted by line.
pub(super) fn finish(
    kind: MasterKind,
    items: Vec<(u64, MasterItem)>,
    mut errors: Vec<MasterRowError>,
) -> Result<Vec<MasterItem>, Vec<MasterRowError>> {
    // A code given twice is refused on every line it is on: which row is right is the file
    // owner's to say.
    let mut lines_of: HashMap<&str, Vec<u64>> = HashMap::new();
    for (line, item) in &items {
        lines_of.entry(item.code.as_str()).or_default().push(*line);
    }
    for (line, item) in &items {
        let lines = &lines_of[item.code.as_str()];
        if lines.len() > 1 {
            let others: Vec<String> = lines.iter().filter(|l| *l != line).map(u64::to_string).collect();
            errors.push(MasterRowError {
                line: *line,
                field: Column::Code.key().to_string(),
                value: item.code.clone(),
                message: format!("'{}' is given twice (also on line {})", item.code, others.join(", ")),
            });
        }
    }
    // A value that names one thing (a login) given on two rows: refused on each, like a code.
    for column in kind.detail_columns().filter(|c| c.unique) {
        let mut lines_of: HashMap<&str, Vec<u64>> = HashMap::new();
        for (line, item) in &items {
            if let Some(value) = item.detail(column.key) {
                lines_of.entry(value).or_default().push(*line);
            }
        }
        for (value, lines) in lines_of.iter().filter(|(_, l)| l.len() > 1) {
            for line in lines {
                let others: Vec<String> = lines.iter().filter(|l| *l != line).map(u64::to_string).collect();
                errors.push(MasterRowError {
                    line: *line,
                    field: column.key.to_string(),
                    value: value.to_string(),
                    message: format!("'{value}' is given twice (also on line {})", others.join(", ")),
                });
            }
        }
    }
    if items.is_empty() && errors.is_empty() {
        errors.push(file_error(1, "", "the file holds no items (only a header)"));
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.field.cmp(&b.field)));
        return Err(errors);
    }
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// Details that contradict each other: a JLAC10 code whose specimen digits name another
/// specimen than the row's `specimen` (a serum code on a urine test).
fn consistent_details(details: &Details) -> Result<(), (&'static str, String)> {
    let (Some(jlac10), Some(specimen)) = (details.get("jlac10"), details.get("specimen")) else {
        return Ok(());
    };
    let Some(expected) = Specimen::parse(specimen).and_then(|s| s.jlac10) else { return Ok(()) };
    let material = &jlac10[9..12];
    if material != expected.0 {
        return Err((
            "jlac10",
            format!(
                "'{jlac10}' is coded for specimen {material}, but the test's specimen is {specimen} ({})",
                expected.0
            ),
        ));
    }
    Ok(())
}

/// Imports the file at `path` as the master `kind`, replacing it (all of it, or nothing).
pub fn import_master_file(
    store: &mut Store,
    session: &Session,
    kind: MasterKind,
    path: &Path,
) -> Result<ImportSummary, MasterImportError> {
    session.require(Permission::ManageMasters)?;
    let bytes =
        std::fs::read(path).map_err(|source| MasterImportError::Read { path: path.to_path_buf(), source })?;
    let file =
        path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    import_master_bytes(store, &session.actor(), kind, &bytes, &file)
}

/// Imports a master from bytes already read (a file picked in the app, a built-in sample), for
/// a caller that has checked the permission.
fn import_master_bytes(
    store: &mut Store,
    actor: &Actor,
    kind: MasterKind,
    bytes: &[u8],
    file_name: &str,
) -> Result<ImportSummary, MasterImportError> {
    let (items, encoding) = read_master(kind, bytes, file_name)?;
    let counts = store.replace_master(actor, kind.code(), file_name, &items)?;
    Ok(ImportSummary { master: kind, file: file_name.to_string(), encoding, items: items.len(), counts })
}

/// The synthetic sample shipped for each master (`assets/masters/`): its name and bytes.
pub fn sample(kind: MasterKind) -> (&'static str, &'static [u8]) {
    match kind {
        MasterKind::Charges => ("s_sample.csv (sample)", assets::SAMPLE_CHARGES_CSV),
        MasterKind::Drugs => ("drugs.csv (sample)", assets::SAMPLE_DRUGS_CSV),
        MasterKind::LabTests => ("lab_tests.csv (sample)", assets::SAMPLE_LAB_TESTS_CSV),
        MasterKind::Departments => ("departments.csv (sample)", assets::SAMPLE_DEPARTMENTS_CSV),
        MasterKind::Usages => ("usages.csv (sample)", assets::SAMPLE_USAGES_CSV),
        MasterKind::Doctors => ("doctors.csv (sample)", assets::SAMPLE_DOCTORS_CSV),
        MasterKind::Staff => ("staff.csv (sample)", assets::SAMPLE_STAFF_CSV),
    }
}

/// Imports the synthetic samples, replacing whatever the masters held.
pub fn load_samples(store: &mut Store, session: &Session) -> Result<Vec<ImportSummary>, MasterImportError> {
    session.require(Permission::ManageMasters)?;
    let actor = &session.actor();
    MasterKind::ALL
        .into_iter()
        .map(|kind| {
            let (name, bytes) = sample(kind);
            import_master_bytes(store, actor, kind, bytes, name)
        })
        .collect()
}

/// Imports the samples of the masters that are still empty (for the demo, made before anyone
/// can log in: a master the hospital imported is never overwritten by a sample).
pub fn load_missing_samples(
    store: &mut Store,
    actor: &Actor,
) -> Result<Vec<ImportSummary>, MasterImportError> {
    let counts = store.master_counts()?;
    let mut done = Vec::new();
    for kind in MasterKind::ALL {
        if counts.iter().any(|(k, n)| k == kind.code() && *n > 0) {
            continue;
        }
        let (name, bytes) = sample(kind);
        done.push(import_master_bytes(store, actor, kind, bytes, name)?);
    }
    Ok(done)
}

/// The search keys of one item, folded once.
struct Keys {
    code: String,
    section: String,
    name: String,
    kana: String,
}

/// A master held in memory for searching at keystroke speed.
pub struct MasterIndex {
    items: Vec<MasterItem>,
    keys: Vec<Keys>,
    /// Item positions, most used first (then by code): the order within each tier.
    ranked: Vec<usize>,
    by_code: HashMap<String, usize>,
}

impl MasterIndex {
    pub fn new(items: Vec<MasterItem>) -> Self {
        let keys = items
            .iter()
            .map(|i| Keys {
                code: search_key(&i.code),
                section: i.detail("section").map(search_key).unwrap_or_default(),
                name: search_key(&i.name),
                kana: i.kana.as_deref().map(search_key).unwrap_or_default(),
            })
            .collect();
        let mut ranked: Vec<usize> = (0..items.len()).collect();
        ranked.sort_by(|&a, &b| {
            items[b].uses.cmp(&items[a].uses).then_with(|| items[a].code.cmp(&items[b].code))
        });
        let by_code = items.iter().enumerate().map(|(i, item)| (item.code.clone(), i)).collect();
        Self { items, keys, ranked, by_code }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item with this code, typed as a clerk types it (`ａ０００` finds `A000`).
    pub fn get(&self, code: &str) -> Option<&MasterItem> {
        let code = MasterItem::parse_code(code).ok()?;
        self.by_code.get(&code).map(|&i| &self.items[i])
    }

    /// Up to `limit` items matching `query` (code or section, name or reading; NFKC, case, hiragana /
    /// katakana / half-width forgiven), best first: the exact code, then codes starting with
    /// the query, then readings or names starting with it, then any containing it; within each,
    /// the most used first, then by code. An empty query gives the most used items.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&MasterItem> {
        let q = search_key(query);
        if q.is_empty() {
            return self.ranked.iter().take(limit).map(|&i| &self.items[i]).collect();
        }
        let mut tiers: [Vec<usize>; 4] = Default::default();
        for &i in &self.ranked {
            let k = &self.keys[i];
            // A charge's fee-schedule section (`G004`) finds it as its code would: billing
            // clerks know procedures by section as well as by receipt-computer code.
            let tier = if k.code == q || k.section == q {
                0
            } else if k.code.starts_with(&q) || (!k.section.is_empty() && k.section.starts_with(&q)) {
                1
            } else if k.kana.starts_with(&q) || k.name.starts_with(&q) {
                2
            } else if k.code.contains(&q) || k.name.contains(&q) || k.kana.contains(&q) {
                3
            } else {
                continue;
            };
            if tiers[tier].len() < limit {
                tiers[tier].push(i);
            }
        }
        tiers.iter().flatten().take(limit).map(|&i| &self.items[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::FieldType;

    fn codes(found: Vec<&MasterItem>) -> Vec<&str> {
        found.into_iter().map(|i| i.code.as_str()).collect()
    }

    fn item(code: &str, name: &str, kana: &str, uses: u64) -> MasterItem {
        MasterItem {
            code: code.into(),
            name: name.into(),
            kana: Some(kana.into()).filter(|k: &String| !k.is_empty()),
            unit: None,
            points: None,
            uses,
            details: Details::new(),
        }
    }

    fn index() -> MasterIndex {
        MasterIndex::new(vec![
            item("D000", "尿・糞便検査", "ニョウフンベンケンサ", 420),
            item("D005", "血液形態・機能検査", "ケツエキケイタイキノウケンサ", 1310),
            item("D007", "血液化学検査", "ケツエキカガクケンサ", 1580),
            item("D400", "血液採取", "ケツエキサイシュ", 1250),
            item("D4001", "血液採取（乳幼児）", "ケツエキサイシュニュウヨウジ", 9000),
            item("J000", "創傷処置", "ソウショウショチ", 520),
            item("K000", "創傷処理", "ソウショウショリ", 310),
            item("XK0", "ＣＴ撮影", "", 10),
            item("E200", "CT撮影", "シーティーサツエイ", 610),
        ])
    }

    #[test]
    fn the_exact_code_comes_first_whatever_its_uses() {
        assert_eq!(codes(index().search("d400", 10)), ["D400", "D4001"]);
        assert_eq!(codes(index().search("Ｄ４００", 1)), ["D400"]);
    }

    #[test]
    fn code_prefixes_rank_by_uses_then_code() {
        assert_eq!(codes(index().search("D0", 10)), ["D007", "D005", "D000"]);
        let tie =
            MasterIndex::new(vec![item("B2", "b", "", 5), item("B1", "a", "", 5), item("B3", "c", "", 6)]);
        assert_eq!(codes(tie.search("B", 10)), ["B3", "B1", "B2"]);
    }

    #[test]
    fn readings_match_in_any_kana_script_and_names_by_prefix() {
        for query in ["そうしょう", "ソウショウ", "ｿｳｼｮｳ", " そう しょう "] {
            assert_eq!(codes(index().search(query, 10)), ["J000", "K000"], "{query}");
        }
        assert_eq!(codes(index().search("血液", 10)), ["D4001", "D007", "D005", "D400"]);
        // Full-width Latin in a name is found by ASCII, and the other way round.
        assert_eq!(codes(index().search("ct", 10)), ["E200", "XK0"]);
    }

    #[test]
    fn a_code_prefix_outranks_a_name_prefix_which_outranks_a_substring() {
        let index = MasterIndex::new(vec![
            item("ZZ1", "KA在庫", "", 900),
            item("KA1", "別物", "", 1),
            item("YY1", "ぶんKA", "", 5000),
        ]);
        assert_eq!(codes(index.search("ka", 10)), ["KA1", "ZZ1", "YY1"]);
    }

    #[test]
    fn substrings_of_code_name_or_reading_come_last() {
        assert_eq!(codes(index().search("検査", 10)), ["D007", "D005", "D000"]);
        assert_eq!(codes(index().search("サイシュ", 10)), ["D4001", "D400"]);
        assert_eq!(codes(index().search("001", 10)), ["D4001"]);
        assert!(index().search("存在しない", 10).is_empty());
    }

    #[test]
    fn an_empty_query_gives_the_most_used_and_limit_is_kept() {
        assert_eq!(codes(index().search("", 3)), ["D4001", "D007", "D005"]);
        assert_eq!(codes(index().search("  ", 2)), ["D4001", "D007"]);
        assert_eq!(index().search("D", 2).len(), 2);
        assert!(index().search("D", 0).is_empty());
    }

    #[test]
    fn get_folds_the_code_as_typed() {
        let index = index();
        assert_eq!(index.get(" ｄ４００ ").unwrap().name, "血液採取");
        assert!(index.get("D999").is_none());
        assert!(index.get("").is_none());
        assert_eq!(index.len(), 9);
    }

    fn parse(text: &str) -> Result<Vec<MasterItem>, Vec<MasterRowError>> {
        match parse_master_csv(MasterKind::Charges, text.as_bytes(), "m.csv") {
            Ok(items) => Ok(items),
            Err(MasterImportError::Invalid { file, errors }) => {
                assert_eq!(file, "m.csv");
                Err(errors)
            }
            Err(other) => panic!("{other}"),
        }
    }

    fn problems(text: &str) -> Vec<String> {
        parse(text).unwrap_err().iter().map(|e| e.display("m.csv").to_string()).collect()
    }

    #[test]
    fn a_file_with_extra_columns_and_every_optional_value_reads() {
        let items = parse(
            "\u{FEFF}Code,区分,Name,カナ名称,単位,点数,uses\n\
             ａ０００,1,初診料,しょしんりょう,回,291,1200\n\
             \n\
             A001,1,再診料,ｻｲｼﾝﾘｮｳ,,,\n",
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            MasterItem {
                code: "A000".into(),
                name: "初診料".into(),
                kana: Some("ショシンリョウ".into()),
                unit: Some("回".into()),
                points: Some(291.0),
                details: Details::new(),
                uses: 1200,
            }
        );
        assert_eq!(
            (items[1].kana.as_deref(), items[1].points, items[1].uses),
            (Some("サイシンリョウ"), None, 0)
        );
    }

    #[test]
    fn every_bad_value_is_named_by_line_and_field() {
        let found =
            problems("code,name,kana,points,uses\nA000,初診料,初診,x,-1\n,名無し,,,\nB001,,,,3\nC001\n");
        assert_eq!(
            found,
            [
                "m.csv:2: kana: '初診' contains '初', which is not kana (expected the reading in katakana or hiragana)",
                "m.csv:2: points: 'x' is not a number (expected e.g. 288 or 12.5)",
                "m.csv:2: uses: '-1' is not a whole number of 0 or more",
                "m.csv:3: code: is empty (every item needs its code)",
                "m.csv:4: name: is empty (every item needs its name)",
                "m.csv:5: name: is empty (every item needs its name)",
            ]
        );
    }

    #[test]
    fn missing_columns_are_named_on_the_header_and_rows_still_checked() {
        let found = problems("コード,kana,uses\nA000,ショシン,many\n");
        assert_eq!(
            found[0],
            "m.csv:1: name: required column 'name' not found (the header has: コード, kana, uses)"
        );
        assert_eq!(found[1], "m.csv:2: uses: 'many' is not a whole number of 0 or more");
        assert_eq!(found.len(), 2);
        assert!(problems("code,code,name\nA,A,a\n")[0].contains("two columns for 'code'"));
    }

    #[test]
    fn a_code_given_twice_is_refused_on_every_line() {
        let found = problems("code,name\nA000,初診料\nA001,再診料\nａ000,初診料2\n");
        assert_eq!(
            found,
            [
                "m.csv:2: code: 'A000' is given twice (also on line 4)",
                "m.csv:4: code: 'A000' is given twice (also on line 2)",
            ]
        );
    }

    #[test]
    fn one_login_on_two_staff_rows_is_refused_on_both() {
        let text = "code,name,kana,login\n900001,青山 一郎,アオヤマ イチロウ,Clerk\n900002,石川 二葉,イシカワ フタバ,clerk\n";
        let err = parse_master_csv(MasterKind::Staff, text.as_bytes(), "staff.csv").unwrap_err().to_string();
        assert!(err.contains("staff.csv:2: login: 'clerk' is given twice (also on line 3)"), "{err}");
        assert!(err.contains("staff.csv:3: login: 'clerk' is given twice (also on line 2)"), "{err}");
        let bad = "code,name,login\n900001,青山 一郎,青山\n";
        let err = parse_master_csv(MasterKind::Staff, bad.as_bytes(), "staff.csv").unwrap_err().to_string();
        assert!(err.contains("staff.csv:2: login:"), "{err}");
    }

    #[test]
    fn empty_files_and_broken_bytes_are_refused() {
        assert_eq!(problems(""), ["m.csv:1: the file is empty (expected a header row: code,name,…)"]);
        assert_eq!(problems("code,name\n"), ["m.csv:1: the file holds no items (only a header)"]);
        let err =
            parse_master_csv(MasterKind::Charges, b"code,name\nA,ok\n\x81\x20bad\n", "m.csv").unwrap_err();
        assert_eq!(err.to_string(), "m.csv: line 3 is neither UTF-8 nor CP932 (Shift_JIS) text");
    }

    #[test]
    fn lines_are_counted_right_in_windows_files() {
        let found = problems("code,name\r\nA000,初診料\r\n\"A001\",\"再診料\r\n（複数行）\"\r\nB001,\r\n");
        assert_eq!(found, ["m.csv:5: name: is empty (every item needs its name)"]);
    }

    #[test]
    fn a_jlac10_code_for_another_specimen_is_refused_on_its_line() {
        let text =
            "code,name,specimen,jlac10\nUA,尿一般,尿,3C020000002327101\nURIC,尿酸,血清,3C020000002327101\n";
        let err = parse_master_csv(MasterKind::LabTests, text.as_bytes(), "lab.csv").unwrap_err();
        let MasterImportError::Invalid { errors, .. } = err else { panic!("{err}") };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "jlac10"));
        assert!(errors[0].message.contains("specimen 023"), "{}", errors[0].message);
    }

    #[test]
    fn a_masters_own_columns_are_read_and_other_masters_columns_ignored() {
        let text = "コード,名称,剤形,JLAC10\n990000101,アセトアミノフェン錠200mg,1,3C020000002327101\n";
        let items = parse_master_csv(MasterKind::Drugs, text.as_bytes(), "drugs.csv").unwrap();
        assert_eq!(items[0].detail("form"), Some("内用"));
        assert_eq!(items[0].detail("jlac10"), None);
        let bad = "code,name,form\nX1,謎の薬,飲み薬\n";
        let err = parse_master_csv(MasterKind::Drugs, bad.as_bytes(), "drugs.csv").unwrap_err();
        assert!(err.to_string().contains("drugs.csv:2: form: '飲み薬' is not a dosage form"), "{err}");
    }

    #[test]
    fn cp932_files_read_like_utf8_ones() {
        let text = "コード,名称,カナ,点数\nD400,血液採取,ｹﾂｴｷｻｲｼｭ,40\n";
        let bytes = encoding_rs::SHIFT_JIS.encode(text).0.into_owned();
        let (items, encoding) = read_master(MasterKind::Charges, &bytes, "m.csv").unwrap();
        assert_eq!(encoding, Encoding::Cp932);
        assert_eq!(items[0].kana.as_deref(), Some("ケツエキサイシュ"));
    }

    #[test]
    fn the_samples_parse_and_hold_every_code_the_forms_tick() {
        for kind in MasterKind::ALL {
            let (name, bytes) = sample(kind);
            let items = parse_master_csv(kind, bytes, name).unwrap_or_else(|e| panic!("{e}"));
            assert!((4..=60).contains(&items.len()), "{name}: {} items", items.len());
            // How often a staff member is picked means nothing: the staff master has no uses; nor
            // has the receipt-computer master's published layout the charges sample is in.
            let counted = !matches!(kind, MasterKind::Staff | MasterKind::Charges);
            assert!(items.iter().all(|i| i.kana.is_some() && (i.uses > 0 || !counted)), "{name}");
            let every = |key: &str| items.iter().all(|i| i.detail(key).is_some());
            match kind {
                MasterKind::LabTests => {
                    assert!(every("specimen"));
                    assert_eq!(items.iter().filter(|i| i.detail("jlac10").is_some()).count(), 30);
                }
                MasterKind::Drugs => assert!(every("form")),
                MasterKind::Usages => assert!(items.iter().any(|i| i.detail("jami").is_some())),
                MasterKind::Doctors => assert!(every("department")),
                MasterKind::Staff => assert!(every("login")),
                _ => {}
            }
        }
        let forms = crate::form::built_in();
        for (form, kind) in [("charge_slip", MasterKind::Charges), ("lab_order", MasterKind::LabTests)] {
            let index = MasterIndex::new(parse_master_csv(kind, sample(kind).1, "sample").unwrap());
            let def = forms.iter().find(|f| f.id == form).unwrap_or_else(|| panic!("form {form}"));
            let options: Vec<_> = def
                .fields
                .iter()
                .filter_map(|f| match &f.kind {
                    FieldType::Ticks { options, .. } => Some(options.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert!(!options.is_empty(), "{form}");
            for o in options {
                let item = index
                    .get(&o.code)
                    .unwrap_or_else(|| panic!("{form}: {} not in the {kind} sample", o.code));
                if kind == MasterKind::Charges {
                    assert!(
                        o.label.starts_with(&format!("{} ", item.name)),
                        "{}: '{}' vs '{}'",
                        o.code,
                        o.label,
                        item.name
                    );
                }
            }
        }
        // Every code field of the shipped forms names a master there is a sample of.
        for f in forms.iter().flat_map(|f| &f.fields) {
            if let FieldType::Code { master } = &f.kind {
                assert!(MasterKind::parse(master).is_ok(), "{}: master '{master}'", f.key);
            }
        }
    }
}
