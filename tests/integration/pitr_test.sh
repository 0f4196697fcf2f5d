#!/usr/bin/env bash
# Point-in-time recovery of central's PostgreSQL with pgBackRest, as the README describes
# it: a cluster of its own archives its WAL to a pgBackRest repository; mes-central's
# pg_backup jobs take a full and an incremental backup (with progress); the cluster is
# stopped and restored to a moment between two tenants' creation; it comes back promoted
# (not in recovery) with the first tenant and without the second, central serves it and
# writes to it, and a backup after the restore works on the new timeline.
# Usage: pitr_test.sh MES_CENTRAL      (label long: a few backups of a whole cluster)
set -euo pipefail
central=$1
unset MILLRACE_LOG_LEVEL

archive="$(cd "$(dirname "$0")/../support" && pwd)/pg_archive.sh"
work=$(mktemp -d)
chmod 711 "$work"
pg="$work/pg"
port=5439  # names the socket file in $pg/run only: the server listens on no TCP port
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  "$archive" stop "$pg" "$port" || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; [ -f "$work/central.log" ] && tail -20 "$work/central.log" >&2; exit 1; }
admin="host=$pg/run port=$port user=postgres"
q() { psql "$admin dbname=${2:-millrace}" -qAtc "$1"; }
tenants() { q "SELECT string_agg(tenant_id, ',' ORDER BY tenant_id) FROM millrace.sync_tenant"; }
backup() {  # backup TYPE -> the job's JSON (exits on failure)
  "$central" jobs enqueue -c "$work/central.toml" pg_backup --payload "{\"type\":\"$1\"}" --wait \
    >"$work/job.json" 2>"$work/job.err" || { cat "$work/job.json" "$work/job.err" >&2; fail "pg_backup $1 failed"; }
}
# A field of the finished job (--wait prints "job N ... queued", then the job as JSON).
job() { python3 -c "import json,sys; j=json.loads(open('$work/job.json').read().splitlines()[-1]); print($1)"; }
start_central() {
  rm -f "$work/central.port"
  "$central" serve -c "$work/central.toml" --port-file "$work/central.port" 2>>"$work/central.log" &
  pid=$!
  for _ in $(seq 100); do [ -s "$work/central.port" ] && break; sleep 0.1; done
  [ -s "$work/central.port" ] || fail "mes-central did not start"
  url="http://127.0.0.1:$(cat "$work/central.port")"
  for _ in $(seq 100); do curl -sf "$url/ready" >/dev/null && return 0; sleep 0.1; done
  fail "mes-central is not ready"
}
stop_central() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# ---- a cluster archiving its WAL to pgBackRest (as deploy/local/up sets it up) ----
"$archive" start "$pg" "$port" >/dev/null
q "CREATE DATABASE millrace" postgres
"$central" migrate --db "$admin dbname=millrace" >/dev/null 2>>"$work/central.log"
cat >"$work/central.toml" <<TOML
[database]
url = "$admin dbname=millrace user=millrace_app"
[jobs]
workers = 2
[pg_backup]
pgbackrest_config = "$pg/pbr/pgbackrest.conf"
command = $("$archive" command "$pg")
full_every_hours = 0
incr_every_hours = 0
[http]
port = 0
[log]
level = "info"
TOML
"$central" create-tenant -c "$work/central.toml" --tenant before --name Before >/dev/null
start_central

# ---- a full backup as a job, its stanza made on the way ----
backup full
[ "$(job "j['state']")" = succeeded ] || fail "full backup: $(cat "$work/job.json")"
[ "$(job "j['result']['type']")" = full ] || fail "full backup result: $(cat "$work/job.json")"
[ "$(job "j['result']['size_bytes'] > 10_000_000")" = True ] || fail "a full backup this small? $(cat "$work/job.json")"
grep -q "percent" "$work/job.err" || fail "the full backup showed no progress: $(cat "$work/job.err")"
full_label=$(job "j['result']['label']")
finished_s=$(job "j['finished_ms'] // 1000")
metric=$(curl -sf "$url/metrics" | sed -n 's/^mes_central_pg_backup_succeeded_timestamp_seconds \([0-9.e+]*\)$/\1/p')
python3 -c "import sys; sys.exit(0 if abs(float('${metric:-0}') - $finished_s) <= 1 else 1)" ||
  fail "/metrics: the last pg backup succeeded at '${metric}', the job finished at $finished_s"
