ALTER TABLE api_clients DROP COLUMN previous_secret_expires_at;
ALTER TABLE api_clients DROP COLUMN previous_secret_hash;
DROP TABLE login_failures;
DROP TABLE revoked_tokens;
