//! Code masters: one import replaces a master in one transaction with one audit entry; the
//! codes clerks enter are counted (`local_uses`) so search ranks what this hospital uses.

use std::collections::{HashMap, HashSet};

use super::db::{Transaction, params};
use serde_json::json;

use super::audit::AuditWriter;
use super::{Actor, Result, Store, StoreError, now_text};
use crate::domain::master_details::check_details;
use crate::domain::{MasterItem, MasterKind};

/// What replacing a master changed, code by code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplaceCounts {
    pub added: usize,
    /// Codes whose name, reading, unit, points or uses differ from the previous import.
    pub changed: usize,
    /// Codes no longer in the file (their local use counts go with them).
    pub removed: usize,
    pub unchanged: usize,
}

/// The values an import sets (everything but the local count), for telling changed from not.
type Stored = (String, Option<String>, Option<String>, Option<f64>, i64, String);

fn stored(item: &MasterItem) -> Stored {
    let details = serde_json::to_string(&item.details).unwrap_or_else(|_| "{}".to_string());
    (item.name.clone(), item.kana.clone(), item.unit.clone(), item.points, item.uses as i64, details)
}

fn kind(kind_code: &str) -> Result<MasterKind> {
    MasterKind::parse(kind_code).map_err(|e| StoreError::Refused(e.message))
}

