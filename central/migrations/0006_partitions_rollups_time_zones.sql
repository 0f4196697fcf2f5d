-- Central schema 6: site time zones, site facts partitioned by time, and the report rollups.
--
-- Time zones: a site's shifts, production day and report hours are in its IANA zone.
--
-- Partitions: every site fact table (serial_unit ... audit_record) becomes a table
-- partitioned by range of its UUIDv7 id, whose first 48 bits are the milliseconds at
-- which the site made the row. The table as it was becomes the partition <t>_history
-- (everything before the month after this migration), monthly partitions <t>_pYYYYMM
-- follow (fact_partitions_ensure, run here and by every mes-central serve), and
-- <t>_default takes ids outside them (a site clock far off). Row-level security is on the
-- table and on every partition. The primary key stays (tenant_id, id).
--
-- Rollups: additive sums per tenant, site, work unit, shift instance and local hour
-- (report_*_hour), and the same per business date (report_*_day), kept by statement
-- triggers on the facts in the transaction that writes them, whatever their age: a site
-- that delivers three days late updates the old hours. Percentages are never stored.
-- Sums of quantities are numeric, so any order of adding gives the same result, and
-- report_rebuild(tenant, site, from, to) recomputes a range from the raw facts with the
-- very SQL the triggers run (report_sql_*). Quantities and times that need master data
-- (the product and op code of an operation, an ideal cycle time, the work units of a
-- site) read it as it is when the fact is applied or the range rebuilt.
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
CREATE FUNCTION "@SCHEMA@".sync_site_time_zone_known() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.time_zone) THEN RAISE EXCEPTION 'unknown time zone "%": expected an IANA name such as Europe/Paris or UTC', NEW.time_zone USING ERRCODE = '22023'; END IF; RETURN NEW; END $$;
CREATE TRIGGER sync_site_time_zone_known BEFORE INSERT OR UPDATE OF time_zone ON "@SCHEMA@".sync_site FOR EACH ROW EXECUTE FUNCTION "@SCHEMA@".sync_site_time_zone_known();
-- What each site last said of its outbox (its Hello, every few seconds while connected), for
-- the sync health report on any central node: head seq, bytes not yet acknowledged and the
-- time of its oldest unacknowledged change (by the site's clock).
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN reported_head_seq bigint, ADD COLUMN reported_backlog_bytes bigint, ADD COLUMN oldest_unacked_at timestamptz;
GRANT UPDATE (reported_head_seq, reported_backlog_bytes, oldest_unacked_at) ON "@SCHEMA@".sync_site TO "@APP@";

-- ---------------------------------------------------------------- partitions
CREATE FUNCTION "@SCHEMA@".uuid7_floor(t timestamptz) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid $$;
CREATE TABLE "@SCHEMA@".fact_partition (table_name text NOT NULL, partition_name text NOT NULL UNIQUE, from_month date, to_month date NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, to_month));
CREATE FUNCTION "@SCHEMA@".fact_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY['serial_unit', 'genealogy_link', 'production_event', 'downtime_event', 'inspection', 'measurement', 'inventory_movement', 'shift_instance', 'operator_session', 'audit_record'] $$;
-- Row-level security on one partition, as on its table; the owner may move rows out of a
-- default partition when their month gets a partition of its own.
CREATE FUNCTION "@SCHEMA@".fact_partition_secure(part text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', part);
  EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', part);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@".%I', part);
  EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', part);
  IF part LIKE '%\_default' THEN
    EXECUTE format('CREATE POLICY partition_maintenance ON "@SCHEMA@".%I TO "@OWNER@" USING (true) WITH CHECK (true)', part);
  END IF;
