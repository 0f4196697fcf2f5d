-- Central schema 8: month rollups, so a report over a year reads a dozen rows per work
-- unit instead of a thousand, and the indexes the drill-downs page with.
--
-- report_<kind>_month has the columns of report_<kind>_day, in the same order, with the
-- first day of the month as business_date and one shift mark instead of the shift: the nil
-- UUID (outside every shift, as in the day rows) or report_month_shift() (in some shift).
-- A report reads whole months there and the days around them from the day rows. The
-- quality months also keep the pooled within-hour sum of squares and its degrees of
-- freedom (Cp and Cpk use the spread within hourly subgroups), kept up to date from each
-- change of an hour row.
--
-- The same statements keep them as the day rows: the contribution SQL of migration 6 is
-- replaced by one that also writes the months, and report_rebuild takes rebuilt hours out
-- of the months as it does out of the days.

-- No fact is written while the contribution SQL is replaced and the months are filled: a
-- statement that ran the old SQL and committed after the fill would miss its months.
LOCK TABLE "@SCHEMA@".production_event, "@SCHEMA@".downtime_event, "@SCHEMA@".shift_instance, "@SCHEMA@".measurement IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION "@SCHEMA@".report_month_shift(s uuid) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN s = '00000000-0000-0000-0000-000000000000' THEN s ELSE 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid END $$;
-- An hourly subgroup's sum of squared deviations from its mean. A function of the values
-- alone (the division rounds by the scale of its operands, so the sum is trimmed first):
-- the months add its change at every statement and take it away at a rebuild, exactly.
CREATE FUNCTION "@SCHEMA@".report_within_ss(n bigint, s numeric, s2 numeric) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN n > 1 THEN s2 - trim_scale(s) * trim_scale(s) / n ELSE 0 END $$;

CREATE TABLE "@SCHEMA@".report_time_month (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, shift_ms bigint NOT NULL, break_ms bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id));
CREATE TABLE "@SCHEMA@".report_output_month (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, product_id uuid NOT NULL, op_code text NOT NULL, scrap_reason_id uuid NOT NULL, events bigint NOT NULL, good numeric NOT NULL, scrap numeric NOT NULL, rework numeric NOT NULL, ideal_s numeric NOT NULL, ideal_good_s numeric NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id));
CREATE TABLE "@SCHEMA@".report_downtime_month (tenant_id text NOT NULL, site_id text NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, reason_id uuid NOT NULL, planned boolean NOT NULL, stop_ms bigint NOT NULL, stops bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned));
CREATE TABLE "@SCHEMA@".report_quality_month (tenant_id text NOT NULL, site_id text NOT NULL, characteristic_id uuid NOT NULL, work_unit_id uuid NOT NULL, business_date date NOT NULL, shift_instance_id uuid NOT NULL, n bigint NOT NULL, n_in_spec bigint NOT NULL, n_value bigint NOT NULL, sum_v numeric NOT NULL, sum_v2 numeric NOT NULL, within_ss numeric NOT NULL, within_df bigint NOT NULL, PRIMARY KEY (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id));
CREATE INDEX report_time_month_date_idx ON "@SCHEMA@".report_time_month (tenant_id, business_date);
CREATE INDEX report_output_month_date_idx ON "@SCHEMA@".report_output_month (tenant_id, business_date);
CREATE INDEX report_downtime_month_date_idx ON "@SCHEMA@".report_downtime_month (tenant_id, business_date);
CREATE INDEX report_quality_month_date_idx ON "@SCHEMA@".report_quality_month (tenant_id, business_date);
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['report_time_month', 'report_output_month', 'report_downtime_month', 'report_quality_month'] LOOP
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE "@SCHEMA@".%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON "@SCHEMA@".%I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@".%I TO "@APP@"', t);
    EXECUTE format('GRANT SELECT ON "@SCHEMA@".%I TO "@REPORT@"', t);
  END LOOP;
