-- Running the downtime: episodes, downtime-ID blocks, registrations and scan-station events.

CREATE TABLE episodes (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    phase       INTEGER NOT NULL CHECK (phase BETWEEN 1 AND 4),
    ended_at    TEXT,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
) STRICT;

-- At most one episode is open: everything recorded belongs to it.
CREATE UNIQUE INDEX episodes_one_open ON episodes ((ended_at IS NULL)) WHERE ended_at IS NULL;

CREATE TABLE episode_notes (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER NOT NULL REFERENCES episodes (id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
) STRICT;

-- Blocks of patient numbers the EHR reserved, per station. Never deleted: a used-up block still
-- stops a new block from overlapping it, so no downtime ID is ever handed out twice.
CREATE TABLE id_blocks (
    id          INTEGER PRIMARY KEY,
    station     TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    first       INTEGER NOT NULL,
    last        INTEGER NOT NULL,
    next        INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    CHECK (first >= 1 AND first <= last AND next BETWEEN first AND last + 1)
) STRICT;

-- A patient registered during downtime (their row in `patients` has source 'downtime').
CREATE TABLE registrations (
    patient_id        TEXT PRIMARY KEY REFERENCES patients (id),
    episode_id        INTEGER NOT NULL REFERENCES episodes (id),
    block_id          INTEGER NOT NULL REFERENCES id_blocks (id),
    number            INTEGER NOT NULL,
    outpatient        INTEGER NOT NULL CHECK (outpatient IN (0, 1)),
    identity_unknown  INTEGER NOT NULL CHECK (identity_unknown IN (0, 1)),
    dob_estimated     INTEGER NOT NULL CHECK (dob_estimated IN (0, 1)),
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    UNIQUE (block_id, number)
) STRICT;

-- What the scan station recorded: identity checks, items scanned for a patient, hard stops.
CREATE TABLE scan_events (
    id                INTEGER PRIMARY KEY,
    episode_id        INTEGER REFERENCES episodes (id),
    at                TEXT NOT NULL,
    day               TEXT NOT NULL, -- the station's local date, for the volume monitor
    station           TEXT NOT NULL,
    user              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('identify', 'item', 'wrong_patient')),
    action            TEXT NOT NULL,
    payload           TEXT NOT NULL,
    patient_id        TEXT,
    -- On a wrong-patient stop: whose item it was.
    other_patient_id  TEXT,
    form_code         TEXT,
    serial            TEXT,
    volume            TEXT, -- volume-monitor category of a paper order, NULL for other items
    dismissed_at      TEXT,
    dismissed_by      TEXT
) STRICT;

CREATE INDEX scan_events_payload ON scan_events (payload, at);
CREATE INDEX scan_events_volume ON scan_events (day, volume) WHERE volume IS NOT NULL;
