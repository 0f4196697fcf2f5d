-- Edge schema 3: terminal sessions, local to the edge and never synced. Only a hash of each
-- token is kept.
CREATE TABLE IF NOT EXISTS terminal_session ( token_hash TEXT NOT NULL PRIMARY KEY, operator_session_id TEXT NOT NULL, user_id TEXT NOT NULL, work_unit_id TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT;CREATE INDEX IF NOT EXISTS terminal_session_operator_session_idx ON terminal_session (operator_session_id);
