-- Who is sending a subscription's verification, and until when: of
-- replicas sharing the database, one sends each subscription.verify.
ALTER TABLE subscriptions ADD COLUMN verify_claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN verify_claimed_until TEXT;
