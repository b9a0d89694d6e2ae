-- A subscription's verification that failed is tried again with the
-- deliveries' backoff until 24 h after its first attempt: how many attempts
-- were made, when the first was, and when the next is due (NULL: now).
ALTER TABLE subscriptions ADD COLUMN verify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN verify_first_at TEXT;
ALTER TABLE subscriptions ADD COLUMN verify_next_at TEXT;
