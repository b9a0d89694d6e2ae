-- One delivery per outbox alert per channel, created by the dispatcher's
-- fan-out, retried until sent or dead-lettered.
CREATE TABLE deliveries (
	id          INTEGER PRIMARY KEY,
	outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
	channel     TEXT NOT NULL,
	status      TEXT NOT NULL DEFAULT 'pending', -- pending | sent | dead | disabled
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     TEXT NOT NULL,
	first_at    TEXT,          -- first attempt
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	updated_at  TEXT NOT NULL,
	UNIQUE (outbox_id, channel)
);
CREATE INDEX deliveries_pending ON deliveries (channel, status, id);

-- Per-incident state of the channels: the Slack thread of an incident.
CREATE TABLE channel_threads (
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	channel     TEXT NOT NULL,
	ref         TEXT NOT NULL, -- Slack: "<channel id> <ts>" of the parent message
	PRIMARY KEY (incident_id, channel)
) WITHOUT ROWID;

-- Channels switched off by their receiver (a webhook answering 410 Gone).
CREATE TABLE channel_state (
	channel     TEXT PRIMARY KEY,
	disabled_at TEXT NOT NULL,
	reason      TEXT NOT NULL
) WITHOUT ROWID;
