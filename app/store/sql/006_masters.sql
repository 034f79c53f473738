-- Code masters (lab tests, drugs, charges) imported from CSV and searched at back-entry. An
-- import replaces one master as a whole. `uses` is how often the hospital uses a code, as the
-- file says; `local_uses` counts the codes entered here, survives re-imports, and is added to
-- `uses` for ranking. `master` is checked by the program (domain::MasterKind), not here, so a
-- new master needs no table rebuild.

CREATE TABLE master_items (
    master      TEXT NOT NULL,
    code        TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 20),
    name        TEXT NOT NULL CHECK (name <> ''),
    kana        TEXT,
    unit        TEXT,
    points      REAL,
    uses        INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    local_uses  INTEGER NOT NULL DEFAULT 0 CHECK (local_uses >= 0),
    -- When and by whom the row's current values were imported.
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    PRIMARY KEY (master, code)
) STRICT;
