-- Clicks per link per UTC hour, with how many of them went to the link's
-- fallback, flushed in batches from every replica's memory.
CREATE TABLE clicks (
	page     text NOT NULL,
	link     text NOT NULL,
	hour     timestamptz NOT NULL, -- the hour's start
	count    bigint NOT NULL CHECK (count >= 0),
	fallback bigint NOT NULL DEFAULT 0 CHECK (fallback >= 0 AND fallback <= count),
	PRIMARY KEY (page, link, hour)
);
