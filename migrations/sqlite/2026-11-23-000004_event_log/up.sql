-- The event log of each organisation: every event on an order, numbered per organisation that may
-- see it (the employer that commissioned the order and the provider it is addressed to), in the
-- order the events were committed. Webhooks and the events feed read it: a reader that has seen
-- `seq` N of its organisation has seen everything before N, and nothing with a lower number can
-- appear later, because appending takes the organisation's head row (`last_seq`) inside the
-- transaction that records the change and holds it until that transaction ends.
CREATE TABLE event_log_heads (
    organisation_id TEXT PRIMARY KEY REFERENCES organisations (id),
    last_seq        BIGINT NOT NULL
);

CREATE TABLE event_log (
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    seq             BIGINT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES order_events (id),
    PRIMARY KEY (organisation_id, seq)
);
CREATE INDEX event_log_event_idx ON event_log (event_id);

-- The events recorded so far, numbered in the order they happened.
INSERT INTO event_log (organisation_id, seq, event_id)
SELECT organisation_id,
       ROW_NUMBER() OVER (PARTITION BY organisation_id ORDER BY event_id),
       event_id
FROM (
    SELECT o.employer_id AS organisation_id, e.id AS event_id
    FROM order_events e JOIN orders o ON o.id = e.order_id
    UNION ALL
    SELECT o.provider_id AS organisation_id, e.id AS event_id
    FROM order_events e JOIN orders o ON o.id = e.order_id
) AS scoped;

INSERT INTO event_log_heads (organisation_id, last_seq)
SELECT organisation_id, MAX(seq) FROM event_log GROUP BY organisation_id;
