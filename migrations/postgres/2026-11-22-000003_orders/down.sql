DROP TABLE idempotency_keys;
DROP TABLE coachee_links;
DROP TABLE consents;
DROP TABLE order_extensions;
DROP TABLE plans;
DROP TABLE intakes;
DROP TABLE order_events;
DROP TABLE orders;
