-- Webhook receivers added through the admin API. Their deliveries are the
-- outbox channel 'sub:<id>'; identity ids are never reused. The secrets
-- are kept as they are: signing needs the key itself (SECURITY.md).
CREATE TABLE subscriptions (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	url             text NOT NULL,
	description     text NOT NULL DEFAULT '',
	filter          jsonb NOT NULL DEFAULT '{}', -- incidents.Filter
	secret          text NOT NULL,
	previous_secret text NOT NULL DEFAULT '',
	previous_until  timestamptz,
	paused          boolean NOT NULL DEFAULT false,
	verified_at     timestamptz,
	verify_due      boolean NOT NULL DEFAULT true,
	verify_error    text NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);

-- How often an operator queued a delivery again (redeliver, replay).
ALTER TABLE deliveries ADD COLUMN redeliveries integer NOT NULL DEFAULT 0;
