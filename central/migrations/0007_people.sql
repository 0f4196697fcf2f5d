-- Central schema 7: people at central, and reports held to a viewer's sites in SQL.
--
-- Users belong to a tenant (viewer, site_manager limited to named sites, tenant_admin) or,
-- with no tenant, to the platform (platform_operator). Passwords are Argon2id hashes
-- (libsodium's crypto_pwhash_str). Sessions and API tokens are kept as SHA-256 of the
-- secret. The tables are behind row-level security for the application role (a tenant's
-- admin sees and changes only its tenant's users and tokens); what must work before a
-- tenant is known (a login, a session cookie, a bearer token) goes through owner functions.
--
-- Reports run as @REPORT@ (SET ROLE on central's report connections): it may only read,
-- and a restrictive policy on every table a report reads shows it only the sites in
-- app.sites ('*' for all; unset or empty: none), set by the handler for each viewer. A
-- handler that forgets a site filter still cannot show a site manager another site.
CREATE TABLE "@SCHEMA@".central_user (
  user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text REFERENCES "@SCHEMA@".sync_tenant,
  login text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role text NOT NULL CHECK (role IN ('viewer', 'site_manager', 'tenant_admin', 'platform_operator')),
  sites text[] NOT NULL DEFAULT '{}',
  password_hash text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((role = 'platform_operator') = (tenant_id IS NULL)),
  CHECK ((role = 'site_manager') = (cardinality(sites) > 0)));
CREATE TABLE "@SCHEMA@".central_session (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES "@SCHEMA@".central_user ON DELETE CASCADE,
  tenant_id text,
  csrf_hash text NOT NULL,
  address text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL);
CREATE INDEX central_session_user_idx ON "@SCHEMA@".central_session (user_id);
CREATE TABLE "@SCHEMA@".api_token (
  token_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id text NOT NULL REFERENCES "@SCHEMA@".sync_tenant,
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
  role text NOT NULL CHECK (role IN ('viewer', 'site_manager', 'tenant_admin')),
  sites text[] NOT NULL DEFAULT '{}',
  token_hash text NOT NULL UNIQUE,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  UNIQUE (tenant_id, name),
  CHECK ((role = 'site_manager') = (cardinality(sites) > 0)));
-- Row-level security for the application role (enabled, not forced: the owner's functions
-- below read across tenants, as the registry's do).
ALTER TABLE "@SCHEMA@".central_user ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".central_user USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE "@SCHEMA@".api_token ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".api_token USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE "@SCHEMA@".central_session ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".central_session USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON "@SCHEMA@".central_user, "@SCHEMA@".api_token TO "@APP@";
GRANT UPDATE (name, role, sites, password_hash, active, password_changed_at) ON "@SCHEMA@".central_user TO "@APP@";
GRANT UPDATE (revoked_at) ON "@SCHEMA@".api_token TO "@APP@";
GRANT SELECT, DELETE ON "@SCHEMA@".central_session TO "@APP@";

-- Before a tenant is known: a login, a session cookie, a bearer token.
CREATE FUNCTION "@SCHEMA@".people_login(p_login text) RETURNS TABLE (user_id uuid, tenant_id text, name text, role text, sites text[], password_hash text, active boolean) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT u.user_id, u.tenant_id, u.name, u.role, u.sites, u.password_hash, u.active FROM "@SCHEMA@".central_user u WHERE u.login = p_login $$;
-- A login also sweeps the sessions that have expired.
CREATE FUNCTION "@SCHEMA@".people_session_create(p_user uuid, p_token_hash text, p_csrf_hash text, p_idle_s integer, p_address text) RETURNS timestamptz LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  DELETE FROM "@SCHEMA@".central_session WHERE expires_at < now();
  INSERT INTO "@SCHEMA@".central_session (token_hash, user_id, tenant_id, csrf_hash, address, expires_at)
  SELECT p_token_hash, u.user_id, u.tenant_id, p_csrf_hash, p_address, now() + make_interval(secs => p_idle_s) FROM "@SCHEMA@".central_user u WHERE u.user_id = p_user AND u.active
  RETURNING expires_at $$;
-- A live session: its user (still active), and its expiry slid forward (never past a day
-- after the login). Expired sessions are deleted on the way.
CREATE FUNCTION "@SCHEMA@".people_session_find(p_token_hash text, p_idle_s integer) RETURNS TABLE (user_id uuid, login text, name text, tenant_id text, role text, sites text[], csrf_hash text, expires_at timestamptz) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  DELETE FROM "@SCHEMA@".central_session s WHERE s.expires_at < now() AND s.token_hash = p_token_hash;
  RETURN QUERY
  UPDATE "@SCHEMA@".central_session s SET last_seen_at = now(), expires_at = least(s.created_at + interval '24 hours', now() + make_interval(secs => p_idle_s))
  FROM "@SCHEMA@".central_user u WHERE s.token_hash = p_token_hash AND u.user_id = s.user_id AND u.active
  RETURNING u.user_id, u.login, u.name, u.tenant_id, u.role, u.sites, s.csrf_hash, s.expires_at;
END $$;
CREATE FUNCTION "@SCHEMA@".people_session_end(p_token_hash text) RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ WITH gone AS (DELETE FROM "@SCHEMA@".central_session WHERE token_hash = p_token_hash RETURNING 1) SELECT count(*) FROM gone $$;
CREATE FUNCTION "@SCHEMA@".people_api_token_find(p_token_hash text) RETURNS TABLE (tenant_id text, name text, role text, sites text[]) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT t.tenant_id, t.name, t.role, t.sites FROM "@SCHEMA@".api_token t WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL $$;
-- Platform operators have no tenant: made and listed through the owner.
CREATE FUNCTION "@SCHEMA@".people_platform_user_create(p_login text, p_name text, p_hash text) RETURNS uuid LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ INSERT INTO "@SCHEMA@".central_user (tenant_id, login, name, role, password_hash) VALUES (NULL, p_login, p_name, 'platform_operator', p_hash) RETURNING user_id $$;
-- A user's sessions end when the user is deactivated or its password or role changes.
CREATE FUNCTION "@SCHEMA@".people_sessions_end_for(p_user uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ WITH gone AS (DELETE FROM "@SCHEMA@".central_session WHERE user_id = p_user RETURNING 1) SELECT count(*) FROM gone $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".people_login(text), "@SCHEMA@".people_session_create(uuid, text, text, integer, text), "@SCHEMA@".people_session_find(text, integer), "@SCHEMA@".people_session_end(text), "@SCHEMA@".people_api_token_find(text), "@SCHEMA@".people_platform_user_create(text, text, text), "@SCHEMA@".people_sessions_end_for(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".people_login(text), "@SCHEMA@".people_session_create(uuid, text, text, integer, text), "@SCHEMA@".people_session_find(text, integer), "@SCHEMA@".people_session_end(text), "@SCHEMA@".people_api_token_find(text), "@SCHEMA@".people_platform_user_create(text, text, text), "@SCHEMA@".people_sessions_end_for(uuid) TO "@APP@";

-- ---------------------------------------------------------------- reports by site
-- The sites a report's viewer may see: app.sites, '*' for all of the tenant's.
CREATE OR REPLACE FUNCTION "@SCHEMA@".viewer_sees(p_site text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(current_setting('app.sites', true), '') = '*' OR p_site = ANY(string_to_array(nullif(current_setting('app.sites', true), ''), ',')) $$;
GRANT USAGE ON SCHEMA "@SCHEMA@" TO "@REPORT@";
GRANT EXECUTE ON FUNCTION "@SCHEMA@".viewer_sees(text) TO "@REPORT@";
DO $$
DECLARE t text;
BEGIN
  -- Every catalog table but users (the operators' PIN hashes), the rollups and the sync
  -- state reports show; rows of no site are the whole tenant's.
  FOREACH t IN ARRAY ARRAY['equipment', 'material_definition', 'bom', 'bom_line', 'routing', 'routing_operation',
                           'reason_code', 'inspection_plan', 'inspection_characteristic', 'location', 'shift_pattern',
                           'work_order', 'work_order_operation', 'material_lot', 'non_conformance',
                           'serial_unit', 'genealogy_link', 'production_event', 'downtime_event', 'inspection',
                           'measurement', 'inventory_movement', 'shift_instance', 'operator_session', 'audit_record',
                           'report_time_hour', 'report_time_day', 'report_output_hour', 'report_output_day',
                           'report_downtime_hour', 'report_downtime_day', 'report_quality_hour', 'report_quality_day',
                           'sync_site', 'sync_reject'] LOOP
    EXECUTE format('GRANT SELECT ON "@SCHEMA@".%I TO "@REPORT@"', t);
    EXECUTE format('CREATE POLICY viewer_sites ON "@SCHEMA@".%I AS RESTRICTIVE FOR SELECT TO "@REPORT@" USING (site_id IS NULL OR "@SCHEMA@".viewer_sees(site_id))', t);
  END LOOP;
END $$;
-- Conflicts name no site (their origins do): a report counts them per site of its own.
GRANT SELECT ON "@SCHEMA@".sync_conflict TO "@REPORT@";
