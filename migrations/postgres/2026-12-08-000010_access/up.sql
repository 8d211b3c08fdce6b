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
