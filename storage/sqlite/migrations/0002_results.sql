-- Targets get a small integer key so the high-volume tables stay narrow.
CREATE TABLE targets (
	id   INTEGER PRIMARY KEY,
	key  TEXT NOT NULL UNIQUE, -- checker.Target.ID
	kind TEXT NOT NULL,
	url  TEXT NOT NULL
);

-- Raw results, kept for storage.retention.raw (default 48h). Successes store
-- only the narrow columns; failures also keep their detail (hops, phases).
CREATE TABLE results (
	target_id   INTEGER NOT NULL REFERENCES targets (id),
	started_at  INTEGER NOT NULL, -- unix milliseconds
	latency_us  INTEGER NOT NULL,
	status      TEXT NOT NULL,    -- up | degraded | down
	status_code INTEGER NOT NULL,
	cause       TEXT,
	summary     TEXT,
	detail      TEXT              -- JSON of the full checker.Result, failures only
);
CREATE INDEX results_target_time ON results (target_id, started_at);
CREATE INDEX results_time ON results (started_at);

-- Latency histogram buckets (upper bounds in ms): 10 25 50 100 250 500 1000
-- 2500 5000 10000 +inf. Percentiles are read off the cumulative counts.
CREATE TABLE rollup_minute (
	target_id INTEGER NOT NULL REFERENCES targets (id),
	bucket    INTEGER NOT NULL, -- unix seconds of the minute's start
	count     INTEGER NOT NULL,
	failures  INTEGER NOT NULL, -- down
	degraded  INTEGER NOT NULL,
	lat_min_us INTEGER NOT NULL,
	lat_max_us INTEGER NOT NULL,
	lat_sum_us INTEGER NOT NULL,
	h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL,
	h4 INTEGER NOT NULL, h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL,
	h8 INTEGER NOT NULL, h9 INTEGER NOT NULL, h10 INTEGER NOT NULL,
	-- Time first: rows are appended in time order (full pages, no splits),
	-- and every query reads a time range across targets.
	PRIMARY KEY (bucket, target_id)
) WITHOUT ROWID;

CREATE TABLE rollup_hour (
	target_id INTEGER NOT NULL REFERENCES targets (id),
	bucket    INTEGER NOT NULL, -- unix seconds of the hour's start
	count     INTEGER NOT NULL,
	failures  INTEGER NOT NULL,
	degraded  INTEGER NOT NULL,
	lat_min_us INTEGER NOT NULL,
	lat_max_us INTEGER NOT NULL,
	lat_sum_us INTEGER NOT NULL,
	h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL,
	h4 INTEGER NOT NULL, h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL,
	h8 INTEGER NOT NULL, h9 INTEGER NOT NULL, h10 INTEGER NOT NULL,
	PRIMARY KEY (bucket, target_id)
) WITHOUT ROWID;

-- Watermarks of the periodic jobs.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
