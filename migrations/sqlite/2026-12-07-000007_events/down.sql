CREATE TABLE order_events (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    event_type  TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    occurred_at TIMESTAMP NOT NULL
);
INSERT INTO order_events (id, order_id, event_type, from_status, to_status, actor_role, actor_id, data, occurred_at)
SELECT id, order_id, event_type, from_status, to_status, actor_role, actor_id, data, occurred_at
FROM events WHERE order_id IS NOT NULL;

CREATE TABLE event_log_rebuilt (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    seq             BIGINT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES order_events (id),
    PRIMARY KEY (organisation_id, seq)
);
INSERT INTO event_log_rebuilt (organisation_id, seq, event_id)
SELECT l.organisation_id, l.seq, l.event_id
FROM event_log l JOIN events e ON e.id = l.event_id
WHERE e.order_id IS NOT NULL;
DROP TABLE event_log;
DROP TABLE events;
ALTER TABLE event_log_rebuilt RENAME TO event_log;
CREATE INDEX event_log_event_idx ON event_log (event_id);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);
