-- Central schema 13: alerts. The platform's alert_evaluate job (every minute) observes each
-- tenant's sites, backups, jobs and shop floor, and moves each alert - one (tenant, kind,
-- subject) - through pending, firing and resolved by the rules of central/alerts.h. An
-- alert row stays open (pending or firing) until it resolves; a pending one whose value
-- turned good before its delay is deleted (it never fired). alert_event is the history:
-- fired, resolved, acknowledged (with who and a comment), notified and notify_failed (a
-- webhook's delivery, through the alert_notify job). alert_rule holds a tenant's own
-- settings for a kind (the kinds' defaults live in the code); alert_webhook the endpoints
-- a tenant's alerts are posted to, from a least severity up.
--
-- All of it is the tenant's, under row-level security like the catalog's tables; the
-- evaluator learns the tenants through alert_tenants(). Edges now report the free disk
-- where their store lives and the store's size (sync.proto SiteStatus).
CREATE TABLE "@SCHEMA@".alert (
  tenant_id text NOT NULL,
  alert_id bigserial NOT NULL UNIQUE,
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,47}$'),
  subject text NOT NULL CHECK (subject <> '' AND length(subject) <= 200),
  severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical', 'page')),
  state text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
  value double precision,
  threshold double precision NOT NULL,
  detail text NOT NULL DEFAULT '',
  pending_since timestamptz NOT NULL,
  fired_at timestamptz,
  clear_since timestamptz,
  resolved_at timestamptz,
  evaluated_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by text,
  ack_comment text CHECK (length(ack_comment) <= 2000),
  PRIMARY KEY (tenant_id, alert_id)
);
CREATE UNIQUE INDEX alert_open_idx ON "@SCHEMA@".alert (tenant_id, kind, subject) WHERE state <> 'resolved';
CREATE INDEX alert_tenant_idx ON "@SCHEMA@".alert (tenant_id, alert_id DESC);
CREATE TABLE "@SCHEMA@".alert_event (
  tenant_id text NOT NULL,
  event_id bigserial PRIMARY KEY,
  alert_id bigint NOT NULL,
  event text NOT NULL CHECK (event IN ('fired', 'resolved', 'acknowledged', 'notified', 'notify_failed')),
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  detail text NOT NULL DEFAULT '',
  FOREIGN KEY (tenant_id, alert_id) REFERENCES "@SCHEMA@".alert ON DELETE CASCADE
);
CREATE INDEX alert_event_alert_idx ON "@SCHEMA@".alert_event (alert_id, event_id);
CREATE TABLE "@SCHEMA@".alert_rule (
  tenant_id text NOT NULL,
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,47}$'),
  enabled boolean NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical', 'page')),
  threshold double precision NOT NULL,
  clear_threshold double precision NOT NULL,
  for_s integer NOT NULL CHECK (for_s BETWEEN 0 AND 604800),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kind)
);
CREATE TABLE "@SCHEMA@".alert_webhook (
  tenant_id text NOT NULL,
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  url text NOT NULL CHECK (url ~ '^http://[^/?#]+(/[^ ]*)?$' AND length(url) <= 2000),
  min_severity text NOT NULL CHECK (min_severity IN ('info', 'warning', 'critical', 'page')),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['alert', 'alert_event', 'alert_rule', 'alert_webhook'] LOOP
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".%I TO "@APP@"', t);
  END LOOP;
END $$;
GRANT USAGE ON SEQUENCE "@SCHEMA@".alert_alert_id_seq, "@SCHEMA@".alert_event_event_id_seq TO "@APP@";

-- The tenants, for the evaluator (the registry is not readable across tenants otherwise).
CREATE FUNCTION "@SCHEMA@".alert_tenants() RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT tenant_id FROM "@SCHEMA@".sync_tenant ORDER BY 1
$$;
REVOKE ALL ON FUNCTION "@SCHEMA@".alert_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".alert_tenants() TO "@APP@";

ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN reported_disk_free_bytes bigint, ADD COLUMN reported_store_bytes bigint;
GRANT UPDATE (reported_disk_free_bytes, reported_store_bytes) ON "@SCHEMA@".sync_site TO "@APP@";
CREATE INDEX sync_reject_rejected_idx ON "@SCHEMA@".sync_reject (tenant_id, rejected_at);
CREATE INDEX sync_conflict_detected_idx ON "@SCHEMA@".sync_conflict (tenant_id, detected_at);
