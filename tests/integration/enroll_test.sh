#!/usr/bin/env bash
# Enrollment with a one-time code (process level): a site provisioned with --enroll-hours
# gets no keys but a code; its edge, started while central is down, makes its own key pair,
# works the floor, and once central is up registers the key with the code, delivers what the
# floor did meanwhile, and never asks again. The code works once and for its site only; an
# unknown, expired or revoked one is refused naming why (`mes-edge enroll` tries once), and
# enrollment-code gives a site a new one. The exchange is boxed: a box not made by the key
# it names is refused, and a server without central's proof cannot end enrollment.
# Usage: enroll_test.sh MES_CENTRAL MES_EDGE   (MILLRACE_TEST_PG from the fixture)
source "$(dirname "$0")/../support/central_env.sh" enroll "$1"
edge=$2
# Central's ports must be known before it starts (the edge starts first): three free ones
# below the kernel's ephemeral range, so no outgoing connection takes one meanwhile.
read -r hport sport eport < <(python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
socks = []
while len(socks) < 3:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(max(1024, low - 12000), low)))
        socks.append(s)
    except OSError:
        s.close()
print(*[s.getsockname()[1] for s in socks])')
sed -i "s|^bind = .*|bind = \"tcp://127.0.0.1:$sport\"|; s|^port = 0|port = $hport|" "$work/central.toml"
central_url="http://127.0.0.1:$hport"
cfg=(-c "$work/central.toml" --tenant acme)

expect_exit 2 "no enroll url" -- "$central" provision-site "${cfg[@]}" --site nantes --out "$work/nantes" \
  --endpoint "tcp://127.0.0.1:$sport" --enroll-hours 2
grep -q "needs central's HTTP address (--enroll-url" "$work/err" || fail "no url: $(cat "$work/err")"
[ ! -e "$work/nantes" ] || fail "a refused provisioning left a directory"

"$central" seed-demo "${cfg[@]}" --sites porto >/dev/null
expect_exit 0 "provision porto" -- "$central" provision-site "${cfg[@]}" --site porto --out "$work/porto" \
  --endpoint "tcp://127.0.0.1:$sport" --http-port "$eport" --enroll-hours 2 --enroll-url "$central_url"
code=$(sed -n 's/.*one-time enrollment code \([0-9A-Z-]*\),.*/\1/p' "$work/out")
[ -n "$code" ] || fail "no code printed: $(cat "$work/out")"
[ ! -e "$work/porto/site.key" ] && [ ! -e "$work/porto/site.pub" ] || fail "an enrollment directory holds keys"
grep -q "^enrollment_code = \"$code\"" "$work/porto/edge.toml" || fail "edge.toml lacks the code"
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT count(*) FROM millrace.sync_enrollment WHERE code_hash = encode(sha256(convert_to('$(echo "$code" | tr -d -)', 'UTF8')), 'hex')" | grep -qx 1 ||
  fail "central does not keep the code's hash"
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT count(*) FROM millrace.sync_enrollment WHERE code_hash LIKE '%$(echo "$code" | tr -d -)%'" | grep -qx 0 ||
  fail "central keeps the code itself"
expect_exit 0 "config check" -- "$edge" config check "$work/porto/edge.toml"
grep -q "enrollment: the first start makes" "$work/out" || fail "config check: $(cat "$work/out")"
ok "provision-site --enroll-hours writes a code and no keys (central keeps its hash only); config check accepts it"

# ---- the edge starts with central down: it makes its keys and works ----
"$edge" seed -c "$work/porto/edge.toml" --if-empty >/dev/null
"$edge" serve -c "$work/porto/edge.toml" 2>>"$work/edge.log" &
edge_pid=$!
extra_pids+=("$edge_pid")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$eport/ready" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$eport/ready" || fail "the edge is not ready: $(tail -5 "$work/edge.log")"
[ "$(stat -c %a "$work/porto/site.key")" = 600 ] && [ -s "$work/porto/site.pub" ] || fail "no key pair made"
[ ! -e "$work/porto/site.key.enrolled" ] || fail "enrolled with central down"
grep -q '^mes_edge_enrollment_pending 1' <<<"$(curl -s "http://127.0.0.1:$eport/metrics")" || fail "pending not on /metrics"
"$(dirname "$edge")/mes-sim" --edge "http://127.0.0.1:$eport" --units 2 --cycle-ms 50 --events 30 --seed 3 \
  >"$work/sim.log" 2>&1 || fail "the floor could not work: $(tail -3 "$work/sim.log")"
made=$(sqlite3 "$work/porto/edge.db" "SELECT count(*) FROM production_event")
[ "$made" -gt 0 ] || fail "the floor made no production events"
ok "with central down the edge made its key pair (0600), waits to enroll, and the floor worked ($made production events)"

