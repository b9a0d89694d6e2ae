-- Maintenance windows that come back on a schedule: a cron expression
-- (UTC unless it starts with CRON_TZ=<zone>) and how long each occurrence
-- lasts. Their occurrences are computed, never stored (linkwatch.
-- RecurringMaintenance.Expand).
CREATE TABLE recurring_maintenance (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title      text NOT NULL,
	component  text NOT NULL DEFAULT '',
	schedule   text NOT NULL,
	duration_s bigint NOT NULL CHECK (duration_s > 0),
	created_at timestamptz NOT NULL
);
