-- The replicas sharing this database, one heartbeat row each. A replica is
-- live while its heartbeat is within the lease AND the session advisory
-- lock keyed by lock_key is held: PostgreSQL releases it when the
-- replica's connection closes, so a killed replica is dead at once.
CREATE TABLE members (
	id           text PRIMARY KEY, -- unique per process start
	region       text NOT NULL,
	addr         text NOT NULL,
	lock_key     integer NOT NULL,
	started_at   timestamptz NOT NULL,
	heartbeat_at timestamptz NOT NULL
);
CREATE INDEX members_region ON members (region, heartbeat_at);

-- A delivery claimed by a dispatcher (FOR UPDATE SKIP LOCKED) is sent by
-- it alone until the claim ends; a claim of a replica that died expires
-- and another retries (the same event id: receivers dedupe on it).
ALTER TABLE deliveries ADD COLUMN claimed_until timestamptz, ADD COLUMN claimed_by text NOT NULL DEFAULT '';

-- The engine's changes to an incident are written over the version they
-- were computed from (optimistic concurrency between replicas).
ALTER TABLE incidents ADD COLUMN version bigint NOT NULL DEFAULT 0;
