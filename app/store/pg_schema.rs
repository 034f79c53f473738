//! The PostgreSQL hub's schema, made from the SQLite migrations themselves: they are run on a
//! private SQLite database in memory, and the tables, indexes and triggers they leave are
//! written out in PostgreSQL's words. So there is one set of migrations, and a table cannot
//! differ between the two engines.
//!
//! What is translated (everything else is the same text):
//! - `INTEGER` → `BIGINT` (SQLite's integers are 64-bit), `REAL` → `DOUBLE PRECISION`,
//!   `BLOB` → `BYTEA`; `STRICT` and `WITHOUT ROWID` are dropped (PostgreSQL is always strict).
//! - SQLite numbers rows itself: an `INTEGER PRIMARY KEY` gets the largest number plus one, and
//!   every other table has a hidden `rowid`. Here a trigger per table does the same (writers are
//!   serialised, see `db`), into the key column or into a real `rowid` column, and remembers the
//!   number for `last_insert_rowid`. A table with an integer key gets `rowid` as a generated copy
//!   of it, so the store may name `rowid` on any table.
//! - `x GLOB 'pattern'` → `x ~ '^regex$'`; `json_valid(x)` → `x::jsonb IS NOT NULL`.
//! - `SELECT RAISE(ABORT, 'why')` triggers → a function that raises `why`.
//! - The column `user` (reserved in PostgreSQL) is quoted, here and in every query (`db`).
//! - Text columns are `COLLATE "C"`: compared and sorted by code point, as SQLite does, whatever
//!   locale the hub's database was made with.
//! - A table whose trigger refuses DELETE refuses TRUNCATE as well.
//!
//! A hub made by this version holds `kamikarte_schema.version` = the number of migrations. A
//! later migration must be taken by a hub too: until a translation of its statements is written
//! here, a newer kamikarte refuses to open an older hub rather than guess.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::{Result, StoreError, db, migrations};

/// Makes a new database `name` (a name checked or made by kamikarte) in the C locale: text
/// compares by code point, as in SQLite.
pub(super) fn create_database_sql(name: &str) -> String {
    format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
}

/// Drops the database `name`, ending any session still in it.
pub(super) fn drop_database_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
}

/// Makes the hub's schema if the database is empty; refuses a hub of another version.
pub(super) fn ensure(conn: &db::Connection, shown: &str) -> Result<()> {
    let tx = conn.begin_write()?;
    let exists: bool = tx.query_row(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'kamikarte_schema'",
        [],
        |r| Ok(r.get::<_, i64>(0)? > 0),
    )?;
    if exists {
        let version: i64 = tx.query_row("SELECT MAX(version) FROM kamikarte_schema", [], |r| r.get(0))?;
        if version != migrations::count() {
            return Err(StoreError::Refused(format!(
                "the PostgreSQL hub {shown} has schema version {version}, and this kamikarte has version {}: use the kamikarte that made it",
                migrations::count()
            )));
        }
        return Ok(());
    }
    let tables: i64 = tx.query_row(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
        [],
        |r| r.get(0),
    )?;
    if tables > 0 {
        return Err(StoreError::Refused(format!(
            "the PostgreSQL database {shown} already holds {tables} tables that are not kamikarte's: give kamikarte a database of its own (createdb)"
        )));
    }
    for statement in create_statements()? {
        tx.execute_batch(&statement)?;
    }
    tx.commit()?;
    Ok(())
}

