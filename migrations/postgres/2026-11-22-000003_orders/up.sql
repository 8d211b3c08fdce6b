-- Orders and everything the intake decides: the order itself, its event log (timeline), the
-- intake draft and plan (confidential JSON documents), extensions, the coachee's consents and
-- link tokens, and the idempotency record of POST requests.
CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,
    employer_id         TEXT NOT NULL REFERENCES organisations (id),
    provider_id         TEXT NOT NULL REFERENCES organisations (id),
    status              TEXT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    coachee_name        TEXT NOT NULL,
    coachee_email       TEXT,
    coachee_phone       TEXT,
    kind                TEXT,
    context             TEXT NOT NULL DEFAULT '[]',
    -- the rest of what the employer told (job, reason, hopes, preferences): a JSON object
    details             TEXT NOT NULL DEFAULT '{}',
    session_budget      INTEGER NOT NULL,
    end_date            DATE NOT NULL,
    external_ref        TEXT,
    coach_id            TEXT REFERENCES coaches (id),
    contact_due_at      TIMESTAMP NOT NULL,
    contacted_at        TIMESTAMP,
    contact_channel     TEXT,
    intake_decision     TEXT,
    completed_at        TIMESTAMP,
    cancelled_at        TIMESTAMP,
    cancel_reason       TEXT,
    created_by          TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    CONSTRAINT orders_external_ref_unique UNIQUE (employer_id, external_ref)
);
CREATE INDEX orders_employer_idx ON orders (employer_id, id);
CREATE INDEX orders_provider_idx ON orders (provider_id, id);
CREATE INDEX orders_coach_idx ON orders (coach_id, id);

CREATE TABLE order_events (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    event_type  TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    -- non-confidential details only (JSON object)
    data        TEXT NOT NULL DEFAULT '{}',
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

CREATE TABLE intakes (
    order_id     TEXT PRIMARY KEY REFERENCES orders (id),
    draft        TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    updated_at   TIMESTAMP NOT NULL,
    completed_at TIMESTAMP
);

CREATE TABLE plans (
    order_id   TEXT PRIMARY KEY REFERENCES orders (id),
    plan       TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE order_extensions (
    id                     TEXT PRIMARY KEY,
    order_id               TEXT NOT NULL REFERENCES orders (id),
    added_sessions         INTEGER NOT NULL,
    new_end_date           DATE NOT NULL,
    substantiation         TEXT NOT NULL,
    alternative_considered TEXT NOT NULL,
    created_by             TEXT NOT NULL,
    created_at             TIMESTAMP NOT NULL
);
CREATE INDEX order_extensions_order_idx ON order_extensions (order_id);

CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    kind        TEXT NOT NULL CHECK (kind IN ('assessment', 'share_summary')),
    given       BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX consents_order_idx ON consents (order_id, kind, id);

CREATE TABLE coachee_links (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES orders (id),
    issued_by  TEXT NOT NULL,
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX coachee_links_order_idx ON coachee_links (order_id);

CREATE TABLE idempotency_keys (
    subject       TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    response_body TEXT,
    headers       TEXT,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
