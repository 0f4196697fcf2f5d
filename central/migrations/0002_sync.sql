-- Central schema 2: the sync engine's own tables. The registry (tenants, sites and their
-- keys) is platform data read before any tenant is known (the Curve handshake looks a key
-- up), so it has no row-level security; everything else here is per tenant and carries the
-- same policy as the catalog tables.
CREATE TABLE "@SCHEMA@".sync_tenant (tenant_id text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{0,31}$'), name text NOT NULL, feed_head bigint NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE "@SCHEMA@".sync_site (tenant_id text NOT NULL REFERENCES "@SCHEMA@".sync_tenant, site_id text NOT NULL CHECK (site_id ~ '^[a-z0-9][a-z0-9-]{0,31}$'), public_key text NOT NULL UNIQUE, active boolean NOT NULL DEFAULT true, applied_seq bigint NOT NULL DEFAULT 0, last_ack_at timestamptz, batches_applied bigint NOT NULL DEFAULT 0, rows_applied bigint NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz, PRIMARY KEY (tenant_id, site_id));
CREATE TABLE "@SCHEMA@".sync_feed (tenant_id text NOT NULL, pos bigint NOT NULL, table_name text NOT NULL, row_id uuid NOT NULL, route_site text, hlc bigint NOT NULL, change bytea NOT NULL, PRIMARY KEY (tenant_id, pos));
CREATE TABLE "@SCHEMA@".sync_reject (tenant_id text NOT NULL, reject_id bigserial, site_id text NOT NULL, seq bigint NOT NULL, table_name text NOT NULL, row_id text, reason text NOT NULL, change bytea NOT NULL, rejected_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, reject_id));
CREATE TABLE "@SCHEMA@".sync_conflict (tenant_id text NOT NULL, conflict_id bigserial, table_name text NOT NULL, row_id uuid NOT NULL, column_name text NOT NULL, rule text NOT NULL, winner text NOT NULL, kept_value text, lost_value text, kept_hlc bigint NOT NULL, kept_origin text NOT NULL, lost_hlc bigint NOT NULL, lost_origin text NOT NULL, detected_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, conflict_id));
CREATE TABLE "@SCHEMA@".sync_column_clock (tenant_id text NOT NULL, table_name text NOT NULL, row_id uuid NOT NULL, hlcs bigint[] NOT NULL, origins text[] NOT NULL, PRIMARY KEY (tenant_id, table_name, row_id));
GRANT SELECT, INSERT, UPDATE ON "@SCHEMA@".sync_tenant, "@SCHEMA@".sync_site TO "@APP@";
ALTER TABLE "@SCHEMA@".sync_feed ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_feed FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_feed USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_feed TO "@APP@";
ALTER TABLE "@SCHEMA@".sync_reject ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_reject FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_reject USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_reject TO "@APP@";
ALTER TABLE "@SCHEMA@".sync_conflict ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_conflict FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_conflict USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_conflict TO "@APP@";
ALTER TABLE "@SCHEMA@".sync_column_clock ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_column_clock FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_column_clock USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_column_clock TO "@APP@";
GRANT USAGE ON SEQUENCE "@SCHEMA@".sync_reject_reject_id_seq, "@SCHEMA@".sync_conflict_conflict_id_seq TO "@APP@";
