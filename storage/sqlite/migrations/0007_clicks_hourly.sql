-- Clicks per link per UTC hour, with how many of them were sent to the
-- link's fallback, for the clicks API (by hour or by day). The day totals
-- kept so far become the first hour of their day: by day they stay right;
-- by hour they show at midnight, since their hour was never recorded.
CREATE TABLE clicks_hourly (
	page     TEXT NOT NULL,
	link     TEXT NOT NULL,
	hour     TEXT NOT NULL, -- YYYY-MM-DDTHH, UTC: sorts and compares as text
	count    INTEGER NOT NULL CHECK (count >= 0),
	fallback INTEGER NOT NULL DEFAULT 0 CHECK (fallback >= 0 AND fallback <= count),
	PRIMARY KEY (page, link, hour)
) WITHOUT ROWID;

INSERT INTO clicks_hourly (page, link, hour, count, fallback)
	SELECT page, link, day || 'T00', count, 0 FROM clicks;

DROP TABLE clicks;
ALTER TABLE clicks_hourly RENAME TO clicks;
