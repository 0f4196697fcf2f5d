-- Central schema 16: retention.
--
-- A tenant may keep its sites' raw facts for a number of whole months
-- (sync_tenant.fact_retention_months; NULL keeps them all). The fact_retention job exports
-- each older month of each fact table to the backup store (fact_export records where) and
-- then purges it with fact_month_purge, which deletes one tenant's rows of one month from
-- the partitions that hold them with their triggers off: the report rollups keep their
-- sums, an audit record leaves only this way. A monthly partition no tenant's rows are left
-- in is dropped (rows of its month arriving late land in the default partition).
--
-- Each site says how far its edge purged its own facts (SiteStatus.purge_horizon_ms, kept
-- in sync_site.purge_horizon_ms): comparisons of the two sides leave out the facts before
-- the later of that and the tenant's retention.
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN purge_horizon_ms bigint NOT NULL DEFAULT 0 CHECK (purge_horizon_ms >= 0);
ALTER TABLE "@SCHEMA@".sync_tenant ADD COLUMN fact_retention_months integer CHECK (fact_retention_months BETWEEN 1 AND 1200);
GRANT UPDATE (purge_horizon_ms) ON "@SCHEMA@".sync_site TO "@APP@";
GRANT UPDATE (fact_retention_months) ON "@SCHEMA@".sync_tenant TO "@APP@";

CREATE TABLE "@SCHEMA@".fact_export (
  tenant_id text NOT NULL,
  export_id bigserial NOT NULL UNIQUE,
  table_name text NOT NULL,
  month date NOT NULL CHECK (month = date_trunc('month', month)::date),
  backup_key text NOT NULL,
  rows bigint NOT NULL CHECK (rows >= 0),
  bytes bigint NOT NULL CHECK (bytes >= 0),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  exported_at timestamptz NOT NULL DEFAULT now(),
  exported_by text NOT NULL DEFAULT '' CHECK (length(exported_by) <= 200),
  PRIMARY KEY (tenant_id, export_id)
);
CREATE INDEX fact_export_month_idx ON "@SCHEMA@".fact_export (tenant_id, table_name, month);
ALTER TABLE "@SCHEMA@".fact_export ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".fact_export FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".fact_export USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON "@SCHEMA@".fact_export TO "@APP@";
GRANT USAGE ON SEQUENCE "@SCHEMA@".fact_export_export_id_seq TO "@APP@";

-- The tenants that keep their facts for a limited time, for the platform's retention job.
CREATE FUNCTION "@SCHEMA@".fact_retention_tenants() RETURNS TABLE (tenant_id text, months integer) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT tenant_id, fact_retention_months FROM "@SCHEMA@".sync_tenant WHERE fact_retention_months IS NOT NULL ORDER BY tenant_id
$$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_retention_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_retention_tenants() TO "@APP@";

-- Row-level security on one partition as before, and the owner's sight of every tenant's
-- rows in it (only reading), so that fact_month_purge can tell a partition left empty.
CREATE OR REPLACE FUNCTION "@SCHEMA@".fact_partition_secure(part text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', part);
  EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', part);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@".%I', part);
  EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', part);
  IF part LIKE '%\_default' THEN
    EXECUTE format('DROP POLICY IF EXISTS partition_maintenance ON "@SCHEMA@".%I', part);
    EXECUTE format('CREATE POLICY partition_maintenance ON "@SCHEMA@".%I TO "@OWNER@" USING (true) WITH CHECK (true)', part);
  ELSE
    EXECUTE format('DROP POLICY IF EXISTS retention_check ON "@SCHEMA@".%I', part);
    EXECUTE format('CREATE POLICY retention_check ON "@SCHEMA@".%I FOR SELECT TO "@OWNER@" USING (true)', part);
  END IF;
END $$;
DO $$
DECLARE p text;
BEGIN
  FOR p IN SELECT partition_name FROM "@SCHEMA@".fact_partition LOOP
    PERFORM "@SCHEMA@".fact_partition_secure(p);
  END LOOP;
END $$;

-- Deletes the rows of the tenant in context (app.tenant_id) made in `month` (by their
-- UUIDv7 ids) from fact table `t`, in the partitions that can hold them, with those
-- partitions' triggers off (the rollups stay as they are); then drops the month's own
-- partition if no tenant's rows are left in it and the month ended over a month ago.
-- Returns the rows deleted. Run it in the transaction that exported the same rows
-- (REPEATABLE READ: a row arriving meanwhile is neither exported nor deleted).
CREATE FUNCTION "@SCHEMA@".fact_month_purge(t text, month date) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  tenant text := current_setting('app.tenant_id', true);
  lo uuid; hi uuid; part text; own text; n bigint := 0; k bigint; left_over boolean;
BEGIN
  IF tenant IS NULL OR tenant = '' THEN
    RAISE EXCEPTION 'fact_month_purge runs in a tenant''s context' USING ERRCODE = '42501';
  END IF;
  IF NOT (t = ANY ("@SCHEMA@".fact_tables())) THEN
    RAISE EXCEPTION '% is not a fact table', t USING ERRCODE = '22023';
  END IF;
  IF month IS NULL OR month <> date_trunc('month', month)::date THEN
    RAISE EXCEPTION 'month % is not the first day of a month', month USING ERRCODE = '22023';
  END IF;
  lo := "@SCHEMA@".uuid7_floor(month);
  hi := "@SCHEMA@".uuid7_floor((month + interval '1 month')::date);
  -- Only the partitions whose range holds the month (its own, or the history one) and the
  -- default one: the others, the current month's among them, are not locked.
  FOR part IN SELECT partition_name FROM "@SCHEMA@".fact_partition WHERE table_name = t
        AND (from_month IS NULL OR from_month <= month) AND to_month > month
      UNION ALL SELECT t || '_default' LOOP
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I DISABLE TRIGGER USER', part);
    EXECUTE format('DELETE FROM "@SCHEMA@".%I WHERE tenant_id = $1 AND id >= $2 AND id < $3', part) USING tenant, lo, hi;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE TRIGGER USER', part);
  END LOOP;
  SELECT partition_name INTO own FROM "@SCHEMA@".fact_partition WHERE table_name = t AND from_month = month;
  IF own IS NOT NULL AND month < (date_trunc('month', now()) - interval '1 month')::date THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM "@SCHEMA@".%I)', own) INTO left_over;
    IF NOT left_over THEN
      EXECUTE format('DROP TABLE "@SCHEMA@".%I', own);
      DELETE FROM "@SCHEMA@".fact_partition WHERE partition_name = own;
    END IF;
  END IF;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_month_purge(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_month_purge(text, date) TO "@APP@";
