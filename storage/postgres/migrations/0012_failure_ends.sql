-- The regions' vote: when each target's last incident or regional note
-- ended. A region's failing verdict that began before it counts for
-- nothing: a region still failing when an incident resolves proves its
-- failure again, with fresh checks, before it counts (or opens a note).
-- Written with the resolution, in its transaction; forgotten with the
-- verdicts.
CREATE TABLE failure_ends (
	target   text PRIMARY KEY,
	ended_at timestamptz NOT NULL
);
CREATE INDEX failure_ends_at ON failure_ends (ended_at);