END $$;
-- Makes the monthly partitions of every fact table from where they end up to the month
-- `months_ahead` after this one, moving rows the default partition holds for a new month
-- into it. Returns how many it made. Safe to run on several nodes at once.
CREATE FUNCTION "@SCHEMA@".fact_partitions_ensure(months_ahead integer DEFAULT 3) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  t text; m date; name text; made integer := 0; lo uuid; hi uuid; waiting boolean;
  target date := (date_trunc('month', now()) + make_interval(months => least(greatest(months_ahead, 0), 24) + 1))::date;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('millrace.fact_partitions'));
  FOREACH t IN ARRAY "@SCHEMA@".fact_tables() LOOP
    SELECT max(to_month) INTO m FROM "@SCHEMA@".fact_partition WHERE table_name = t;
    WHILE m < target LOOP
      name := t || '_p' || to_char(m, 'YYYYMM');
      lo := "@SCHEMA@".uuid7_floor(m);
      hi := "@SCHEMA@".uuid7_floor((m + interval '1 month')::date);
      EXECUTE format('CREATE TABLE "@SCHEMA@".%I (LIKE "@SCHEMA@".%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, t);
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM "@SCHEMA@".%I WHERE id >= $1 AND id < $2)', t || '_default') INTO waiting USING lo, hi;
      IF waiting THEN
        EXECUTE format('ALTER TABLE "@SCHEMA@".%I DISABLE TRIGGER USER', t || '_default');
        EXECUTE format('WITH moved AS (DELETE FROM "@SCHEMA@".%I WHERE id >= $1 AND id < $2 RETURNING *) INSERT INTO "@SCHEMA@".%I SELECT * FROM moved', t || '_default', name) USING lo, hi;
        EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE TRIGGER USER', t || '_default');
      END IF;
      EXECUTE format('ALTER TABLE "@SCHEMA@".%I ATTACH PARTITION "@SCHEMA@".%I FOR VALUES FROM (%L) TO (%L)', t, name, lo, hi);
      PERFORM "@SCHEMA@".fact_partition_secure(name);
      INSERT INTO "@SCHEMA@".fact_partition (table_name, partition_name, from_month, to_month) VALUES (t, name, m, (m + interval '1 month')::date);
      made := made + 1;
      m := (m + interval '1 month')::date;
    END LOOP;
  END LOOP;
  RETURN made;
END $$;
REVOKE ALL ON FUNCTION "@SCHEMA@".fact_partitions_ensure(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".fact_partitions_ensure(integer) TO "@APP@";

-- Each fact table as it was becomes the partition <t>_history under a partitioned table of
-- the same name, shape, indexes, policy and grants (rows past the first month boundary, from
-- a site clock far ahead, move to <t>_default).
DO $$
DECLARE
  t text; idx record; immutable boolean; cols text;
  bound date := (date_trunc('month', now()) + interval '1 month')::date;
BEGIN
  FOREACH t IN ARRAY "@SCHEMA@".fact_tables() LOOP
    immutable := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = format('"@SCHEMA@".%I', t)::regclass AND tgname = t || '_immutable');
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I RENAME TO %I', t, t || '_history');
    FOR idx IN SELECT indexname FROM pg_indexes WHERE schemaname = '@SCHEMA@' AND tablename = t || '_history' LOOP
      EXECUTE format('ALTER INDEX "@SCHEMA@".%I RENAME TO %I', idx.indexname, idx.indexname || '_history');
    END LOOP;
    IF immutable THEN
      EXECUTE format('DROP TRIGGER %I ON "@SCHEMA@".%I', t || '_immutable', t || '_history');
    END IF;
    EXECUTE format('CREATE TABLE "@SCHEMA@".%I (LIKE "@SCHEMA@".%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id)', t, t || '_history');
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ADD PRIMARY KEY (tenant_id, id)', t);
    EXECUTE format('CREATE TABLE "@SCHEMA@".%I PARTITION OF "@SCHEMA@".%I DEFAULT', t || '_default', t);
    EXECUTE format('CREATE POLICY migrate_all ON "@SCHEMA@".%I TO "@OWNER@" USING (true)', t || '_history');
    EXECUTE format('WITH moved AS (DELETE FROM "@SCHEMA@".%I WHERE id >= $1 RETURNING *) INSERT INTO "@SCHEMA@".%I SELECT * FROM moved', t || '_history', t || '_default') USING "@SCHEMA@".uuid7_floor(bound);
    EXECUTE format('DROP POLICY migrate_all ON "@SCHEMA@".%I', t || '_history');
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ATTACH PARTITION "@SCHEMA@".%I FOR VALUES FROM (MINVALUE) TO (%L)', t, t || '_history', "@SCHEMA@".uuid7_floor(bound));
    -- The catalog's indexes under their catalog names (the history's own attach beneath).
    FOR idx IN SELECT indexname, substring(indexdef FROM ' USING (.*)$') AS method_and_columns FROM pg_indexes WHERE schemaname = '@SCHEMA@' AND tablename = t || '_history' AND indexname <> t || '_pkey_history' LOOP
      EXECUTE format('CREATE INDEX %I ON "@SCHEMA@".%I USING %s', left(idx.indexname, length(idx.indexname) - length('_history')), t, idx.method_and_columns);
    END LOOP;
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    PERFORM "@SCHEMA@".fact_partition_secure(t || '_default');
    IF immutable THEN
      EXECUTE format('GRANT SELECT, INSERT ON "@SCHEMA@".%I TO "@APP@"', t);
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON "@SCHEMA@".%I FOR EACH ROW EXECUTE FUNCTION "@SCHEMA@".%I()', t || '_immutable', t, t || '_immutable');
    ELSE
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".%I TO "@APP@"', t);
    END IF;
    INSERT INTO "@SCHEMA@".fact_partition (table_name, partition_name, from_month, to_month) VALUES (t, t || '_history', NULL, bound);
  END LOOP;
