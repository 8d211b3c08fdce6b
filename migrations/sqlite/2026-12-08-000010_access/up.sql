-- Access that ends when it should (issue 19, section 4).

-- An access token revoked before it expires (RFC 7009). A row is needed only until the token
-- would have expired; older rows are swept when a new one is written.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- Failed sign-ins, per account or API client, shared by every instance. The key is the SHA-256
-- digest of `account:<email>` or `client:<client id>`: no email address is kept here.
CREATE TABLE login_failures (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at TIMESTAMP NOT NULL
);

-- A client secret rotation keeps the previous secret working for an overlap.
ALTER TABLE api_clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE api_clients ADD COLUMN previous_secret_expires_at TIMESTAMP;
-- Tokens issued before this instant are refused: set when the client is disabled, so that
-- enabling it again does not bring its old tokens back.
ALTER TABLE api_clients ADD COLUMN tokens_not_before TIMESTAMP;

-- The audit trail (issue 19 §2): who did what, when, under which request; for every change and
-- every read of confidential content. It holds ids, never content. `organisation_id` is whose
-- trail it is: the actor's organisation, or for a coachee the provider of their order.
CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    at              TIMESTAMP NOT NULL,
    request_id      TEXT,
    actor_role      TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_id     TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('change', 'read'))
);
CREATE INDEX audit_log_organisation_idx ON audit_log (organisation_id, id);

-- Append-only: an entry is never changed or removed.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Orders whose coachee's personal data was erased (issue 19 §1): when, and by whom (a planner's
-- user id, or `trajectum` for the automatic erasure after close).
CREATE TABLE erasures (
    order_id  TEXT PRIMARY KEY REFERENCES orders (id),
    erased_at TIMESTAMP NOT NULL,
    erased_by TEXT NOT NULL
);
