-- Status page visitors subscribed by email (issue 28). Their deliveries
-- are the outbox channel 'email:<id>'; identity ids are never reused, so a
-- deleted subscriber's delivery history, which holds no address, never
-- passes to a new one. Leaving deletes the row: nothing keeps the
-- address. key signs the subscriber's links (base64).
CREATE TABLE email_subscribers (
	id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	address               text NOT NULL UNIQUE,
	page                  text NOT NULL DEFAULT '',
	key                   text NOT NULL,
	confirmed_at          timestamptz,
	requested_at          timestamptz NOT NULL,
	confirm_due           boolean NOT NULL DEFAULT true,
	confirm_attempts      integer NOT NULL DEFAULT 0,
	confirm_first_at      timestamptz,
	confirm_next_at       timestamptz,
	confirm_claimed_by    text NOT NULL DEFAULT '',
	confirm_claimed_until timestamptz,
	created_at            timestamptz NOT NULL
);
CREATE INDEX email_subscribers_pending ON email_subscribers (created_at) WHERE confirmed_at IS NULL;
