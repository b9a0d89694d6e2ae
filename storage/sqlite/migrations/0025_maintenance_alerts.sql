-- The outbox carries maintenance alerts too (maintenance.scheduled,
-- .started, .ended: linkwatch.MaintenanceAlert), which no incident is
-- behind: incident_id may be NULL. SQLite cannot drop a NOT NULL, so the
-- table is made again; deliveries refer to it, so their rows are set
-- aside while the old table goes (dropping a referenced table with its
-- children present would break their foreign keys) and put back as they
-- were (SELECT *: whatever columns deliveries has by then).
CREATE TABLE outbox_new (
	id           INTEGER PRIMARY KEY,
	event_id     TEXT NOT NULL UNIQUE, -- stable across retries: receivers dedupe on it
	type         TEXT NOT NULL,
	incident_id  INTEGER REFERENCES incidents (id), -- NULL for a maintenance alert
	payload      TEXT NOT NULL,        -- JSON linkwatch.Alert
	created_at   TEXT NOT NULL
);
INSERT INTO outbox_new (id, event_id, type, incident_id, payload, created_at)
	SELECT id, event_id, type, incident_id, payload, created_at FROM outbox;
CREATE TEMP TABLE deliveries_kept AS SELECT * FROM deliveries;
DELETE FROM deliveries;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
INSERT INTO deliveries SELECT * FROM deliveries_kept;
DROP TABLE deliveries_kept;
-- The maintenance alerts alone, which the job reads every check interval
-- (NoticeMaintenance: the starts alerted whose end is not).
CREATE INDEX outbox_maintenance ON outbox (type, id) WHERE incident_id IS NULL;
