-- The minutes of the hours rolled up, packed: one row per target and hour
-- (issue 27). A minute rollup is a row of its own only while its hour is
-- open; RollUp moves an hour's minutes into one row here when it rolls
-- the hour up (storage.packHours encodes them). PostgreSQL spends a tuple
-- header, a line pointer and an index entry on each row, so one database
-- layout for both keeps it within reach of SQLite's bytes.
--
-- A row is about a kilobyte: a table with a rowid, whose pages hold
-- rows whole, rather than WITHOUT ROWID, whose B-tree keeps at most about
-- a quarter of a page of a row (1,004 bytes at 4 KiB) and spills the rest
-- into an overflow page.
--
-- Minute rows written before this migration stay where they are: reads
-- add both tables, and retention deletes them with their day.
CREATE TABLE rollup_minute_packed (
	bucket    INTEGER NOT NULL, -- unix seconds of the hour's start
	target_id INTEGER NOT NULL REFERENCES targets (id),
	minutes   BLOB NOT NULL,
	PRIMARY KEY (bucket, target_id)
);
