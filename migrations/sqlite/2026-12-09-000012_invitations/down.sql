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
