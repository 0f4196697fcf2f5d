#!/usr/bin/env bash
# Enrollment with a one-time code (process level): a site provisioned with --enroll-hours
# gets no keys but a code; its edge, started while central is down, makes its own key pair,
# serves the floor, and once central is up registers the key with the code, syncs, and
# never asks again. The code works once (another key is refused, the same key answered
# again), an unknown, malformed, expired or revoked one is refused naming why, and a body
# with an unknown field is refused naming it.
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
"$edge" serve -c "$work/porto/edge.toml" 2>>"$work/edge.log" &
edge_pid=$!
extra_pids+=("$edge_pid")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$eport/ready" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$eport/ready" || fail "the edge is not ready: $(tail -5 "$work/edge.log")"
[ "$(stat -c %a "$work/porto/site.key")" = 600 ] && [ -s "$work/porto/site.pub" ] || fail "no key pair made"
[ ! -e "$work/porto/site.key.enrolled" ] || fail "enrolled with central down"
curl -s "http://127.0.0.1:$eport/metrics" | grep -q '^mes_edge_enrollment_pending 1' || fail "pending not on /metrics"
ok "with central down the edge made its key pair (0600), serves the floor and waits to enroll"

# ---- central comes up: the edge enrolls and syncs ----
"$central" serve -c "$work/central.toml" 2>>"$work/central.log" &
pid=$!
started=$SECONDS
for _ in $(seq 600); do [ -e "$work/porto/site.key.enrolled" ] && break; sleep 0.1; done
[ -e "$work/porto/site.key.enrolled" ] || fail "not enrolled 60 s after central came up: $(grep enrollment "$work/edge.log" | tail -3)"
enrolled_after=$((SECONDS - started))
for _ in $(seq 300); do curl -s "http://127.0.0.1:$eport/api/v1/sync" | grep -q '"connected":true' && break; sleep 0.1; done
curl -s "http://127.0.0.1:$eport/api/v1/sync" | grep -q '"connected":true' || fail "enrolled but not syncing: $(curl -s "http://127.0.0.1:$eport/api/v1/sync")"
pub=$(cat "$work/porto/site.pub")
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT site_id FROM millrace.sync_site_key WHERE public_key = '$pub'" | grep -qx porto ||
  fail "central does not hold porto's key"
"$central" audit "${cfg[@]}" | grep -q "site.enroll" || fail "no audit record of the enrollment"
curl -s "http://127.0.0.1:$eport/metrics" | grep -q '^mes_edge_enrollment_pending 0' || fail "still pending on /metrics"
ok "central up: the edge enrolled within ${enrolled_after} s and syncs with its own key; the enrollment is audited"

# ---- the code works once ----
post() {  # BODY: the status, the answer in $work/answer
  curl -s -o "$work/answer" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$central_url/api/v1/enroll"
}
other=$("$central" keygen --secret "$work/other.key" --public "$work/other.pub" | sed -n 's/^public key //p')
[ "$(post "{\"code\":\"$code\",\"public_key\":\"$other\"}")" = 409 ] && grep -q "was used already, by another key" "$work/answer" ||
  fail "the spent code took another key: $(cat "$work/answer")"
[ "$(post "{\"code\":\"$(echo "$code" | tr 'A-Z' 'a-z')\",\"public_key\":\"$pub\"}")" = 200 ] ||
  fail "the same code and key were not answered again: $(cat "$work/answer")"
[ "$(post '{"code":"00000000-00000000-00000000-00000000","public_key":"'"$other"'"}')" = 404 ] &&
  grep -q "no such enrollment code" "$work/answer" || fail "unknown code: $(cat "$work/answer")"
[ "$(post '{"code":"not-a-code","public_key":"'"$other"'"}')" = 400 ] && grep -q "not an enrollment code" "$work/answer" ||
  fail "malformed code: $(cat "$work/answer")"
[ "$(post '{"code":"'"$code"'","public_key":"'"$other"'","site":"porto"}')" = 400 ] && grep -q "unknown field 'site'" "$work/answer" ||
  fail "unknown field: $(cat "$work/answer")"
[ "$(post '{"code":"'"$code"'","public_key":"nope"}')" = 400 ] && grep -q "not a Curve public key" "$work/answer" ||
  fail "bad key: $(cat "$work/answer")"
ok "the code works once: another key is refused (409), the same key answered again; unknown (404), malformed, a bad key and an unknown field (400) are refused by name"

# ---- expired and revoked ----
"$central" provision-site "${cfg[@]}" --site lille --out "$work/lille" --endpoint "tcp://127.0.0.1:$sport" \
  --enroll-hours 1 --enroll-url "$central_url" >"$work/out"
late=$(sed -n 's/.*one-time enrollment code \([0-9A-Z-]*\),.*/\1/p' "$work/out")
psql "$MILLRACE_TEST_PG dbname=$db" -qc "UPDATE millrace.sync_enrollment SET expires_at = now() - interval '1 minute' WHERE site_id = 'lille'"
[ "$(post "{\"code\":\"$late\",\"public_key\":\"$other\"}")" = 422 ] && grep -q "acme/lille has expired" "$work/answer" ||
  fail "expired code: $(cat "$work/answer")"
"$central" provision-site "${cfg[@]}" --site brest --out "$work/brest" --endpoint "tcp://127.0.0.1:$sport" \
  --enroll-hours 1 --enroll-url "$central_url" >"$work/out"
gone=$(sed -n 's/.*one-time enrollment code \([0-9A-Z-]*\),.*/\1/p' "$work/out")
"$central" revoke-site "${cfg[@]}" --site brest >/dev/null
[ "$(post "{\"code\":\"$gone\",\"public_key\":\"$other\"}")" = 403 ] && grep -q "site acme/brest was revoked" "$work/answer" ||
  fail "revoked site: $(cat "$work/answer")"
psql "$MILLRACE_TEST_PG dbname=$db" -qAtc "SELECT count(*) FROM millrace.sync_site_key WHERE public_key = '$other'" | grep -qx 0 ||
  fail "a refused enrollment registered a key"
ok "an expired code (422) and a revoked site's (403) are refused and register nothing"

# ---- a restart does not ask again ----
kill "$edge_pid"; wait "$edge_pid" 2>/dev/null || true
attempts=$(grep -c "enrollment" "$work/edge.log" || true)
"$edge" serve -c "$work/porto/edge.toml" 2>>"$work/edge.log" &
extra_pids+=($!)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$eport/api/v1/sync" | grep -q '"connected":true' && break; sleep 0.1; done
curl -s "http://127.0.0.1:$eport/api/v1/sync" | grep -q '"connected":true' || fail "the restarted edge does not sync"
[ "$(grep -c "enrollment" "$work/edge.log" || true)" = "$attempts" ] || fail "the restarted edge enrolled again"
ok "restarted, the edge syncs with its key and does not enroll again"
echo "enroll_test: $passed checks passed"
