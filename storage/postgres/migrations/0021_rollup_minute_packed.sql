-- The minutes of the hours rolled up, packed: one row per target and hour
-- (issue 27). A minute rollup is a row of its own only while its hour is
-- open, updated by every batch of its minute; RollUp moves an hour's
-- minutes into one row here when it rolls the hour up (storage.packHours
-- encodes them, about 16 bytes a minute), where sixty rows of their own
-- cost about 150 bytes each in tuple headers, line pointers, fixed-width
-- columns and index entries, and twice that at rollup_minute's fillfactor
-- of 50. Written once, never updated: partitions filled whole, by UTC day
-- as the other rollups, dropped whole by retention (minute_rollups).
--
-- Minute rows written before this migration stay where they are: reads
-- add both tables, and retention removes them with their day.
CREATE TABLE rollup_minute_packed (
	bucket    bigint NOT NULL, -- unix seconds of the hour's start
	target_id integer NOT NULL REFERENCES targets (id),
	minutes   bytea NOT NULL,
	PRIMARY KEY (bucket, target_id)
) PARTITION BY RANGE (bucket);
CREATE TABLE rollup_minute_packed_default PARTITION OF rollup_minute_packed DEFAULT;

CREATE OR REPLACE FUNCTION linkwatch_rollup_day(parent text, day bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	part text := parent || '_' || to_char(to_timestamp(day) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
	IF parent NOT IN ('rollup_minute', 'rollup_minute_packed', 'rollup_hour') OR day % 86400 <> 0 THEN
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

SELECT linkwatch_rollup_day('rollup_minute_packed', (extract(epoch FROM now())::bigint / 86400 + i) * 86400) FROM generate_series(0, 3) AS i;
