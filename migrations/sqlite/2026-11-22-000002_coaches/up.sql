-- Coaches of a provider organisation. A coach may have a login (user_id) or not yet.
CREATE TABLE coaches (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    user_id         TEXT UNIQUE REFERENCES users (id),
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    -- JSON arrays of strings
    specialisms     TEXT NOT NULL DEFAULT '[]',
    languages       TEXT NOT NULL DEFAULT '[]',
    time_zone       TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX coaches_organisation_idx ON coaches (organisation_id, id);
