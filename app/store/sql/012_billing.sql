-- Billing that 医事 imports (issue 16).
-- The time of service a charge slip gives (`HH:MM`): after-hours, holiday and late-night
-- surcharges depend on it.
ALTER TABLE charge_lines ADD COLUMN service_time TEXT
    CHECK (service_time IS NULL OR service_time GLOB '[0-2][0-9]:[0-5][0-9]');

-- What ORCA (日医標準レセプトソフト, /api21/medicalmodv2) accepted, per visit: a patient's charges
-- of one day and department. A visit sent once is never registered twice: a changed visit is
-- replaced (class 03) under the Medical_Uid ORCA gave, one with no charges left deleted (class
-- 02). ORCA gives a new Medical_Uid at every replacement; the row keeps the latest.
CREATE TABLE orca_visits (
    visit        TEXT PRIMARY KEY,
    -- SHA-256 of the visit's charges as last accepted (what a resend compares against).
    content_sha  TEXT NOT NULL,
    medical_uid  TEXT NOT NULL,
    -- `registered`, `replaced` or `deleted`.
    state        TEXT NOT NULL CHECK (state IN ('registered', 'replaced', 'deleted')),
    sent_at      TEXT NOT NULL,
    sent_by      TEXT NOT NULL,
    -- ORCA's Api_Result and its message, warnings included (M01: a code ORCA dropped).
    api_result   TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT ''
) STRICT;

-- ORCA runs are hand-off runs too: the format check gains 'orca'. SQLite cannot change a CHECK,
-- so the table is rebuilt; deliveries reference it by name, and the deferred foreign keys are
-- checked at commit, when the rebuilt table holds every run under its old id.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE handoff_runs_new (
    id           INTEGER PRIMARY KEY,
    format       TEXT NOT NULL CHECK (format IN ('hl7', 'ssmix2', 'fhir', 'csv', 'mllp', 'orca')),
    target       TEXT NOT NULL,
    episode_id   INTEGER,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    started_by   TEXT NOT NULL,
    counts_json  TEXT
) STRICT;
INSERT INTO handoff_runs_new (id, format, target, episode_id, started_at, finished_at, started_by, counts_json)
    SELECT id, format, target, episode_id, started_at, finished_at, started_by, counts_json FROM handoff_runs;
DROP TABLE handoff_runs;
ALTER TABLE handoff_runs_new RENAME TO handoff_runs;
