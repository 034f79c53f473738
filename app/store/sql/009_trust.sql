-- Trust, hardened (issue 14).
--
-- Rows that grant power carry a seal: an HMAC under the audit key, which lives outside the
-- database (trust.rs). A role, a password hash or a setting changed straight in the file no longer
-- matches its seal and is refused. The seals are filled in by the program when it first opens the
-- database with its key (NULL here: SQL cannot compute them).
ALTER TABLE users ADD COLUMN seal TEXT;
ALTER TABLE meta ADD COLUMN seal TEXT;

-- An administrator's reset: the temporary password works once, to set a new one.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));
-- The demo's public accounts, switched off when real data arrives.
ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1));
UPDATE users SET demo = 1
 WHERE name IN ('admin', 'clerk', 'nurse', 'billing')
   AND EXISTS (SELECT 1 FROM meta WHERE key = 'demo' AND value = 'true');

-- Failed logins and locks are kept per *subject*: the account's name when it exists, a keyed
-- hash of what was typed when it does not (so unknown names lock the same way, and a password
-- typed into the name field is never stored). No foreign key: a subject need not be an account.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    subject  TEXT NOT NULL,
    at       TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_subject ON login_failures (subject, at);

CREATE TABLE login_locks (
    subject       TEXT PRIMARY KEY,
    locked_until  TEXT NOT NULL
) STRICT;
INSERT INTO login_locks (subject, locked_until)
    SELECT name, locked_until FROM users WHERE locked_until IS NOT NULL;
ALTER TABLE users DROP COLUMN locked_until;

-- A census import stages its changes here in short batches, then swaps them into `patients` in
-- one short transaction: readers never see half a census, and a nurse's registration never
-- waits behind a whole import. Rows of an import that was killed are cleared by the next one.
CREATE TABLE census_staging (
    import              TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    staged_at           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    action              TEXT NOT NULL CHECK (action IN ('insert', 'update', 'readmit', 'discharge')),
    -- The row's updated_at when the import compared it (NULL: no such patient then): the swap
    -- refuses when any row has changed since.
    expected_updated_at TEXT,
    name                TEXT,
    kana                TEXT,
    kana_key            TEXT,
    dob                 TEXT,
    sex                 TEXT,
    blood_type          TEXT,
    ward                TEXT,
    room                TEXT,
    bed                 TEXT,
    department          TEXT,
    allergies           TEXT,
    PRIMARY KEY (import, seq)
) STRICT;
