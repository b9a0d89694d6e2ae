-- The rollups, partitioned by UTC day (issue 27): retention drops a day's
-- partition whole (linkwatch_rollup_drop) instead of deleting its rows one
-- by one, which left dead rows for autovacuum and pages it never returned.
-- Partitions are made ahead (linkwatch_rollup_day, from the retention job
-- and here); a row whose day has none yet lands in the default partition,
-- and moves into its day's partition when that is made.
--
-- Narrower rows at no cost: target_id is an integer (a 2^31 targets
-- table is far off), placed after the eight-byte columns so nothing is
-- padded. Minute partitions are filled to half: a minute row is updated
-- by every batch of its minute (six checks a minute), and at half full
-- every such update stays on its page (HOT: no index entry, the dead
-- version pruned in place) where at 85 % half of them moved to another
-- page and left a dead row behind (BenchmarkGrowth: 455 against 927 KiB
-- per destination per day before autovacuum).
ALTER TABLE rollup_minute RENAME TO rollup_minute_unpartitioned;
ALTER INDEX rollup_minute_pkey RENAME TO rollup_minute_unpartitioned_pkey;
ALTER TABLE rollup_hour RENAME TO rollup_hour_unpartitioned;
ALTER INDEX rollup_hour_pkey RENAME TO rollup_hour_unpartitioned_pkey;

CREATE TABLE rollup_minute (
	bucket     bigint NOT NULL, -- unix seconds of the minute's start
	lat_min_us bigint NOT NULL,
	lat_max_us bigint NOT NULL,
	lat_sum_us bigint NOT NULL,
	target_id  integer NOT NULL REFERENCES targets (id),
	count      integer NOT NULL,
	failures   integer NOT NULL, -- down
	degraded   integer NOT NULL,
	lat_count  integer NOT NULL DEFAULT 0,
	h0 integer NOT NULL, h1 integer NOT NULL, h2 integer NOT NULL, h3 integer NOT NULL,
	h4 integer NOT NULL, h5 integer NOT NULL, h6 integer NOT NULL, h7 integer NOT NULL,
	h8 integer NOT NULL, h9 integer NOT NULL, h10 integer NOT NULL,
	PRIMARY KEY (bucket, target_id)
) PARTITION BY RANGE (bucket);
CREATE TABLE rollup_minute_default PARTITION OF rollup_minute DEFAULT WITH (fillfactor = 50);

-- Written once per hour and never updated: partitions filled whole.
CREATE TABLE rollup_hour (LIKE rollup_minute INCLUDING DEFAULTS, PRIMARY KEY (bucket, target_id)) PARTITION BY RANGE (bucket);
ALTER TABLE rollup_hour ADD FOREIGN KEY (target_id) REFERENCES targets (id);
CREATE TABLE rollup_hour_default PARTITION OF rollup_hour DEFAULT;

-- linkwatch_rollup_day makes parent's partition of the UTC day starting at
-- day (unix seconds), unless it exists, moving into it the rows of that
-- day the default partition holds.
CREATE FUNCTION linkwatch_rollup_day(parent text, day bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	part text := parent || '_' || to_char(to_timestamp(day) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
	IF parent NOT IN ('rollup_minute', 'rollup_hour') OR day % 86400 <> 0 THEN
		RAISE EXCEPTION 'linkwatch_rollup_day(%, %): not a rollup table and a UTC day', parent, day;
	END IF;
	IF to_regclass(part) IS NOT NULL THEN
		RETURN;
	END IF;
	EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) WITH (fillfactor = %s)',
		part, parent, CASE parent WHEN 'rollup_minute' THEN 50 ELSE 100 END);
	EXECUTE format('WITH moved AS (DELETE FROM %I WHERE bucket >= %s AND bucket < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
		parent || '_default', day, day + 86400, part);
	EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, part, day, day + 86400);
END $$;

-- linkwatch_rollup_drop drops parent's partitions of the days that ended
-- at or before cutoff (unix seconds) and returns the rows they held, as
-- the statistics count them (autovacuum's last count: no partition is
-- read to count it).
CREATE FUNCTION linkwatch_rollup_drop(parent text, cutoff bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	part record;
	dropped bigint := 0;
BEGIN
	FOR part IN
		SELECT c.oid, c.relname, greatest(c.reltuples, 0)::bigint AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = parent::regclass AND c.relname ~ '_[0-9]{8}$'
			AND extract(epoch FROM (to_date(right(c.relname, 8), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC'))::bigint + 86400 <= cutoff
	LOOP
		EXECUTE format('DROP TABLE %I', part.relname);
		dropped := dropped + part.n;
	END LOOP;
	RETURN dropped;
END $$;

-- The days the rollups hold, and the next three, then the rows.
SELECT linkwatch_rollup_day('rollup_minute', d) FROM (SELECT DISTINCT bucket / 86400 * 86400 AS d FROM rollup_minute_unpartitioned) AS days;
SELECT linkwatch_rollup_day('rollup_hour', d) FROM (SELECT DISTINCT bucket / 86400 * 86400 AS d FROM rollup_hour_unpartitioned) AS days;
SELECT linkwatch_rollup_day(t, (extract(epoch FROM now())::bigint / 86400 + i) * 86400)
	FROM unnest(ARRAY['rollup_minute', 'rollup_hour']) AS t, generate_series(0, 3) AS i;
INSERT INTO rollup_minute (bucket, lat_min_us, lat_max_us, lat_sum_us, target_id, count, failures, degraded, lat_count,
		h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10)
	SELECT bucket, lat_min_us, lat_max_us, lat_sum_us, target_id, count, failures, degraded, lat_count,
		h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10 FROM rollup_minute_unpartitioned;
INSERT INTO rollup_hour (bucket, lat_min_us, lat_max_us, lat_sum_us, target_id, count, failures, degraded, lat_count,
		h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10)
	SELECT bucket, lat_min_us, lat_max_us, lat_sum_us, target_id, count, failures, degraded, lat_count,
		h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10 FROM rollup_hour_unpartitioned;
DROP TABLE rollup_minute_unpartitioned, rollup_hour_unpartitioned;