END $$;

-- ---------------------------------------------------------------- reports by site
-- Migration 7's viewer_sites policy, written so the planner can count: its test of the
-- settings, inlined into every row's filter, was estimated like a rare value, so every
-- table read by a report looked a hundred times smaller than it is and joins were planned
-- as loops over whole tables. The settings are read once per statement (initial plans),
-- and what a viewer sees is unchanged: rows of no site, of every site ('*'), or of the
-- sites app.sites lists.
CREATE OR REPLACE FUNCTION "@SCHEMA@".viewer_sees_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(current_setting('app.sites', true), '') = '*' $$;
CREATE OR REPLACE FUNCTION "@SCHEMA@".viewer_site_list() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(string_to_array(nullif(current_setting('app.sites', true), ''), ','), '{}') $$;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".viewer_sees_all(), "@SCHEMA@".viewer_site_list() TO "@REPORT@";
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_policies WHERE schemaname = '@SCHEMA@' AND policyname = 'viewer_sites'
           UNION SELECT unnest(ARRAY['report_time_month', 'report_output_month', 'report_downtime_month', 'report_quality_month']) LOOP
    EXECUTE format('DROP POLICY IF EXISTS viewer_sites ON "@SCHEMA@".%I', t);
    EXECUTE format('CREATE POLICY viewer_sites ON "@SCHEMA@".%I AS RESTRICTIVE FOR SELECT TO "@REPORT@" USING (site_id IS NULL OR (SELECT "@SCHEMA@".viewer_sees_all()) OR site_id = ANY ((SELECT "@SCHEMA@".viewer_site_list())::text[]))', t);
  END LOOP;
END $$;

-- ---------------------------------------------------------------- contributions
CREATE OR REPLACE FUNCTION "@SCHEMA@".report_sql_output(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
  WITH g AS (
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
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s RETURNING 1),
  d AS (
    INSERT INTO "@SCHEMA@".report_output_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, product_id, op_code, scrap_reason_id, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s RETURNING 1)
  INSERT INTO "@SCHEMA@".report_output_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), product_id, op_code, scrap_reason_id, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s
$f$, src, sgn, lo, hi) $q$;

CREATE OR REPLACE FUNCTION "@SCHEMA@".report_sql_downtime(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
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
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops RETURNING 1),
  d AS (
    INSERT INTO "@SCHEMA@".report_downtime_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, reason_id, planned, sum(stop_ms), sum(stops) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops RETURNING 1)
  INSERT INTO "@SCHEMA@".report_downtime_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), reason_id, planned, sum(stop_ms), sum(stops) FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops
$f$, src, sgn, lo, hi) $q$;

CREATE OR REPLACE FUNCTION "@SCHEMA@".report_sql_time(src text, sgn integer, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
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
    ON CONFLICT (tenant_id, site_id, work_unit_id, bucket, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms RETURNING 1),
  d AS (
    INSERT INTO "@SCHEMA@".report_time_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, sum(shift_ms), sum(break_ms) FROM r GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms RETURNING 1)
  INSERT INTO "@SCHEMA@".report_time_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), sum(shift_ms), sum(break_ms) FROM r GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms
$f$, src, sgn, lo, hi) $q$;

