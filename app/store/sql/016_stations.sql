-- A hospital of many stations (issue 18): ward PCs that run standalone during the outage and
-- bring what they recorded to a hub on a USB stick (station bundles), and the hub that prepares
-- them (station snapshots).

-- The stations this database knows besides itself: at the hub, every station it prepared or
-- merged; at a station, the codes the hub's snapshot listed. A station's bundles are signed with
-- an Ed25519 key whose public half is pinned here at its first bundle (`public_key`, hex); the
-- hub's own key is pinned the same way at a station when it loads the hub's first snapshot.
CREATE TABLE stations (
    code         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('station', 'hub')),
    public_key   TEXT,
    known_from   TEXT NOT NULL,
    -- The creation time of the newest file of it loaded here (a hub's snapshot): an older one is
    -- refused, so a stale file left on a stick cannot turn the census back.
    last_file_at TEXT,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    updated_by   TEXT NOT NULL
) STRICT;

-- Each bundle this station wrote and how far it reached in each table it reads by row number,
-- so the next bundle starts after it.
CREATE TABLE bundle_exports (
    seq         INTEGER PRIMARY KEY,
    file        TEXT NOT NULL,
    marks       TEXT NOT NULL, -- JSON {table: last row number written}
    rows        INTEGER NOT NULL,
    whole       INTEGER NOT NULL CHECK (whole IN (0, 1)),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
) STRICT;

-- Each bundle merged here (at the hub). Importing one again changes nothing. A bundle number can
-- come twice with other contents: a station killed between writing a bundle and recording it
-- writes that number again, with more rows (the merge takes both, row by row).
CREATE TABLE bundle_imports (
    station      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    digest       TEXT NOT NULL,
    counts       TEXT NOT NULL, -- JSON {table: rows new here}
    imported_at  TEXT NOT NULL,
    imported_by  TEXT NOT NULL,
    PRIMARY KEY (station, seq, digest)
) STRICT;

-- Rows merged from a station whose key there is a row number: that number → the row's number here.
CREATE TABLE bundle_rows (
    station    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    origin_id  INTEGER NOT NULL,
    local_id   INTEGER NOT NULL,
    PRIMARY KEY (station, kind, origin_id)
) STRICT, WITHOUT ROWID;

-- Rows a station changes in place (an episode, a registered patient) travel in every bundle: the
-- hub keeps the state of the newest bundle that set each, ordered by the station's bundle number,
-- never by a clock.
CREATE TABLE merged_states (
    station  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (station, kind, key)
) STRICT, WITHOUT ROWID;

-- A database that printed, scanned or reserved serials under the old default station code `A`
-- before codes were asked for keeps it: marked here by this migration, taken at the next open
-- (`Store::keep_legacy_station_code`, audited), so a kill in between loses nothing.
CREATE TABLE legacy_station (code TEXT NOT NULL) STRICT;
INSERT INTO legacy_station (code)
SELECT 'A' WHERE EXISTS (SELECT 1 FROM printed_pages WHERE station = 'A')
              OR EXISTS (SELECT 1 FROM station_counters WHERE station = 'A')
              OR EXISTS (SELECT 1 FROM scan_events WHERE station = 'A')
              OR EXISTS (SELECT 1 FROM packets WHERE station = 'A');

-- A station's episode merged at the hub keeps its station; the hub's own episodes have none.
-- One episode is open per database, and at the hub one per station besides.
ALTER TABLE episodes ADD COLUMN station TEXT;
DROP INDEX episodes_one_open;
CREATE UNIQUE INDEX episodes_one_open ON episodes ((ended_at IS NULL))
    WHERE ended_at IS NULL AND station IS NULL;
CREATE UNIQUE INDEX episodes_one_open_per_station ON episodes (station)
    WHERE ended_at IS NULL AND station IS NOT NULL;

-- The stations' audit entries as they wrote them (chained under their own keys, which stay at
-- the stations; the bundle's signature vouches for them in transit). Append-only like `audit`.
CREATE TABLE station_audit (
    station    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (station, seq)
) STRICT;

CREATE TRIGGER station_audit_is_append_only_update BEFORE UPDATE ON station_audit
BEGIN
    SELECT RAISE(ABORT, 'the stations'' audit trails are append-only');
END;

CREATE TRIGGER station_audit_is_append_only_delete BEFORE DELETE ON station_audit
BEGIN
    SELECT RAISE(ABORT, 'the stations'' audit trails are append-only');
END;
