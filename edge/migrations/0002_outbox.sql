-- Edge schema 2: the outbox (every captured change, in seq order, until central
-- acknowledges it; AUTOINCREMENT keeps seq increasing even after every row was purged) and
-- the sync state (watermarks, cursors).
CREATE TABLE IF NOT EXISTS outbox ( seq INTEGER PRIMARY KEY AUTOINCREMENT, table_name TEXT NOT NULL, row_id TEXT NOT NULL, op INTEGER NOT NULL, hlc INTEGER NOT NULL, captured_at INTEGER NOT NULL, payload BLOB NOT NULL) STRICT;CREATE TABLE IF NOT EXISTS sync_state (key TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) STRICT;
