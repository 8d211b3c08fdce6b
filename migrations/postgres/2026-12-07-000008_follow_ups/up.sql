-- The end of a trajectory and what follows it (DOMAIN.md steps 7-8): the closing review of the
-- client's qualities (000), the follow-ups a few months later (002), and the job queue that books
-- them, on the service's own database so that a job is enqueued in the transaction of the change
-- that causes it.

-- The coach's closing review: each quality with what the plan does if there is too much of it.
CREATE TABLE closing_reviews (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    review     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Its summary, kept with the order when it completes: the employer reads it only with the
-- coachee's consent to share a summary.
ALTER TABLE orders ADD COLUMN closing_summary TEXT;

-- An employer's follow-ups: how many days after completion each is due (0 to 2 of them).
CREATE TABLE follow_up_policies (
    employer_id TEXT PRIMARY KEY REFERENCES organisations (id),
    days        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE follow_ups (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (id),
    provider_id  TEXT NOT NULL REFERENCES organisations (id),
    -- 1 or 2: with the order, what makes a repeated booking a no-op
    number       INTEGER NOT NULL,
    due_on       DATE NOT NULL,
    status       TEXT NOT NULL
        CHECK (status IN ('pending', 'scheduled', 'flagged', 'done', 'skipped')),
    session_id   TEXT REFERENCES sessions (id),
    -- why a planner must look at it: no_slot, coach_unavailable, session_cancelled
    flag         TEXT,
    skip_reason  TEXT,
    results      TEXT CHECK (results IN ('lasted', 'partly', 'not_lasted')),
    outcome_note TEXT,
    outcome_at   TIMESTAMP,
    version      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CONSTRAINT follow_ups_one_per_number UNIQUE (order_id, number)
);
CREATE INDEX follow_ups_provider_idx ON follow_ups (provider_id, status, due_on);

-- Work the service does on its own, at-least-once with effects made idempotent by their own
-- unique keys. A job is claimed with a lease; a worker that dies leaves it to be taken again
-- when the lease runs out.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    -- a second enqueue of the same kind and key is the first job, not a second
    dedupe_key      TEXT NOT NULL,
    -- whose work it is: the provider's admins see its failures
    organisation_id TEXT REFERENCES organisations (id),
    payload         TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL CHECK (status IN ('queued', 'done', 'parked')),
    run_at          TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    leased_until    TIMESTAMP,
    leased_by       TEXT,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    CONSTRAINT jobs_once_per_key UNIQUE (kind, dedupe_key)
);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_organisation_idx ON jobs (organisation_id, status, id);