# ---- central comes up: the edge enrolls and syncs ----
"$central" serve -c "$work/central.toml" 2>>"$work/central.log" &
pid=$!
started=$SECONDS
for _ in $(seq 600); do [ -e "$work/porto/site.key.enrolled" ] && break; sleep 0.1; done
[ -e "$work/porto/site.key.enrolled" ] || fail "not enrolled 60 s after central came up: $(grep enrollment "$work/edge.log" | tail -3)"
enrolled_after=$((SECONDS - started))
for _ in $(seq 300); do grep -q '"connected":true' <<<"$(curl -s "http://127.0.0.1:$eport/api/v1/sync")" && break; sleep 0.1; done
grep -q '"connected":true' <<<"$(curl -s "http://127.0.0.1:$eport/api/v1/sync")" || fail "enrolled but not syncing: $(curl -s "http://127.0.0.1:$eport/api/v1/sync")"
pub=$(cat "$work/porto/site.pub")
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT site_id FROM millrace.sync_site_key WHERE public_key = '$pub'" | grep -qx porto ||
  fail "central does not hold porto's key"
grep -q "site.enroll" <<<"$("$central" audit "${cfg[@]}")" || fail "no audit record of the enrollment"
# (The marker is visible once renamed into place; the enroller says so after its directory's
# fsync, which a busy disk may take a while to finish.)
for _ in $(seq 100); do grep -q '^mes_edge_enrollment_pending 0' <<<"$(curl -s "http://127.0.0.1:$eport/metrics")" && break; sleep 0.1; done
grep -q '^mes_edge_enrollment_pending 0' <<<"$(curl -s "http://127.0.0.1:$eport/metrics")" || fail "still pending on /metrics"
for _ in $(seq 300); do
  [ "$(psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT count(*) FROM millrace.production_event WHERE site_id = 'porto'")" = "$made" ] && break
  sleep 0.1
