-- The clinical snapshot read from the hospital's SS-MIX2 standardized storage (issue 17): who
-- has an ID (ADT-00), where they are (ADT-12/22/42/52), their problems, active medications,
-- recent results and diet, as the storage's files said when they were read.

-- One `snapshot import` run. `finished_at` is set when every batch was written: a run killed
-- half-way has none, and the snapshot's age is that of the last finished run.
CREATE TABLE snapshot_runs (
    id           INTEGER PRIMARY KEY,
    root         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    started_by   TEXT NOT NULL,
    finished_at  TEXT,
    counts_json  TEXT
) STRICT;

-- Each folder of the storage read — patient, day and data-type (leaf) folders, relative to the
-- root — with the modification time it had when read (`crate::snapshot::walk`): a rerun reads
-- only leaves whose time changed and lists only patient and day folders whose time changed. A
-- leaf is written in the batch that wrote its files, its parents after every batch, so a killed
-- run resumes where it stopped. -1 means "look again": too recent to trust, or a file in it
-- could not be read (reported again until it is fixed).
-- `day` is the day folder's name (`20261130`, `-`) for day and leaf folders, NULL for patient
-- folders: an incremental run reads the times of recent days only.
CREATE TABLE snapshot_dirs (
    dir       TEXT PRIMARY KEY,
    day       TEXT,
    mtime_ns  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX snapshot_dirs_day ON snapshot_dirs (day);

-- Everyone with an ID (ADT-00, the latest message wins). Search keys as the census's.
CREATE TABLE snapshot_patients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kana        TEXT NOT NULL,
    kana_key    TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    dob         TEXT,
    sex         TEXT NOT NULL,
    blood_type  TEXT NOT NULL,
    allergies   TEXT NOT NULL, -- JSON array of {kind, code, text, severity}
    ts          TEXT NOT NULL,
    file        TEXT NOT NULL
) STRICT;
CREATE INDEX snapshot_patients_kana ON snapshot_patients (kana_key);
CREATE INDEX snapshot_patients_name ON snapshot_patients (name_key);

-- Every other message, one row per order (patient, data type, order key): the file with the
-- latest timestamp wins; `flag` 'deleted' means the order was cancelled. The order key is the
-- order number (a correction may move an order to another day's folder), and for patient-level
-- data without one (fifteen 9s: a visit, an admission) the number and the day. `payload` is the
-- domain's JSON of what the message says (domain::snapshot::Record).
CREATE TABLE snapshot_records (
    patient_id  TEXT NOT NULL,
    data_type   TEXT NOT NULL,
    order_key   TEXT NOT NULL,
    order_no    TEXT NOT NULL,
    day         TEXT NOT NULL,
    ts          TEXT NOT NULL,
    flag        TEXT NOT NULL CHECK (flag IN ('valid', 'deleted')),
    department  TEXT,
    payload     TEXT NOT NULL,
    file        TEXT NOT NULL,
    PRIMARY KEY (patient_id, data_type, order_key)
) STRICT;

-- Where each patient is now, worked out from their ADT records after each run.
CREATE TABLE snapshot_stays (
    patient_id  TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('admitted', 'discharged')),
    ward        TEXT NOT NULL,
    room        TEXT NOT NULL,
    bed         TEXT NOT NULL,
    department  TEXT NOT NULL,
    since       TEXT NOT NULL,
    ts          TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX snapshot_stays_status ON snapshot_stays (status, ward);
