-- Targets get a small integer key so the high-volume tables stay narrow.
CREATE TABLE targets (
	id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key  text NOT NULL UNIQUE, -- checker.Target.ID
	kind text NOT NULL,
	url  text NOT NULL
);

-- Raw results, kept for storage.retention.raw (default 48h). Successes store
-- only the narrow columns; failures also keep their detail (hops, phases).
-- Rows arrive in time order, so a BRIN index on the time is a few pages
-- where a B-tree would be as large as the narrow columns themselves, and
-- is all pruning needs.
CREATE TABLE results (
	target_id   bigint NOT NULL REFERENCES targets (id),
	started_at  bigint NOT NULL, -- unix milliseconds
	latency_us  bigint NOT NULL,
	status      text NOT NULL,   -- up | degraded | down
	status_code integer NOT NULL,
	cause       text,
	summary     text,
	detail      jsonb            -- the full checker.Result, failures only
);
CREATE INDEX results_target_time ON results (target_id, started_at);
CREATE INDEX results_time ON results USING brin (started_at);

-- Latency histogram buckets (upper bounds in ms): 10 25 50 100 250 500 1000
-- 2500 5000 10000 +inf. Percentiles are read off the cumulative counts.
-- Keyed time first: rows are appended in time order, every query reads a
-- time range across targets, and pruning deletes a prefix of the key.
-- Counts are integers (a minute or an hour of one series is far below
-- 2^31), eight-byte columns first so the row has no alignment padding: a
-- row is a third smaller than with every column bigint.
-- A minute row is updated by every batch of its minute (six checks of a
-- target a minute): fillfactor leaves room in each page so the update is
-- HOT (the new version in the same page, no index entry, the dead one
-- pruned in place) instead of bloating the table until autovacuum.
CREATE TABLE rollup_minute (
	bucket     bigint NOT NULL, -- unix seconds of the minute's start
	target_id  bigint NOT NULL REFERENCES targets (id),
	lat_min_us bigint NOT NULL,
	lat_max_us bigint NOT NULL,
	lat_sum_us bigint NOT NULL,
	count      integer NOT NULL,
	failures   integer NOT NULL, -- down
	degraded   integer NOT NULL,
	h0 integer NOT NULL, h1 integer NOT NULL, h2 integer NOT NULL, h3 integer NOT NULL,
	h4 integer NOT NULL, h5 integer NOT NULL, h6 integer NOT NULL, h7 integer NOT NULL,
	h8 integer NOT NULL, h9 integer NOT NULL, h10 integer NOT NULL,
	PRIMARY KEY (bucket, target_id)
) WITH (fillfactor = 85);

-- Written once per hour and never updated: pages filled whole.
CREATE TABLE rollup_hour (LIKE rollup_minute INCLUDING ALL);
ALTER TABLE rollup_hour ADD FOREIGN KEY (target_id) REFERENCES targets (id);
ALTER TABLE rollup_hour SET (fillfactor = 100);

-- Watermarks of the periodic jobs.
CREATE TABLE meta (
	key   text PRIMARY KEY,
	value bigint NOT NULL
);
