-- Central schema 14: drift checks. A drift check compares one site's tables at its edge
-- with central's copy of them by ranges of digests (sync/drift.h) over the sync link and
-- repairs the rows that differ from the side that owns them (sync/drift_run.h). A check is
-- requested (the drift_check job, or mes-central drift check) as a sync_drift row, and
-- sync_site.drift_check_id names the one the site is asked to run at its next Hello or
-- ack; the edge runs it, central answers its probes from an index of the site's rows taken
-- at the first probe (running), and records the outcome (done or failed), clearing the
-- site's request. Under row-level security like every tenant table.
CREATE TABLE "@SCHEMA@".sync_drift (
  tenant_id text NOT NULL,
  check_id bigserial NOT NULL UNIQUE,
  site_id text NOT NULL,
  state text NOT NULL CHECK (state IN ('requested', 'running', 'done', 'failed')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  requested_by text NOT NULL DEFAULT '' CHECK (length(requested_by) <= 200),
  started_at timestamptz,
  finished_at timestamptz,
  central_rows bigint,
  edge_rows bigint,
  round_trips integer,
  ranges_compared bigint,
  rows_listed bigint,
  drifted bigint,
  repaired bigint,
  left_to_sync bigint,
  tables jsonb NOT NULL DEFAULT '[]',
  error text CHECK (length(error) <= 2000),
  PRIMARY KEY (tenant_id, check_id)
);
CREATE INDEX sync_drift_site_idx ON "@SCHEMA@".sync_drift (tenant_id, site_id, check_id DESC);
ALTER TABLE "@SCHEMA@".sync_drift ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".sync_drift FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_drift USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".sync_drift TO "@APP@";
GRANT USAGE ON SEQUENCE "@SCHEMA@".sync_drift_check_id_seq TO "@APP@";

ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN drift_check_id bigint;
GRANT UPDATE (drift_check_id) ON "@SCHEMA@".sync_site TO "@APP@";

