-- Scheduling: each coach's working hours (a JSON document in the coach's time zone), the
-- sessions booked on orders, and the order's running count of regular sessions against its
-- budget (002), kept in the same transaction as the session that changes it.
CREATE TABLE coach_availability (
    coach_id   TEXT PRIMARY KEY REFERENCES coaches (id),
    -- weekly hours, buffer, notice, daily maximum and dated exceptions (domain::availability)
    rules      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- What a provider decides for all its trajectories: whether coachees book their own sessions,
-- and how late before a session the coachee's side may call it off without it counting.
CREATE TABLE provider_settings (
    organisation_id          TEXT PRIMARY KEY REFERENCES organisations (id),
    coachee_self_service     BOOLEAN NOT NULL,
    late_cancellation_hours  INTEGER NOT NULL,
    version                  INTEGER NOT NULL,
    updated_at               TIMESTAMP NOT NULL
);

-- A group session (003): one time of one coach shared by several orders, each with its own
-- session row (its budget, attendance and cancellation are its own).
CREATE TABLE session_groups (
    id          TEXT PRIMARY KEY,
    coach_id    TEXT NOT NULL REFERENCES coaches (id),
    provider_id TEXT NOT NULL REFERENCES organisations (id),
    capacity    INTEGER NOT NULL CHECK (capacity BETWEEN 2 AND 12),
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id                    TEXT PRIMARY KEY,
    order_id              TEXT NOT NULL REFERENCES orders (id),
    coach_id              TEXT NOT NULL REFERENCES coaches (id),
    provider_id           TEXT NOT NULL REFERENCES organisations (id),
    group_id              TEXT REFERENCES session_groups (id),
    -- what takes the coach's time: the session itself, or the group it is part of
    calendar_key          TEXT NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN ('intake', 'regular', 'assessment', 'follow_up')),
    format                TEXT NOT NULL CHECK (format IN ('in_person', 'phone', 'video')),
    location              TEXT,
    meeting_link          TEXT,
    starts_at             TIMESTAMP NOT NULL,
    ends_at               TIMESTAMP NOT NULL,
    -- the end plus the coach's buffer when it was booked: the coach's time it takes
    blocked_until         TIMESTAMP NOT NULL,
    outside_hours         BOOLEAN NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('planned', 'held', 'no_show', 'cancelled')),
    -- a regular session that is planned, held, missed, or cancelled late by the coachee's side
    counts_against_budget BOOLEAN NOT NULL,
    cancelled_at          TIMESTAMP,
    cancelled_by          TEXT,
    cancelled_by_role     TEXT,
    requested_by          TEXT,
    cancel_reason         TEXT,
    attendance_at         TIMESTAMP,
    -- the coachee's rating of the working relationship after the first session (004), 1 to 5
    rating                INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment        TEXT,
    rated_at              TIMESTAMP,
    version               INTEGER NOT NULL,
    booked_by             TEXT NOT NULL,
    booked_by_role        TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    CONSTRAINT sessions_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT sessions_blocks_its_time CHECK (blocked_until >= ends_at)
);
CREATE INDEX sessions_coach_time_idx ON sessions (coach_id, starts_at);
CREATE INDEX sessions_order_time_idx ON sessions (order_id, starts_at, id);
CREATE INDEX sessions_group_idx ON sessions (group_id);

-- Calendar feeds (RFC 5545) for calendar apps, which cannot send a bearer token: a coach's or an
-- order's, opened by a token in the URL that is stored only as its SHA-256 digest. Issuing a new
-- one revokes the earlier ones.
CREATE TABLE calendar_feeds (
    id         TEXT PRIMARY KEY,
    coach_id   TEXT REFERENCES coaches (id),
    order_id   TEXT REFERENCES orders (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    CONSTRAINT calendar_feeds_one_owner CHECK ((coach_id IS NULL) <> (order_id IS NULL))
);
CREATE INDEX calendar_feeds_coach_idx ON calendar_feeds (coach_id);
CREATE INDEX calendar_feeds_order_idx ON calendar_feeds (order_id);

-- The coach's private notes on a session, sealed (AES-256-GCM, see src/vault.rs): kept apart
-- from the session so that no query for a session can carry them by accident.
CREATE TABLE session_notes (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id),
    sealed     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

ALTER TABLE orders ADD COLUMN regular_sessions_planned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN regular_sessions_used INTEGER NOT NULL DEFAULT 0;
-- The first-session check (004): why and since when the working relationship is at risk.
ALTER TABLE orders ADD COLUMN alliance_risk TEXT;
ALTER TABLE orders ADD COLUMN alliance_at_risk_at TIMESTAMP;

-- No double booking, whatever the concurrency: a coach's booked time (with its buffer) and a
-- coachee's sessions never overlap; the sessions of one group (one calendar_key) share theirs. A violation is SQLSTATE 23P01, answered as a 409. (On SQLite
-- the check and the insert run in one write transaction taken up front, which serialises them.)
-- btree_gist is a trusted extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE sessions ADD CONSTRAINT sessions_coach_time_free
    EXCLUDE USING gist (coach_id WITH =, calendar_key WITH <>, tsrange(starts_at, blocked_until) WITH &&)
    WHERE (status <> 'cancelled');
ALTER TABLE sessions ADD CONSTRAINT sessions_coachee_time_free
    EXCLUDE USING gist (order_id WITH =, tsrange(starts_at, ends_at) WITH &&)
    WHERE (status <> 'cancelled');
