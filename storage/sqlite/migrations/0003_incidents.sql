CREATE TABLE incidents (
	id                INTEGER PRIMARY KEY,
	key               TEXT NOT NULL,
	kind              TEXT NOT NULL,
	title             TEXT NOT NULL,
	cause             TEXT NOT NULL,
	summary           TEXT NOT NULL,
	status            TEXT NOT NULL,
	impact            TEXT NOT NULL,
	flapping          INTEGER NOT NULL DEFAULT 0,
	host              TEXT NOT NULL DEFAULT '',
	targets           TEXT NOT NULL, -- JSON array of target IDs
	affected          TEXT NOT NULL, -- JSON array of {page, link, url}
	started_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL,
	alerts_suppressed INTEGER NOT NULL DEFAULT 0,
	acknowledged_at   TEXT,
	acknowledged_by   TEXT NOT NULL DEFAULT '',
	resolved_at       TEXT,
	postmortem        TEXT NOT NULL DEFAULT '{}' -- JSON incidents.Postmortem
);
-- One open incident per correlation key, whatever happens.
CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE resolved_at IS NULL;
CREATE INDEX incidents_started ON incidents (started_at);

CREATE TABLE incident_events (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	at          TEXT NOT NULL,
	kind        TEXT NOT NULL,
	body        TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- The failing results that opened or changed an incident, kept as long as
-- the incident, whatever the raw results' retention.
CREATE TABLE incident_evidence (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	result      TEXT NOT NULL -- JSON checker.Result
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id);

CREATE TABLE incident_updates (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	status      TEXT NOT NULL,
	body        TEXT NOT NULL,
	created_at  TEXT NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

CREATE TABLE maintenance (
	id         INTEGER PRIMARY KEY,
	title      TEXT NOT NULL,
	component  TEXT NOT NULL DEFAULT '',
	starts_at  TEXT NOT NULL,
	ends_at    TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE INDEX maintenance_ends ON maintenance (ends_at);

-- Alerts waiting for delivery, written in the incident change's transaction.
CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY,
	event_id     TEXT NOT NULL UNIQUE, -- stable across retries: receivers dedupe on it
	type         TEXT NOT NULL,
	incident_id  INTEGER NOT NULL REFERENCES incidents (id),
	payload      TEXT NOT NULL,        -- JSON incidents.Alert
	created_at   TEXT NOT NULL
);
