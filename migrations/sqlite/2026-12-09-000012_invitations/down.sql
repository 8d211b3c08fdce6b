-- Rolling back would show every order of a confidential campaign to its employer: refused while
-- there is one (the CHECK fails).
CREATE TEMP TABLE no_hidden_orders (
    hidden_confidential_campaign_orders INTEGER NOT NULL CHECK (hidden_confidential_campaign_orders = 0)
);
INSERT INTO no_hidden_orders SELECT count(*) FROM orders WHERE NOT employer_sees;
DROP TABLE no_hidden_orders;
DELETE FROM consents WHERE kind IN ('contact', 'share_participation');
CREATE TABLE consents_old (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    kind        TEXT NOT NULL CHECK (kind IN ('assessment', 'share_summary')),
    given       BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
INSERT INTO consents_old SELECT id, order_id, kind, given, source, recorded_at FROM consents;
DROP TABLE consents;
ALTER TABLE consents_old RENAME TO consents;
CREATE INDEX consents_order_idx ON consents (order_id, kind, id);
ALTER TABLE orders DROP COLUMN employer_sees;
ALTER TABLE orders DROP COLUMN invitation_id;
DROP TABLE invitation_refusals;
DROP TABLE invitation_sign_ups;
DROP TABLE invitations;
