#!/usr/bin/env bash
# mesctl against a live, seeded mes-edge: badge in, release, run an operation with counts,
# a lot, a downtime, a measurement and a disposition; admin views; backup; restore refused
# while the edge runs and accepted once it has stopped.
# Usage: mesctl_test.sh MES_EDGE MESCTL
set -euo pipefail
edge=$1 mesctl=$2
unset MILLRACE_LOG_LEVEL  # this test reads the edge's info log
work=$(mktemp -d)
epid=""
cleanup() { [ -n "$epid" ] && kill -9 "$epid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }
run() {  # run WANT_EXIT command... ; output in $out
  local want=$1; shift
  set +e; out=$("$@" 2>&1); local got=$?; set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got (wanted $want): $out"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

write_config() {  # write_config BACKUP_INTERVAL_MINUTES
  printf '[site]\nid = "plant-a"\n[store]\npath = "%s/edge.db"\n[http]\nport = 0\n[backup]\ninterval_minutes = %s\nkeep = 2\ndir = "%s/backups"\n' \
    "$work" "$1" "$work" >"$work/edge.toml"
}
start_edge() {
  rm -f "$work/port"
  "$edge" serve -c "$work/edge.toml" --port-file "$work/port" 2>>"$work/edge.log" &
  epid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || fail "mes-edge did not start: $(tail -5 "$work/edge.log")"
  export MILLRACE_EDGE_URL="http://127.0.0.1:$(cat "$work/port")"
}
write_config 0.01
"$edge" seed -c "$work/edge.toml" >/dev/null
start_edge
export MILLRACE_TOKEN_FILE="$work/token"
unset MILLRACE_TOKEN

# Scheduled backups every 0.6 s, two kept.
for _ in $(seq 50); do [ "$(ls "$work/backups" 2>/dev/null | grep -c '\.db$')" -ge 2 ] && sleep 1.5 && break; sleep 0.1; done
[ "$(ls "$work/backups" | grep -c '\.db$')" = 2 ] || fail "scheduled backups: $(ls "$work/backups")"
grep -q "backup written to" "$work/edge.log" || fail "no scheduled backup in the log"
ok "scheduled online backups run and only the newest are kept"
# The rest runs with the schedule off, so pruning cannot race the on-demand backup below.
kill -TERM "$epid"; wait "$epid" || true; epid=""
write_config 0
start_edge

run 4 "$mesctl" queue
grep -q "unauthenticated" <<<"$out" || fail "queue without a session: $out"
run 4 "$mesctl" login --badge 1001 --pin 9999 --work-unit L1-CUT
grep -q "bad_credentials" <<<"$out" || fail "bad PIN: $out"
run 0 "$mesctl" login --badge 2001 --pin 1234 --work-unit L1-PRESS
[ "$(stat -c %a "$work/token")" = 600 ] || fail "token file is $(stat -c %a "$work/token"), wanted 600"
ok "login refuses a bad PIN and keeps the token 0600"

run 0 "$mesctl" release WO-1001
grep -q "^status *Released" <<<"$out" || fail "release: $out"
echo 1234 | run 0 "$mesctl" login --badge 1001 --work-unit L1-CUT
run 5 "$mesctl" release WO-1002  # an operator may not
grep -q "role_not_allowed" <<<"$out" || fail "operator release: $out"
run 0 "$mesctl" queue
grep -q "WO-1001 *10 *CUT *Ready" <<<"$out" || fail "queue: $out"
ok "a supervisor releases, an operator may not, and the operator's queue shows the Ready step"

run 0 "$mesctl" start WO-1001/10
run 2 "$mesctl" count WO-1001/10 --good 5 --scrap 1
grep -q "scrap_needs_reason" <<<"$out" || fail "scrap without reason: $out"
run 2 "$mesctl" count WO-1001/10 --good 1e308
grep -q "good_quantity: must be between" <<<"$out" || fail "a count of 1e308: $out"
run 0 "$mesctl" count WO-1001/10 --good 40 --scrap 2 --reason SC-DIM
run 0 "$mesctl" consume WO-1001/10 --lot S-0001 --qty 21
run 0 "$mesctl" --json down --comment "jam at the feeder"
dt=$(json 'd["id"]' <<<"$out")
run 0 "$mesctl" --json work-order WO-1001
[ "$(json 'd["operations"][0]["status"]' <<<"$out")" = Paused ] || fail "downtime did not pause the operation"
run 0 "$mesctl" classify "$dt" --reason DT-MECH-JAM
run 0 "$mesctl" up "$dt"
run 0 "$mesctl" produce WO-1001/10 --qty 40
grep -q "^lot_no *WO-1001-10" <<<"$out" || fail "produce: $out"
run 0 "$mesctl" complete WO-1001/10
run 0 "$mesctl" --json work-order WO-1001
[ "$(json 'd["operations"][0]["status"]' <<<"$out")" = Completed ] || fail "op 10 not completed"
[ "$(json 'd["operations"][1]["status"]' <<<"$out")" = Ready ] || fail "op 20 not ready"
[ "$(json 'd["scrap_quantity"]' <<<"$out")" = 2.0 ] || fail "scrap not booked on the order"
ok "start, count (scrap needs a reason), consume, downtime with reason, produce, complete"

char=$(python3 - "$work/edge.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select id from inspection_characteristic where name='Hole diameter'").fetchone()[0])
PY
)
run 0 "$mesctl" measure --characteristic "$char" --value 8.4 --lot S-0002
grep -q "OUT OF SPEC: non-conformance .* opened" <<<"$out" || fail "measure: $out"
nc=$(sed -E 's/.*non-conformance ([0-9a-f-]+) opened.*/\1/' <<<"$out")
run 5 "$mesctl" dispose "$nc" --disposition scrap --close
grep -q "role_not_allowed" <<<"$out" || fail "operator dispose: $out"
run 0 "$mesctl" login --badge 3001 --pin 1234 --work-unit L1-PACK
run 0 "$mesctl" dispose "$nc" --disposition scrap --close
grep -q "^status *closed" <<<"$out" || fail "dispose: $out"
run 0 "$mesctl" lot-status B-0001 --status quarantine
grep -q "^status *quarantine" <<<"$out" || fail "lot-status: $out"
run 5 "$mesctl" lot-status S-0002 --status available  # scrapped is final
grep -q "lot_status_not_allowed" <<<"$out" || fail "lot-status from scrapped: $out"
ok "out-of-spec measurement opens a non-conformance that quality disposes; quality quarantines a lot"

