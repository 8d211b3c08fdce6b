DROP TABLE jobs;
DROP TABLE follow_ups;
DROP TABLE follow_up_policies;
ALTER TABLE orders DROP COLUMN closing_summary;
DROP TABLE closing_reviews;
