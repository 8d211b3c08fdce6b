-- Invitation campaigns (issue 20, source 004): an employer invites a group to sign up for
-- coaching in one step. The campaign's link token is kept as its SHA-256 digest only.
CREATE TABLE invitations (
    id             TEXT PRIMARY KEY,
    employer_id    TEXT NOT NULL REFERENCES organisations (id),
    title          TEXT NOT NULL,
    message        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    session_budget INTEGER NOT NULL,
    max_sign_ups   INTEGER NOT NULL,
    ends_on        DATE NOT NULL,
    confidential   BOOLEAN NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    sign_ups       INTEGER NOT NULL DEFAULT 0,
    closed_at      TIMESTAMP,
    version        INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX invitations_employer_idx ON invitations (employer_id, id);

-- Who signed up, to give a repeat sign-up the first order: the SHA-256 digest of the campaign
-- and the normalised email address or phone number, one row per way to reach the person.
CREATE TABLE invitation_sign_ups (
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    person_key    TEXT NOT NULL,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    PRIMARY KEY (invitation_id, person_key)
);
CREATE INDEX invitation_sign_ups_order_idx ON invitation_sign_ups (order_id);

-- Sign-ups refused, counted by reason (the employer sees the counts, never the people).
CREATE TABLE invitation_refusals (
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    reason        TEXT NOT NULL,
    refused       BIGINT NOT NULL,
    PRIMARY KEY (invitation_id, reason)
);

-- An order that came from a campaign; one from a confidential campaign is hidden from the
-- employer (`employer_sees` false) unless its coachee shares their participation.
ALTER TABLE orders ADD COLUMN invitation_id TEXT; -- (SQLite cannot drop a column that references another table)
ALTER TABLE orders ADD COLUMN employer_sees BOOLEAN NOT NULL DEFAULT TRUE;

-- Two more consents: to be contacted (given by signing up oneself, 004), and to the employer
-- knowing of the trajectory (an order from a confidential campaign). SQLite changes a CHECK
-- only by building the table again.
CREATE TABLE consents_new (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (id),
    kind        TEXT NOT NULL CHECK (kind IN ('assessment', 'share_summary', 'contact', 'share_participation')),
    given       BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
INSERT INTO consents_new SELECT id, order_id, kind, given, source, recorded_at FROM consents;
DROP TABLE consents;
ALTER TABLE consents_new RENAME TO consents;
CREATE INDEX consents_order_idx ON consents (order_id, kind, id);
