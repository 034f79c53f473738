-- Scanned pages brought back after recovery. Each row is one page image, stored content-addressed
-- beside the database; a page is filed by its barcode, queued for a clerk to index by hand, or
-- recognised as a duplicate. Rows are never deleted: nothing a scanner produced is dropped.

CREATE TABLE scanned_pages (
    id             INTEGER PRIMARY KEY,
    -- Where the page came from: the source file's hash and the page inside it (1-based). Running
    -- an import again skips what it already took from the same file, whatever its name.
    source_sha256  TEXT NOT NULL,
    source_page    INTEGER NOT NULL CHECK (source_page >= 1),
    source_name    TEXT NOT NULL,
    -- The stored image (the scanner's JPEG as it came, anything else as PNG) and its hash.
    image_sha256   TEXT NOT NULL UNIQUE,
    image_file     TEXT NOT NULL,
    image_format   TEXT NOT NULL CHECK (image_format IN ('png', 'jpeg')),
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    upside_down    INTEGER NOT NULL DEFAULT 0 CHECK (upside_down IN (0, 1)),
    -- The barcode text as read, when one was read (a foreign barcode too).
    barcode        TEXT,
    state          TEXT NOT NULL CHECK (state IN ('filed', 'queued', 'duplicate', 'set_aside')),
    -- Why a page waits in the queue, or was set aside.
    reason         TEXT,
    form_code      TEXT,
    patient_id     TEXT,
    station        TEXT,
    number         INTEGER,
    duplicate_of   INTEGER REFERENCES scanned_pages (id),
    -- A page filed although the registry does not know its serial or patient, and why.
    warning        TEXT,
    -- Filed by a clerk's hand rather than by its barcode.
    manual         INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    imported_at    TEXT NOT NULL,
    imported_by    TEXT NOT NULL,
    changed_at     TEXT,
    changed_by     TEXT,
    UNIQUE (source_sha256, source_page)
) STRICT;

-- One filed page per printed serial: a second scan of the same page is a duplicate.
CREATE UNIQUE INDEX scanned_pages_serial ON scanned_pages (station, number)
    WHERE state = 'filed' AND number IS NOT NULL;
-- Duplicate checks and the completeness report look pages up by serial in every state.
CREATE INDEX scanned_pages_station_number ON scanned_pages (station, number, state);
CREATE INDEX scanned_pages_state ON scanned_pages (state);
CREATE INDEX scanned_pages_patient ON scanned_pages (patient_id, form_code);