-- The months also take the change of each touched hour's within sum of squares: its value
-- after the statement less its value before (the hour's new sums less what was added).
CREATE OR REPLACE FUNCTION "@SCHEMA@".report_sql_quality(src text, lo timestamptz, hi timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $q$ SELECT format($f$
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
  a AS (
    SELECT tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id, business_date, count(*) AS n, count(*) FILTER (WHERE in_spec) AS n_in_spec, count(value) AS n_value,
           coalesce(sum(value::numeric), 0) AS sum_v, coalesce(sum(value::numeric * value::numeric), 0) AS sum_v2, min(value) AS min_v, max(value) AS max_v
    FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7),
  h AS (
    INSERT INTO "@SCHEMA@".report_quality_hour AS t SELECT * FROM a
    ON CONFLICT (tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2, min_v = least(t.min_v, EXCLUDED.min_v), max_v = greatest(t.max_v, EXCLUDED.max_v)
    RETURNING t.tenant_id, t.site_id, t.characteristic_id, t.work_unit_id, t.bucket, t.shift_instance_id, t.business_date, t.n_value, t.sum_v, t.sum_v2),
  w AS (
    SELECT h.tenant_id, h.site_id, h.characteristic_id, h.work_unit_id, h.business_date, h.shift_instance_id,
           "@SCHEMA@".report_within_ss(h.n_value, h.sum_v, h.sum_v2) - "@SCHEMA@".report_within_ss(h.n_value - a.n_value, h.sum_v - a.sum_v, h.sum_v2 - a.sum_v2) AS within_ss,
           greatest(h.n_value - 1, 0) - greatest(h.n_value - a.n_value - 1, 0) AS within_df
    FROM h JOIN a USING (tenant_id, site_id, characteristic_id, work_unit_id, bucket, shift_instance_id)),
  d AS (
    INSERT INTO "@SCHEMA@".report_quality_day AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, sum(n), sum(n_in_spec), sum(n_value), sum(sum_v), sum(sum_v2) FROM a GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2 RETURNING 1)
  INSERT INTO "@SCHEMA@".report_quality_month AS t
  SELECT tenant_id, site_id, characteristic_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), sum(n), sum(n_in_spec), sum(n_value), sum(sum_v), sum(sum_v2), sum(within_ss), sum(within_df)
  FROM (SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, n, n_in_spec, n_value, sum_v, sum_v2, 0::numeric AS within_ss, 0::bigint AS within_df FROM a
        UNION ALL SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, 0, 0, 0, 0, 0, within_ss, within_df FROM w) x
  GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2, within_ss = t.within_ss + EXCLUDED.within_ss, within_df = t.within_df + EXCLUDED.within_df
$f$, src, lo, hi) $q$;

-- ---------------------------------------------------------------- rebuild
-- As in migration 6, and the hours taken out come out of their months as well.
CREATE OR REPLACE FUNCTION "@SCHEMA@".report_rebuild(p_tenant text, p_site text, p_from timestamptz, p_to timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tz text; lo timestamptz; hi timestamptz; d_lo date; d_hi date;
  facts text := '(SELECT * FROM "@SCHEMA@".%I WHERE tenant_id = %L AND site_id = %L AND %s)';
BEGIN
  SELECT time_zone INTO tz FROM "@SCHEMA@".sync_site WHERE tenant_id = p_tenant AND site_id = p_site;
  IF tz IS NULL THEN RAISE EXCEPTION 'no site %/%', p_tenant, p_site USING ERRCODE = 'P0002'; END IF;
  lo := CASE WHEN isfinite(p_from) THEN "@SCHEMA@".report_bucket(p_from, tz) ELSE p_from END;
  hi := CASE WHEN isfinite(p_to) THEN "@SCHEMA@".report_bucket(p_to - interval '1 microsecond', tz) + interval '1 hour' ELSE p_to END;
  IF hi <= lo THEN RETURN; END IF;
  WITH old AS (DELETE FROM "@SCHEMA@".report_output_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *),
  d AS (
    INSERT INTO "@SCHEMA@".report_output_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, product_id, op_code, scrap_reason_id, -sum(events), -sum(good), -sum(scrap), -sum(rework), -sum(ideal_s), -sum(ideal_good_s) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s RETURNING 1)
  INSERT INTO "@SCHEMA@".report_output_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), product_id, op_code, scrap_reason_id, -sum(events), -sum(good), -sum(scrap), -sum(rework), -sum(ideal_s), -sum(ideal_good_s) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, product_id, op_code, scrap_reason_id) DO UPDATE SET events = t.events + EXCLUDED.events, good = t.good + EXCLUDED.good, scrap = t.scrap + EXCLUDED.scrap, rework = t.rework + EXCLUDED.rework, ideal_s = t.ideal_s + EXCLUDED.ideal_s, ideal_good_s = t.ideal_good_s + EXCLUDED.ideal_good_s;
  WITH old AS (DELETE FROM "@SCHEMA@".report_downtime_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *),
  d AS (
    INSERT INTO "@SCHEMA@".report_downtime_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, reason_id, planned, -sum(stop_ms), -sum(stops) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops RETURNING 1)
  INSERT INTO "@SCHEMA@".report_downtime_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), reason_id, planned, -sum(stop_ms), -sum(stops) FROM old GROUP BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id, reason_id, planned) DO UPDATE SET stop_ms = t.stop_ms + EXCLUDED.stop_ms, stops = t.stops + EXCLUDED.stops;
  WITH old AS (DELETE FROM "@SCHEMA@".report_time_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *),
  d AS (
    INSERT INTO "@SCHEMA@".report_time_day AS t SELECT tenant_id, site_id, work_unit_id, business_date, shift_instance_id, -sum(shift_ms), -sum(break_ms) FROM old GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms RETURNING 1)
  INSERT INTO "@SCHEMA@".report_time_month AS t SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), -sum(shift_ms), -sum(break_ms) FROM old GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, site_id, business_date, work_unit_id, shift_instance_id) DO UPDATE SET shift_ms = t.shift_ms + EXCLUDED.shift_ms, break_ms = t.break_ms + EXCLUDED.break_ms;
  WITH old AS (DELETE FROM "@SCHEMA@".report_quality_hour WHERE tenant_id = p_tenant AND site_id = p_site AND bucket >= lo AND bucket < hi RETURNING *),
  d AS (
    INSERT INTO "@SCHEMA@".report_quality_day AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, business_date, shift_instance_id, -sum(n), -sum(n_in_spec), -sum(n_value), -sum(sum_v), -sum(sum_v2) FROM old GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2 RETURNING 1)
  INSERT INTO "@SCHEMA@".report_quality_month AS t SELECT tenant_id, site_id, characteristic_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), -sum(n), -sum(n_in_spec), -sum(n_value), -sum(sum_v), -sum(sum_v2),
         -sum("@SCHEMA@".report_within_ss(n_value, sum_v, sum_v2)), -sum(greatest(n_value - 1, 0)) FROM old GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, site_id, business_date, characteristic_id, work_unit_id, shift_instance_id) DO UPDATE SET n = t.n + EXCLUDED.n, n_in_spec = t.n_in_spec + EXCLUDED.n_in_spec, n_value = t.n_value + EXCLUDED.n_value, sum_v = t.sum_v + EXCLUDED.sum_v, sum_v2 = t.sum_v2 + EXCLUDED.sum_v2, within_ss = t.within_ss + EXCLUDED.within_ss, within_df = t.within_df + EXCLUDED.within_df;
  -- Days and months whose sums a changed attribution emptied hold no row.
  d_lo := CASE WHEN isfinite(lo) THEN "@SCHEMA@".report_local_date(lo, tz) - 2 ELSE '-infinity'::date END;
  d_hi := CASE WHEN isfinite(hi) THEN "@SCHEMA@".report_local_date(hi, tz) + 2 ELSE 'infinity'::date END;
  DELETE FROM "@SCHEMA@".report_output_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND events = 0 AND good = 0 AND scrap = 0 AND rework = 0 AND ideal_s = 0 AND ideal_good_s = 0;
  DELETE FROM "@SCHEMA@".report_downtime_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND stop_ms = 0 AND stops = 0;
  DELETE FROM "@SCHEMA@".report_time_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND shift_ms = 0 AND break_ms = 0;
  DELETE FROM "@SCHEMA@".report_quality_day WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND n = 0;
  d_lo := CASE WHEN isfinite(d_lo) THEN date_trunc('month', d_lo)::date ELSE d_lo END;
  DELETE FROM "@SCHEMA@".report_output_month WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND events = 0 AND good = 0 AND scrap = 0 AND rework = 0 AND ideal_s = 0 AND ideal_good_s = 0;
  DELETE FROM "@SCHEMA@".report_downtime_month WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND stop_ms = 0 AND stops = 0;
  DELETE FROM "@SCHEMA@".report_time_month WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND shift_ms = 0 AND break_ms = 0;
  DELETE FROM "@SCHEMA@".report_quality_month WHERE tenant_id = p_tenant AND site_id = p_site AND business_date BETWEEN d_lo AND d_hi AND n = 0 AND within_df = 0 AND within_ss = 0;
  EXECUTE "@SCHEMA@".report_sql_output(format(facts, 'production_event', p_tenant, p_site, format('at >= %L AND at < %L', lo, hi)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_downtime(format(facts, 'downtime_event', p_tenant, p_site, format('started_at < %L AND ended_at >= %L', hi, lo)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_time(format(facts, 'shift_instance', p_tenant, p_site, format('starts_at < %L AND ends_at > %L', hi, lo)) , 1, lo, hi);
  EXECUTE "@SCHEMA@".report_sql_quality(format(facts, 'measurement', p_tenant, p_site, format('at >= %L AND at < %L', lo, hi)) , lo, hi);
  PERFORM "@SCHEMA@".report_changed(p_tenant, p_site, lo, hi);
END $$;

-- ---------------------------------------------------------------- what is there already
DO $$
DECLARE r record;
BEGIN
  -- As the owner, which row-level security binds too: each tenant's rows in its context.
  FOR r IN SELECT DISTINCT tenant_id FROM "@SCHEMA@".sync_site LOOP
    PERFORM set_config('app.tenant_id', r.tenant_id, true);
    INSERT INTO "@SCHEMA@".report_time_month SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), sum(shift_ms), sum(break_ms) FROM "@SCHEMA@".report_time_day WHERE tenant_id = r.tenant_id GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO "@SCHEMA@".report_output_month SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), product_id, op_code, scrap_reason_id, sum(events), sum(good), sum(scrap), sum(rework), sum(ideal_s), sum(ideal_good_s) FROM "@SCHEMA@".report_output_day WHERE tenant_id = r.tenant_id GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    INSERT INTO "@SCHEMA@".report_downtime_month SELECT tenant_id, site_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), reason_id, planned, sum(stop_ms), sum(stops) FROM "@SCHEMA@".report_downtime_day WHERE tenant_id = r.tenant_id GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO "@SCHEMA@".report_quality_month SELECT tenant_id, site_id, characteristic_id, work_unit_id, date_trunc('month', business_date)::date, "@SCHEMA@".report_month_shift(shift_instance_id), sum(n), sum(n_in_spec), sum(n_value), sum(sum_v), sum(sum_v2), sum("@SCHEMA@".report_within_ss(n_value, sum_v, sum_v2)), sum(greatest(n_value - 1, 0)) FROM "@SCHEMA@".report_quality_hour WHERE tenant_id = r.tenant_id GROUP BY 1, 2, 3, 4, 5, 6;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;

-- ---------------------------------------------------------------- drill-down indexes
-- The newest counts with scrap or rework, and the newest closed stops, of a tenant: the
-- drill-downs list them newest first, a page at a time (the catalog's central-only indexes).
CREATE INDEX production_event_at_id_idx ON "@SCHEMA@".production_event (tenant_id, at, id) WHERE scrap_quantity <> 0 OR rework_quantity <> 0;
CREATE INDEX downtime_event_started_at_id_idx ON "@SCHEMA@".downtime_event (tenant_id, started_at, id) WHERE ended_at IS NOT NULL;
