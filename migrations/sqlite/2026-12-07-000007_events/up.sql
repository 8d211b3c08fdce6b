-- Events beyond orders: an organisation's own events (a coach added, availability or settings
-- changed) have no order. The timeline's table becomes `events`: an event is about an order or,
-- without one, about an organisation; its payload carries the version of its shape, so an event
-- stored long ago is read back through the typed enum, never passed through unread.
-- (SQLite cannot drop a NOT NULL: the table is made anew, and the event log with it.)
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    order_id        TEXT REFERENCES orders (id),
    organisation_id TEXT REFERENCES organisations (id),
    event_type      TEXT NOT NULL,
    data_version    INTEGER NOT NULL DEFAULT 1,
    from_status     TEXT,
    to_status       TEXT,
    actor_role      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    -- non-confidential details only (JSON object)
    data            TEXT NOT NULL DEFAULT '{}',
    occurred_at     TIMESTAMP NOT NULL,
    CONSTRAINT events_about_an_order_or_an_organisation
        CHECK ((order_id IS NULL) <> (organisation_id IS NULL))
);
INSERT INTO events (id, order_id, event_type, from_status, to_status, actor_role, actor_id, data, occurred_at)
SELECT id, order_id, event_type, from_status, to_status, actor_role, actor_id, data, occurred_at
FROM order_events;

CREATE TABLE event_log_rebuilt (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    seq             BIGINT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events (id),
    PRIMARY KEY (organisation_id, seq)
);
INSERT INTO event_log_rebuilt (organisation_id, seq, event_id)
SELECT organisation_id, seq, event_id FROM event_log;
DROP TABLE event_log;
DROP TABLE order_events;
ALTER TABLE event_log_rebuilt RENAME TO event_log;
CREATE INDEX event_log_event_idx ON event_log (event_id);
CREATE INDEX events_order_idx ON events (order_id, id);
CREATE INDEX events_organisation_idx ON events (organisation_id, id);
