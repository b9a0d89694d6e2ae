-- The replicas sharing this database, one heartbeat row each. SQLite has
-- one process, so one row; the table is here so both backends keep the
-- same membership (storage/storagetest).
CREATE TABLE members (
	id           TEXT PRIMARY KEY, -- unique per process start
	region       TEXT NOT NULL,
	addr         TEXT NOT NULL,
	started_at   TEXT NOT NULL,
	heartbeat_at TEXT NOT NULL
);
CREATE INDEX members_region ON members (region, heartbeat_at);

-- A delivery claimed by a dispatcher is sent by it alone until the claim
-- ends; a claim of a dispatcher that died expires and another retries.
ALTER TABLE deliveries ADD COLUMN claimed_until TEXT;
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';

-- The engine's changes to an incident are written over the version they
-- were computed from (optimistic concurrency between replicas).
ALTER TABLE incidents ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
