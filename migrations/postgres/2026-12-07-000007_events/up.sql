-- Events beyond orders: an organisation's own events (a coach added, availability or settings
-- changed) have no order. The timeline's table becomes `events`: an event is about an order or,
-- without one, about an organisation; its payload carries the version of its shape, so an event
-- stored long ago is read back through the typed enum, never passed through unread.
ALTER TABLE order_events RENAME TO events;
ALTER INDEX order_events_order_idx RENAME TO events_order_idx;
ALTER TABLE events ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE events ALTER COLUMN to_status DROP NOT NULL;
ALTER TABLE events ADD COLUMN organisation_id TEXT REFERENCES organisations (id);
ALTER TABLE events ADD COLUMN data_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD CONSTRAINT events_about_an_order_or_an_organisation
    CHECK ((order_id IS NULL) <> (organisation_id IS NULL));
CREATE INDEX events_organisation_idx ON events (organisation_id, id);
