-- Hand-off to the restored EHR: what was prepared for it (one row per version of each thing to
-- hand off), the HL7 messages made from it in sending order with their acknowledgements, and
-- which export wrote what. Rows are never deleted: a later version supersedes an earlier one.

-- One version of one thing to hand off. `subject` names the thing for good ('keyed:A-000123',
-- 'registration:D0000123', 'link:…', 'merge:…', 'page:45'); a new version is made only when
-- what it says changed.
CREATE TABLE handoff_items (
    id              INTEGER PRIMARY KEY,
    subject         TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    kind            TEXT NOT NULL
                    CHECK (kind IN ('registration', 'link', 'merge', 'keyed', 'page')),
    -- The patient as sent when this version was made (the MRN once mapped).
    patient_id      TEXT NOT NULL,
    -- The worklist item it carries ('A-000123', 'page 45'), NULL for patient-level items, and
    -- the keying it was made from (a keyed page).
    item            TEXT,
    entry_id        INTEGER,
    content_sha256  TEXT NOT NULL,
    -- What this version says: its JSON, DEFLATE-compressed (store::PackedContent).
    content         BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    superseded_by   INTEGER REFERENCES handoff_items (id),
    UNIQUE (subject, version)
) STRICT;

CREATE INDEX handoff_items_current ON handoff_items (subject) WHERE superseded_by IS NULL;
CREATE INDEX handoff_items_item ON handoff_items (item);

-- HL7 messages in sending order (id). The control ID is derived from the subject, the version
-- and the message's place in the item, so it never changes: a receiver drops what it has seen.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    handoff_item    INTEGER NOT NULL REFERENCES handoff_items (id),
    seq             INTEGER NOT NULL,
    control_id      TEXT NOT NULL UNIQUE,
    message_type    TEXT NOT NULL,
    -- The message in Unicode with HL7 escapes applied; encoded (ISO-2022-JP or UTF-8) when
    -- written or sent.
    body            TEXT NOT NULL,
    -- pending: not yet acknowledged; acknowledged: AA (or CA); rejected: AR/CR; error: AE/CE;
    -- withdrawn: a later version replaced it before it was ever sent or written.
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'acknowledged', 'rejected', 'error', 'withdrawn')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_sent_at    TEXT,
    ack_code        TEXT,
    ack_text        TEXT,
    ack_at          TEXT,
    last_error      TEXT,
    UNIQUE (handoff_item, seq)
) STRICT;

CREATE INDEX outbox_state ON outbox (state, id);

-- One export or sending run.
CREATE TABLE handoff_runs (
    id           INTEGER PRIMARY KEY,
    format       TEXT NOT NULL CHECK (format IN ('hl7', 'ssmix2', 'fhir', 'csv', 'mllp')),
    target       TEXT NOT NULL,
    episode_id   INTEGER,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    started_by   TEXT NOT NULL,
    counts_json  TEXT
) STRICT;

-- Which run wrote (or sent) which version of which item, per format.
CREATE TABLE deliveries (
    handoff_item  INTEGER NOT NULL REFERENCES handoff_items (id),
    format        TEXT NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES handoff_runs (id),
    at            TEXT NOT NULL,
    PRIMARY KEY (handoff_item, format)
) STRICT;
