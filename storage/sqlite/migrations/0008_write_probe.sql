-- One row that /readyz rewrites to prove the writer can commit: SELECT 1
-- reads nothing from the file, so it stays green on a read-only file, a
-- held write lock or a full disk. (0008: 0007 is taken by another branch.)
CREATE TABLE write_probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at TEXT NOT NULL
);
