-- Central schema 12: the backup sweep. The platform's backup_sweep job (hourly) looks
-- across tenants for the site backups due a verification (stored an hour ago and never
-- verified, or verified longer ago than its re-verification period) and for the sites that
-- have backups (each gets its retention applied even when no new backup arrives); /metrics
-- reads each site's newest verified backup and its failed ones. Like the
-- registry, site_backup keeps row-level security for the application role but not for its
-- owner, whose functions here are the only way across tenants.
ALTER TABLE "@SCHEMA@".site_backup NO FORCE ROW LEVEL SECURITY;
CREATE FUNCTION "@SCHEMA@".site_backup_due(p_days integer) RETURNS TABLE (tenant_id text, site_id text, backup_id text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT b.tenant_id, b.site_id, b.backup_id FROM "@SCHEMA@".site_backup b
   WHERE (b.state = 'stored' AND b.received_at < now() - interval '1 hour')
      OR (b.state = 'verified' AND b.verified_at <= now() - make_interval(days => p_days))
   ORDER BY coalesce(b.verified_at, b.received_at), b.tenant_id, b.site_id, b.backup_id LIMIT 1000
$$;
CREATE FUNCTION "@SCHEMA@".site_backup_sites() RETURNS TABLE (tenant_id text, site_id text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT DISTINCT b.tenant_id, b.site_id FROM "@SCHEMA@".site_backup b ORDER BY 1, 2
$$;
CREATE FUNCTION "@SCHEMA@".site_backup_summary() RETURNS TABLE (tenant_id text, site_id text, verified_taken_s double precision, failed bigint, backups bigint) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT b.tenant_id, b.site_id, coalesce(extract(epoch FROM max(b.taken_at) FILTER (WHERE b.state = 'verified')), 0)::double precision,
         count(*) FILTER (WHERE b.state = 'failed'), count(*)
    FROM "@SCHEMA@".site_backup b GROUP BY b.tenant_id, b.site_id ORDER BY 1, 2
$$;
REVOKE ALL ON FUNCTION "@SCHEMA@".site_backup_due(integer), "@SCHEMA@".site_backup_sites(), "@SCHEMA@".site_backup_summary() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".site_backup_due(integer), "@SCHEMA@".site_backup_sites(), "@SCHEMA@".site_backup_summary() TO "@APP@";
