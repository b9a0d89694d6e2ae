-- The regions' vote (probe.region): each region's verdict on each target
-- it saw fail, and each region's proof of its own network (its canary).
-- Failing verdicts and canary rows are written again about once an
-- interval; one that is not counts for nothing after three.
CREATE TABLE region_verdicts (
	target     TEXT NOT NULL,
	region     TEXT NOT NULL,
	failing    INTEGER NOT NULL,
	cause      TEXT NOT NULL DEFAULT '',
	since      TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (target, region)
);
CREATE INDEX region_verdicts_updated ON region_verdicts (updated_at);

CREATE TABLE region_canaries (
	region    TEXT PRIMARY KEY,
	canary_ok INTEGER NOT NULL,
	at        TEXT NOT NULL
);

-- A vote on one destination reads the open incidents of its host.
CREATE INDEX incidents_open_host ON incidents (host) WHERE resolved_at IS NULL;
