-- Edge schema 4: the downstream apply looks up pending local changes by row.
CREATE INDEX IF NOT EXISTS outbox_row_idx ON outbox (row_id);
