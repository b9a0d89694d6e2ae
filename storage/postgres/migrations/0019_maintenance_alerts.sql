-- The outbox carries maintenance alerts too (maintenance.scheduled,
-- .started, .ended: linkwatch.MaintenanceAlert), which no incident is
-- behind: incident_id may be NULL.
ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;
-- The maintenance alerts alone, which the job reads every check interval
-- (NoticeMaintenance: the starts alerted whose end is not).
CREATE INDEX outbox_maintenance ON outbox (type, id) WHERE incident_id IS NULL;
