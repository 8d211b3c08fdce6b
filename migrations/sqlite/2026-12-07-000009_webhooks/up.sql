-- Webhooks (issue 18): an organisation's subscriptions of an URL to event types, the outbox of
-- their deliveries (written in the transaction of the change, when its events are numbered), and
-- each delivery's attempts.

CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    organisation_id       TEXT NOT NULL REFERENCES organisations (id),
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    -- a JSON array of event types
    event_types           TEXT NOT NULL,
    -- the signing secret (`whsec_…`), sealed with the notes key
    secret                TEXT NOT NULL,
    -- after a rotation, the secret before it signs beside the new one until `previous_until`
    previous_secret       TEXT,
    previous_until        TIMESTAMP,
    enabled               BOOLEAN NOT NULL,
    -- why it was disabled: `gone` (the receiver answered 410), `failing` (a delivery failed
    -- for a day), `by_request`
    disabled_reason       TEXT CHECK (disabled_reason IN ('gone', 'failing', 'by_request')),
    disabled_detail       TEXT,
    disabled_at           TIMESTAMP,
    version               INTEGER NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_organisation_idx ON webhooks (organisation_id, id);
-- one subscription per URL: a retried create finds the first (409), not a second
CREATE UNIQUE INDEX webhooks_one_per_url ON webhooks (organisation_id, url);

CREATE TABLE webhook_deliveries (
    -- the `webhook-id` header: the same on every attempt and redelivery
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id),
    -- the event delivered; none for a ping
    event_id         TEXT REFERENCES events (id),
    event_type       TEXT NOT NULL,
    -- the event's number in the organisation's log (0 for a ping): the order of delivery
    position         BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    -- when the failures of the current run began: retried for a day from here
    failing_since    TIMESTAMP,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (webhook_id, status, position, id);
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id              TEXT PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at    TIMESTAMP NOT NULL,
    -- the receiver's status code; none when no response came (timeout, refused address)
    status_code     INTEGER,
    error           TEXT,
    -- the start of the receiver's response body
    response_body   TEXT,
    duration_ms     INTEGER NOT NULL,
    -- when the delivery goes again after this attempt, if it does
    next_attempt_at TIMESTAMP
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
