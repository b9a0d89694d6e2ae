-- Webhook receivers added through the admin API. Their deliveries are the
-- outbox channel 'sub:<id>'; ids are never reused (AUTOINCREMENT), so a
-- deleted subscription's history never passes to a new one. The secrets
-- are kept as they are: signing needs the key itself (SECURITY.md).
CREATE TABLE subscriptions (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	url             TEXT NOT NULL,
	description     TEXT NOT NULL DEFAULT '',
	filter          TEXT NOT NULL DEFAULT '{}', -- JSON incidents.Filter
	secret          TEXT NOT NULL,
	previous_secret TEXT NOT NULL DEFAULT '',
	previous_until  TEXT,
	paused          INTEGER NOT NULL DEFAULT 0,
	verified_at     TEXT,
	verify_due      INTEGER NOT NULL DEFAULT 1,
	verify_error    TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);

-- How often an operator queued a delivery again (redeliver, replay).
ALTER TABLE deliveries ADD COLUMN redeliveries INTEGER NOT NULL DEFAULT 0;
