DROP TABLE erasures;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
ALTER TABLE api_clients DROP COLUMN tokens_not_before;
ALTER TABLE api_clients DROP COLUMN previous_secret_expires_at;
ALTER TABLE api_clients DROP COLUMN previous_secret_hash;
DROP TABLE login_failures;
DROP TABLE revoked_tokens;
