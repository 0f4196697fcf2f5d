-- Central schema 16: retention.
--
-- A tenant may keep its sites' raw facts for a number of whole months
-- (sync_tenant.fact_retention_months; NULL keeps them all). The fact_retention job exports
-- each older month of each fact table to the backup store (fact_export records where) and
-- then purges it with fact_range_purge, which deletes one tenant's rows of one UTC month
-- from the partitions that can hold them with their triggers off: the report rollups keep
-- their sums, an audit record leaves only this way. A monthly partition no tenant's rows
-- are left in is then dropped (fact_partition_drop_empty; rows of its month arriving late
-- land in the default partition).
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
-- rows in it (only reading), so that fact_partition_drop_empty can tell it is empty.
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

-- The first id of the instants a tenant keeps its facts from: the first day (UTC) of the
-- month fact_retention_months before this one; NULL when it keeps all.
CREATE FUNCTION "@SCHEMA@".fact_retention_floor(tenant text) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT "@SCHEMA@".uuid7_floor((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => fact_retention_months)) AT TIME ZONE 'UTC')
  FROM "@SCHEMA@".sync_tenant WHERE tenant_id = tenant AND fact_retention_months IS NOT NULL
$$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_retention_floor(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_retention_floor(text) TO "@APP@";

-- Deletes the rows of the tenant in context (app.tenant_id) with ids in [lo, hi) from fact
-- table `t`, in the partitions whose range can hold them (by their recorded months, one
-- either side: a partition's bounds are its months' midnights in the zone it was made in)
-- and the default one, with those partitions' triggers off: the rollups stay as they are.
-- Refused for ids the tenant still keeps (hi past its retention floor). Returns the rows
-- deleted. Run it in the transaction that exported the same rows (REPEATABLE READ: a row
-- arriving meanwhile is neither exported nor deleted).
CREATE FUNCTION "@SCHEMA@".fact_range_purge(t text, lo uuid, hi uuid) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  tenant text := current_setting('app.tenant_id', true);
  kept uuid; part text; n bigint := 0; k bigint;
  first_month date := (to_timestamp(('x' || substr(replace(lo::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0) AT TIME ZONE 'UTC')::date;
  last_month date := (to_timestamp(('x' || substr(replace(hi::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0) AT TIME ZONE 'UTC')::date;
BEGIN
  IF tenant IS NULL OR tenant = '' THEN
    RAISE EXCEPTION 'fact_range_purge runs in a tenant''s context' USING ERRCODE = '42501';
  END IF;
  IF NOT (t = ANY ("@SCHEMA@".fact_tables())) THEN
    RAISE EXCEPTION '% is not a fact table', t USING ERRCODE = '22023';
  END IF;
  kept := "@SCHEMA@".fact_retention_floor(tenant);
  IF kept IS NULL OR hi > kept OR lo >= hi THEN
    RAISE EXCEPTION 'ids [%, %) are not all before what tenant % keeps (%)', lo, hi, tenant, kept USING ERRCODE = '22023';
  END IF;
  FOR part IN SELECT partition_name FROM "@SCHEMA@".fact_partition WHERE table_name = t
        AND (from_month IS NULL OR from_month <= last_month + 31) AND to_month >= first_month - 31
      UNION ALL SELECT t || '_default' LOOP
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I DISABLE TRIGGER USER', part);
    EXECUTE format('DELETE FROM "@SCHEMA@".%I WHERE tenant_id = $1 AND id >= $2 AND id < $3', part) USING tenant, lo, hi;
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n + k;
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE TRIGGER USER', part);
  END LOOP;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_range_purge(text, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_range_purge(text, uuid, uuid) TO "@APP@";

-- Drops the monthly partition of `t` for `month` if no tenant's rows are in it and its
-- month ended over a month ago; true when it did. Its own transaction, after the purges:
-- the partition is locked first (a row arriving waits, then goes to the default partition)
-- and looked into with a fresh snapshot. Gives up rather than queue (lock_timeout).
CREATE FUNCTION "@SCHEMA@".fact_partition_drop_empty(t text, month date) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE own text; left_over boolean;
BEGIN
  SELECT partition_name INTO own FROM "@SCHEMA@".fact_partition WHERE table_name = t AND from_month = month;
  IF own IS NULL OR month >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date THEN
    RETURN false;
  END IF;
  SET LOCAL lock_timeout = '5s';
  EXECUTE format('LOCK TABLE "@SCHEMA@".%I IN ACCESS EXCLUSIVE MODE', own);
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM "@SCHEMA@".%I)', own) INTO left_over;
  IF left_over THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE "@SCHEMA@".%I', own);
  DELETE FROM "@SCHEMA@".fact_partition WHERE partition_name = own;
  RETURN true;
END $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_partition_drop_empty(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_partition_drop_empty(text, date) TO "@APP@";
