-- One storage layer serves SQLite and PostgreSQL (storage.DB): every time
-- is stored as the same fixed-width text, clicks' hours included (they
-- were YYYY-MM-DDTHH), so they sort and compare as text and read back as
-- times. Members get the lock_key column PostgreSQL keeps the key of a
-- member's session lock in; SQLite has one process and no such lock (0).
UPDATE clicks SET hour = hour || ':00:00.000000000Z' WHERE length(hour) = 13;
ALTER TABLE members ADD COLUMN lock_key INTEGER NOT NULL DEFAULT 0;
