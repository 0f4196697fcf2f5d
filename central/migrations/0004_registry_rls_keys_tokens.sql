-- Central schema 4: the registry behind row-level security, site keys in a table of their
-- own, and the platform's admin tokens.
--
-- The application role sees and changes only the tenant of its transaction, in the
-- registry too: it cannot list another tenant's sites or keys, change a key, or re-activate
-- a revoked site. The Curve handshake looks a key up before any tenant is known through
-- sync_key_owner(), a SECURITY DEFINER function of the owner role (row-level security is
-- enabled, not forced, on the registry, so the owner's functions read across tenants).
-- A site may hold several keys while one is rotated: the old one is refused after retire_at.
CREATE TABLE "@SCHEMA@".sync_site_key (tenant_id text NOT NULL, site_id text NOT NULL, public_key text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now(), retire_at timestamptz, PRIMARY KEY (tenant_id, public_key), FOREIGN KEY (tenant_id, site_id) REFERENCES "@SCHEMA@".sync_site);
INSERT INTO "@SCHEMA@".sync_site_key (tenant_id, site_id, public_key, created_at) SELECT tenant_id, site_id, public_key, created_at FROM "@SCHEMA@".sync_site;
ALTER TABLE "@SCHEMA@".sync_site DROP COLUMN public_key;
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN key_rotation_requested_at timestamptz, ADD COLUMN key_rotation_grace_seconds integer;
ALTER TABLE "@SCHEMA@".sync_tenant ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_tenant USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE "@SCHEMA@".sync_site ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_site USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE "@SCHEMA@".sync_site_key ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".sync_site_key USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
REVOKE UPDATE ON "@SCHEMA@".sync_site FROM "@APP@";
GRANT UPDATE (active, revoked_at, applied_seq, last_ack_at, batches_applied, rows_applied, store_epoch, last_seen_at, key_rotation_requested_at, key_rotation_grace_seconds) ON "@SCHEMA@".sync_site TO "@APP@";
REVOKE UPDATE ON "@SCHEMA@".sync_tenant FROM "@APP@";
GRANT UPDATE (feed_head) ON "@SCHEMA@".sync_tenant TO "@APP@";
GRANT SELECT, INSERT ON "@SCHEMA@".sync_site_key TO "@APP@";
GRANT UPDATE (retire_at) ON "@SCHEMA@".sync_site_key TO "@APP@";
CREATE FUNCTION "@SCHEMA@".sync_site_stays_revoked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NOT OLD.active AND NEW.active THEN RAISE EXCEPTION 'site %/% was revoked and stays revoked (provision a new site instead)', OLD.tenant_id, OLD.site_id USING ERRCODE = '42501'; END IF; RETURN NEW; END $$;
CREATE TRIGGER sync_site_stays_revoked BEFORE UPDATE ON "@SCHEMA@".sync_site FOR EACH ROW EXECUTE FUNCTION "@SCHEMA@".sync_site_stays_revoked();
CREATE FUNCTION "@SCHEMA@".sync_key_owner(key text) RETURNS TABLE (tenant_id text, site_id text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT s.tenant_id, s.site_id FROM "@SCHEMA@".sync_site_key k JOIN "@SCHEMA@".sync_site s ON s.tenant_id = k.tenant_id AND s.site_id = k.site_id WHERE k.public_key = key AND s.active AND (k.retire_at IS NULL OR k.retire_at > now()) $$;
CREATE FUNCTION "@SCHEMA@".sync_active_site(site text) RETURNS TABLE (tenant_id text, site_id text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT s.tenant_id, s.site_id FROM "@SCHEMA@".sync_site s WHERE s.site_id = site AND s.active $$;
CREATE TABLE "@SCHEMA@".admin_token (token_id bigserial PRIMARY KEY, name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'), token_hash text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz);
CREATE FUNCTION "@SCHEMA@".admin_token_valid(hash text) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT name FROM "@SCHEMA@".admin_token WHERE token_hash = hash AND revoked_at IS NULL $$;
CREATE FUNCTION "@SCHEMA@".admin_token_create(token_name text, hash text) RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ INSERT INTO "@SCHEMA@".admin_token (name, token_hash) VALUES (token_name, hash) RETURNING token_id $$;
CREATE FUNCTION "@SCHEMA@".admin_token_revoke(token_name text) RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ UPDATE "@SCHEMA@".admin_token SET revoked_at = coalesce(revoked_at, now()) WHERE name = token_name RETURNING token_id $$;
CREATE FUNCTION "@SCHEMA@".admin_token_list() RETURNS TABLE (name text, created_at timestamptz, revoked_at timestamptz) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT name, created_at, revoked_at FROM "@SCHEMA@".admin_token ORDER BY token_id $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".sync_key_owner(text), "@SCHEMA@".sync_active_site(text), "@SCHEMA@".admin_token_valid(text), "@SCHEMA@".admin_token_create(text, text), "@SCHEMA@".admin_token_revoke(text), "@SCHEMA@".admin_token_list() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".sync_key_owner(text), "@SCHEMA@".sync_active_site(text), "@SCHEMA@".admin_token_valid(text), "@SCHEMA@".admin_token_create(text, text), "@SCHEMA@".admin_token_revoke(text), "@SCHEMA@".admin_token_list() TO "@APP@";
