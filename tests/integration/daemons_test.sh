#!/usr/bin/env bash
# Process-level test of the three binaries: --help/--version, config validation, serving
# /health /ready /metrics on a kernel-chosen port, mesctl against a live edge, readiness
# following PostgreSQL migrations, and clean exit on SIGTERM/SIGINT.
# Usage: daemons_test.sh MES_EDGE MES_CENTRAL MESCTL   (MILLRACE_TEST_PG from the fixture)
set -euo pipefail
edge=$1 central=$2 mesctl=$3
: "${MILLRACE_TEST_PG:?MILLRACE_TEST_PG is not set: run through ctest (fixture postgres)}"
unset MILLRACE_LOG_LEVEL  # the daemons log at their configured level; this test reads those lines

work=$(mktemp -d)
pids=()
db="daemons_$$"
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  psql "$MILLRACE_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }

# expect_exit CODE DESCRIPTION -- command...
expect_exit() {
  local want=$1 desc=$2; shift 3
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "$desc: exit $got, wanted $want"; }
}

http() {  # http URL -> prints "<status> <body>"
  local code; code=$(curl -s -o "$work/body" -w '%{http_code}' "$1" || true)
  echo "$code $(cat "$work/body" 2>/dev/null)"
}

wait_for_file() {
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  fail "timed out waiting for $1"
}

# stop_and_expect_clean PID SIGNAL LOG
stop_and_expect_clean() {
  kill "-$2" "$1"
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && fail "process $1 still running 10 s after SIG$2"
  set +e; wait "$1"; local rc=$?; set -e
  [ "$rc" = 0 ] || { cat "$3" >&2; fail "process exited $rc after SIG$2, wanted 0"; }
  grep -q "stopped cleanly" "$3" || { cat "$3" >&2; fail "no clean-stop log line after SIG$2"; }
}

# ---- help and version ----
for spec in "$edge:serve init schema" "$central:serve migrate schema" "$mesctl:status metrics"; do
  bin=${spec%%:*}; subs=${spec#*:}
  expect_exit 0 "$(basename "$bin") --help" -- "$bin" --help
  grep -q "Usage:" "$work/out" || fail "$(basename "$bin") --help has no usage line"
  for s in $subs; do grep -q "^  $s " "$work/out" || fail "$(basename "$bin") --help does not list '$s'"; done
  expect_exit 0 "$(basename "$bin") --version" -- "$bin" --version
  grep -qE "^$(basename "$bin") [0-9]+\.[0-9]+\.[0-9]+" "$work/out" || fail "$(basename "$bin") --version: $(cat "$work/out")"
  ok "$(basename "$bin") --help and --version"
done
expect_exit 0 "mes-edge serve --help" -- "$edge" serve --help
grep -q -- "--config" "$work/out" || fail "serve --help does not explain --config"
expect_exit 2 "no subcommand" -- "$edge"
ok "mes-edge without a subcommand is refused"

# ---- config validation names the file and the key ----
printf '[site]\nid = "Plant A!"\n[store]\npath = "%s/x.db"\n' "$work" >"$work/bad-site.toml"
expect_exit 2 "bad site id" -- "$edge" serve -c "$work/bad-site.toml"
grep -q "bad-site.toml: key 'site.id'" "$work/err" || fail "bad site id message: $(cat "$work/err")"
printf '[site]\nid = "plant-a"\n[store]\npath = "%s/x.db"\n[htpp]\nport = 1\n' "$work" >"$work/typo.toml"
expect_exit 2 "typo key" -- "$edge" serve -c "$work/typo.toml"
grep -q "unknown key(s) 'htpp.port'" "$work/err" || fail "typo message: $(cat "$work/err")"
ok "bad edge configs are refused, naming file and key"

# ---- mes-edge serves, mesctl talks to it, SIGTERM stops it cleanly ----
cat >"$work/edge.toml" <<TOML
[site]
id = "plant-a"
[store]
path = "$work/edge.db"
[http]
listen = "127.0.0.1"
port = 0
[log]
level = "info"
TOML
"$edge" serve -c "$work/edge.toml" --port-file "$work/edge.port" 2>"$work/edge.log" &
epid=$!; pids+=("$epid")
wait_for_file "$work/edge.port"
eurl="http://127.0.0.1:$(cat "$work/edge.port")"
[ "$(http "$eurl/health")" = '200 {"status":"ok"}' ] || fail "edge /health: $(http "$eurl/health")"
r=$(http "$eurl/ready"); [[ $r == 200* ]] || fail "edge /ready: $r"
m=$(curl -s "$eurl/metrics")
grep -q 'mes_edge_info{.*site="plant-a"' <<<"$m" || fail "edge /metrics lacks mes_edge_info: $m"
grep -q 'mes_http_requests_total{method="GET",route="/ready",status="200"} 1' <<<"$m" || fail "edge /metrics lacks request counts: $m"
r=$(http "$eurl/nope"); [ "$r" = '404 {"error":{"code":"not_found","message":"no route for GET /nope"}}' ] || fail "404 body: $r"
ok "mes-edge serves /health, /ready, /metrics and JSON errors on a kernel-chosen port"

# The doors of a running edge: the site's data and its administration need a session.
for door in "GET /api/v1/sync/content" "GET /api/v1/outbox" "POST /api/v1/backups" \
            "GET /api/v1/work-units" "GET /api/v1/reasons" "GET /api/v1/audit"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "${door%% *}" "$eurl${door#* }")
  [ "$code" = 401 ] || fail "$door without a session answered $code"