ok "a pg_backup job made the stanza and a full backup ($full_label, $(job "j['result']['seconds']") s) with progress, shown on /metrics"

# ---- the moment to go back to, between two tenants ----
"$central" create-tenant -c "$work/central.toml" --tenant kept --name Kept >/dev/null
target=$(q "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1.2
"$central" create-tenant -c "$work/central.toml" --tenant lost --name Lost >/dev/null
[ "$(tenants)" = before,kept,lost ] || fail "tenants before the restore: $(tenants)"
backup incr
[ "$(job "j['result']['type']")" = incr ] || fail "incremental backup: $(cat "$work/job.json")"
[ "$(job "j['result']['prior']")" = "$full_label" ] || fail "the incremental backup's prior: $(cat "$work/job.json")"
[ "$(job "j['result']['repo_bytes'] < j['result']['size_bytes']")" = True ] ||
  fail "the incremental backup copied the whole cluster: $(cat "$work/job.json")"
"$central" pg-backups -c "$work/central.toml" >"$work/list"
[ "$(grep -c "$full_label" "$work/list")" = 2 ] || fail "pg-backups: $(cat "$work/list")"
grep -q "a point-in-time restore reaches from" "$work/list" || fail "pg-backups: $(cat "$work/list")"
bad_type=0
"$central" jobs enqueue -c "$work/central.toml" pg_backup --payload '{"type":"weekly"}' \
  >/dev/null 2>"$work/err" || bad_type=$?
[ "$bad_type" = 2 ] && grep -q "pg_backup.type: 'weekly' is not full, diff or incr" "$work/err" ||
  fail "a bad backup type: exit $bad_type, $(cat "$work/err")"
ok "an incremental backup on the full one; pg-backups lists both; a bad type is refused by name"

# ---- restore to the moment, as the README says ----
stop_central
"$archive" restore "$pg" "$port" "$target"
[ "$(q 'SELECT pg_is_in_recovery()')" = f ] || fail "the restored cluster is still in recovery"
[ "$(tenants)" = before,kept ] || fail "tenants after restoring to $target: $(tenants)"
ok "restored to $target: the tenant made before it is there, the one made after is not, promoted"

# ---- central runs on the restored cluster, and backups go on ----
start_central
"$central" create-tenant -c "$work/central.toml" --tenant after --name After >/dev/null
[ "$(tenants)" = after,before,kept ] || fail "tenants after a write: $(tenants)"
"$central" jobs list -c "$work/central.toml" --kind pg_backup --state succeeded --json >"$work/jobs"
[ "$(wc -l <"$work/jobs")" = 1 ] || fail "the restored queue should hold the full backup's job only: $(cat "$work/jobs")"
# Two at once: the second waits for the first instead of failing on pgBackRest's lock.
a=$("$central" jobs enqueue -c "$work/central.toml" pg_backup --payload '{"type":"incr"}' | sed -n 's/^job \([0-9]*\) .*/\1/p')
b=$("$central" jobs enqueue -c "$work/central.toml" pg_backup --payload '{"type":"diff"}' | sed -n 's/^job \([0-9]*\) .*/\1/p')
for id in $a $b; do
  for _ in $(seq 600); do
    state=$("$central" jobs show -c "$work/central.toml" "$id" | python3 -c "import json,sys; print(json.load(sys.stdin)['state'])")
    [ "$state" = succeeded ] || [ "$state" = dead ] && break
    sleep 0.1
  done
  [ "$state" = succeeded ] || fail "backup job $id after the restore: $state"
  attempts=$("$central" jobs show -c "$work/central.toml" "$id" | python3 -c "import json,sys; print(json.load(sys.stdin)['attempts'])")
  [ "$attempts" = 1 ] || fail "backup job $id took $attempts attempts"
done
grep -q "another backup is running" "$work/central.log" || fail "the second backup did not wait for the first"
ok "central serves and writes the restored cluster; two backups queued at once run one after the other, each at its first attempt"
stop_central
echo "pitr: $passed checks passed"
