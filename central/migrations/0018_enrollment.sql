-- Central schema 18: one-time enrollment codes.
--
-- A site provisioned for enrollment has no keys yet: its directory (or offline bundle)
-- carries a one-time code instead. On first contact the edge makes its own Curve key pair
-- and sends the public key with the code (boxed for central); sync_enroll() registers the
-- key once, if the code is known, of the site the edge says it is, unused and unexpired, and
-- the site is active. Only the code's SHA-256 is kept; `mes-central enrollment-code` issues
-- another for a site whose code expired or was refused.
CREATE TABLE "@SCHEMA@".sync_enrollment (
  tenant_id text NOT NULL,
  site_id text NOT NULL,
  code_hash text PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  used_key text,
  FOREIGN KEY (tenant_id, site_id) REFERENCES "@SCHEMA@".sync_site);
ALTER TABLE "@SCHEMA@".sync_enrollment ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_enrollment USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON "@SCHEMA@".sync_enrollment TO "@APP@";
-- The code is the edge's only credential, so the lookup crosses tenants: a definer function
-- that answers the outcome and, for a good code of the site the edge says it is, registers
-- the key and spends the code in one step. A code already spent on this very key answers
-- 'already' (an edge that crashed before it recorded its enrollment asks again).
CREATE FUNCTION "@SCHEMA@".sync_enroll(hash text, site text, key text) RETURNS TABLE (tenant_id text, site_id text, outcome text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE e record;
BEGIN
  SELECT x.tenant_id, x.site_id, x.expires_at, x.used_at, x.used_key INTO e FROM "@SCHEMA@".sync_enrollment x WHERE x.code_hash = hash FOR UPDATE;
  IF NOT FOUND THEN RETURN QUERY SELECT NULL::text, NULL::text, 'unknown'::text; RETURN; END IF;
  IF e.site_id <> site THEN RETURN QUERY SELECT NULL::text, NULL::text, 'wrong_site'::text; RETURN; END IF;
  IF e.used_at IS NOT NULL THEN
    RETURN QUERY SELECT e.tenant_id, e.site_id, CASE WHEN e.used_key = key THEN 'already' ELSE 'used' END; RETURN;
  END IF;
  IF e.expires_at <= now() THEN RETURN QUERY SELECT e.tenant_id, e.site_id, 'expired'::text; RETURN; END IF;
  IF NOT EXISTS (SELECT 1 FROM "@SCHEMA@".sync_site s WHERE s.tenant_id = e.tenant_id AND s.site_id = e.site_id AND s.active) THEN
    RETURN QUERY SELECT e.tenant_id, e.site_id, 'revoked'::text; RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM "@SCHEMA@".sync_site_key k WHERE k.public_key = key) THEN
    RETURN QUERY SELECT e.tenant_id, e.site_id, 'key_taken'::text; RETURN;
  END IF;
  INSERT INTO "@SCHEMA@".sync_site_key (tenant_id, site_id, public_key) VALUES (e.tenant_id, e.site_id, key);
  UPDATE "@SCHEMA@".sync_enrollment x SET used_at = now(), used_key = key WHERE x.code_hash = hash;
  RETURN QUERY SELECT e.tenant_id, e.site_id, 'enrolled'::text;
END $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".sync_enroll(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".sync_enroll(text, text, text) TO "@APP@";
