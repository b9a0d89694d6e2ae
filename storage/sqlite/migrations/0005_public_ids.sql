-- Public ids for feeds: a random UUID (version 4) made once per incident and
-- once for the feed, so a feed reader's entry ids survive a changed
-- public_url, a restart and a rebuilt status page.
ALTER TABLE incidents ADD COLUMN public_id TEXT;

UPDATE incidents SET public_id = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
	substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
	substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)));

-- Set here rather than by each INSERT, so every writer of incidents gets one.
CREATE TRIGGER incidents_public_id AFTER INSERT ON incidents WHEN NEW.public_id IS NULL
BEGIN
	UPDATE incidents SET public_id = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
		substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
		substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))
	WHERE id = NEW.id;
END;

CREATE UNIQUE INDEX incidents_public_id ON incidents (public_id);

-- Values made once for the whole site.
CREATE TABLE site (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO site (key, value) VALUES ('feed_id', lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
	substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
	substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))));
