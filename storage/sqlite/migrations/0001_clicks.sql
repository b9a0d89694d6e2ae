-- Clicks per link per UTC day, flushed in batches from memory.
CREATE TABLE clicks (
	page  TEXT NOT NULL,
	link  TEXT NOT NULL,
	day   TEXT NOT NULL, -- YYYY-MM-DD, UTC
	count INTEGER NOT NULL CHECK (count >= 0),
	PRIMARY KEY (page, link, day)
) WITHOUT ROWID;
