CREATE TABLE incidents (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key               text NOT NULL,
	kind              text NOT NULL,
	title             text NOT NULL,
	cause             text NOT NULL,
	summary           text NOT NULL,
	status            text NOT NULL,
	impact            text NOT NULL,
	flapping          boolean NOT NULL DEFAULT false,
	host              text NOT NULL DEFAULT '',
	targets           jsonb NOT NULL, -- array of target IDs
	affected          jsonb NOT NULL, -- array of {page, link, url}
	started_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL,
	alerts_suppressed boolean NOT NULL DEFAULT false,
	acknowledged_at   timestamptz,
	acknowledged_by   text NOT NULL DEFAULT '',
	resolved_at       timestamptz,
	postmortem        jsonb NOT NULL DEFAULT '{}', -- incidents.Postmortem
	-- A random UUID made once, so a feed reader's entry ids survive a
	-- changed public_url, a restart and a rebuilt status page.
	public_id         text NOT NULL UNIQUE DEFAULT gen_random_uuid()::text
);
-- One open incident per correlation key, whatever happens (two replicas
-- opening the same incident at once: the second insert fails).
CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE resolved_at IS NULL;
CREATE INDEX incidents_started ON incidents (started_at);

CREATE TABLE incident_events (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id bigint NOT NULL REFERENCES incidents (id),
	at          timestamptz NOT NULL,
	kind        text NOT NULL,
	body        text NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- The failing results that opened or changed an incident, kept as long as
-- the incident, whatever the raw results' retention.
CREATE TABLE incident_evidence (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id bigint NOT NULL REFERENCES incidents (id),
	result      jsonb NOT NULL -- checker.Result
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident_id, id);

CREATE TABLE incident_updates (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id bigint NOT NULL REFERENCES incidents (id),
	status      text NOT NULL,
	body        text NOT NULL,
	created_at  timestamptz NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

CREATE TABLE maintenance (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title      text NOT NULL,
	component  text NOT NULL DEFAULT '',
	starts_at  timestamptz NOT NULL,
	ends_at    timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX maintenance_ends ON maintenance (ends_at);

-- When each target recovered, for flapping (3 recoveries within an hour):
-- kept here so a restart does not forget that a target keeps flapping.
CREATE TABLE target_recoveries (
	target text NOT NULL,
	at     timestamptz NOT NULL
);
CREATE INDEX target_recoveries_at ON target_recoveries (at);

-- Values made once for the whole site.
CREATE TABLE site (
	key   text PRIMARY KEY,
	value text NOT NULL
);
INSERT INTO site (key, value) VALUES ('feed_id', gen_random_uuid()::text);

-- One row that /readyz rewrites to prove a write can commit.
CREATE TABLE write_probe (
	id integer PRIMARY KEY CHECK (id = 1),
	at timestamptz NOT NULL
);
