ALTER TABLE orders DROP COLUMN regular_sessions_used;
ALTER TABLE orders DROP COLUMN regular_sessions_planned;
DROP TABLE session_notes;
DROP TABLE sessions;
DROP TABLE coach_availability;
