#!/usr/bin/env bash
# Process-level test of the job queue: `mes-central jobs` refuses a bad payload naming the
# field, a running mes-central schedules and runs partition maintenance, a rollup rebuild
# whose node is killed with -9 is taken back after its lease by the restarted node and
# finishes (attempt 2), `jobs enqueue --wait` shows progress and exits by the outcome, a
# running job is cancelled and a cancelled one retried, and /metrics counts the queue.
# Usage: jobs_process_test.sh MES_CENTRAL   (MILLRACE_TEST_PG from the fixture)
source "$(dirname "$0")/../support/central_env.sh" jobs "$1"

# job_field ID FIELD: a top-level field of the job's JSON (a string, a number or "null").
job_field() {
  "$central" jobs show -c "$work/central.toml" "$1" |
    python3 -c "import json,sys; j=json.load(sys.stdin); v=j.get('$2'); print(v if v is not None else 'null')"
}
job_progress_done() {
  "$central" jobs show -c "$work/central.toml" "$1" |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('progress', {}).get('done', 0))"
}
# wait_for ID STATE [SECONDS]
wait_for() {
  for _ in $(seq $((${3:-30} * 10))); do
    [ "$(job_field "$1" state)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "job $1 is $(job_field "$1" state), not $2 after ${3:-30} s"
}
start_central() {
  rm -f "$work/central.port"
  "$central" serve -c "$work/central.toml" --port-file "$work/central.port" 2>>"$work/central.log" &
  pid=$!
  for _ in $(seq 100); do [ -s "$work/central.port" ] && break; sleep 0.1; done
  [ -s "$work/central.port" ] || fail "mes-central did not start"
  url="http://127.0.0.1:$(cat "$work/central.port")"
}
enqueue() {  # enqueue ARGS... -> prints the job id
  "$central" jobs enqueue -c "$work/central.toml" "$@" | sed -n 's/^job \([0-9]*\) .*/\1/p'
}

# ---- the command line refuses what no kind takes ----
expect_exit 0 "jobs kinds" -- "$central" jobs kinds
grep -q "^rollup_rebuild (a tenant's)" "$work/out" || fail "jobs kinds: $(cat "$work/out")"
grep -q "^partition_maintenance (platform)" "$work/out" || fail "jobs kinds: $(cat "$work/out")"
expect_exit 2 "unknown field" -- "$central" jobs enqueue -c "$work/central.toml" rollup_rebuild \
  --tenant acme --payload '{"site":"lyon","colour":1}'
grep -q "unknown field 'colour'" "$work/err" || fail "unknown field message: $(cat "$work/err")"
expect_exit 2 "out of range" -- "$central" jobs enqueue -c "$work/central.toml" partition_maintenance \
  --payload '{"months_ahead":99}'
grep -q "months_ahead must be within 0 .. 24, got 99" "$work/err" || fail "range message: $(cat "$work/err")"
expect_exit 2 "unknown kind" -- "$central" jobs enqueue -c "$work/central.toml" rebuild --tenant acme
grep -q "unknown job kind 'rebuild'" "$work/err" || fail "kind message: $(cat "$work/err")"
expect_exit 2 "bad state" -- "$central" jobs list -c "$work/central.toml" --state done
grep -q "unknown job state 'done'" "$work/err" || fail "state message: $(cat "$work/err")"
ok "mes-central jobs refuses an unknown kind, field, state and a value out of range, naming them"

# ---- a running node schedules partition maintenance and runs it ----
start_central
for _ in $(seq 100); do
  "$central" jobs list -c "$work/central.toml" --kind partition_maintenance --state succeeded --json >"$work/out"
  [ -s "$work/out" ] && break
  sleep 0.1
done
grep -q '"created_by":"schedule"' "$work/out" || fail "no scheduled partition maintenance: $(cat "$work/out")"
ok "mes-central schedules partition maintenance and a worker runs it"

# ---- kill -9 while a rebuild runs: the restarted node takes it back after the lease ----
# Ten years of days, each its own transaction: long enough to be caught running.
long='{"site":"lyon","from_ms":1451606400000,"to_ms":1767225600000}'
id=$(enqueue rollup_rebuild --tenant acme --payload "$long")
[ -n "$id" ] || fail "no job id"
wait_for "$id" running
for _ in $(seq 100); do [ "$(job_progress_done "$id")" -gt 0 ] && break; sleep 0.1; done
[ "$(job_progress_done "$id")" -gt 0 ] || fail "no progress recorded for job $id"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=
[ "$(job_field "$id" state)" = running ] || fail "job $id ended before the kill; make it longer"
start_central
wait_for "$id" succeeded 120
# Attempt 2 (a renewal missed on a loaded machine would make it more, never fewer).
[ "$(job_field "$id" attempts)" -ge 2 ] || fail "job $id took $(job_field "$id" attempts) attempt(s), wanted 2"
grep -q "stopped renewing its lease during attempt 1" <<<"$("$central" jobs show -c "$work/central.toml" "$id")" ||
  fail "job $id does not say its first attempt was taken back: $("$central" jobs show -c "$work/central.toml" "$id")"
"$central" jobs show -c "$work/central.toml" "$id" | grep -q '"days_rebuilt": 3653' ||
  fail "result: $("$central" jobs show -c "$work/central.toml" "$id")"
ok "a job whose node was killed with -9 is taken back after its lease and finished (attempt $(job_field "$id" attempts))"

# ---- --wait shows progress and exits by the outcome ----
expect_exit 0 "enqueue --wait" -- "$central" jobs enqueue -c "$work/central.toml" rollup_rebuild \
  --tenant acme --payload '{"site":"lyon","from_ms":1700000000000,"to_ms":1710000000000}' --wait
grep -q '"state":"succeeded"' "$work/out" || fail "--wait output: $(cat "$work/out")"
grep -q "days" "$work/err" || fail "--wait showed no progress: $(cat "$work/err")"
expect_exit 1 "enqueue --wait of a job that fails" -- "$central" jobs enqueue -c "$work/central.toml" \
  rollup_rebuild --tenant acme --payload '{"site":"nowhere"}' --wait
grep -q '"state":"dead"' "$work/out" || fail "--wait of a failing job: $(cat "$work/out")"
grep -q 'no site acme/nowhere' "$work/out" || fail "the dead job's error: $(cat "$work/out")"
ok "jobs enqueue --wait shows progress, exits 0 on success and 1 on the dead letter with its error"

# ---- cancel a running job, retry a cancelled one ----
id=$(enqueue rollup_rebuild --tenant acme --payload "$long")
wait_for "$id" running
expect_exit 0 "cancel" -- "$central" jobs cancel -c "$work/central.toml" "$id"
grep -q "asked to stop" "$work/out" || fail "cancel output: $(cat "$work/out")"
wait_for "$id" cancelled
expect_exit 0 "retry" -- "$central" jobs retry -c "$work/central.toml" "$id"
grep -q "is queued" "$work/out" || fail "retry output: $(cat "$work/out")"
expect_exit 1 "retry a live job" -- "$central" jobs retry -c "$work/central.toml" "$id"
grep -q "only a dead or cancelled job is retried" "$work/err" || fail "retry refusal: $(cat "$work/err")"
"$central" jobs cancel -c "$work/central.toml" "$id" >/dev/null
wait_for "$id" cancelled
ok "a running job is cancelled, a cancelled one retried, a live one's retry refused"

# ---- /metrics counts the queue ----
for _ in $(seq 100); do
  m=$(curl -s "$url/metrics")
  grep -q 'mes_central_jobs{kind="rollup_rebuild",state="cancelled"} 1' <<<"$m" && break
  sleep 0.1
done
grep -q 'mes_central_jobs{kind="rollup_rebuild",state="cancelled"} 1' <<<"$m" || fail "metrics: $(grep mes_central_job <<<"$m")"
grep -q 'mes_central_jobs{kind="rollup_rebuild",state="dead"} 1' <<<"$m" || fail "metrics: $(grep mes_central_job <<<"$m")"
grep -q 'mes_central_job_attempts_total{kind="rollup_rebuild",state="succeeded"}' <<<"$m" || fail "metrics: $(grep mes_central_job <<<"$m")"
ok "/metrics shows the queue by kind and state and this node's attempts"

# ---- a tenant provisioned by a job, with the demo factory ----
expect_exit 0 "tenant_provision" -- "$central" jobs enqueue -c "$work/central.toml" tenant_provision \
  --payload '{"tenant":"bolt","name":"Bolt","demo":true}' --wait
grep -q '"state":"succeeded"' "$work/out" || fail "tenant_provision: $(cat "$work/out")"
grep -q '"demo_feed_head":[1-9]' "$work/out" || fail "tenant_provision seeded nothing: $(cat "$work/out")"
expect_exit 1 "tenant_provision again" -- "$central" jobs enqueue -c "$work/central.toml" tenant_provision \
  --payload '{"tenant":"bolt","name":"Bolt"}' --wait
grep -q '"state":"dead"' "$work/out" || fail "a second bolt: $(cat "$work/out")"
grep -q 'tenant bolt already exists' "$work/out" || fail "a second bolt's error: $(cat "$work/out")"
ok "a tenant is provisioned by a job (with the demo factory), a second of the same id refused"

# ---- over HTTP: a platform operator sees every tenant's jobs, a tenant admin its own ----
admin_token=$("$central" token create -c "$work/central.toml" --name ops 2>/dev/null | head -1)
acme_token=$("$central" api-token create -c "$work/central.toml" --tenant acme --name admin --role tenant_admin 2>/dev/null | head -1)
viewer_token=$("$central" api-token create -c "$work/central.toml" --tenant acme --name look 2>/dev/null | head -1)
api() {  # api TOKEN METHOD PATH [BODY] -> "<status> <body>"
  local code
  code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
    ${4:+-H 'Content-Type: application/json' --data "$4"} "$url$3" || true)
  echo "$code $(cat "$work/body")"
}
r=$(api "$admin_token" POST /api/v1/jobs '{"kind":"rollup_rebuild","tenant":"bolt","payload":{"site":"x"},"colour":1}')
[[ $r == "400 "*"unknown field 'colour'"* ]] || fail "unknown body field: $r"
r=$(api "$admin_token" POST /api/v1/jobs '{"kind":"rollup_rebuild","tenant":"bolt","payload":{"site":"x"},"priority":500}')
[[ $r == "400 "*"priority must be within -100 .. 100"* ]] || fail "priority out of range: $r"
r=$(api "$admin_token" POST /api/v1/jobs '{"kind":"rollup_rebuild","tenant":"bolt","payload":{"site":"x"}}')
[[ $r == "200 "*'"tenant":"bolt"'* ]] || fail "platform operator enqueues for bolt: $r"
bolt_job=$(sed 's/.*"id":\([0-9]*\).*/\1/' <<<"${r#* }")
r=$(api "$admin_token" GET "/api/v1/jobs?limit=500")
for t in '"tenant":"bolt"' '"tenant":"acme"' '"tenant":"*"' '"counts":['; do
  [[ $r == *"$t"* ]] || fail "platform list lacks $t: ${r:0:300}"
