-- Central schema 15: tombstones. A deleted master data or shared row leaves its id and the
-- clock of the delete here (and the delete on the feed), so a write older than the delete,
-- from a site that had not heard of it, never brings the row back, while a newer one does
-- (sync/merge.h). site_id is the row's, for routing; change is the delete as it went on
-- the feed (the row as last known, stamped with the delete's clock), sent again to a
-- site's store restored from before it. Under row-level security like every tenant table.
CREATE TABLE "@SCHEMA@".sync_tombstone (
  tenant_id text NOT NULL,
  table_name text NOT NULL,
  row_id uuid NOT NULL,
  site_id text,
  hlc bigint NOT NULL CHECK (hlc >= 0),
  origin text NOT NULL,
  change bytea NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, table_name, row_id)
);
CREATE INDEX sync_tombstone_site_idx ON "@SCHEMA@".sync_tombstone (tenant_id, site_id, hlc);
ALTER TABLE "@SCHEMA@".sync_tombstone ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_tombstone FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_tombstone USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_tombstone TO "@APP@";
