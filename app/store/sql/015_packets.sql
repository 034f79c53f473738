-- Pre-printed downtime packets (issue 17): downtime IDs drawn from a station's block before
-- anyone needs them, printed on a wristband, a label sheet and blank admission forms, for when
-- no PC works. A packet used on paper is registered later under its own ID (its `registrations`
-- row keeps the same block and number), so reconciliation treats it like any downtime ID.
-- Never deleted: a reserved number is never handed out again, printed or not.
CREATE TABLE packets (
    patient_id   TEXT PRIMARY KEY,
    block_id     INTEGER NOT NULL REFERENCES id_blocks (id),
    number       INTEGER NOT NULL,
    station      TEXT NOT NULL,
    reserved_at  TEXT NOT NULL,
    reserved_by  TEXT NOT NULL,
    UNIQUE (block_id, number)
) STRICT;

-- `kit --outpatients DATE` lists a day's visits (ADT-12) from the snapshot.
CREATE INDEX snapshot_records_day ON snapshot_records (data_type, day);
