#!/usr/bin/env bash
# Process-level test of central's alerts: `mes-central alerts` refuses a bad rule or webhook
# naming the field; with a site that has not been heard from, a running mes-central's
# alert_evaluate job fires site_offline, posts it to the tenant's webhook (a first refusal
# retried with backoff) and not to a webhook that wants pages only; the alert is
# acknowledged with a comment (command line and HTTP, where a viewer is refused and a bad
# field named); a rule changed over HTTP resolves it and the webhook hears that too; the
# history tells all of it.
# Usage: alerts_process_test.sh MES_CENTRAL   (MILLRACE_TEST_PG from the fixture)
source "$(dirname "$0")/../support/central_env.sh" alerts "$1"
cfg=(-c "$work/central.toml" --tenant acme)

# A webhook receiver: refuses its first request (503), then keeps each body, one per line,
# after the path it was posted to.
cat >"$work/hook.py" <<'PY'
import http.server, os, sys
out, port_file = sys.argv[1], sys.argv[2]
seen = 0
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen += 1
        code = 503 if seen == 1 else 200
        if code == 200:
            with open(out, "ab") as f:
                f.write(self.path.encode() + b" " + body + b"\n")
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_port))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY
touch "$work/hooks.log"
python3 "$work/hook.py" "$work/hooks.log" "$work/hook.port" &
extra_pids+=($!)
for _ in $(seq 100); do [ -s "$work/hook.port" ] && break; sleep 0.1; done
[ -s "$work/hook.port" ] || fail "the webhook receiver did not start"
hook="http://127.0.0.1:$(cat "$work/hook.port")"

"$central" provision-site -c "$work/central.toml" --tenant acme --site paris --out "$work/paris" \
  --endpoint tcp://127.0.0.1:1 >/dev/null
"$central" create-tenant -c "$work/central.toml" --tenant bolt --name Bolt >/dev/null

# ---- the command line refuses what no rule or webhook takes ----
expect_exit 2 "unknown kind" -- "$central" alerts rule-set "${cfg[@]}" site_gone --threshold 1
grep -q "no alert rule 'site_gone'; there are site_offline," "$work/err" || fail "kind message: $(cat "$work/err")"
expect_exit 2 "threshold out of range" -- "$central" alerts rule-set "${cfg[@]}" out_of_spec_rate --threshold 120
grep -q "threshold is out of range (percent, 0 .. 100)" "$work/err" || fail "range message: $(cat "$work/err")"
expect_exit 2 "clear on the bad side" -- "$central" alerts rule-set "${cfg[@]}" site_offline --threshold 10 --clear 20
grep -q "clear_threshold must be at most the threshold" "$work/err" || fail "clear message: $(cat "$work/err")"
expect_exit 2 "bad severity" -- "$central" alerts rule-set "${cfg[@]}" site_offline --severity urgent
grep -q "one of info, warning, critical, page" "$work/err" || fail "severity message: $(cat "$work/err")"
expect_exit 2 "https webhook" -- "$central" alerts webhook-set "${cfg[@]}" ops --url https://example.org/x
grep -q "is not plain http://host:port/path" "$work/err" || fail "url message: $(cat "$work/err")"
expect_exit 1 "unknown tenant" -- "$central" alerts rules -c "$work/central.toml" --tenant nobody
grep -q "no tenant nobody" "$work/err" || fail "tenant message: $(cat "$work/err")"
expect_exit 2 "nothing to change" -- "$central" alerts rule-set "${cfg[@]}" site_offline
grep -q "nothing to change" "$work/err" || fail "empty rule-set: $(cat "$work/err")"
expect_exit 2 "bad state" -- "$central" alerts list "${cfg[@]}" --state burning
grep -q "state 'burning' is not one of open, pending, firing, resolved" "$work/err" || fail "state message: $(cat "$work/err")"
ok "mes-central alerts refuses an unknown kind or tenant, a threshold out of range, a clear threshold on the bad side, a bad severity, state and URL, and a rule-set that changes nothing, naming them"

# ---- a site never heard from: site_offline fires and is posted ----
expect_exit 0 "webhook-set" -- "$central" alerts webhook-set "${cfg[@]}" ops --url "$hook/hooks/millrace" --min-severity warning
expect_exit 0 "webhook-set pager" -- "$central" alerts webhook-set "${cfg[@]}" pager --url "$hook/pager" --min-severity page
expect_exit 0 "rule-set" -- "$central" alerts rule-set "${cfg[@]}" site_offline --threshold 0 --clear 0 --for-s 0
grep -q '"overridden":true' "$work/out" || fail "rule-set: $(cat "$work/out")"
"$central" alerts rules "${cfg[@]}" | grep -q "^site_offline	on	warning	bad higher than 0, clear at 0 minutes	for 0 s	(the tenant's)" ||
  fail "rules: $("$central" alerts rules "${cfg[@]}")"

