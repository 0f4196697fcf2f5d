-- Central schema 5: the audit trail. audit_record (catalog) holds the sites' records as they
-- sync up; central_audit holds central's own writes (put, provisioning, revocation, keys,
-- admin tokens; tenant_id '*' for the platform's). Neither is ever changed or deleted:
-- the application role may read and add, and triggers refuse UPDATE and DELETE to all.
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."audit_record" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "actor_id" uuid,
  "actor_name" text NOT NULL,
  "actor_role" text NOT NULL,
  "action" text NOT NULL,
  "table_name" text NOT NULL,
  "row_id" uuid,
  "old_value" json,
  "new_value" json,
  "reason" text,
  "at" timestamptz NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "audit_record_site_id_at_idx" ON "@SCHEMA@"."audit_record" ("tenant_id", "site_id", "at");
CREATE INDEX IF NOT EXISTS "audit_record_row_id_idx" ON "@SCHEMA@"."audit_record" ("tenant_id", "row_id");
ALTER TABLE "@SCHEMA@"."audit_record" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."audit_record" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."audit_record";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."audit_record" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON "@SCHEMA@"."audit_record" TO "@APP@";
CREATE OR REPLACE FUNCTION "@SCHEMA@"."audit_record_immutable"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% rows are never changed or deleted', TG_TABLE_NAME USING ERRCODE = '42501'; END $$;
CREATE OR REPLACE TRIGGER "audit_record_immutable" BEFORE UPDATE OR DELETE ON "@SCHEMA@"."audit_record" FOR EACH ROW EXECUTE FUNCTION "@SCHEMA@"."audit_record_immutable"();
CREATE TABLE "@SCHEMA@".central_audit (tenant_id text NOT NULL, audit_id bigserial, at timestamptz NOT NULL DEFAULT now(), hlc bigint NOT NULL, actor text NOT NULL, action text NOT NULL, site_id text, table_name text, row_id text, old_value jsonb, new_value jsonb, reason text, PRIMARY KEY (tenant_id, audit_id));
CREATE INDEX central_audit_site_at_idx ON "@SCHEMA@".central_audit (tenant_id, site_id, at);
CREATE INDEX central_audit_row_idx ON "@SCHEMA@".central_audit (tenant_id, row_id);
ALTER TABLE "@SCHEMA@".central_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@".central_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON "@SCHEMA@".central_audit USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON "@SCHEMA@".central_audit TO "@APP@";
GRANT USAGE ON SEQUENCE "@SCHEMA@".central_audit_audit_id_seq TO "@APP@";
CREATE FUNCTION "@SCHEMA@".central_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'central_audit rows are never changed or deleted' USING ERRCODE = '42501'; END $$;
CREATE TRIGGER central_audit_immutable BEFORE UPDATE OR DELETE ON "@SCHEMA@".central_audit FOR EACH ROW EXECUTE FUNCTION "@SCHEMA@".central_audit_immutable();
