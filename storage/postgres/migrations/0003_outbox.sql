-- Alerts waiting for delivery, written in the incident change's
-- transaction. Every transaction that writes here first takes the outbox
-- lock (a transaction-level advisory lock), so ids are committed in id
-- order: the fan-out's "after the last id this channel saw" never skips
-- an alert that a slower transaction committed late.
CREATE TABLE outbox (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id    text NOT NULL UNIQUE, -- stable across retries: receivers dedupe on it
	type        text NOT NULL,
	incident_id bigint NOT NULL REFERENCES incidents (id),
	payload     jsonb NOT NULL,       -- incidents.Alert
	created_at  timestamptz NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_at);

-- Updates of one incident held back for alerts.group_interval and merged.
CREATE TABLE alert_groups (
	incident_id bigint PRIMARY KEY REFERENCES incidents (id),
	reason      text NOT NULL,
	payload     jsonb NOT NULL, -- incidents.Alert, merged
	due_at      timestamptz NOT NULL
);
CREATE INDEX alert_groups_due ON alert_groups (due_at);

-- One delivery per outbox alert per channel, retried until sent or dead.
CREATE TABLE deliveries (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	outbox_id   bigint NOT NULL REFERENCES outbox (id),
	channel     text NOT NULL,
	status      text NOT NULL DEFAULT 'pending', -- pending | sent | dead | disabled
	attempts    integer NOT NULL DEFAULT 0,
	next_at     timestamptz NOT NULL,
	first_at    timestamptz,
	last_status integer NOT NULL DEFAULT 0,
	last_error  text NOT NULL DEFAULT '',
	updated_at  timestamptz NOT NULL,
	UNIQUE (outbox_id, channel)
);
CREATE INDEX deliveries_pending ON deliveries (channel, status, id);

CREATE TABLE channel_threads (
	incident_id bigint NOT NULL REFERENCES incidents (id),
	channel     text NOT NULL,
	ref         text NOT NULL, -- Slack: "<channel id> <ts>" of the parent message
	PRIMARY KEY (incident_id, channel)
);

-- Channels switched off by their receiver (a webhook answering 410 Gone).
CREATE TABLE channel_state (
	channel     text PRIMARY KEY,
	disabled_at timestamptz NOT NULL,
	reason      text NOT NULL
);

-- A channel turned back on starts from the alerts made after that.
CREATE TABLE channel_resume (
	channel         text PRIMARY KEY,
	after_outbox_id bigint NOT NULL
);
