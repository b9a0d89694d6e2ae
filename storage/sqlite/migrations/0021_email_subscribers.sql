-- Status page visitors subscribed by email (issue 28). Their deliveries
-- are the outbox channel 'email:<id>'; ids are never reused
-- (AUTOINCREMENT), so a deleted subscriber's delivery history, which holds
-- no address, never passes to a new one. Leaving deletes the row: nothing
-- keeps the address. key signs the subscriber's links (base64).
CREATE TABLE email_subscribers (
	id                    INTEGER PRIMARY KEY AUTOINCREMENT,
	address               TEXT NOT NULL UNIQUE,
	page                  TEXT NOT NULL DEFAULT '',
	key                   TEXT NOT NULL,
	confirmed_at          TEXT,
	requested_at          TEXT NOT NULL,
	confirm_due           INTEGER NOT NULL DEFAULT 1,
	confirm_attempts      INTEGER NOT NULL DEFAULT 0,
	confirm_first_at      TEXT,
	confirm_next_at       TEXT,
	confirm_claimed_by    TEXT NOT NULL DEFAULT '',
	confirm_claimed_until TEXT,
	created_at            TEXT NOT NULL
);
CREATE INDEX email_subscribers_pending ON email_subscribers (created_at) WHERE confirmed_at IS NULL;
