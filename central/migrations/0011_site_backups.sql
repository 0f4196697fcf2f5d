-- Central schema 11: the site backups central keeps. An edge ships a compressed copy of its
-- store over the sync link (sync.proto BackupOffer); the row is made by the offer
-- (receiving), and says stored once the whole file checked out against the offered
-- SHA-256 and was committed to the backup store under store_key, then verified (opened,
-- PRAGMA integrity_check, schema version, row counts against central) or failed, with why.
-- A pruned backup's row goes with its file.
CREATE TABLE "@SCHEMA@".site_backup (
  tenant_id text NOT NULL,
  site_id text NOT NULL,
  backup_id text NOT NULL CHECK (backup_id ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$'),
  store_key text NOT NULL,
  bytes bigint NOT NULL CHECK (bytes > 0),
  raw_bytes bigint NOT NULL CHECK (raw_bytes >= 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  taken_at timestamptz NOT NULL,
  schema_version integer NOT NULL CHECK (schema_version > 0),
  store_epoch text NOT NULL,
  state text NOT NULL DEFAULT 'receiving' CHECK (state IN ('receiving', 'stored', 'verified', 'failed')),
  node text,
  received_at timestamptz,
  verified_at timestamptz,
  verify_error text,
  verify_result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, site_id, backup_id),
  FOREIGN KEY (tenant_id, site_id) REFERENCES "@SCHEMA@".sync_site ON DELETE CASCADE
);
CREATE INDEX site_backup_taken_idx ON "@SCHEMA@".site_backup (tenant_id, site_id, taken_at DESC);
ALTER TABLE "@SCHEMA@".site_backup ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".site_backup FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".site_backup USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".site_backup TO "@APP@";
