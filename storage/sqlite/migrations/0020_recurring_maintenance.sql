-- Maintenance windows that come back on a schedule: a cron expression
-- (UTC unless it starts with CRON_TZ=<zone>) and how long each occurrence
-- lasts. Their occurrences are computed, never stored (linkwatch.
-- RecurringMaintenance.Expand).
CREATE TABLE recurring_maintenance (
	id         INTEGER PRIMARY KEY,
	title      TEXT NOT NULL,
	component  TEXT NOT NULL DEFAULT '',
	schedule   TEXT NOT NULL,
	duration_s INTEGER NOT NULL CHECK (duration_s > 0),
	created_at TEXT NOT NULL
);