rm -f "$work/central.port"
"$central" serve -c "$work/central.toml" --port-file "$work/central.port" 2>>"$work/central.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/central.port" ] && break; sleep 0.1; done
[ -s "$work/central.port" ] || fail "mes-central did not start"
url="http://127.0.0.1:$(cat "$work/central.port")"

# The node schedules an evaluation at once; another, asked for, comes after it.
expect_exit 0 "alert_evaluate" -- "$central" jobs enqueue -c "$work/central.toml" alert_evaluate --wait
"$central" alerts list "${cfg[@]}" --state firing --json >"$work/firing"
grep -q '"kind":"site_offline".*"subject":"lyon"' "$work/firing" || fail "no site_offline alert firing: $(cat "$work/firing")"
grep -q '"severity":"warning"' "$work/firing" || fail "severity: $(cat "$work/firing")"
grep -q '"detail":"never seen"' "$work/firing" || fail "detail: $(cat "$work/firing")"
id=$(python3 -c "import json,sys; print(next(a['id'] for a in map(json.loads, open(sys.argv[1])) if a['subject'] == 'lyon'))" "$work/firing")
[ -n "$id" ] || fail "no alert id in $(cat "$work/firing")"
fired_lyon() { grep '^/hooks/millrace ' "$work/hooks.log" | grep '"event":"fired"' | grep -q '"subject":"lyon"'; }
for _ in $(seq 150); do fired_lyon && break; sleep 0.1; done
fired_lyon || fail "the webhook heard no firing for lyon: $(cat "$work/hooks.log")"
grep -q '^/pager' "$work/hooks.log" && fail "a page-only webhook got a warning: $(cat "$work/hooks.log")"
# Two firings (lyon and paris), one delivery each; the first one tried was refused once.
for _ in $(seq 100); do
  notify=$("$central" jobs list -c "$work/central.toml" --kind alert_notify --state succeeded --json)
  [ "$(grep -c . <<<"$notify")" = 2 ] && break
  sleep 0.1
done
[ "$(grep -c '"attempts":2' <<<"$notify")" = 1 ] || fail "the refused delivery was not retried once: $notify"
ok "a site never heard from fires site_offline; the webhook's first refusal is retried (attempt 2) and it hears the firing, a page-only webhook does not"