done
# Pages by keyset: two at a time, every job once.
seen=() before=
for _ in $(seq 50); do
  r=$(api "$admin_token" GET "/api/v1/jobs?limit=2${before:+&before=$before}")
  ids=$(grep -o '"id":[0-9]*' <<<"$r" | cut -d: -f2 || true)
  seen+=($ids)
  before=$(sed -n 's/.*"next_before":\([0-9]*\).*/\1/p' <<<"$r")
  [ -n "$before" ] || break
done
# (A job a schedule enqueues meanwhile, such as the minute's alert_evaluate, is newer than
# the first page: the comparison stops at the newest job the pages saw.)
all=$(api "$admin_token" GET "/api/v1/jobs?limit=500" | grep -o '"id":[0-9]*' | cut -d: -f2 |
  awk -v top="${seen[0]}" '$1 <= top')
[ "${seen[*]}" = "$(echo $all)" ] || fail "pages of two: ${seen[*]}; all at once: $(echo $all)"
cli=$("$central" jobs list -c "$work/central.toml" --limit 2 --json | grep -o '"id":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
[ "$cli" = "$(echo "$all" | head -2 | tr '\n' ' ')" ] || fail "jobs list --limit 2: $cli; the newest: $(echo $all)"
cli=$("$central" jobs list -c "$work/central.toml" --limit 2 --before "$(echo "$all" | sed -n 2p)" --json | grep -o '"id":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
[ "$cli" = "$(echo "$all" | sed -n 3,4p | tr '\n' ' ')" ] || fail "jobs list --before: $cli; all: $(echo $all)"
r=$(api "$acme_token" GET "/api/v1/jobs?limit=500")
[[ $r == "200 "*'"tenant":"acme"'* ]] || fail "tenant admin list: ${r:0:300}"
[[ $r == *'"tenant":"bolt"'* || $r == *'"tenant":"*"'* ]] && fail "a tenant admin sees others' jobs: ${r:0:300}"
r=$(api "$acme_token" GET "/api/v1/jobs?tenant=bolt"); [[ $r == 403* ]] || fail "tenant admin asks for bolt: $r"
r=$(api "$acme_token" GET "/api/v1/jobs/$bolt_job"); [[ $r == 404* ]] || fail "tenant admin reads bolt's job: $r"
r=$(api "$acme_token" POST "/api/v1/jobs/$bolt_job/cancel" '{}'); [[ $r == 404* ]] || fail "tenant admin cancels bolt's job: $r"
r=$(api "$acme_token" POST /api/v1/jobs '{"kind":"partition_maintenance"}'); [[ $r == 403* ]] || fail "tenant admin enqueues a platform job: $r"
r=$(api "$acme_token" POST /api/v1/jobs '{"kind":"rollup_rebuild","payload":{"site":"lyon"}}')
[[ $r == "200 "*'"tenant":"acme"'* ]] || fail "tenant admin enqueues for its tenant: $r"
r=$(api "$viewer_token" GET /api/v1/jobs); [[ $r == 403* ]] || fail "a viewer lists jobs: $r"
r=$(api "$admin_token" GET /api/v1/jobs?state=done); [[ $r == "400 "*"unknown job state 'done'"* ]] || fail "bad state: $r"
wait_for "$bolt_job" dead
r=$(api "$admin_token" POST "/api/v1/jobs/$bolt_job/retry" '{}'); [[ $r == '200 {"id":'"$bolt_job"',"state":"queued"}' ]] || fail "retry over HTTP: $r"
ok "the job queue over HTTP: the platform's operator sees and acts on every tenant's jobs, a tenant admin on its own only, bad fields refused by name"

kill -TERM "$pid"; wait "$pid"; pid=
echo "$passed passed, 0 failed"
