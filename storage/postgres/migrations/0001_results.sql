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
CREATE TABLE rollup_minute (
	bucket     bigint NOT NULL, -- unix seconds of the minute's start
	target_id  bigint NOT NULL REFERENCES targets (id),
	count      bigint NOT NULL,
	failures   bigint NOT NULL, -- down
	degraded   bigint NOT NULL,
	lat_min_us bigint NOT NULL,
	lat_max_us bigint NOT NULL,
	lat_sum_us bigint NOT NULL,
	h0 bigint NOT NULL, h1 bigint NOT NULL, h2 bigint NOT NULL, h3 bigint NOT NULL,
	h4 bigint NOT NULL, h5 bigint NOT NULL, h6 bigint NOT NULL, h7 bigint NOT NULL,
	h8 bigint NOT NULL, h9 bigint NOT NULL, h10 bigint NOT NULL,
	PRIMARY KEY (bucket, target_id)
);

CREATE TABLE rollup_hour (LIKE rollup_minute INCLUDING ALL);
ALTER TABLE rollup_hour ADD FOREIGN KEY (target_id) REFERENCES targets (id);

-- Watermarks of the periodic jobs.
CREATE TABLE meta (
	key   text PRIMARY KEY,
	value bigint NOT NULL
);
