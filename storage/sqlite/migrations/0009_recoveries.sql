-- When each target recovered, for flapping (3 recoveries within an hour):
-- kept here so a restart does not forget that a target keeps flapping.
-- Rows older than the flap window are deleted as new ones are written.
CREATE TABLE target_recoveries (
	target TEXT NOT NULL,
	at     TEXT NOT NULL
);
CREATE INDEX target_recoveries_at ON target_recoveries (at);
