-- Back-entry: what clerks typed from the paper, the structured records and charge lines made
-- from it, and the mapping of downtime IDs to the real record numbers the EHR assigned.

-- One keying of one paper page. A page is known by its printed serial (typed from the code
-- under its barcode, or read from its scan) or, for a page filed by hand without a serial, by
-- its scanned page. Rows are never deleted: a correction or a resolution supersedes a keying.
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY,
    form_id       TEXT NOT NULL,
    form_code     TEXT NOT NULL,
    patient_id    TEXT NOT NULL,
    station       TEXT,
    number        INTEGER,
    scanned_page  INTEGER REFERENCES scanned_pages (id),
    -- 1: first keying; 2: the second, independent keying of a double entry; 3: the third look
    -- that resolved a mismatch between 1 and 2.
    pass          INTEGER NOT NULL CHECK (pass IN (1, 2, 3)),
    -- pending: a first keying waiting for its second; mismatch: a second keying that differs
    -- from the first; entered: accepted, not verified; verified: accepted and checked by a
    -- second person (or by two keyings agreeing); superseded: replaced by a later keying.
    state         TEXT NOT NULL
                  CHECK (state IN ('pending', 'mismatch', 'entered', 'verified', 'superseded')),
    -- {field key: value} in the form's own terms, normalised (dates YYYY-MM-DD, times HH:MM).
    values_json   TEXT NOT NULL,
    -- When it happened on paper (the form's date and time), as far as the page says.
    event_at      TEXT,
    entered_at    TEXT NOT NULL,
    entered_by    TEXT NOT NULL,
    verified_at   TEXT,
    verified_by   TEXT,
    superseded_by INTEGER REFERENCES entries (id),
    CHECK (number IS NOT NULL OR scanned_page IS NOT NULL),
    CHECK ((station IS NULL) = (number IS NULL))
) STRICT;

CREATE INDEX entries_serial ON entries (station, number, state);
CREATE INDEX entries_page ON entries (scanned_page, state);
CREATE INDEX entries_patient ON entries (patient_id, form_code);

-- Charge lines of an accepted charge-slip keying (state entered or verified; a pending or
-- mismatched keying has none). Billing receives the lines of verified keyings that are not
-- superseded.
CREATE TABLE charge_lines (
    id            INTEGER PRIMARY KEY,
    entry_id      INTEGER NOT NULL REFERENCES entries (id),
    line_no       INTEGER NOT NULL,
    patient_id    TEXT NOT NULL,
    service_date  TEXT NOT NULL,
    code          TEXT NOT NULL,
    name          TEXT,
    quantity      REAL NOT NULL CHECK (quantity > 0),
    department    TEXT,
    doctor        TEXT,
    -- tick: from a tick box on the slip; typed: from a code line.
    origin        TEXT NOT NULL CHECK (origin IN ('tick', 'typed')),
    UNIQUE (entry_id, line_no)
) STRICT;

CREATE INDEX charge_lines_patient ON charge_lines (patient_id, service_date);

-- Structured records of an accepted keying: one per row of the paper (a vital-sign round, a
-- dose given, a drug prescribed) or one for the page (a progress note).
CREATE TABLE clinical_records (
    id            INTEGER PRIMARY KEY,
    entry_id      INTEGER NOT NULL REFERENCES entries (id),
    patient_id    TEXT NOT NULL,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('progress_note', 'observation', 'administration', 'order')),
    -- The row of the paper ('' for the page as a whole).
    row_label     TEXT NOT NULL,
    event_at      TEXT,
    values_json   TEXT NOT NULL,
    UNIQUE (entry_id, row_label)
) STRICT;

CREATE INDEX clinical_records_patient ON clinical_records (patient_id, kind);

-- The real record number the restored EHR assigned to a downtime ID.
CREATE TABLE mrn_links (
    downtime_id     TEXT PRIMARY KEY,
    mrn             TEXT NOT NULL,
    -- What the EHR said about the MRN when it was mapped (from its census or its CSV).
    ehr_name        TEXT,
    ehr_kana        TEXT,
    ehr_dob         TEXT,
    -- Why a mapping that contradicts name or date of birth was accepted.
    override_reason TEXT,
    linked_at       TEXT NOT NULL,
    linked_by       TEXT NOT NULL
) STRICT;

CREATE INDEX mrn_links_mrn ON mrn_links (mrn);

-- Two downtime IDs found to be the same person: `merged_id`'s paper belongs to `into_id`.
CREATE TABLE patient_merges (
    merged_id   TEXT PRIMARY KEY,
    into_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    merged_at   TEXT NOT NULL,
    merged_by   TEXT NOT NULL,
    CHECK (merged_id <> into_id)
) STRICT;
