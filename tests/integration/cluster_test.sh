#!/usr/bin/env bash
# Central across machines, on one machine (deploy/cluster/cluster.sh): Patroni with a primary
# and a streaming replica under etcd, HAProxy, PgBouncer in transaction mode, two mes-central
# nodes, and two factory edges with a simulated shop floor writing all along. Then, one at
# a time, with the floor still working:
#   1. kill a central node: the edges fail over to the other through HAProxy;
#   2. kill the replica: reports fall back to the primary, and return to the replica after;
#   3. restart PgBouncer: syncing and reports resume;
#   4. a planned Patroni switchover, then a hard failure of the leader: the replica is
#      promoted, HAProxy follows it, central and the edges carry on;
# and at the end every site's rows equal central's, table by table: nothing was lost.
# Prints each recovery's time (label long: about a minute).
#
#   cluster_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: cluster_test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/cluster/cluster.sh
source "$root/deploy/cluster/cluster.sh"

work=$(mktemp -d /var/tmp/millrace-cluster-test.XXXXXX)
watchdog=
chmod 755 "$work"
finish() {
  local rc=$?
  cluster_stop "$work" >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    echo "---- logs ----" >&2
    for f in "$work"/c*/central.log "$work"/edge-*/edge.log "$work"/pg/*.log; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  if [ -n "$watchdog" ]; then pkill -P "$watchdog" 2>/dev/null || true; kill "$watchdog" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap finish EXIT
# Stop before ctest's timeout would kill this script and leave the cluster's daemons running.
# (Its output goes nowhere: a sleep left behind must not hold ctest's pipe open.)
( exec >/dev/null 2>&1; sleep 1000 && kill -TERM $$ ) &
watchdog=$!
trap 'echo "cluster_test: still running after 1000 s: giving up" >&2; exit 1' TERM

passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
declare -A timing

# ack_after SITE T0: has the edge had an ack from central since T0 (and is it connected)?
ack_after() {
  local age
  [ "$(cluster_sync "$work" "$1" connected)" = true ] || return 1
  age=$(cluster_sync "$work" "$1" last_ack_age_s)
  [ -n "$age" ] || return 1
  awk -v a="$age" -v t0="$2" -v n="$(now)" 'BEGIN { exit !((n - a) > t0) }'
}
# wait_acks T0 TIMEOUT: every edge acked since T0; prints the seconds from T0.
wait_acks() {
  local t0=$1 deadline=$((SECONDS + $2)) site pending
  while :; do
    pending=""
    for site in $sites; do ack_after "$site" "$t0" || pending+="$site "; done
    [ -z "$pending" ] && { since "$t0"; return 0; }
    [ "$SECONDS" -ge "$deadline" ] && { echo "no ack since the event for: $pending" >&2; return 1; }
    sleep 0.2
  done
}
# report_from: the source a sync-health report was read from ("replica", "primary", or the
# HTTP status when it failed).
report_from() {
  local out status
  out=$(cluster_report "$work" sync-health)
  status=${out%% *}
  [ "$status" = 200 ] || { echo "http-$status"; return; }
  case "$out" in *'"read_from":"replica"'*) echo replica ;; *'"read_from":"primary"'*) echo primary ;; *) echo "?" ;; esac
}
# wait_reports SOURCE TIMEOUT: reports read from SOURCE; prints seconds; counts failures in
# $report_failures (an answer other than 200 while waiting).
# (Counted in a file: wait_reports runs in a subshell of $(...).)
failures_file=$work/report-failures
wait_reports() {
  local want=$1 t0 deadline=$((SECONDS + $2)) got
  t0=$(now)
  while :; do
    got=$(report_from)
    case "$got" in http-*) echo "$got" >>"$failures_file" ;; esac
    [ "$got" = "$want" ] && { since "$t0"; return 0; }
    [ "$SECONDS" -ge "$deadline" ] && { echo "reports still read from $got" >&2; return 1; }
    sleep 0.2
  done
}

echo "== starting the cluster"
started=$(now)
cluster_start "$work" "$build" lyon porto
_cluster_env "$work"
sites=$CLUSTER_SITES
ok "cluster up in $(since "$started") s: etcd, Patroni pg1+pg2, HAProxy, PgBouncer (transaction), 2 central nodes, edges $sites"
[ "$(pg_ha_leader "$work/pg")" = pg1 ] || fail "pg1 should lead at start"
shows=$(psql -X -qAt "host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=postgres" -c "SHOW CONFIG" | grep '^pool_mode|')
[[ $shows == pool_mode\|transaction* ]] || fail "PgBouncer is not in transaction mode: $shows"

cluster_sim_start "$work" 300
t=$(wait_acks "$(now)" 60) || fail "the edges did not sync through HAProxy"
ok "both edges sync through HAProxy (first acks after ${t} s)"
t=$(wait_reports replica 30) || fail "reports never read the replica"
ok "reports read the replica (X-Read-From: $(cluster_report "$work" sync-health | awk '{print $2, $3}'))"
# Each node LISTENs on a session of its own (session_url, HAProxy's write port); everything
# else goes through PgBouncer, which holds the nodes' clients.
listeners=$(psql -X -qAt "$PG_WRITE_URL" -c \
  "SELECT count(*) FROM pg_stat_activity WHERE usename = 'millrace_app' AND query LIKE 'LISTEN %'")
[ "$listeners" = 2 ] || fail "expected one LISTEN session per node of cluster a, found $listeners"
bouncer_clients=$(psql -X -qAt "host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=postgres" -c "SHOW POOLS" |
  awk -F'|' '$1 == "millrace" && $2 == "millrace_app" { print $3 + $4 }')
[ "${bouncer_clients:-0}" -gt 0 ] || fail "no central connection goes through PgBouncer"
ok "each central node LISTENs on its own session; $bouncer_clients central connections go through PgBouncer"

# ---- the tenant -> cluster map ----
central=("$build/central/mes-central")
set +e
out=$("${central[@]}" create-tenant -c "$work/c1/central.toml" --tenant globex --name Globex 2>&1)
rc=$?
set -e
[ "$rc" != 0 ] && [[ $out == *"tenant globex lives on cluster b"* ]] ||
  fail "cluster a's node created globex, which the map puts on cluster b: $out"
"${central[@]}" create-tenant -c "$work/c3/central.toml" --tenant globex --name Globex >/dev/null
"${central[@]}" seed-demo -c "$work/c3/central.toml" --tenant globex --sites tokyo >/dev/null
tokyo_port=$(free_port)
"${central[@]}" provision-site -c "$work/c3/central.toml" --tenant globex --site tokyo \
  --out "$work/edge-tokyo" --http-port "$tokyo_port" >/dev/null
grep -q "tcp://127.0.0.1:$SYNC_B_PORT" "$work/edge-tokyo/edge.toml" ||
  fail "tokyo was not given cluster b's sync address: $(grep endpoints "$work/edge-tokyo/edge.toml")"
"$build/edge/mes-edge" serve -c "$work/edge-tokyo/edge.toml" </dev/null >>"$work/edge-tokyo/edge.log" 2>&1 &
echo $! >"$work/edge-tokyo/edge.pid"
for _ in $(seq 100); do
  c=$(curl -s --max-time 2 "http://127.0.0.1:$tokyo_port/api/v1/sync" | grep -o '"connected":true' || true)
  [ -n "$c" ] && break
  sleep 0.2
done
[ -n "$c" ] || fail "tokyo did not connect to cluster b through HAProxy"
(umask 077; "${central[@]}" token create -c "$work/c3/central.toml" --name "b-$$" 2>/dev/null >"$work/b.token")
http_as() {  # HOST TOKEN TENANT: the status of a report through HAProxy's HTTP frontend
  curl -s -o "$work/routed" -w '%{http_code}' -H "Host: $1" -H "Authorization: Bearer $2" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/reports/sync-health?tenant=$3"
}
[ "$(http_as globex.localhost "$(cat "$work/b.token")" globex)" = 200 ] && grep -q tokyo "$work/routed" ||
  fail "globex's HTTP did not reach cluster b: $(cat "$work/routed")"
[ "$(http_as acme.localhost "$(cat "$work/b.token")" globex)" = 401 ] ||
  fail "cluster b's token was taken by cluster a"
[ "$(http_as acme.localhost "$(cat "$work/admin.token")" acme)" = 200 ] || fail "acme's HTTP did not reach cluster a"
"${central[@]}" tenant-map -c "$work/c1/central.toml" >"$work/map.out" ||
  fail "tenant-map on cluster a: $(cat "$work/map.out")"
grep -q '^acme  here' "$work/map.out" && grep -q '^globex  cluster b' "$work/map.out" ||
  fail "tenant-map on cluster a says: $(cat "$work/map.out")"
# A tenant put into cluster a's database behind the map's back is found.
psql -X -qc "INSERT INTO millrace.sync_tenant (tenant_id, name) VALUES ('umbrella', 'Umbrella')" "$PG_WRITE_URL"
set +e
"${central[@]}" tenant-map -c "$work/c1/central.toml" >"$work/map.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '^umbrella  WRONG CLUSTER: tenant umbrella is not in the tenant map' "$work/map.out" ||
  fail "tenant-map did not find the unmapped tenant (exit $rc): $(cat "$work/map.out")"
psql -X -qc "DELETE FROM millrace.sync_tenant WHERE tenant_id = 'umbrella'" "$PG_WRITE_URL"
ok "tenant map: cluster a refuses globex (\"${out##*: }\"); cluster b holds it, tokyo syncs with b and HAProxy sends globex.localhost to b, acme.localhost to a; tenant-map finds a tenant the map does not list"

# ---- 1. a central node dies ----
kill_node=1
t0=$(now)
cluster_central_kill "$work" "$kill_node"
timing[central]=$(wait_acks "$t0" 60) || fail "the edges did not fail over to the other central node"
[ "$(report_from)" = replica ] || fail "reports failed with one central node down"
ok "central node $kill_node killed: every edge acked again through the other node in ${timing[central]} s; reports still answer"
cluster_central_start "$work" "$kill_node"
ok "central node $kill_node back"

# ---- 2. the replica dies ----
t0=$(now)
: >"$failures_file"
killed=$(pg_ha_kill_replica "$work/pg" | tail -1)
timing[fallback]=$(wait_reports primary 60) || fail "reports did not fall back to the primary"
timing[fallback]=$(since "$t0")
report_failures=$(wc -l <"$failures_file")
ok "replica $killed killed: reports read the primary after ${timing[fallback]} s ($report_failures failed answers meanwhile)"
t=$(wait_acks "$(now)" 30) || fail "syncing stopped with the replica down"
for port in "$C1_HTTP" "$C2_HTTP"; do curl -s "http://127.0.0.1:$port/metrics"; done >"$work/metrics"
grep -q '^mes_central_replica_fallbacks_total' "$work/metrics" || fail "no fallback counted on either node's /metrics"
t0=$(now)
pg_ha_start_replica "$work/pg" >/dev/null
timing[replica_back]=$(wait_reports replica 90) || fail "reports never returned to the replica"
timing[replica_back]=$(since "$t0")
ok "replica restarted: reports read it again ${timing[replica_back]} s after the restart began"

# ---- 3. PgBouncer restarts ----
t0=$(now)
pg_ha_restart_bouncer "$work/pg" >/dev/null
timing[bouncer]=$(wait_acks "$t0" 60) || fail "syncing did not resume after PgBouncer's restart"
t=$(wait_reports replica 30) || fail "reports did not answer from the replica after PgBouncer's restart"
ok "PgBouncer restarted: every edge acked again after ${timing[bouncer]} s; reports answer"

# ---- 4. Patroni: a planned switchover, then the leader dies ----
t0=$(now)
timing[switchover]=$(pg_ha_switchover "$work/pg" | tail -1)
timing[switchover_acks]=$(wait_acks "$t0" 90) || fail "syncing did not resume after the switchover"
[ "$(pg_ha_leader "$work/pg")" = pg2 ] || fail "pg2 should lead after the switchover"
ok "switchover pg1 -> pg2 in ${timing[switchover]} s; every edge acked again ${timing[switchover_acks]} s after it began"

t0=$(now)
dead=$(pg_ha_kill_leader "$work/pg" | tail -1)
timing[failover]=$(pg_ha_wait_leader "$work/pg" "$dead" 90 | tail -1)
timing[failover_acks]=$(wait_acks "$t0" 120) || fail "syncing did not resume after the failover"
timing[failover_reports]=$(wait_reports primary 60) || fail "reports did not answer after the failover"
timing[failover_reports]=$(since "$t0")
ok "leader $dead killed: $(pg_ha_leader "$work/pg") promoted and reached through HAProxy after ${timing[failover]} s; edges acked again after ${timing[failover_acks]} s; reports answered (from the primary, no replica left) after ${timing[failover_reports]} s"
pg_ha_restart_member "$work/pg" "$dead" >/dev/null
t=$(wait_reports replica 90) || fail "the old leader did not come back as a replica that reports read"
ok "$dead rejoined as a streaming replica; reports read it"

# ---- nothing lost ----
summary=$(cluster_sim_stop "$work")
cluster_drained "$work" 120 || fail "the sites did not converge with central"
events=$(psql -X -qAt "$PG_WRITE_URL" -c "SELECT count(*) FROM millrace.production_event")
[ "$events" -gt 0 ] || fail "no production events at central"
ok "floor stopped ($summary); every site's rows equal central's, table by table; $events production events at central"

echo "timings (s): central node killed -> edges acked ${timing[central]}; replica killed -> reports from primary ${timing[fallback]}; replica back -> reports from replica ${timing[replica_back]}; PgBouncer restart -> acks ${timing[bouncer]}; switchover ${timing[switchover]} (acks ${timing[switchover_acks]}); leader killed -> new leader ${timing[failover]}, acks ${timing[failover_acks]}, reports ${timing[failover_reports]}"
echo "cluster_test: $passed checks passed"
