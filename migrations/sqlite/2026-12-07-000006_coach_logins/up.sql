-- One coach, one person: a provider has one coach per email address, and a coach's login is
-- given through a one-time setup token, so the planner who grants it never knows the password.
-- (An existing database with two coaches of one email in one organisation stops here: merge
-- them, or change one's email, before upgrading.)
CREATE UNIQUE INDEX coaches_organisation_email_idx ON coaches (organisation_id, email);

-- A login waiting for its password: the token is stored as its SHA-256 digest and is spent once.
-- Until then the user's password_hash is '!', which no password matches.
CREATE TABLE login_setups (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX login_setups_user_idx ON login_setups (user_id);
