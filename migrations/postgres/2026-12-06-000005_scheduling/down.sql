ALTER TABLE orders DROP COLUMN alliance_at_risk_at;
ALTER TABLE orders DROP COLUMN alliance_risk;
ALTER TABLE orders DROP COLUMN regular_sessions_used;
ALTER TABLE orders DROP COLUMN regular_sessions_planned;
DROP TABLE calendar_feeds;
DROP TABLE session_notes;
DROP TABLE sessions;
DROP TABLE coach_availability;
DROP TABLE provider_settings;