/// The statements that make an empty PostgreSQL database a kamikarte hub at the latest version.
pub fn create_statements() -> Result<Vec<String>> {
    let mut lite = rusqlite::Connection::open_in_memory()?;
    migrations::migrations().to_latest(&mut lite)?;
    let mut stmt = lite.prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )?;
    let objects: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = BTreeMap::new();
    let mut order = Vec::new();
    let mut rest = Vec::new();
    for (kind, name, table, sql) in &objects {
        match kind.as_str() {
            "table" => {
                order.push(name.clone());
                tables.insert(name.clone(), sql.clone());
            }
            "index" => rest.push(translate_common(sql)),
            "trigger" => rest.push(translate_trigger(name, table, sql)?),
            other => {
                return Err(StoreError::Refused(format!(
                    "the schema holds a {other} ({name}) that the PostgreSQL hub has no translation for"
                )));
            }
        }
    }
    let mut out = vec![
        "CREATE TABLE kamikarte_schema (version BIGINT NOT NULL)".to_string(),
        format!("INSERT INTO kamikarte_schema (version) VALUES ({})", migrations::count()),
    ];
    for name in referenced_first(&order, &tables) {
        out.extend(translate_table(&name, &tables[&name])?);
    }
    out.extend(rest);
    Ok(out)
}

/// Tables in an order where each comes after those it references.
fn referenced_first(order: &[String], tables: &BTreeMap<String, String>) -> Vec<String> {
    let refs = Regex::new(r"(?i)REFERENCES\s+(\w+)").expect("a valid pattern");
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    fn visit(
        name: &str,
        tables: &BTreeMap<String, String>,
        refs: &Regex,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !done.insert(name.to_string()) {
            return;
        }
        for c in refs.captures_iter(&tables[name]) {
            let target = &c[1];
            if target != name && tables.contains_key(target) {
                visit(target, tables, refs, done, out);
            }
        }
        out.push(name.to_string());
    }
    for name in order {
        visit(name, tables, &refs, &mut done, &mut out);
    }
    out
}

fn translate_common(sql: &str) -> String {
    let glob = Regex::new(r"(?i)\bGLOB\s+'([^']*)'").expect("a valid pattern");
    let sql = glob.replace_all(sql, |c: &regex::Captures<'_>| {
        let pattern: String = c[1]
            .chars()
            .map(|ch| match ch {
                '*' => ".*".to_string(),
                '?' => ".".to_string(),
                '.' | '+' | '(' | ')' | '^' | '$' | '|' | '{' | '}' | '\\' => format!("\\{ch}"),
                other => other.to_string(),
            })
            .collect();
        format!("~ '^{pattern}$'")
    });
    let json = Regex::new(r"(?i)\bjson_valid\((\w+)\)").expect("a valid pattern");
    let sql = json.replace_all(&sql, "(CAST($1 AS jsonb) IS NOT NULL)");
    let user = Regex::new(r"\buser\b").expect("a valid pattern");
    user.replace_all(&sql, "\"user\"").into_owned()
}

fn translate_table(name: &str, sql: &str) -> Result<Vec<String>> {
    let without_rowid = Regex::new(r"(?i)WITHOUT\s+ROWID").expect("a valid pattern").is_match(sql);
    let options = Regex::new(r"(?is)\)\s*((STRICT|WITHOUT\s+ROWID)\s*,?\s*)+$").expect("a valid pattern");
    let sql = options.replace(sql.trim_end(), ")");
    let key =
        Regex::new(r"(?i)\b(\w+)\s+INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?").expect("a valid pattern");
    let key_column = key.captures(&sql).map(|c| c[1].to_string());
    let sql = key.replace(&sql, "$1 BIGINT PRIMARY KEY");
    // Text compares and sorts by code point, as in SQLite, whatever the hub database's locale.
    let types = [
        ("INTEGER", "BIGINT"),
        ("REAL", "DOUBLE PRECISION"),
        ("BLOB", "BYTEA"),
        ("TEXT", "TEXT COLLATE \"C\""),
    ];
    let mut sql = sql.into_owned();
    for (from, to) in types {
        sql =
            Regex::new(&format!(r"\b{from}\b")).expect("a valid pattern").replace_all(&sql, to).into_owned();
    }
    let mut sql = translate_common(&sql);
    let mut out = Vec::new();
    if without_rowid {
        out.push(sql);
        return Ok(out);
    }
    let column = match &key_column {
        Some(c) => {
            insert_column(&mut sql, &format!("rowid BIGINT GENERATED ALWAYS AS ({c}) STORED"))?;
            c.clone()
        }
        None => {
            insert_column(&mut sql, "rowid BIGINT NOT NULL")?;
            "rowid".to_string()
        }
    };
    out.push(sql);
    if key_column.is_none() {
        out.push(format!("CREATE UNIQUE INDEX {name}_rowid ON {name} (rowid)"));
    }
    // The largest number plus one is safe only while writers take turns: the trigger takes the
    // write lock itself (a no-op inside a write, which holds it already).
    out.push(format!(
        "CREATE FUNCTION kamikarte_number_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.{column} IS NULL THEN
        PERFORM pg_advisory_xact_lock({lock});
        SELECT COALESCE(MAX({column}), 0) + 1 INTO NEW.{column} FROM {name};
    END IF;
    RETURN NEW;
END $$",
        lock = db::WRITE_LOCK
    ));
    out.push(format!(
        "CREATE TRIGGER {name}_numbered BEFORE INSERT ON {name} FOR EACH ROW EXECUTE FUNCTION kamikarte_number_{name}()"
    ));
    // Remembered only for a row actually inserted (not one an upsert skipped or updated), as
    // SQLite's last_insert_rowid.
    out.push(format!(
        "CREATE FUNCTION kamikarte_inserted_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('kamikarte.last_rowid', CAST(NEW.{column} AS TEXT), false);
    RETURN NULL;
END $$"
    ));
    out.push(format!(
        "CREATE TRIGGER {name}_inserted AFTER INSERT ON {name} FOR EACH ROW EXECUTE FUNCTION kamikarte_inserted_{name}()"
    ));
    Ok(out)
}

