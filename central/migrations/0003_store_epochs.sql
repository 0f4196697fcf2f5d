-- Central schema 3: store epochs. Upstream seqs count within one incarnation of a site's
-- store: a store restored from a backup or copied begins a new epoch, which central
-- resumes after the seq the store says central had acknowledged, sending back the rows
-- the store lacks. sync_site names the current epoch; sync_site_epoch keeps every epoch,
-- so a superseded store is refused by name.
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN store_epoch text, ADD COLUMN last_seen_at timestamptz;
CREATE TABLE "@SCHEMA@".sync_site_epoch (tenant_id text NOT NULL, site_id text NOT NULL, epoch text NOT NULL, parent_epoch text, base_seq bigint NOT NULL, fork_hlc bigint NOT NULL, reason text NOT NULL, recovered_rows bigint NOT NULL DEFAULT 0, started_at timestamptz NOT NULL DEFAULT now(), superseded_at timestamptz, superseded_by text, applied_seq_at_end bigint, PRIMARY KEY (tenant_id, site_id, epoch), FOREIGN KEY (tenant_id, site_id) REFERENCES "@SCHEMA@".sync_site);
ALTER TABLE "@SCHEMA@".sync_site_epoch ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_site_epoch FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_site_epoch USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE ON "@SCHEMA@".sync_site_epoch TO "@APP@";
