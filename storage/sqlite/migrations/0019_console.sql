-- The operator console (/admin): sessions, kept here so every replica
-- honours them and signing out ends one everywhere; and the audit log of
-- every console action. A session's id is the SHA-256 of its cookie's
-- value: the value is never stored.
CREATE TABLE console_sessions (
	id         TEXT PRIMARY KEY,
	operator   TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	client     TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	seen_at    TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE TABLE audit_log (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TEXT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	incident_id INTEGER, -- the incident acted on, if any
	detail      TEXT NOT NULL DEFAULT '',
	client      TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, id);