END $$;
SELECT "@SCHEMA@".fact_partitions_ensure(3);

-- ---------------------------------------------------------------- rollups
-- The start of the local hour an instant is in, as an instant (an hour repeated by a
-- daylight-saving change is two buckets), and the local date.
CREATE FUNCTION "@SCHEMA@".report_bucket(ts timestamptz, tz text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT ts - ((ts AT TIME ZONE tz) - date_trunc('hour', ts AT TIME ZONE tz)) $$;
CREATE FUNCTION "@SCHEMA@".report_local_date(ts timestamptz, tz text) RETURNS date LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (ts AT TIME ZONE tz)::date $$;
-- A shift instance's business date (text at the site); NULL when it is not a date.
CREATE FUNCTION "@SCHEMA@".report_date(d text) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN IF d ~ '^\d{4}-\d{2}-\d{2}$' THEN RETURN d::date; END IF; RETURN NULL; EXCEPTION WHEN others THEN RETURN NULL; END $$;
-- [lo, hi) cut at local hour boundaries and at the starts and ends of the site's shift
-- instances: each slice with its hour, the shift instance it lies in (NULL: none) and its
-- business date. A stop of no length is one slice of no length.
CREATE FUNCTION "@SCHEMA@".report_slices(p_tenant text, p_site text, tz text, lo timestamptz, hi timestamptz) RETURNS TABLE (slice_lo timestamptz, slice_hi timestamptz, bucket timestamptz, shift_instance_id uuid, business_date date) LANGUAGE sql STABLE AS $$
  WITH cuts AS (
    SELECT lo AS p
    UNION SELECT h FROM generate_series("@SCHEMA@".report_bucket(lo, tz) + interval '1 hour', hi, interval '1 hour') h WHERE h > lo AND h < hi
    UNION SELECT s.starts_at FROM "@SCHEMA@".shift_instance s WHERE s.tenant_id = p_tenant AND s.site_id = p_site AND s.starts_at > lo AND s.starts_at < hi
    UNION SELECT s.ends_at FROM "@SCHEMA@".shift_instance s WHERE s.tenant_id = p_tenant AND s.site_id = p_site AND s.ends_at > lo AND s.ends_at < hi
  ), pieces AS (SELECT p AS a, coalesce(lead(p) OVER (ORDER BY p), hi) AS b FROM cuts)
  SELECT x.a, x.b, "@SCHEMA@".report_bucket(x.a, tz), si.id, coalesce(si.business_date, "@SCHEMA@".report_local_date(x.a, tz))
  FROM pieces x
  LEFT JOIN LATERAL (SELECT s.id, "@SCHEMA@".report_date(s.business_date) AS business_date FROM "@SCHEMA@".shift_instance s WHERE s.tenant_id = p_tenant AND s.site_id = p_site AND s.starts_at <= x.a AND s.ends_at > x.a ORDER BY s.starts_at DESC, s.id LIMIT 1) si ON true
  WHERE x.b > x.a OR lo = hi
$$;

-- Shift time: every active work unit of a site is planned for each shift instance the site
-- worked (the site records an instance when anything happens in it); break_ms is the part
-- of it in its pattern's planned breaks ({"start_minute": minutes after the shift's start,
-- "minutes": length}). Planned production time = shift_ms - break_ms - planned stops.
CREATE TABLE "@SCHEMA@".report_time_hour (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, bucket timestamptz NOT NULL, shift_instance_id uuid NOT NULL, business_date date NOT NULL, shift_ms bigint NOT NULL, break_ms bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, work_unit_id, bucket, shift_instance_id));
CREATE TABLE "@SCHEMA@".report_time_day (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, shift_ms bigint NOT NULL, break_ms bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id));
-- Output: counts by product, op code and scrap reason; ideal_s = ideal cycle time x count,
-- ideal_good_s = ideal cycle time x good count (OEE = sum of it / planned production time).
CREATE TABLE "@SCHEMA@".report_output_hour (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, bucket timestamptz NOT NULL, shift_instance_id uuid NOT NULL, product_id uuid NOT NULL, op_code text NOT NULL, scrap_reason_id uuid NOT NULL, business_date date NOT NULL, events bigint NOT NULL, good numeric NOT NULL, scrap numeric NOT NULL, rework numeric NOT NULL, ideal_s numeric NOT NULL, ideal_good_s numeric NOT NULL, PRIMARY KEY (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, product_id, op_code, scrap_reason_id));
CREATE TABLE "@SCHEMA@".report_output_day (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, product_id uuid NOT NULL, op_code text NOT NULL, scrap_reason_id uuid NOT NULL, events bigint NOT NULL, good numeric NOT NULL, scrap numeric NOT NULL, rework numeric NOT NULL, ideal_s numeric NOT NULL, ideal_good_s numeric NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id));
-- Stops (closed ones), split at hours and shifts; `stops` counts each in the slice it began.
CREATE TABLE "@SCHEMA@".report_downtime_hour (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, bucket timestamptz NOT NULL, shift_instance_id uuid NOT NULL, reason_id uuid NOT NULL, planned boolean NOT NULL, business_date date NOT NULL, stop_ms bigint NOT NULL, stops bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, reason_id, planned));
CREATE TABLE "@SCHEMA@".report_downtime_day (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, reason_id uuid NOT NULL, planned boolean NOT NULL, stop_ms bigint NOT NULL, stops bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned));
-- Measurements per characteristic: counts in and out of spec, and the sums SPC needs.
CREATE TABLE "@SCHEMA@".report_quality_hour (tenant_id text NOT NULL, site_id text NOT NULL, characteristic_id uuid NOT NULL, work_unit_id uuid NOT NULL, bucket timestamptz NOT NULL, shift_instance_id uuid NOT NULL, business_date date NOT NULL, n bigint NOT NULL, n_in_spec bigint NOT NULL, n_value bigint NOT NULL, sum_v numeric NOT NULL, sum_v2 numeric NOT NULL, min_v double precision, max_v double precision, PRIMARY KEY (tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id));
CREATE TABLE "@SCHEMA@".report_quality_day (tenant_id text NOT NULL, site_id text NOT NULL, characteristic_id uuid NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, n bigint NOT NULL, n_in_spec bigint NOT NULL, n_value bigint NOT NULL, sum_v numeric NOT NULL, sum_v2 numeric NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id));
CREATE INDEX report_time_hour_bucket_idx ON "@SCHEMA@".report_time_hour (tenant_id, bucket);
CREATE INDEX report_output_hour_bucket_idx ON "@SCHEMA@".report_output_hour (tenant_id, bucket);
CREATE INDEX report_downtime_hour_bucket_idx ON "@SCHEMA@".report_downtime_hour (tenant_id, bucket);
CREATE INDEX report_quality_hour_bucket_idx ON "@SCHEMA@".report_quality_hour (tenant_id, bucket);
CREATE INDEX report_time_day_date_idx ON "@SCHEMA@".report_time_day (tenant_id, business_date);
CREATE INDEX report_output_day_date_idx ON "@SCHEMA@".report_output_day (tenant_id, business_date);
CREATE INDEX report_downtime_day_date_idx ON "@SCHEMA@".report_downtime_day (tenant_id, business_date);
CREATE INDEX report_quality_day_date_idx ON "@SCHEMA@".report_quality_day (tenant_id, business_date);
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['report_time_hour', 'report_time_day', 'report_output_hour', 'report_output_day', 'report_downtime_hour', 'report_downtime_day', 'report_quality_hour', 'report_quality_day'] LOOP
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".%I TO "@APP@"', t);
  END LOOP;