impl Store {
    /// Replaces the master `kind_code` with `items` (all of them, or nothing on error), keeping
    /// each remaining code's local use count. `source` (the file name) goes in the audit entry.
    pub fn replace_master(
        &mut self,
        actor: &Actor,
        kind_code: &str,
        source: &str,
        items: &[MasterItem],
    ) -> Result<ReplaceCounts> {
        let kind = kind(kind_code)?;
        if items.is_empty() {
            return Err(StoreError::Refused(format!(
                "{source} holds no items; the {kind} master is left as it was"
            )));
        }
        let mut seen = HashSet::new();
        for item in items {
            if let Err((field, e)) = item.check() {
                return Err(StoreError::Refused(format!("{kind} code '{}': {field}: {e}", item.code)));
            }
            if let Err((field, e)) = check_details(kind, &item.details) {
                return Err(StoreError::Refused(format!("{kind} code '{}': {field}: {e}", item.code)));
            }
            if !seen.insert(item.code.as_str()) {
                return Err(StoreError::Refused(format!("{kind} code '{}' is given twice", item.code)));
            }
        }

        let tx = self.begin()?;
        let mut old: HashMap<String, Stored> = HashMap::new();
        {
            let mut stmt = tx.prepare(
                "SELECT code, name, kana, unit, points, uses, details FROM master_items WHERE master = ?1",
            )?;
            let rows = stmt.query_map([kind.code()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                ))
            })?;
            for row in rows {
                let (code, values) = row?;
                old.insert(code, values);
            }
        }
        let before = old.len();
        let now = now_text();
        let mut counts = ReplaceCounts::default();
        {
            let mut insert = tx.prepare(
                "INSERT INTO master_items (master, code, name, kana, unit, points, uses, imported_at, imported_by, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut update = tx.prepare(
                "UPDATE master_items SET name = ?3, kana = ?4, unit = ?5, points = ?6, uses = ?7,
                        imported_at = ?8, imported_by = ?9, details = ?10
                 WHERE master = ?1 AND code = ?2",
            )?;
            for item in items {
                let values = stored(item);
                let statement = match old.remove(&item.code) {
                    None => {
                        counts.added += 1;
                        &mut insert
                    }
                    Some(previous) if previous == values => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some(_) => {
                        counts.changed += 1;
                        &mut update
                    }
                };
                let (name, kana, unit, points, uses, details) = values;
                statement.execute(params![
                    kind.code(),
                    item.code,
                    name,
                    kana,
                    unit,
                    points,
                    uses,
                    now,
                    actor.0,
                    details
                ])?;
            }
            let mut delete = tx.prepare("DELETE FROM master_items WHERE master = ?1 AND code = ?2")?;
            for code in old.keys() {
                delete.execute(params![kind.code(), code])?;
                counts.removed += 1;
            }
        }
        let mut audit = AuditWriter::start(&tx)?;
        audit.append(
            &tx,
            actor,
            "import",
            "master",
            kind.code(),
            Some(&json!({ "items": before })),
            Some(&json!({
                "file": source,
                "items": items.len(),
                "added": counts.added,
                "changed": counts.changed,
                "removed": counts.removed,
                "unchanged": counts.unchanged,
            })),
        )?;
        tx.commit()?;
        Ok(counts)
    }

    /// Every item of a master, by code; `uses` is the file's count plus the local one.
    pub fn master_items(&self, kind_code: &str) -> Result<Vec<MasterItem>> {
        let kind = kind(kind_code)?;
        let mut stmt = self.conn.prepare(
            "SELECT code, name, kana, unit, points, uses, local_uses, details FROM master_items
             WHERE master = ?1 ORDER BY code",
        )?;
        let rows = stmt.query_map([kind.code()], |r| {
            let uses: i64 = r.get(5)?;
            let local: i64 = r.get(6)?;
            let details: String = r.get(7)?;
            Ok((
                MasterItem {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    kana: r.get(2)?,
                    unit: r.get(3)?,
                    points: r.get(4)?,
                    uses: (uses.max(0) as u64).saturating_add(local.max(0) as u64).min(MasterItem::MAX_USES),
                    details: Default::default(),
                },
                details,
            ))
        })?;
        let mut items = Vec::new();
        for row in rows {
            let (mut item, details) = row?;
            let corrupt = |message: String| StoreError::Corrupt {
                entity: "master item",
                id: format!("{kind}/{}", item.code),
                field: "details",
                message,
            };
            item.details = serde_json::from_str(&details)
                .map_err(|e| corrupt(format!("is not a JSON object of texts: {e}")))?;
            if let Err((key, e)) = check_details(kind, &item.details) {
                return Err(corrupt(format!("{key}: {e}")));
            }
            if let Err((field, e)) = item.check() {
                return Err(StoreError::Corrupt {
                    entity: "master item",
                    id: format!("{kind}/{}", item.code),
                    field,
                    message: e.message,
                });
            }
            items.push(item);
        }
        Ok(items)
    }

    /// How many items each master holds (masters never imported are not listed).
    pub fn master_counts(&self) -> Result<Vec<(String, usize)>> {
        let mut stmt =
            self.conn.prepare("SELECT master, COUNT(*) FROM master_items GROUP BY master ORDER BY master")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Counts one use of each code (a code given twice counts twice), inside the caller's
/// transaction, so the count commits with the entry that used it. Codes are as stored
/// (`MasterItem::parse_code`). A code or master not held counts nothing and is no error: a
/// ranking must never stop an entry from being saved.
pub(super) fn count_master_uses(tx: &Transaction<'_>, kind_code: &str, codes: &[&str]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE master_items SET local_uses = local_uses + 1 WHERE master = ?1 AND code = ?2",
    )?;
    for code in codes {
        stmt.execute(params![kind_code, code])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(code: &str, name: &str, uses: u64) -> MasterItem {
        MasterItem {
            code: code.into(),
            name: name.into(),
            kana: Some("ケンサ".into()),
            unit: None,
            points: Some(10.0),
            uses,
            details: Default::default(),
        }
    }

    fn actor() -> Actor {
        Actor("billing".into())
    }

    fn count_uses(store: &mut Store, kind: &str, codes: &[&str]) {
        let tx = store.conn.begin_write().unwrap();
        count_master_uses(&tx, kind, codes).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn replacing_counts_added_changed_removed_and_audits_once() {
        let mut store = Store::open_in_memory().unwrap();
        let first = [item("A000", "初診料", 5), item("A001", "再診料", 9), item("K000", "創傷処理", 1)];
        let counts = store.replace_master(&actor(), "charges", "charges.csv", &first).unwrap();
        assert_eq!(counts, ReplaceCounts { added: 3, ..Default::default() });
        let second = [item("A000", "初診料", 5), item("A001", "再診料（改）", 9), item("B001", "管理料", 0)];
        let counts = store.replace_master(&actor(), "charges", "charges-v2.csv", &second).unwrap();
        assert_eq!(counts, ReplaceCounts { added: 1, changed: 1, removed: 1, unchanged: 1 });
        let codes: Vec<String> = store.master_items("charges").unwrap().into_iter().map(|i| i.code).collect();
        assert_eq!(codes, ["A000", "A001", "B001"]);
        assert_eq!(store.master_items("charges").unwrap()[1].name, "再診料（改）");

        let audit = store.audit_of("master", "charges", 10).unwrap();
        assert_eq!(audit.len(), 2);
        let after = audit.iter().find_map(|e| e.after.as_deref().filter(|a| a.contains("v2"))).unwrap();
        assert!(after.contains("\"removed\":1") && after.contains("charges-v2.csv"), "{after}");
        assert!(store.verify_audit().unwrap().first_broken.is_none());
    }

    #[test]
    fn details_round_trip_count_as_a_change_and_are_checked_on_the_way_back() {
        let mut store = Store::open_in_memory().unwrap();
        let mut urine = item("UA", "尿一般", 5);
        urine.details.insert("specimen".into(), "尿".into());
        store.replace_master(&actor(), "lab_tests", "lab.csv", std::slice::from_ref(&urine)).unwrap();
        assert_eq!(store.master_items("lab_tests").unwrap()[0].detail("specimen"), Some("尿"));
        urine.details.insert("specimen".into(), "血清".into());
        let counts = store.replace_master(&actor(), "lab_tests", "lab.csv", &[urine]).unwrap();
        assert_eq!(counts.changed, 1);

        let mut wrong = item("X", "薬", 1);
        wrong.details.insert("specimen".into(), "尿".into());
        let err = store.replace_master(&actor(), "drugs", "d.csv", &[wrong]).unwrap_err();
        assert!(err.to_string().contains("specimen"), "{err}");

        store.conn.execute("UPDATE master_items SET details = '{\"specimen\":\"涙\"}'", []).unwrap();
        let err = store.master_items("lab_tests").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { field: "details", .. }), "{err}");
    }

    #[test]
    fn local_uses_add_to_the_files_count_and_survive_a_reimport() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .replace_master(
                &actor(),
                "lab_tests",
                "lab.csv",
                &[item("CBC", "血算", 5), item("CRP", "CRP", 2)],
            )
            .unwrap();
        count_uses(&mut store, "lab_tests", &["CRP", "CRP", "CRP", "NOPE"]);
        let uses = |store: &Store| -> Vec<(String, u64)> {
            store.master_items("lab_tests").unwrap().into_iter().map(|i| (i.code, i.uses)).collect()
        };
        assert_eq!(uses(&store), [("CBC".to_string(), 5), ("CRP".to_string(), 5)]);
        // A new file with new counts: the local count stays on top of them.
        store
            .replace_master(
                &actor(),
                "lab_tests",
                "lab.csv",
                &[item("CBC", "血算", 7), item("CRP", "CRP", 10)],
            )
            .unwrap();
        assert_eq!(uses(&store), [("CBC".to_string(), 7), ("CRP".to_string(), 13)]);
        // The same file again changes nothing.
        let again = store
            .replace_master(
                &actor(),
                "lab_tests",
                "lab.csv",
                &[item("CBC", "血算", 7), item("CRP", "CRP", 10)],
            )
            .unwrap();
        assert_eq!(again, ReplaceCounts { unchanged: 2, ..Default::default() });
        assert_eq!(uses(&store)[1].1, 13);
    }

    #[test]
    fn masters_are_kept_apart_and_counted() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(store.master_counts().unwrap().is_empty());
        store
            .replace_master(&actor(), "drugs", "d.csv", &[item("990000101", "アセトアミノフェン錠", 1)])
            .unwrap();
        store
            .replace_master(
                &actor(),
                "charges",
                "c.csv",
                &[item("A000", "初診料", 1), item("A001", "再診料", 1)],
            )
            .unwrap();
        assert_eq!(store.master_counts().unwrap(), [("charges".to_string(), 2), ("drugs".to_string(), 1)]);
        assert!(store.master_items("lab_tests").unwrap().is_empty());
        // Counting a drug code as a charge, or a master there is none of, counts nothing.
        count_uses(&mut store, "charges", &["990000101"]);
        count_uses(&mut store, "diseases", &["990000101"]);
        assert_eq!(store.master_items("drugs").unwrap()[0].uses, 1);
    }

    #[test]
    fn bad_input_is_refused_and_leaves_the_master_as_it_was() {
        let mut store = Store::open_in_memory().unwrap();
        store.replace_master(&actor(), "charges", "c.csv", &[item("A000", "初診料", 1)]).unwrap();
        let refused = |r: Result<ReplaceCounts>| match r {
            Err(StoreError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(store.replace_master(&actor(), "charges", "e.csv", &[])).contains("no items"));
        let twice = [item("A001", "再診料", 1), item("A001", "再診料", 2)];
        assert!(refused(store.replace_master(&actor(), "charges", "t.csv", &twice)).contains("twice"));
        let lower = [item("a001", "再診料", 1)];
        assert!(refused(store.replace_master(&actor(), "charges", "l.csv", &lower)).contains("code"));
        assert!(
            refused(store.replace_master(&actor(), "diseases", "x.csv", &[item("X", "x", 0)]))
                .contains("diseases")
        );
        assert_eq!(store.master_items("charges").unwrap().len(), 1);
        assert_eq!(store.audit_of("master", "charges", 10).unwrap().len(), 1);
    }

    #[test]
    fn a_row_edited_outside_the_program_is_reported() {
        let mut store = Store::open_in_memory().unwrap();
        store.replace_master(&actor(), "charges", "c.csv", &[item("A000", "初診料", 1)]).unwrap();
        store.conn.execute("UPDATE master_items SET kana = '初診' WHERE code = 'A000'", []).unwrap();
        match store.master_items("charges") {
            Err(StoreError::Corrupt { field: "kana", id, .. }) => assert_eq!(id, "charges/A000"),
            other => panic!("expected corrupt, got {other:?}"),
        }
    }
}
