-- Updates of one incident held back for alerts.group_interval and merged,
-- so a burst of updates (ten links of one host failing) is one message.
-- Released into the outbox when due, or before any other alert of the
-- incident, so the order of an incident's alerts is kept.
CREATE TABLE alert_groups (
	incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
	reason      TEXT NOT NULL,
	payload     TEXT NOT NULL, -- JSON incidents.Alert, merged
	due_at      TEXT NOT NULL
);
CREATE INDEX alert_groups_due ON alert_groups (due_at);

-- A channel turned back on after its receiver answered 410 starts from the
-- alerts made after that, instead of replaying everything it missed.
CREATE TABLE channel_resume (
	channel         TEXT PRIMARY KEY,
	after_outbox_id INTEGER NOT NULL
) WITHOUT ROWID;