END $$;

-- The contributions of a set of facts (`src`: a relation or a parenthesised query with the
-- facts' columns), times `sgn`, to the hour and day rollups whose hour lies in [lo, hi),
-- as one statement. The triggers run it over their transition tables, report_rebuild over
-- the raw facts of a range: one SQL for both, so a rebuild gives what the triggers gave.
CREATE FUNCTION "@SCHEMA@".report_sql_output(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
  WITH g AS (
    -- Summed first per quarter hour (every zone's hours begin on one), then joined once
    -- per group: a batch of thousands of counts is a handful of groups.
    SELECT e.tenant_id, e.site_id, e.work_unit_id, e.operation_id, e.work_order_id, e.shift_instance_id, e.scrap_reason_id,
           date_bin('15 minutes', e.at, timestamptz '2000-01-01 00:00+00') AS slot, count(*) AS events,
           sum(e.good_quantity::numeric) AS good, sum(e.scrap_quantity::numeric) AS scrap, sum(e.rework_quantity::numeric) AS rework
    FROM %1$s e GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ), c AS (
    SELECT g.tenant_id, g.site_id, g.work_unit_id, "@SCHEMA@".report_bucket(g.slot, ss.time_zone) AS bucket,
           coalesce(g.shift_instance_id, '00000000-0000-0000-0000-000000000000') AS shift_instance_id,
           coalesce(w.material_id, '00000000-0000-0000-0000-000000000000') AS product_id, coalesce(o.op_code, '') AS op_code,
           coalesce(g.scrap_reason_id, '00000000-0000-0000-0000-000000000000') AS scrap_reason_id,
           coalesce("@SCHEMA@".report_date(si.business_date), "@SCHEMA@".report_local_date(g.slot, ss.time_zone)) AS business_date,
           %2$s * g.events AS events, %2$s * g.good AS good, %2$s * g.scrap AS scrap, %2$s * g.rework AS rework,
           %2$s * (g.good + g.scrap + g.rework) * coalesce(nullif(o.ideal_cycle_time_s, 0), u.ideal_cycle_time_s, 0)::numeric AS ideal_s,
           %2$s * g.good * coalesce(nullif(o.ideal_cycle_time_s, 0), u.ideal_cycle_time_s, 0)::numeric AS ideal_good_s
    FROM g
    JOIN "@SCHEMA@".sync_site ss ON ss.tenant_id = g.tenant_id AND ss.site_id = g.site_id
    LEFT JOIN "@SCHEMA@".shift_instance si ON si.tenant_id = g.tenant_id AND si.id = g.shift_instance_id
    LEFT JOIN "@SCHEMA@".work_order_operation o ON o.tenant_id = g.tenant_id AND o.id = g.operation_id
    LEFT JOIN "@SCHEMA@".work_order w ON w.tenant_id = g.tenant_id AND w.id = g.work_order_id
    LEFT JOIN "@SCHEMA@".equipment u ON u.tenant_id = g.tenant_id AND u.id = g.work_unit_id
  ), r AS (SELECT * FROM c WHERE bucket >= %3$L AND bucket < %4$L),
  h AS (
    INSERT INTO "@SCHEMA@".report_output_hour AS t SELECT tenant_id, site_id, work_unit_id, bucket, shift_instance_id, product_id, op_code, scrap_reason_id, business_date, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s RETURNING 1)
  INSERT INTO "@SCHEMA@".report_output_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, product_id, op_code, scrap_reason_id, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s
$f$, src, sgn, lo, hi) $q$;

CREATE FUNCTION "@SCHEMA@".report_sql_downtime(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
  WITH c AS (
    SELECT d.tenant_id, d.site_id, d.work_unit_id, sl.bucket, coalesce(sl.shift_instance_id, '00000000-0000-0000-0000-000000000000') AS shift_instance_id,
           coalesce(d.reason_id, '00000000-0000-0000-0000-000000000000') AS reason_id, d.planned, sl.business_date,
           %2$s * round(extract(epoch FROM sl.slice_hi - sl.slice_lo) * 1000)::bigint AS stop_ms, %2$s * (sl.slice_lo = d.started_at)::integer AS stops
    FROM %1$s d
    JOIN "@SCHEMA@".sync_site ss ON ss.tenant_id = d.tenant_id AND ss.site_id = d.site_id
    CROSS JOIN LATERAL "@SCHEMA@".report_slices(d.tenant_id, d.site_id, ss.time_zone, d.started_at, d.ended_at) sl
    WHERE d.ended_at IS NOT NULL AND d.ended_at >= d.started_at
  ), r AS (SELECT * FROM c WHERE bucket >= %3$L AND bucket < %4$L),
  h AS (
    INSERT INTO "@SCHEMA@".report_downtime_hour AS t SELECT tenant_id, site_id, work_unit_id, bucket, shift_instance_id, reason_id, planned, business_date, sum(stop_ms), sum(stops) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops RETURNING 1)
  INSERT INTO "@SCHEMA@".report_downtime_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, reason_id, planned, sum(stop_ms), sum(stops) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops
$f$, src, sgn, lo, hi) $q$;

CREATE FUNCTION "@SCHEMA@".report_sql_time(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
  WITH c AS (
    SELECT s.tenant_id, s.site_id, u.id AS work_unit_id, g.bucket, s.id AS shift_instance_id,
           coalesce("@SCHEMA@".report_date(s.business_date), "@SCHEMA@".report_local_date(s.starts_at, ss.time_zone)) AS business_date,
           %2$s * round(extract(epoch FROM g.b - g.a) * 1000)::bigint AS shift_ms,
           %2$s * coalesce((SELECT round(sum(greatest(extract(epoch FROM least(g.b, x.b_hi) - greatest(g.a, x.b_lo)), 0)) * 1000)::bigint
                   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.planned_breaks::jsonb) = 'array' THEN p.planned_breaks::jsonb ELSE '[]' END) br
                   CROSS JOIN LATERAL (SELECT s.starts_at + make_interval(mins => (br->>'start_minute')::integer) AS b_lo,
                                              s.starts_at + make_interval(mins => (br->>'start_minute')::integer + (br->>'minutes')::integer) AS b_hi) x
                   WHERE jsonb_typeof(br->'start_minute') = 'number' AND jsonb_typeof(br->'minutes') = 'number'), 0) AS break_ms
    FROM %1$s s
    JOIN "@SCHEMA@".sync_site ss ON ss.tenant_id = s.tenant_id AND ss.site_id = s.site_id
    JOIN "@SCHEMA@".equipment u ON u.tenant_id = s.tenant_id AND u.site_id = s.site_id AND u.level = 'work_unit' AND u.active
    LEFT JOIN "@SCHEMA@".shift_pattern p ON p.tenant_id = s.tenant_id AND p.id = s.shift_pattern_id
    CROSS JOIN LATERAL (SELECT h AS bucket, greatest(h, s.starts_at) AS a, least(h + interval '1 hour', s.ends_at) AS b
                        FROM generate_series("@SCHEMA@".report_bucket(s.starts_at, ss.time_zone), s.ends_at - interval '1 microsecond', interval '1 hour') h) g
    WHERE s.ends_at > s.starts_at
  ), r AS (SELECT * FROM c WHERE bucket >= %3$L AND bucket < %4$L),
  h AS (
    INSERT INTO "@SCHEMA@".report_time_hour AS t SELECT tenant_id, site_id, work_unit_id, bucket, shift_instance_id, business_date, sum(shift_ms), sum(break_ms) FROM r GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms RETURNING 1)
  INSERT INTO "@SCHEMA@".report_time_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, sum(shift_ms), sum(break_ms) FROM r GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms
$f$, src, sgn, lo, hi) $q$;

