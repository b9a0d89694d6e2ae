-- The operator console (/admin): sessions, kept here so every replica
-- honours them and signing out ends one everywhere; and the audit log of
-- every console action. A session's id is the SHA-256 of its cookie's
-- value: the value is never stored.
CREATE TABLE console_sessions (
	id         text PRIMARY KEY,
	operator   text NOT NULL,
	csrf       text NOT NULL,
	client     text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	seen_at    timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE TABLE audit_log (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	incident_id bigint, -- the incident acted on, if any
	detail      text NOT NULL DEFAULT '',
	client      text NOT NULL DEFAULT '',
	outcome     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, id);