# The outbox and backups are a supervisor's: quality (badged in now) is refused, and so is
# a call with no session at all.
run 5 "$mesctl" outbox
grep -q "role_not_allowed" <<<"$out" || fail "outbox as quality: $out"
MILLRACE_TOKEN=none run 4 "$mesctl" backup
run 0 "$mesctl" login --badge 2001 --pin 1234  # a supervisor at a desk: no work unit
run 2 "$mesctl" hold WO-1001
grep -q "reason_required" <<<"$out" || fail "hold without --why: $out"
run 0 "$mesctl" correct WO-1001/10 --good -1 --why "double count at the saw"
grep -q "^good_quantity *39" <<<"$out" || fail "correct: $out"
run 0 "$mesctl" --json audit --limit 100
python3 - "$out" <<'PY' || fail "audit: $out"
import json, sys
items = json.loads(sys.argv[1])["items"]
actions = {i["action"] for i in items}
assert {"work_order.release", "work_order_operation.correct_counts", "non_conformance.dispose",
        "material_lot.status"} <= actions, actions
fix = [i for i in items if i["action"] == "work_order_operation.correct_counts"][0]
assert fix["reason"] == "double count at the saw" and fix["actor_name"] == "Sam Supervisor", fix
PY
ok "supervisor actions need a why where they must and land on the audit trail (mesctl audit)"
run 0 "$mesctl" --json outbox --limit 3
[ "$(json 'd["rows"] > 30 and len(d["entries"]) == 3' <<<"$out")" = True ] || fail "outbox: $out"
run 0 "$mesctl" --json backup
made=$(json 'd["path"]' <<<"$out")
[ -f "$made" ] || fail "no backup file at $made"
backup=$made
run 5 "$mesctl" restore --backup "$backup" --db "$work/edge.db"
grep -q "an edge is running" <<<"$out" || fail "restore while running: $out"
ok "outbox and backup views are a supervisor's; restore refuses a running edge"

run 0 "$mesctl" logout
kill -TERM "$epid"; wait "$epid" || true; epid=""
run 0 "$mesctl" restore --backup "$backup" --db "$work/edge.db"
[ "$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])" "$work/edge.db")" = ok ] ||
  fail "restored database is damaged"
ok "restore replaces a stopped edge's database"
echo "$passed passed, 0 failed"