-- Measurements are facts never changed: added only (min and max cannot be taken back).
CREATE FUNCTION "@SCHEMA@".report_sql_quality(src text, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
  WITH c AS (
    SELECT m.tenant_id, m.site_id, m.characteristic_id, coalesce(o.work_unit_id, '00000000-0000-0000-0000-000000000000') AS work_unit_id,
           "@SCHEMA@".report_bucket(m.at, ss.time_zone) AS bucket, coalesce(si.id, '00000000-0000-0000-0000-000000000000') AS shift_instance_id,
           coalesce(si.business_date, "@SCHEMA@".report_local_date(m.at, ss.time_zone)) AS business_date,
           m.in_spec, m.value
    FROM %1$s m
    JOIN "@SCHEMA@".sync_site ss ON ss.tenant_id = m.tenant_id AND ss.site_id = m.site_id
    LEFT JOIN "@SCHEMA@".work_order_operation o ON o.tenant_id = m.tenant_id AND o.id = m.operation_id
    LEFT JOIN LATERAL (SELECT s.id, "@SCHEMA@".report_date(s.business_date) AS business_date FROM "@SCHEMA@".shift_instance s WHERE s.tenant_id = m.tenant_id AND s.site_id = m.site_id AND s.starts_at <= m.at AND s.ends_at > m.at ORDER BY s.starts_at DESC, s.id LIMIT 1) si ON true
  ), r AS (SELECT * FROM c WHERE bucket >= %2$L AND bucket < %3$L),
  h AS (
    INSERT INTO "@SCHEMA@".report_quality_hour AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id, business_date, count(*), count(*) FILTER (WHERE in_spec), count(value), coalesce(sum(value::numeric), 0), coalesce(sum(value::numeric * value::numeric), 0), min(value), max(value) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2, min_v = least(t.min_v, EXCLUDED.min_v), max_v = greatest(t.max_v, EXCLUDED.max_v) RETURNING 1)
  INSERT INTO "@SCHEMA@".report_quality_day AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, count(*), count(*) FILTER (WHERE in_spec), count(value), coalesce(sum(value::numeric), 0), coalesce(sum(value::numeric * value::numeric), 0) FROM r GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2
$f$, src, lo, hi) $q$;