done
got=$(psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT count(*) FROM millrace.production_event WHERE site_id = 'porto'")
[ "$got" = "$made" ] || fail "central holds $got of the $made production events made before enrollment"
ok "central up: the edge enrolled within ${enrolled_after} s, syncs with its own key and delivered all $made events; the enrollment is audited"

# ---- the code works once, for its site only; refusals are named ----
# A copy of a site directory with its code but without the given files (a second machine).
copy_site() {  # FROM TO [FILES TO DROP...]
  local from=$1 to=$2
  shift 2
  rm -rf "$to"; cp -a "$from" "$to"; rm -rf "$to/edge.db" "$to/edge.db-wal" "$to/edge.db-shm"
  local f
  for f in "$@"; do rm -f "$to/$f"; done
}
copy_site "$work/porto" "$work/porto-b" site.key site.pub site.key.enrolled
expect_exit 1 "another key" -- "$edge" enroll -c "$work/porto-b/edge.toml"
grep -q "was used already, by another key" "$work/err" || fail "another key: $(cat "$work/err")"
copy_site "$work/porto" "$work/porto-c" site.key.enrolled
expect_exit 0 "the same key again" -- "$edge" enroll -c "$work/porto-c/edge.toml"
[ "$("$central" audit "${cfg[@]}" | grep -c "site.enroll")" = 1 ] || fail "a repeat was audited again"
copy_site "$work/porto" "$work/porto-d" site.key site.pub site.key.enrolled
sed -i 's/^enrollment_code = .*/enrollment_code = "00000000-00000000-00000000-00000000"/' "$work/porto-d/edge.toml"
expect_exit 1 "unknown code" -- "$edge" enroll -c "$work/porto-d/edge.toml"
grep -q "no such enrollment code for site porto" "$work/err" || fail "unknown code: $(cat "$work/err")"
ok "the code works once: another key is refused, the same key answered again (audited once), an unknown code refused"

"$central" provision-site "${cfg[@]}" --site lille --out "$work/lille" --endpoint "tcp://127.0.0.1:$sport" \
  --enroll-hours 1 --enroll-url "$central_url" >"$work/out"
lille_code=$(sed -n 's/.*one-time enrollment code \([0-9A-Z-]*\),.*/\1/p' "$work/out")
copy_site "$work/porto" "$work/porto-e" site.key site.pub site.key.enrolled
sed -i "s/^enrollment_code = .*/enrollment_code = \"$lille_code\"/" "$work/porto-e/edge.toml"
expect_exit 1 "another site's code" -- "$edge" enroll -c "$work/porto-e/edge.toml"
grep -q "no such enrollment code for site porto" "$work/err" || fail "lille's code at porto: $(cat "$work/err")"
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT used_at IS NULL FROM millrace.sync_enrollment WHERE site_id = 'lille'" | grep -qx t ||
  fail "porto spent lille's code"
psql "$MILLRACE_TEST_PG dbname=$db" -qc "UPDATE millrace.sync_enrollment SET expires_at = now() - interval '1 minute' WHERE site_id = 'lille'"
expect_exit 1 "expired" -- "$edge" enroll -c "$work/lille/edge.toml"
grep -q "acme/lille has expired" "$work/err" || fail "expired code: $(cat "$work/err")"
expect_exit 0 "a new code" -- "$central" enrollment-code "${cfg[@]}" --site lille --hours 4
new_code=$(sed -n 's/.*one-time enrollment code \([0-9A-Z-]*\),.*/\1/p' "$work/out")
sed -i "s/^enrollment_code = .*/enrollment_code = \"$new_code\"/" "$work/lille/edge.toml"
expect_exit 0 "enroll with the new code" -- "$edge" enroll -c "$work/lille/edge.toml"
expect_exit 1 "no new code for an enrolled site" -- "$central" enrollment-code "${cfg[@]}" --site porto
grep -q "has a key in use" "$work/err" || fail "enrolled site's new code: $(cat "$work/err")"
"$central" provision-site "${cfg[@]}" --site brest --out "$work/brest" --endpoint "tcp://127.0.0.1:$sport" \
  --enroll-hours 1 --enroll-url "$central_url" >/dev/null
"$central" revoke-site "${cfg[@]}" --site brest >/dev/null
expect_exit 1 "revoked" -- "$edge" enroll -c "$work/brest/edge.toml"
grep -q "site acme/brest was revoked" "$work/err" || fail "revoked site: $(cat "$work/err")"
ok "a code is its site's only (lille's code at porto is refused and stays unspent); an expired code is refused and enrollment-code gives the site a new one that works (not to an enrolled site); a revoked site is refused"

# ---- the exchange: boxes only central reads and only central makes ----
post() {  # BODY: the status, the answer in $work/answer
  curl -s -o "$work/answer" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$central_url/api/v1/enroll"
}
[ "$(post '{"site":"porto","public_key":"'"$pub"'","nonce":"00","box":"00"}')" = 400 ] && grep -q '"refusal":"box"' "$work/answer" ||
  fail "a box not made by the key: $(cat "$work/answer")"
[ "$(post '{"site":"porto","public_key":"'"$pub"'","nonce":"00","box":"00","code":"x"}')" = 400 ] &&
  grep -q "unknown field 'code'" "$work/answer" || fail "unknown field: $(cat "$work/answer")"
! grep -q "$code" "$work/central.log" || fail "the code is in central's log"
# A server that is not central answers 200 without central's proof: the edge is not fooled.
cat >"$work/fake.py" <<'PY'
import http.server, json, os, sys
class Fake(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"tenant": "acme", "site": "porto", "nonce": "00" * 24, "box": "00" * 40}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), Fake)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_port)); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$work/fake.py" "$work/fake.port" &
extra_pids+=($!)
for _ in $(seq 100); do [ -s "$work/fake.port" ] && break; sleep 0.1; done
copy_site "$work/porto" "$work/porto-f" site.key.enrolled
sed -i "s|^enroll_url = .*|enroll_url = \"http://127.0.0.1:$(cat "$work/fake.port")\"|" "$work/porto-f/edge.toml"
expect_exit 3 "a fake central" -- "$edge" enroll -c "$work/porto-f/edge.toml"
grep -q "was not central's" "$work/err" && [ ! -e "$work/porto-f/site.key.enrolled" ] || fail "fooled by a fake central: $(cat "$work/err")"
copy_site "$work/porto" "$work/porto-g" site.key site.pub
expect_exit 1 "a lost key" -- "$edge" enroll -c "$work/porto-g/edge.toml"
grep -q "is gone, but this site was enrolled with it" "$work/err" || fail "lost key: $(cat "$work/err")"
ok "a box not made by the key it names is refused; the code never reaches central's log; a server without central's proof does not end enrollment; a key lost after enrollment is not made anew"

# ---- a restart does not ask again ----
kill "$edge_pid"; wait "$edge_pid" 2>/dev/null || true
attempts=$(grep -c "enrollment" "$work/edge.log" || true)
"$edge" serve -c "$work/porto/edge.toml" 2>>"$work/edge.log" &
extra_pids+=($!)
for _ in $(seq 100); do grep -q '"connected":true' <<<"$(curl -s "http://127.0.0.1:$eport/api/v1/sync")" && break; sleep 0.1; done
grep -q '"connected":true' <<<"$(curl -s "http://127.0.0.1:$eport/api/v1/sync")" || fail "the restarted edge does not sync"
[ "$(grep -c "enrollment" "$work/edge.log" || true)" = "$attempts" ] || fail "the restarted edge enrolled again"
ok "restarted, the edge syncs with its key and does not enroll again"
echo "enroll_test: $passed checks passed"
