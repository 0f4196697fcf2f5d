-- Central schema 10: the job queue. Any mes-central node runs workers over it; PostgreSQL
-- is the only broker.
--
-- A job is typed (kind, with a JSON payload its kind checks), belongs to a tenant ('*' for
-- the platform's own jobs), and goes queued -> running -> succeeded, or back to queued after
-- a failure (run_after pushed out by exponential backoff with jitter) until it has used its
-- attempts and goes dead (the dead letter, with the last error). A running job holds a
-- lease that its node renews; a job whose node stopped renewing (killed, cut off) is taken
-- back by the next claim and counts the attempt. Cancelling a queued job ends it; a running
-- one is asked to stop at its next renewal. A dedupe key makes an enqueue idempotent
-- (periodic jobs name their period in it, so several nodes schedule one job).
--
-- Claims are fair between tenants: among the tenants with a job ready at the highest
-- priority, the one with the fewest jobs running, then the one served longest ago, then
-- its best job (priority, then age), locked with SKIP LOCKED so claimers never wait on each
-- other. Nothing but these functions touches the tables: the application role may only
-- call them.
CREATE TABLE "@SCHEMA@".job (
  job_id bigserial PRIMARY KEY,
  tenant_id text NOT NULL CHECK (tenant_id <> ''),
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,47}$'),
  payload jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
  backoff_ms integer NOT NULL DEFAULT 5000 CHECK (backoff_ms BETWEEN 1 AND 3600000),
  run_after timestamptz NOT NULL DEFAULT now(),
  dedupe_key text UNIQUE,
  worker text,
  lease_until timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  progress_done bigint,
  progress_total bigint,
  progress_unit text,
  last_error text,
  result jsonb,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_ready_idx ON "@SCHEMA@".job (tenant_id, priority DESC, run_after, job_id) WHERE state = 'queued';
CREATE INDEX job_running_idx ON "@SCHEMA@".job (lease_until) WHERE state = 'running';
CREATE INDEX job_finished_idx ON "@SCHEMA@".job (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE "@SCHEMA@".job_tenant_turn (tenant_id text PRIMARY KEY, last_claimed_at timestamptz NOT NULL);

-- Enqueues a job, or returns the job that already holds `p_dedupe`. Wakes listening workers.
CREATE FUNCTION "@SCHEMA@".job_enqueue(p_tenant text, p_kind text, p_payload jsonb, p_priority integer, p_max_attempts integer, p_backoff_ms integer, p_run_after timestamptz, p_dedupe text, p_created_by text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE id bigint;
BEGIN
  INSERT INTO "@SCHEMA@".job (tenant_id, kind, payload, priority, max_attempts, backoff_ms, run_after, dedupe_key, created_by)
    VALUES (p_tenant, p_kind, coalesce(p_payload, '{}'), coalesce(p_priority, 0), coalesce(p_max_attempts, 5), coalesce(p_backoff_ms, 5000), coalesce(p_run_after, now()), p_dedupe, p_created_by)
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING job_id INTO id;
  IF id IS NULL THEN
    SELECT job_id INTO id FROM "@SCHEMA@".job WHERE dedupe_key = p_dedupe;
  ELSE
    PERFORM pg_notify('millrace_jobs', p_kind);
  END IF;
  RETURN id;
END $$;

-- Takes back the jobs whose lease ran out: to the queue, or to the dead letter once their
-- attempts are used (or cancelled, if that was asked). Returns how many.
CREATE FUNCTION "@SCHEMA@".job_reclaim() RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE n integer;
BEGIN
  UPDATE "@SCHEMA@".job j SET
      state = CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END,
      last_error = format('worker %s stopped renewing its lease during attempt %s', j.worker, j.attempts),
      finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts THEN now() END,
      run_after = now(), worker = NULL, lease_until = NULL, updated_at = now()
    WHERE j.job_id IN (SELECT x.job_id FROM "@SCHEMA@".job x WHERE x.state = 'running' AND x.lease_until < now() FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- Claims the next job for `p_worker` among `p_kinds` (NULL: any), leased for p_lease_ms.
CREATE FUNCTION "@SCHEMA@".job_claim(p_worker text, p_lease_ms integer, p_kinds text[]) RETURNS SETOF "@SCHEMA@".job LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE t record; id bigint; j "@SCHEMA@".job;
BEGIN
  PERFORM "@SCHEMA@".job_reclaim();
  FOR t IN
    SELECT q.tenant_id FROM (
        SELECT r.tenant_id, max(r.priority) AS top FROM "@SCHEMA@".job r
        WHERE r.state = 'queued' AND r.run_after <= now() AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
        GROUP BY r.tenant_id) q
      LEFT JOIN (SELECT b.tenant_id, count(*) AS n FROM "@SCHEMA@".job b WHERE b.state = 'running' GROUP BY b.tenant_id) busy ON busy.tenant_id = q.tenant_id
      LEFT JOIN "@SCHEMA@".job_tenant_turn tt ON tt.tenant_id = q.tenant_id
    ORDER BY q.top DESC, coalesce(busy.n, 0), tt.last_claimed_at NULLS FIRST, q.tenant_id
  LOOP
    SELECT r.job_id INTO id FROM "@SCHEMA@".job r
      WHERE r.tenant_id = t.tenant_id AND r.state = 'queued' AND r.run_after <= now() AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
      ORDER BY r.priority DESC, r.run_after, r.job_id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF id IS NOT NULL THEN
      UPDATE "@SCHEMA@".job SET state = 'running', attempts = attempts + 1, worker = p_worker,
          lease_until = now() + make_interval(secs => p_lease_ms / 1000.0), started_at = now(),
          progress_done = NULL, progress_total = NULL, progress_unit = NULL, updated_at = now()
        WHERE job_id = id RETURNING * INTO j;
      INSERT INTO "@SCHEMA@".job_tenant_turn VALUES (t.tenant_id, now())
        ON CONFLICT (tenant_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at;
      RETURN NEXT j;
      RETURN;
    END IF;
  END LOOP;
END $$;

-- Renews the leases of running jobs (each with the worker that holds it) and records their
-- progress. One row per job given: keep = false when the job is no longer that worker's or
-- was asked to stop.
CREATE FUNCTION "@SCHEMA@".job_renew(p_ids bigint[], p_workers text[], p_done bigint[], p_total bigint[], p_units text[], p_lease_ms integer) RETURNS TABLE (job_id bigint, keep boolean) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  WITH given AS (SELECT * FROM unnest(p_ids, p_workers, p_done, p_total, p_units) AS g(id, worker, done, total, unit)),
  renewed AS (
    UPDATE "@SCHEMA@".job j SET lease_until = now() + make_interval(secs => p_lease_ms / 1000.0),
        progress_done = coalesce(g.done, j.progress_done), progress_total = coalesce(g.total, j.progress_total),
        progress_unit = coalesce(g.unit, j.progress_unit), updated_at = now()
      FROM given g WHERE j.job_id = g.id AND j.state = 'running' AND j.worker = g.worker
      RETURNING j.job_id, j.cancel_requested)
  SELECT g.id, coalesce(NOT r.cancel_requested, false) FROM given g LEFT JOIN renewed r ON r.job_id = g.id
$$;

-- Ends a worker's attempt: 'succeeded' (with its result), 'failed' (queued again after a
-- backoff of backoff_ms * 2^(attempt-1), capped at an hour, times a jitter of 0.5-1.5, or
-- dead once the attempts are used), 'permanent' (dead at once: retrying cannot help),
-- 'cancelled', or 'released' (given back without counting the attempt: the node stops).
-- Returns the job's new state; NULL when the job is no longer that worker's.
CREATE FUNCTION "@SCHEMA@".job_finish(p_id bigint, p_worker text, p_outcome text, p_error text, p_result jsonb) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE j "@SCHEMA@".job; next_state text; delay_ms double precision;
BEGIN
  SELECT * INTO j FROM "@SCHEMA@".job WHERE job_id = p_id AND state = 'running' AND worker = p_worker FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF p_outcome NOT IN ('succeeded', 'failed', 'permanent', 'cancelled', 'released') THEN
    RAISE EXCEPTION 'unknown job outcome "%"', p_outcome USING ERRCODE = '22023';
  END IF;
  next_state := CASE
    WHEN p_outcome = 'succeeded' THEN 'succeeded'
    WHEN p_outcome = 'cancelled' OR j.cancel_requested THEN 'cancelled'
    WHEN p_outcome = 'released' THEN 'queued'
    WHEN p_outcome = 'permanent' OR j.attempts >= j.max_attempts THEN 'dead'
    ELSE 'queued' END;
  delay_ms := CASE WHEN p_outcome = 'failed' AND next_state = 'queued'
    THEN least(3600000.0, j.backoff_ms * power(2, j.attempts - 1)) * (0.5 + random()) ELSE 0 END;
  UPDATE "@SCHEMA@".job SET state = next_state,
      attempts = CASE WHEN p_outcome = 'released' THEN greatest(attempts - 1, 0) ELSE attempts END,
      last_error = CASE WHEN p_outcome IN ('failed', 'permanent') THEN p_error ELSE last_error END,
      result = CASE WHEN p_outcome = 'succeeded' THEN p_result ELSE result END,
      run_after = now() + make_interval(secs => delay_ms / 1000.0),
      finished_at = CASE WHEN next_state IN ('succeeded', 'dead', 'cancelled') THEN now() END,
      worker = NULL, lease_until = NULL, updated_at = now()
    WHERE job_id = p_id;
  RETURN next_state;
END $$;

-- Cancels a job of `p_tenant` (NULL: of any tenant): a queued one at once, a running one
-- at its next renewal. Returns the state after, NULL for no such job.
CREATE FUNCTION "@SCHEMA@".job_cancel(p_id bigint, p_tenant text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE s text;
BEGIN
  UPDATE "@SCHEMA@".job SET
      state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
      finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,
      cancel_requested = cancel_requested OR state IN ('queued', 'running'), updated_at = now()
    WHERE job_id = p_id AND (p_tenant IS NULL OR tenant_id = p_tenant) RETURNING state INTO s;
  RETURN s;
END $$;

-- Puts a dead or cancelled job of `p_tenant` (NULL: any) back in the queue with its
-- attempts reset. Returns the state after, NULL for no such job; a job in any other state
-- is refused.
CREATE FUNCTION "@SCHEMA@".job_retry(p_id bigint, p_tenant text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE s text;
BEGIN
  SELECT state INTO s FROM "@SCHEMA@".job WHERE job_id = p_id AND (p_tenant IS NULL OR tenant_id = p_tenant) FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF s NOT IN ('dead', 'cancelled') THEN
    RAISE EXCEPTION 'job % is %: only a dead or cancelled job is retried', p_id, s USING ERRCODE = '55000';
  END IF;
  UPDATE "@SCHEMA@".job SET state = 'queued', attempts = 0, cancel_requested = false, run_after = now(),
      finished_at = NULL, updated_at = now() WHERE job_id = p_id;
  PERFORM pg_notify('millrace_jobs', 'retry');
  RETURN 'queued';
END $$;

-- Jobs newest first, of a tenant and a state and a kind (each NULL: any), older than the
-- job p_before (NULL: from the newest; the keyset of the next page), at most p_limit.
CREATE FUNCTION "@SCHEMA@".job_list(p_tenant text, p_state text, p_kind text, p_before bigint, p_limit integer) RETURNS SETOF "@SCHEMA@".job LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT * FROM "@SCHEMA@".job WHERE (p_tenant IS NULL OR tenant_id = p_tenant) AND (p_state IS NULL OR state = p_state)
    AND (p_kind IS NULL OR kind = p_kind) AND (p_before IS NULL OR job_id < p_before) ORDER BY job_id DESC LIMIT least(greatest(p_limit, 1), 10000)
$$;
-- One job of `p_tenant` (NULL: of any).
CREATE FUNCTION "@SCHEMA@".job_get(p_id bigint, p_tenant text) RETURNS SETOF "@SCHEMA@".job LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT * FROM "@SCHEMA@".job WHERE job_id = p_id AND (p_tenant IS NULL OR tenant_id = p_tenant)
$$;

-- How many jobs of each kind are in each state, and how long the oldest ready one waits,
-- of `p_tenant` (NULL: of all).
CREATE FUNCTION "@SCHEMA@".job_counts(p_tenant text) RETURNS TABLE (kind text, state text, jobs bigint, oldest_ready_s double precision) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT kind, state, count(*), coalesce(extract(epoch FROM now() - min(run_after) FILTER (WHERE state = 'queued' AND run_after <= now())), 0)::double precision
    FROM "@SCHEMA@".job WHERE p_tenant IS NULL OR tenant_id = p_tenant GROUP BY kind, state
$$;

-- Deletes succeeded and cancelled jobs finished more than p_keep_days ago, dead ones after
-- p_dead_days. Returns how many.
CREATE FUNCTION "@SCHEMA@".job_prune(p_keep_days integer, p_dead_days integer) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE n integer;
BEGIN
  DELETE FROM "@SCHEMA@".job WHERE (state IN ('succeeded', 'cancelled') AND finished_at < now() - make_interval(days => p_keep_days))
    OR (state = 'dead' AND finished_at < now() - make_interval(days => p_dead_days));
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

REVOKE ALL ON FUNCTION "@SCHEMA@".job_enqueue(text, text, jsonb, integer, integer, integer, timestamptz, text, text), "@SCHEMA@".job_reclaim(), "@SCHEMA@".job_claim(text, integer, text[]), "@SCHEMA@".job_renew(bigint[], text[], bigint[], bigint[], text[], integer), "@SCHEMA@".job_finish(bigint, text, text, text, jsonb), "@SCHEMA@".job_cancel(bigint, text), "@SCHEMA@".job_retry(bigint, text), "@SCHEMA@".job_list(text, text, text, bigint, integer), "@SCHEMA@".job_get(bigint, text), "@SCHEMA@".job_counts(text), "@SCHEMA@".job_prune(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "@SCHEMA@".job_enqueue(text, text, jsonb, integer, integer, integer, timestamptz, text, text), "@SCHEMA@".job_reclaim(), "@SCHEMA@".job_claim(text, integer, text[]), "@SCHEMA@".job_renew(bigint[], text[], bigint[], bigint[], text[], integer), "@SCHEMA@".job_finish(bigint, text, text, text, jsonb), "@SCHEMA@".job_cancel(bigint, text), "@SCHEMA@".job_retry(bigint, text), "@SCHEMA@".job_list(text, text, text, bigint, integer), "@SCHEMA@".job_get(bigint, text), "@SCHEMA@".job_counts(text), "@SCHEMA@".job_prune(integer, integer) TO "@APP@";
