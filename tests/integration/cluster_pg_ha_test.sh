#!/usr/bin/env bash
# The PostgreSQL HA layer of deploy/cluster (pg_ha.sh), for real on this machine: etcd,
# Patroni pg1 + pg2, HAProxy and PgBouncer on loopback. Writes through PgBouncer, reads
# from the replica, restarts PgBouncer, reloads HAProxy with an extra frontend, switches
# over, kills the leader hard, loses and restores the replica, and checks that no row is
# lost and that pg_ha_stop leaves no process behind. Prints "ok ..." lines with timings;
# exits 1 with "FAIL: ..." on the first failure.
#
#   tests/integration/cluster_pg_ha_test.sh        (as root: the servers run as millrace-test)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/cluster/pg_ha.sh
source "$root/deploy/cluster/pg_ha.sh"

dir=$(mktemp -d -t millrace-pg-ha.XXXXXX)  # under $TMPDIR, else /tmp
started=$(_pg_ha_now)
cleanup() {
  local rc=$? f
  set +e  # whatever fails here, the cluster is stopped and the directory removed
  if [ "$rc" != 0 ] && [ -d "$dir" ]; then
    if [ -f "$dir/pg1/patroni.yml" ]; then
      echo "---- cluster at failure ----" >&2
      /usr/bin/patronictl -c "$dir/pg1/patroni.yml" list >&2 2>&1
    fi
    for f in "$dir"/*.log; do
      [ -f "$f" ] || continue
      echo "---- tail of $f ----" >&2
      tail -n 15 "$f" >&2
    done
  fi
  pg_ha_stop "$dir" >/dev/null || rc=1
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok $*"; }

# q CONNINFO SQL: one statement, tuples only, bounded in time.
q() { PGCONNECT_TIMEOUT=3 timeout 20 psql -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

echo "== starting etcd, Patroni pg1 + pg2, HAProxy, PgBouncer in $dir"
pg_ha_start "$dir" || fail "pg_ha_start"
# shellcheck disable=SC1091
source "$dir/pg_ha.env"
ok "cluster up in $(_pg_ha_since "$started") s"

primary="$BOUNCER_URL_PRIMARY user=postgres"
replica="$BOUNCER_URL_REPLICA user=postgres"
member_url() { echo "host=127.0.0.1 port=$(_pg_ha_member_port "$1") dbname=millrace user=postgres"; }

# Rows are (phase, i) with a primary key and inserted with ON CONFLICT DO NOTHING, so a
# write retried after an error whose commit did get through counts once.
expected=0
write() { # write PHASE N: N rows through PgBouncer, once
  q "$primary" "INSERT INTO ha_probe SELECT '$1', g FROM generate_series(1, $2) g ON CONFLICT DO NOTHING"
}
# write_retry PHASE N TIMEOUT: retry until PgBouncer reaches a primary; the seconds it took
# go to $took. (Not run in $(...): it counts the rows in $expected.)
write_retry() {
  local t0 deadline=$((SECONDS + $3)) err
  t0=$(_pg_ha_now)
  until err=$(write "$1" "$2" 2>&1); do
    [ "$SECONDS" -ge "$deadline" ] && fail "no write through PgBouncer for $3 s ($1): $err"
    sleep 0.2
  done
  expected=$((expected + $2))
  took=$(_pg_ha_since "$t0")
}
# wait_replayed CONNINFO: until the server there has replayed the primary's current WAL.
wait_replayed() {
  local lsn deadline=$((SECONDS + 20))
  lsn=$(q "$PG_WRITE_URL" "SELECT pg_current_wal_lsn()") || fail "no primary LSN through pg_write"
  until [ "$(q "$1" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" = t ]; do
    [ "$SECONDS" -ge "$deadline" ] && fail "$1 has not replayed $lsn after 20 s"
    sleep 0.2
  done
}
check_count() { # check_count CONNINFO WHAT
  local n
  n=$(q "$1" "SELECT count(*) FROM ha_probe") || fail "cannot count rows on $2"
  [ "$n" = "$expected" ] || fail "$2 has $n rows, expected $expected"
}
check_streaming() { # check_streaming NAME: in recovery, its WAL receiver streaming
  local got
  got=$(q "$(member_url "$1")" "SELECT pg_is_in_recovery()::text || ' ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')") ||
    fail "cannot query $1"
  [ "$got" = "true streaming" ] || fail "$1 is not a streaming replica: $got"
}

# ---- writes through PgBouncer, reads from the replica
q "$primary" "CREATE TABLE ha_probe (phase text NOT NULL, i int NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (phase, i))" >/dev/null ||
  fail "CREATE TABLE through PgBouncer"
write_retry start 1000 5
wait_replayed "$replica"
check_count "$replica" "the replica (through PgBouncer millrace_replica)"
ok "1000 rows written through PgBouncer (millrace) and read back from the replica (millrace_replica)"

[ "$(q "$PG_WRITE_URL" "SELECT pg_is_in_recovery()")" = f ] || fail "pg_write does not reach a primary"
[ "$(q "$PG_READ_URL" "SELECT pg_is_in_recovery()")" = t ] || fail "pg_read does not reach a replica"
[ "$(q "$replica" "SELECT pg_is_in_recovery()")" = t ] || fail "millrace_replica does not reach a replica"
ok "pg_write reaches the primary, pg_read and millrace_replica the replica"

admin="host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=postgres"
q "$admin" "SHOW CONFIG" | grep -q '^pool_mode|transaction|' || fail "PgBouncer's pool_mode is not transaction"
# SHOW POOLS names its columns; find pool_mode's by name (the set differs between versions).
pool_mode=$(PGCONNECT_TIMEOUT=3 psql -X -qA -F '|' -d "$admin" -c "SHOW POOLS" |
  awk -F'|' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "pool_mode") c = i; next }
             $1 == "millrace" && c { print $c; exit }')
[ "$pool_mode" = transaction ] || fail "SHOW POOLS says pool_mode '$pool_mode' for millrace"
ok "PgBouncer pools in transaction mode (SHOW CONFIG, SHOW POOLS)"

# ---- PgBouncer restart
secs=$(pg_ha_restart_bouncer "$dir") || fail "pg_ha_restart_bouncer"
write_retry after_bouncer_restart 10 10
ok "PgBouncer killed and restarted on port $BOUNCER_PORT in $secs s; first write after it took $took s"

# ---- HAProxy reload with an extra frontend, not dropping a running session
extra_port=$(free_port)
cat >"$dir/extra.cfg" <<EOF
# A stand-in for central's frontends: one more TCP frontend to the writable node.
listen extra_probe
    bind 127.0.0.1:$extra_port
    server write 127.0.0.1:$PG_WRITE_PORT
EOF
chmod 644 "$dir/extra.cfg"
# A session through pg_write that lasts across the reload must finish normally.
(q "$PG_WRITE_URL" "SELECT pg_sleep(3), 'survived'" >"$dir/long_session.out" 2>&1) &
long=$!
sleep 0.5
PG_HA_HAPROXY_EXTRA="$dir/extra.cfg" pg_ha_haproxy_reload "$dir" >/dev/null || fail "pg_ha_haproxy_reload"
[ "$(q "host=127.0.0.1 port=$extra_port dbname=millrace user=postgres" "SELECT pg_is_in_recovery()")" = f ] ||
  fail "the extra frontend added by the reload does not reach the primary"
[ "$(q "$PG_WRITE_URL" "SELECT pg_is_in_recovery()")" = f ] || fail "pg_write after the reload"
wait "$long" || fail "a session open across the HAProxy reload failed: $(cat "$dir/long_session.out")"
grep -q survived "$dir/long_session.out" || fail "the session across the reload: $(cat "$dir/long_session.out")"
ok "HAProxy reloaded with an extra frontend (PG_HA_HAPROXY_EXTRA); a session open across the reload finished"

# ---- planned switchover
old=$(pg_ha_leader "$dir")
secs=$(pg_ha_switchover "$dir") || fail "pg_ha_switchover"
new=$(pg_ha_leader "$dir")
[ "$new" != "$old" ] || fail "the leader is still $old after the switchover"
write_retry after_switchover 100 30
check_streaming "$old"
wait_replayed "$(member_url "$old")"
check_count "$(member_url "$old")" "the old leader $old"
ok "switchover $old -> $new in $secs s (until $old streams again); write through PgBouncer after it took $took s; $old has all $expected rows"

# ---- hard failure of the leader
# Replication is asynchronous: wait until the replica has everything, so that this test
# checks the failover and not what an asynchronous standby may lose.
wait_replayed "$replica"
killed=$(pg_ha_kill_leader "$dir") || fail "pg_ha_kill_leader"
secs=$(pg_ha_wait_leader "$dir" "$killed" 60) || fail "no new leader after killing $killed"
survivor=$(pg_ha_leader "$dir")
write_retry after_failover 100 30
check_count "$primary" "the new leader $survivor"
ok "leader $killed killed (SIGKILL Patroni + postmaster): $survivor leads and pg_write reaches it after $secs s; write through PgBouncer after it took $took s"

secs=$(pg_ha_restart_member "$dir" "$killed") || fail "pg_ha_restart_member $killed"
check_streaming "$killed"
wait_replayed "$(member_url "$killed")"
check_count "$(member_url "$killed")" "the rejoined $killed"
ok "$killed restarted and streams from $survivor again in $secs s (pg_rewind as needed); it has all $expected rows"

# ---- losing the replica: writes go on; it comes back
lost=$(pg_ha_kill_replica "$dir") || fail "pg_ha_kill_replica"
write_retry without_replica 50 10
[ "$(pg_ha_leader "$dir")" = "$survivor" ] || fail "the leader changed when the replica died"
t0=$(_pg_ha_now)
pg_ha_start_replica "$dir" >/dev/null || fail "pg_ha_start_replica"
secs=$(_pg_ha_since "$t0")
check_streaming "$lost"
wait_replayed "$replica"
check_count "$replica" "the restored replica $lost"
ok "replica $lost killed: writes went on (first in $took s); restarted, it streams again after $secs s and has all $expected rows"

# ---- stop: nothing of ours is left
mapfile -t pids < <(for n in etcd pg1 pg2 haproxy pgbouncer; do _pg_ha_pid "$dir" "$n"; done
                     for n in pg1 pg2; do _pg_ha_postmaster "$dir" "$n"; done)
[ "${#pids[@]}" -ge 7 ] || fail "expected at least 7 running processes before stop, found ${#pids[@]}"
t0=$(_pg_ha_now)
pg_ha_stop "$dir" >/dev/null || fail "pg_ha_stop"
for p in "${pids[@]}"; do
  if _pg_ha_running "$p"; then fail "process $p ($(tr '\0' ' ' </proc/"$p"/cmdline)) survives pg_ha_stop"; fi
done
pg_ha_stop "$dir" >/dev/null || fail "a second pg_ha_stop (must be a no-op)"
ok "pg_ha_stop in $(_pg_ha_since "$t0") s: none of the ${#pids[@]} processes is left; a second stop is a no-op"

echo "ok all in $(_pg_ha_since "$started") s"
