-- The outbox carries maintenance alerts too (maintenance.scheduled,
-- .started, .ended: linkwatch.MaintenanceAlert), which no incident is
-- behind: incident_id may be NULL.
ALTER TABLE outbox ALTER COLUMN incident_id DROP NOT NULL;
