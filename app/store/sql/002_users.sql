-- Per-user accounts (argon2id hashes only), ID cards with PINs, and failed logins for lockout.

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'nurse', 'billing', 'admin')),
    password_hash TEXT NOT NULL,
    card_id       TEXT UNIQUE,
    pin_hash      TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    locked_until  TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
) STRICT;

CREATE TABLE login_failures (
    id    INTEGER PRIMARY KEY,
    user  TEXT NOT NULL REFERENCES users (name),
    at    TEXT NOT NULL
) STRICT;

CREATE INDEX login_failures_user ON login_failures (user, at);
