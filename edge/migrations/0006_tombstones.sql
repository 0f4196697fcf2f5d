-- Edge schema 6: tombstones. A deleted shared or master data row leaves its id and the
-- clock of the delete, so a change from central older than the delete (published before
-- central heard of it) never brings the row back, while a newer one does (sync/merge.h).
CREATE TABLE IF NOT EXISTS sync_tombstone (
  table_name TEXT NOT NULL,
  row_id TEXT NOT NULL CHECK (length(row_id) = 36),
  hlc INTEGER NOT NULL,
  origin TEXT NOT NULL,
  deleted_at INTEGER NOT NULL,
  PRIMARY KEY (table_name, row_id)
) STRICT, WITHOUT ROWID;