# ---- acknowledged from the command line and over HTTP ----
expect_exit 0 "ack" -- "$central" alerts ack "${cfg[@]}" "$id" --comment "calling the site" --actor ana
grep -q "acknowledged by ana" "$work/out" || fail "ack: $(cat "$work/out")"
acme_token=$("$central" api-token create -c "$work/central.toml" --tenant acme --name admin --role tenant_admin 2>/dev/null | head -1)
viewer_token=$("$central" api-token create -c "$work/central.toml" --tenant acme --name look 2>/dev/null | head -1)
paris_token=$("$central" api-token create -c "$work/central.toml" --tenant acme --name paris --role site_manager --sites paris 2>/dev/null | head -1)
bolt_token=$("$central" api-token create -c "$work/central.toml" --tenant bolt --name admin --role tenant_admin 2>/dev/null | head -1)
api() {  # api TOKEN METHOD PATH [BODY] -> "<status> <body>"
  local code
  code=$(curl -s -o "$work/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
    ${4:+-H 'Content-Type: application/json' --data "$4"} "$url$3" || true)
  echo "$code $(cat "$work/body")"
}
r=$(api "$viewer_token" GET /api/v1/alerts); [[ $r == 403* ]] || fail "a viewer lists alerts: $r"
r=$(api "$acme_token" POST "/api/v1/alerts/$id/ack" '{"comment":"site called back","colour":1}')
[[ $r == "400 "*"unknown field 'colour'"* ]] || fail "ack with an unknown field: $r"
r=$(api "$acme_token" POST "/api/v1/alerts/$id/ack" '{"comment":"site called back"}')
[[ $r == "200 "*'"ack_comment":"site called back"'* ]] || fail "ack over HTTP: $r"
r=$(api "$acme_token" GET "/api/v1/alerts?state=open")
[[ $r == "200 "*"\"id\":$id,"* ]] || fail "open alerts over HTTP: ${r:0:300}"
r=$(api "$acme_token" GET "/api/v1/alerts?tenant=bolt"); [[ $r == 403* ]] || fail "acme's admin asks for bolt's alerts: $r"
r=$(api "$bolt_token" GET "/api/v1/alerts/$id"); [[ $r == 404* ]] || fail "bolt's admin reads acme's alert: $r"
r=$(api "$bolt_token" POST "/api/v1/alerts/$id/ack" '{"comment":"mine now"}'); [[ $r == 404* ]] || fail "bolt's admin acknowledges acme's alert: $r"
r=$(api "$paris_token" GET "/api/v1/alerts?state=open")
[[ $r == "200 "*'"subject":"paris"'* && $r != *'"subject":"lyon"'* ]] || fail "paris's manager sees: ${r:0:400}"
r=$(api "$paris_token" GET "/api/v1/alerts/$id"); [[ $r == 404* ]] || fail "paris's manager reads lyon's alert: $r"
r=$(api "$paris_token" POST "/api/v1/alerts/$id/ack" '{"comment":"not mine"}'); [[ $r == 404* ]] || fail "paris's manager acknowledges lyon's alert: $r"
r=$(api "$acme_token" GET "/api/v1/alerts?limit=0"); [[ $r == "400 "*"limit must be within 1 .. 1000, got 0"* ]] || fail "limit 0: $r"
r=$(api "$acme_token" GET "/api/v1/alerts?colour=red"); [[ $r == "400 "*"unknown query parameter 'colour'"* ]] || fail "unknown parameter: $r"
ok "the alert is acknowledged with a comment from the command line and over HTTP; another tenant's admin and another site's manager do not find it, a viewer is refused, an unknown field or parameter and a limit out of range named"

# ---- a rule changed over HTTP resolves it ----
r=$(api "$acme_token" PUT /api/v1/alert-webhooks/pager "{\"url\":\"$hook/pager\"}")
[[ $r == "200 "*'"min_severity":"page"'* ]] || fail "a webhook changed without min_severity: $r"
r=$(api "$acme_token" PUT /api/v1/alert-rules/site_offline '{}')
[[ $r == "400 "*"nothing to change"* ]] || fail "an empty rule change: $r"
r=$(api "$acme_token" PUT /api/v1/alert-rules/site_offline '{"threshold":"x"}')
[[ $r == "400 "*"'threshold': expected a number"* ]] || fail "a threshold of the wrong type: $r"
r=$(api "$acme_token" PUT /api/v1/alert-rules/site_offline '{"threshold":60,"clear_threshold":90}')
[[ $r == "400 "*"clear_threshold must be at most the threshold"* ]] || fail "clear on the bad side: $r"
r=$(api "$acme_token" PUT /api/v1/alert-rules/site_offline '{"threshold":60,"clear_threshold":30}')
[[ $r == "200 "*'"threshold":60'* ]] || fail "rule over HTTP: $r"
expect_exit 0 "alert_evaluate" -- "$central" jobs enqueue -c "$work/central.toml" alert_evaluate --wait
"$central" alerts show "${cfg[@]}" "$id" >"$work/show"
grep -q '"state": "resolved"' "$work/show" || fail "not resolved: $(cat "$work/show")"
for _ in $(seq 150); do grep -q '"event":"resolved"' "$work/hooks.log" && break; sleep 0.1; done
grep -q '^/hooks/millrace .*"event":"resolved"' "$work/hooks.log" || fail "the webhook heard no resolving: $(cat "$work/hooks.log")"
for _ in $(seq 100); do [ "$(grep -c '"event": "notified"' "$work/show")" = 2 ] && break; sleep 0.1; "$central" alerts show "${cfg[@]}" "$id" >"$work/show"; done
events=$(python3 -c "import json,sys; print(' '.join(e['event'] for e in json.load(open(sys.argv[1]))['history']))" "$work/show")
[ "$events" = "fired notified acknowledged acknowledged resolved notified" ] || fail "history: $events"
r=$(api "$acme_token" POST "/api/v1/alerts/$id/ack" '{"comment":"late"}')
[[ $r == "422 "*"alert $id is resolved"* ]] || fail "ack of a resolved alert: $r"
ok "a rule changed over HTTP resolves the alert, the webhook hears it, and the history reads: $events"

kill -TERM "$pid"; wait "$pid"; pid=
echo "$passed passed, 0 failed"
