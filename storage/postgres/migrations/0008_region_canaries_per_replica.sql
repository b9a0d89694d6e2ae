-- One canary row per replica of a region, not one per region: every
-- replica checks the canary from its own network, and the last to write
-- must not overwrite another's proof. The rows are rewritten about once
-- an interval, so none is kept across this change.
DROP TABLE region_canaries;
CREATE TABLE region_canaries (
	region    text NOT NULL,
	replica   text NOT NULL,
	canary_ok boolean NOT NULL,
	at        timestamptz NOT NULL,
	PRIMARY KEY (region, replica)
);
CREATE INDEX region_canaries_at ON region_canaries (at);