-- Recomputes every rollup of one site whose hour lies in [p_from, p_to) (widened to whole
-- local hours) from the raw facts: the hour rows there are replaced and the day rows
-- corrected by the difference. Runs in the caller's tenant context (row-level security).
CREATE FUNCTION "@SCHEMA@".report_rebuild(p_tenant text, p_site text, p_from timestamptz, p_to timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tz text; lo timestamptz; hi timestamptz; d_lo date; d_hi date;
  facts text := '(SELECT * FROM "@SCHEMA@".%I WHERE tenant_id = %L AND site_id = %L AND %s)';
BEGIN
  SELECT time_zone INTO tz FROM "@SCHEMA@".sync_site WHERE tenant_id = p_tenant AND site_id = p_site;
  IF tz IS NULL THEN RAISE EXCEPTION 'no site %/%', p_tenant, p_site USING ERRCODE = 'P0002'; END IF;
  lo := CASE WHEN isfinite(p_from) THEN "@SCHEMA@".report_bucket(p_from, tz) ELSE p_from END;
  hi := CASE WHEN isfinite(p_to) THEN "@SCHEMA@".report_bucket(p_to - interval '1 microsecond', tz) + interval '1 hour' ELSE p_to END;
  IF hi <= lo THEN RETURN; END IF;
  -- Take the old hours out of the days, then drop them.
  WITH old AS (DELETE FROM "@SCHEMA@".report_output_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *)
  INSERT INTO "@SCHEMA@".report_output_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, product_id, op_code, scrap_reason_id, -sum(events), -sum(good), -sum(scrap), -sum(rework), -sum(ideal_s), -sum(ideal_good_s) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s;
  WITH old AS (DELETE FROM "@SCHEMA@".report_downtime_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *)
  INSERT INTO "@SCHEMA@".report_downtime_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, reason_id, planned, -sum(stop_ms), -sum(stops) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops;
  WITH old AS (DELETE FROM "@SCHEMA@".report_time_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *)
  INSERT INTO "@SCHEMA@".report_time_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, -sum(shift_ms), -sum(break_ms) FROM old GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms;
  WITH old AS (DELETE FROM "@SCHEMA@".report_quality_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *)
  INSERT INTO "@SCHEMA@".report_quality_day AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, -sum(n), -sum(n_in_spec), -sum(n_value), -sum(sum_v), -sum(sum_v2) FROM old GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2;
  -- Days whose sums a changed attribution emptied hold no row.
  d_lo := CASE WHEN isfinite(lo) THEN "@SCHEMA@".report_local_date(lo, tz) - 2 ELSE '-infinity'::date END;
  d_hi := CASE WHEN isfinite(hi) THEN "@SCHEMA@".report_local_date(hi, tz) + 2 ELSE 'infinity'::date END;
  DELETE FROM "@SCHEMA@".report_output_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND events = 0 AND good = 0 AND scrap = 0 AND rework = 0 AND ideal_s = 0 AND ideal_good_s = 0;
  DELETE FROM "@SCHEMA@".report_downtime_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND stop_ms = 0 AND stops = 0;
  DELETE FROM "@SCHEMA@".report_time_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND shift_ms = 0 AND break_ms = 0;
  DELETE FROM "@SCHEMA@".report_quality_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND n = 0;
  -- Then what the facts say. An event lies in its hour; a stop or a shift reaches into the
  -- range from before it (a stop may last up to a week, a shift up to a day).
  EXECUTE "@SCHEMA@".report_sql_output(format(facts, 'production_event', p_tenant, p_site, format('at >= %L AND at < %L', lo, hi)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_downtime(format(facts, 'downtime_event', p_tenant, p_site, format('started_at < %L AND ended_at >= %L', hi, lo)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_time(format(facts, 'shift_instance', p_tenant, p_site, format('starts_at < %L AND ends_at > %L', hi, lo)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_quality(format(facts, 'measurement', p_tenant, p_site, format('at >= %L AND at < %L', lo, hi)) , lo, hi);
  PERFORM "@SCHEMA@".report_changed(p_tenant, p_site, lo, hi);
END $$;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".report_rebuild(text, text, timestamptz, timestamptz) TO "@APP@";

-- Who caches reports hears of changed rollups: "<tenant> <site> <first date> <last date>"
-- on millrace_reports at commit (dates a day or two wide of the UTC ones, which covers
-- every zone and night shift; -infinity/infinity for all).
CREATE FUNCTION "@SCHEMA@".report_changed(p_tenant text, p_site text, p_from timestamptz, p_to timestamptz) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify('millrace_reports', p_tenant || ' ' || p_site || ' ' ||
    CASE WHEN isfinite(p_from) THEN ((p_from AT TIME ZONE 'UTC')::date - 2)::text ELSE '-infinity' END || ' ' ||
    CASE WHEN isfinite(p_to) THEN ((p_to AT TIME ZONE 'UTC')::date + 1)::text ELSE 'infinity' END)
$$;

-- The triggers: statement-level, over the rows each statement wrote (COPY through the
-- stage, multi-row INSERT, upsert and the row-by-row path alike).
CREATE FUNCTION "@SCHEMA@".report_on_production() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN EXECUTE "@SCHEMA@".report_sql_output('old_rows', -1, '-infinity', 'infinity'); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN EXECUTE "@SCHEMA@".report_sql_output('new_rows', 1, '-infinity', 'infinity'); END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM "@SCHEMA@".report_changed(tenant_id, site_id, min(at), max(at)) FROM old_rows GROUP BY tenant_id, site_id; END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM "@SCHEMA@".report_changed(tenant_id, site_id, min(at), max(at)) FROM new_rows GROUP BY tenant_id, site_id; END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION "@SCHEMA@".report_on_downtime() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN EXECUTE "@SCHEMA@".report_sql_downtime('old_rows', -1, '-infinity', 'infinity'); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN EXECUTE "@SCHEMA@".report_sql_downtime('new_rows', 1, '-infinity', 'infinity'); END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM "@SCHEMA@".report_changed(tenant_id, site_id, min(started_at), max(coalesce(ended_at, started_at))) FROM old_rows GROUP BY tenant_id, site_id; END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM "@SCHEMA@".report_changed(tenant_id, site_id, min(started_at), max(coalesce(ended_at, started_at))) FROM new_rows GROUP BY tenant_id, site_id; END IF;
  RETURN NULL;
END $$;
-- A shift instance decides planned time and which shift a stop or measurement lies in:
-- its whole range is rebuilt (cheap when it arrives with the shift's first event).
CREATE FUNCTION "@SCHEMA@".report_on_shift() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    FOR r IN SELECT DISTINCT tenant_id, site_id, starts_at, ends_at FROM old_rows WHERE ends_at > starts_at LOOP
      PERFORM "@SCHEMA@".report_rebuild(r.tenant_id, r.site_id, r.starts_at, r.ends_at);
    END LOOP;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    FOR r IN SELECT DISTINCT tenant_id, site_id, starts_at, ends_at FROM new_rows WHERE ends_at > starts_at LOOP
      PERFORM "@SCHEMA@".report_rebuild(r.tenant_id, r.site_id, r.starts_at, r.ends_at);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION "@SCHEMA@".report_on_measurement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE "@SCHEMA@".report_sql_quality('new_rows', '-infinity', 'infinity');
    PERFORM "@SCHEMA@".report_changed(tenant_id, site_id, min(at), max(at)) FROM new_rows GROUP BY tenant_id, site_id;
    RETURN NULL;
  END IF;
  -- A changed or removed measurement: its hours are recomputed.
  FOR r IN SELECT DISTINCT tenant_id, site_id, date_trunc('hour', at) AS h FROM old_rows LOOP
    PERFORM "@SCHEMA@".report_rebuild(r.tenant_id, r.site_id, r.h - interval '1 hour', r.h + interval '2 hours');
  END LOOP;
  IF TG_OP = 'UPDATE' THEN
    FOR r IN SELECT DISTINCT tenant_id, site_id, date_trunc('hour', at) AS h FROM new_rows LOOP
      PERFORM "@SCHEMA@".report_rebuild(r.tenant_id, r.site_id, r.h - interval '1 hour', r.h + interval '2 hours');
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER report_insert AFTER INSERT ON "@SCHEMA@".production_event REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_production();
CREATE TRIGGER report_update AFTER UPDATE ON "@SCHEMA@".production_event REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_production();
CREATE TRIGGER report_delete AFTER DELETE ON "@SCHEMA@".production_event REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_production();
CREATE TRIGGER report_insert AFTER INSERT ON "@SCHEMA@".downtime_event REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_downtime();
CREATE TRIGGER report_update AFTER UPDATE ON "@SCHEMA@".downtime_event REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_downtime();
CREATE TRIGGER report_delete AFTER DELETE ON "@SCHEMA@".downtime_event REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_downtime();
CREATE TRIGGER report_insert AFTER INSERT ON "@SCHEMA@".shift_instance REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_shift();
CREATE TRIGGER report_update AFTER UPDATE ON "@SCHEMA@".shift_instance REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_shift();
CREATE TRIGGER report_delete AFTER DELETE ON "@SCHEMA@".shift_instance REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_shift();
CREATE TRIGGER report_insert AFTER INSERT ON "@SCHEMA@".measurement REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_measurement();
CREATE TRIGGER report_update AFTER UPDATE ON "@SCHEMA@".measurement REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_measurement();
CREATE TRIGGER report_delete AFTER DELETE ON "@SCHEMA@".measurement REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "@SCHEMA@".report_on_measurement();
-- Whatever the site delivered before this migration, in the rollups.
DO $$
DECLARE r record;
BEGIN
  -- As the owner, which row-level security binds too: each tenant's rows in its context.
  FOR r IN SELECT tenant_id, site_id FROM "@SCHEMA@".sync_site LOOP
    PERFORM set_config('app.tenant_id', r.tenant_id, true);
    PERFORM "@SCHEMA@".report_rebuild(r.tenant_id, r.site_id, '-infinity', 'infinity');
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;