/// Adds a column definition after the table's last column (before its table constraints).
fn insert_column(sql: &mut String, definition: &str) -> Result<()> {
    let open = sql.find('(').ok_or_else(|| StoreError::Refused(format!("cannot read the table {sql}")))?;
    let close = sql.rfind(')').ok_or_else(|| StoreError::Refused(format!("cannot read the table {sql}")))?;
    sql.insert_str(open + 1, &format!("\n    {definition},"));
    let _ = close;
    Ok(())
}

fn translate_trigger(name: &str, table: &str, sql: &str) -> Result<String> {
    let raise = Regex::new(
        r"(?is)^CREATE\s+TRIGGER\s+\w+\s+BEFORE\s+(UPDATE|DELETE)\s+ON\s+\w+\s+BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*'((?:[^']|'')*)'\s*\)\s*;\s*END$",
    )
    .expect("a valid pattern");
    let c = raise.captures(sql.trim()).ok_or_else(|| {
        StoreError::Refused(format!(
            "the trigger {name} has no PostgreSQL translation (only RAISE(ABORT) triggers do)"
        ))
    })?;
    // A table that refuses DELETE refuses TRUNCATE too (SQLite has no TRUNCATE).
    let truncate = if c[1].eq_ignore_ascii_case("DELETE") {
        format!(
            ";\nCREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION kamikarte_refuse_{name}()"
        )
    } else {
        String::new()
    };
    Ok(format!(
        "CREATE FUNCTION kamikarte_refuse_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION kamikarte_refuse_{name}(){truncate}",
        message = c[2].replace('%', "%%"),
        event = &c[1],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_index_and_trigger_has_a_translation() {
        let statements = create_statements().unwrap();
        let all = statements.join(";\n");
        for word in ["STRICT", "WITHOUT ROWID", "AUTOINCREMENT", " INTEGER", " BLOB", "GLOB", "RAISE(ABORT"] {
            assert!(!all.contains(word), "{word} left in the PostgreSQL schema");
        }
        assert!(all.contains("CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit"));
        assert!(all.contains("rowid BIGINT GENERATED ALWAYS AS (seq) STORED"), "{all}");
    }

    #[test]
    fn globs_become_anchored_regexes() {
        assert_eq!(
            translate_common("CHECK (t GLOB '[0-2][0-9]:[0-5][0-9]')"),
            "CHECK (t ~ '^[0-2][0-9]:[0-5][0-9]$')"
        );
    }
}