done
ok "mes-edge answers 401 at every door of the site's data without a session"

expect_exit 0 "mesctl status" -- "$mesctl" --edge "$eurl" --json status
grep -q '"ready": true' "$work/out" || fail "mesctl status --json: $(cat "$work/out")"
expect_exit 0 "mesctl status table" -- "$mesctl" --edge "$eurl" status
grep -q "^ready   yes" "$work/out" || fail "mesctl status: $(cat "$work/out")"
expect_exit 0 "mesctl metrics" -- "$mesctl" --edge "$eurl" metrics
grep -q "mes_edge_info" "$work/out" || fail "mesctl metrics"
expect_exit 1 "mesctl against nothing" -- "$mesctl" --edge "http://127.0.0.1:1" status
grep -q "unavailable" "$work/err" || fail "mesctl unreachable message: $(cat "$work/err")"
ok "mesctl status/metrics against a live edge, and a clear error without one"

stop_and_expect_clean "$epid" TERM "$work/edge.log"
tables=$(sqlite3 "$work/edge.db" "SELECT count(*) FROM sqlite_schema WHERE type = 'table'")
[ "$tables" -ge 25 ] || fail "edge database has $tables tables"
ok "mes-edge exits 0 on SIGTERM and leaves a migrated database ($tables tables)"

# ---- mes-central: not ready until migrated; SIGINT stops it cleanly ----
psql "$MILLRACE_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null
admin="$MILLRACE_TEST_PG dbname=$db"
# libpq takes the last value of a repeated keyword: this is the app role on the new database.
app="$MILLRACE_TEST_PG dbname=$db user=millrace_app"
cat >"$work/central.toml" <<TOML
[database]
url = "$app"
[http]
port = 0
TOML
"$central" serve -c "$work/central.toml" --port-file "$work/central.port" 2>"$work/central.log" &
cpid=$!; pids+=("$cpid")
wait_for_file "$work/central.port"
curl_=$(cat "$work/central.port"); curl_="http://127.0.0.1:$curl_"
[ "$(http "$curl_/health")" = '200 {"status":"ok"}' ] || fail "central /health"
r=$(http "$curl_/ready"); [[ $r == 503* ]] || fail "central /ready before migrate should be 503: $r"
ok "mes-central is alive but not ready before migrations ($r)"

expect_exit 0 "migrate" -- "$central" migrate --db "$admin"
grep -q "central schema is at version [0-9]" "$work/out" || fail "migrate output: $(cat "$work/out")"
expect_exit 0 "migrate again" -- "$central" migrate --db "$admin"
r=$(http "$curl_/ready"); [[ $r == 200* ]] || fail "central /ready after migrate: $r"
ok "mes-central migrate (twice) makes central ready"

expect_exit 1 "migrate unreachable" -- "$central" migrate --db "host=/nonexistent port=1 dbname=x"
grep -q "unavailable: PostgreSQL connection failed" "$work/err" || fail "migrate error: $(cat "$work/err")"
ok "mes-central migrate against no server fails clearly"

stop_and_expect_clean "$cpid" INT "$work/central.log"
ok "mes-central exits 0 on SIGINT"

# ---- mes-central over HTTPS, with a certificate named relative to its config ----
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 600 "$work/key.pem"
cat >"$work/central-tls.toml" <<TOML
[database]
url = "$app"
[http]
port = 0
tls_cert_file = "cert.pem"
tls_key_file = "key.pem"
TOML
"$central" serve -c "$work/central-tls.toml" --port-file "$work/central-tls.port" 2>"$work/central-tls.log" &
cpid=$!; pids+=("$cpid")
wait_for_file "$work/central-tls.port"
port=$(cat "$work/central-tls.port")
[ "$(curl -s --cacert "$work/cert.pem" "https://127.0.0.1:$port/health")" = '{"status":"ok"}' ] ||
  fail "central over HTTPS: $(tail -3 "$work/central-tls.log")"
curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$port/health" && fail "plain HTTP answered on the HTTPS port"
stop_and_expect_clean "$cpid" TERM "$work/central-tls.log"
printf '[database]\nurl = "%s"\n[http]\ntls_cert_file = "cert.pem"\n' "$app" >"$work/half.toml"
expect_exit 2 "certificate without key" -- "$central" serve -c "$work/half.toml"
grep -q "tls_key_file" "$work/err" || fail "half TLS config: $(cat "$work/err")"
ok "mes-central serves HTTPS with the configured certificate and refuses half a TLS config"

echo "$passed passed, 0 failed"
