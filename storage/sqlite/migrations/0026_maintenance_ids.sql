-- A maintenance window's id is never used again. Its alerts are named by
-- it (maintenance.scheduled.<id>, linkwatch.MaintenanceEventID) and written
-- once each; SQLite gives a new row the largest id plus one, so a window
-- made after the newest was deleted took that window's id, found its
-- alerts "already written", and was never announced (nor, after a
-- cancellation, mailed at all). AUTOINCREMENT never gives an id twice.
-- SQLite cannot add it to a table, so both tables are made again (nothing
-- refers to them), and their counters start above every id a window's
-- alert names, for the windows deleted before this migration.
CREATE TABLE maintenance_new (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	title      TEXT NOT NULL,
	component  TEXT NOT NULL DEFAULT '',
	starts_at  TEXT NOT NULL,
	ends_at    TEXT NOT NULL,
	created_at TEXT NOT NULL
);
INSERT INTO maintenance_new (id, title, component, starts_at, ends_at, created_at)
	SELECT id, title, component, starts_at, ends_at, created_at FROM maintenance;
DROP TABLE maintenance;
ALTER TABLE maintenance_new RENAME TO maintenance;
CREATE INDEX maintenance_ends ON maintenance (ends_at);

CREATE TABLE recurring_maintenance_new (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	title      TEXT NOT NULL,
	component  TEXT NOT NULL DEFAULT '',
	schedule   TEXT NOT NULL,
	duration_s INTEGER NOT NULL CHECK (duration_s > 0),
	created_at TEXT NOT NULL
);
INSERT INTO recurring_maintenance_new (id, title, component, schedule, duration_s, created_at)
	SELECT id, title, component, schedule, duration_s, created_at FROM recurring_maintenance;
DROP TABLE recurring_maintenance;
ALTER TABLE recurring_maintenance_new RENAME TO recurring_maintenance;

-- A window's Ref follows the alert type and a dot: "7" for a one-off
-- window, "r3-20261206T0200Z" for an occurrence of recurring window 3
-- (CAST reads the number that starts the text).
DELETE FROM sqlite_sequence WHERE name IN ('maintenance', 'recurring_maintenance');
INSERT INTO sqlite_sequence (name, seq) SELECT 'maintenance', MAX(
	COALESCE((SELECT MAX(id) FROM maintenance), 0),
	COALESCE((SELECT MAX(CAST(substr(event_id, length(type) + 2) AS INTEGER)) FROM outbox
		WHERE incident_id IS NULL AND type LIKE 'maintenance.%' AND substr(event_id, length(type) + 2) NOT LIKE 'r%'), 0));
INSERT INTO sqlite_sequence (name, seq) SELECT 'recurring_maintenance', MAX(
	COALESCE((SELECT MAX(id) FROM recurring_maintenance), 0),
	COALESCE((SELECT MAX(CAST(substr(event_id, length(type) + 3) AS INTEGER)) FROM outbox
		WHERE incident_id IS NULL AND type LIKE 'maintenance.%' AND substr(event_id, length(type) + 2) LIKE 'r%'), 0));
