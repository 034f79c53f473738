-- Every table that holds data people change carries who changed it and when; the audit table
-- holds what changed, chained by hash (see audit.rs).

CREATE TABLE meta (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
) STRICT;

CREATE TABLE patients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kana          TEXT NOT NULL,
    kana_key      TEXT NOT NULL,
    dob           TEXT NOT NULL,
    sex           TEXT NOT NULL CHECK (sex IN ('M', 'F', 'O', 'U')),
    blood_type    TEXT NOT NULL,
    ward          TEXT NOT NULL,
    room          TEXT NOT NULL,
    bed           TEXT NOT NULL,
    department    TEXT NOT NULL,
    allergies     TEXT NOT NULL, -- JSON array of strings
    status        TEXT NOT NULL CHECK (status IN ('admitted', 'discharged')),
    discharged_at TEXT,
    -- 'census' rows are managed by census imports (and the demo, which is a census); later
    -- sources (downtime registration) are never discharged by a census re-import.
    source        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
) STRICT;

CREATE INDEX patients_ward ON patients (ward, status);
CREATE INDEX patients_kana_key ON patients (kana_key);

CREATE TABLE census_imports (
    id          INTEGER PRIMARY KEY,
    file        TEXT NOT NULL,
    encoding    TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    inserted    INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    readmitted  INTEGER NOT NULL,
    discharged  INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
) STRICT;

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    before     TEXT, -- JSON, NULL for a creation
    after      TEXT, -- JSON, NULL for a removal
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
