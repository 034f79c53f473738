-- The printed-page registry: every page a kit printed, by its serial, so that after recovery the
-- scan import can tell which pages came back and which are missing.

CREATE TABLE station_counters (
    station      TEXT PRIMARY KEY,
    next_number  INTEGER NOT NULL
) STRICT;

CREATE TABLE kits (
    id          INTEGER PRIMARY KEY,
    out_dir     TEXT NOT NULL,
    pages       INTEGER NOT NULL,
    files       INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
) STRICT;

CREATE TABLE printed_pages (
    station     TEXT NOT NULL,
    number      INTEGER NOT NULL,
    form_code   TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    -- NULL on a blank form; no foreign key: the registry outlives census changes.
    patient_id  TEXT,
    ward        TEXT NOT NULL,
    file        TEXT NOT NULL,
    kit_id      INTEGER NOT NULL REFERENCES kits (id),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (station, number)
) STRICT;

CREATE INDEX printed_pages_patient ON printed_pages (patient_id, form_code);
