#!/usr/bin/env bash
# The offline site bundle on a real minimal Debian 12, with the network cut.
#
# Builds the packages from this build, provisions site lyon at a real central (PostgreSQL
# from the fixture), makes lyon's bundle (installers/site-bundle, signed with a throwaway
# minisign key), and creates a minimal Debian 12 root (debootstrap --variant=minbase; kept
# in MILLRACE_DEBIAN_ROOT_CACHE, default /var/tmp/millrace-debian-root.tar, between runs).
# In a network namespace of its own with nothing but loopback, chrooted into that root:
#   - a damaged bundle and one checked against another key are refused, nothing installed;
#   - the bundle installs (no network) and the edge serves the terminal and takes a shift's
#     work from mes-sim, which waits in its outbox;
#   - the WAN appears (a bridge from the namespace to central) and the outbox drains: central
#     holds every production event the edge holds;
#   - dpkg -r keeps the store and the configuration; dpkg -P deletes them;
#   - a bundle with an enrollment code instead of keys installs, and the edge enrolls once
#     central's HTTP API is reachable, then syncs with the key it made.
# Usage: debian_root_test.sh SOURCE_DIR BUILD_DIR   (MILLRACE_TEST_PG from the fixture)
set -euo pipefail
src=$1 build=$2
: "${MILLRACE_TEST_PG:?MILLRACE_TEST_PG is not set: run through ctest (fixture postgres)}"
[ "$(id -u)" = 0 ] || { echo "debian_root_test: needs root (debootstrap, chroot, namespaces)"; exit 1; }
central_bin="$build/central/mes-central"
cache=${MILLRACE_DEBIAN_ROOT_CACHE:-/var/tmp/millrace-debian-root.tar}
work=$(mktemp -d /var/tmp/millrace-root-test.XXXXXX)
db="root_$$"
pids=()
holder= inner=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The namespace's first process: its end ends every process in the namespace.
  [ -z "$inner" ] || kill -9 "$inner" 2>/dev/null || true
  [ -z "$holder" ] || kill -9 "$holder" 2>/dev/null || true
  sleep 0.5
  psql "$MILLRACE_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
wait_for() {  # wait_for SECONDS DESCRIPTION -- command...
  local secs=$1 desc=$2; shift 3
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out after ${secs}s: $desc"
}

# ---- the packages and central ----
cpack --config "$build/CPackConfig.cmake" -B "$work/pkgs" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
edge_deb=$(ls "$work"/pkgs/millrace-edge_*.deb)
psql "$MILLRACE_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null
db_url="$MILLRACE_TEST_PG dbname=$db"
# Central connects as the application role (row-level security); the test reads as owner.
"$central_bin" keygen --secret "$work/central.key" --public "$work/central.pub" >/dev/null
cat >"$work/central.toml" <<TOML
[database]
url = "$db_url user=millrace_app"
[sync]
bind = "tcp://127.0.0.1:*"
secret_key_file = "central.key"
[http]
port = 0
[log]
level = "warn"
TOML
"$central_bin" migrate --db "$db_url" >/dev/null
"$central_bin" create-tenant -c "$work/central.toml" --tenant acme --name Acme >/dev/null
"$central_bin" seed-demo -c "$work/central.toml" --tenant acme --sites lyon >/dev/null
# A work order per line, released to lyon from central: the floor's work arrives with the
# site's snapshot.
q() { psql "$db_url" -Atc "$1"; }
for line in "LINE-1 BRKT-100 WO-1001" "LINE-2 HOUSING-200 WO-1002"; do
  set -- $line
  line_id=$(q "SELECT id FROM millrace.equipment WHERE tenant_id = 'acme' AND site_id = 'lyon' AND code = '$1'")
  product=$(q "SELECT id FROM millrace.material_definition WHERE tenant_id = 'acme' AND code = '$2'")
  [ -n "$line_id" ] && [ -n "$product" ] || fail "the demo has no $1 or $2"
  echo "{\"site_id\": \"lyon\", \"number\": \"$3\", \"material_id\": \"$product\", \"line_id\": \"$line_id\",
         \"planned_quantity\": 500, \"priority\": 3, \"status\": \"Draft\", \"good_quantity\": 0,
         \"scrap_quantity\": 0}" |
    "$central_bin" put -c "$work/central.toml" --tenant acme --table work_order >/dev/null
done
"$central_bin" provision-site -c "$work/central.toml" --tenant acme --site lyon --out "$work/lyon" \
  --endpoint tcp://127.0.0.1:7400 --time-zone Europe/Paris >/dev/null
# Porto is installed later from a bundle with a one-time enrollment code instead of keys;
# central's HTTP port reaches the namespace as 127.0.0.1:7401.
"$central_bin" provision-site -c "$work/central.toml" --tenant acme --site porto --out "$work/porto" \
  --endpoint tcp://127.0.0.1:7400 --time-zone Europe/Lisbon --enroll-hours 4 \
  --enroll-url http://127.0.0.1:7401 >/dev/null
"$central_bin" serve -c "$work/central.toml" --sync-endpoint-file "$work/sync.endpoint" \
  --port-file "$work/central.port" 2>"$work/central.log" &
pids+=($!)
wait_for 30 "central's sync endpoint" -- test -s "$work/sync.endpoint"
sync_port=$(sed 's/.*://' "$work/sync.endpoint")
ok "central serves site lyon (sync on 127.0.0.1:$sync_port)"

# ---- the bundle ----
minisign -G -W -p "$work/bundle.pub" -s "$work/bundle.key" >/dev/null
minisign -G -W -p "$work/other.pub" -s "$work/other.key" >/dev/null
start=$(date +%s.%N)
"$src/installers/site-bundle" --site-dir "$work/lyon" --edge-deb "$edge_deb" \
  --sign-key "$work/bundle.key" --out "$work/lyon.bundle" >"$work/bundle.log" 2>&1 ||
  { cat "$work/bundle.log" >&2; fail "site-bundle"; }
minisign -V -q -p "$work/bundle.pub" -m "$work/lyon.bundle" || fail "the bundle's own signature"
"$src/installers/site-bundle" --site-dir "$work/porto" --edge-deb "$edge_deb" \
  --sign-key "$work/bundle.key" --out "$work/porto.bundle" >"$work/bundle-porto.log" 2>&1 ||
  { cat "$work/bundle-porto.log" >&2; fail "site-bundle (porto, with an enrollment code)"; }
ok "site-bundle: $(tail -2 "$work/bundle.log" | head -1 | sed 's/^\[site-bundle\] //') in $(since "$start") s"

# ---- a minimal Debian 12 root ----
root="$work/root"
mkdir "$root"
if [ -s "$cache" ]; then
  tar -C "$root" -xf "$cache"
else
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  tar -C "$root" -cf "$cache.partial" . && mv "$cache.partial" "$cache"
fi
chroot "$root" dpkg-query -W -f='${Package}\n' >"$work/root-packages"
for p in minisign libzmq5 libsodium23 procps curl; do
  ! grep -qx "$p" "$work/root-packages" || fail "the minimal root already has $p"
done
ok "a minimal Debian 12 root ($(wc -l <"$work/root-packages") packages; no minisign, libzmq5, libsodium23, procps or curl)"

# The namespace: its own network (loopback only), mounts and processes, chrooted commands.
unshare --net --mount --pid --fork --kill-child --mount-proc="$root/proc" sleep infinity &
holder=$!
wait_for 10 "the namespace" -- sh -c "ps --ppid $holder -o pid= | grep -q ."
inner=$(ps --ppid "$holder" -o pid= | tr -d ' ')
nsenter -t "$inner" -n ip link set lo up
in_root() { nsenter -t "$inner" -n -m -p -- chroot "$root" "$@"; }
in_net() { nsenter -t "$inner" -n -- "$@"; }
in_net sh -c '! getent hosts deb.debian.org >/dev/null && ! curl -s -m 3 http://deb.debian.org/ >/dev/null' ||
  fail "the namespace reaches the network"
ok "the namespace has no network"

cp "$work/lyon.bundle" "$root/root/lyon.bundle"
# A damaged payload: refused, nothing installed.
cp "$work/lyon.bundle" "$root/root/damaged.bundle"
size=$(stat -c %s "$root/root/damaged.bundle")
at=$((size - 20000))
byte=$(od -An -tu1 -j "$at" -N1 "$root/root/damaged.bundle" | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$root/root/damaged.bundle" bs=1 seek="$at" conv=notrunc status=none
cmp -s "$work/lyon.bundle" "$root/root/damaged.bundle" && fail "the damaged copy is not damaged"
cp "$work/bundle.pub" "$root/root/bundle.pub"; cp "$work/other.pub" "$root/root/other.pub"
set +e; in_root sh /root/damaged.bundle --pubkey /root/bundle.pub >"$work/damaged.log" 2>&1; code=$?; set -e
[ "$code" != 0 ] && grep -q "nothing was installed" "$work/damaged.log" ||
  { cat "$work/damaged.log" >&2; fail "a damaged bundle should be refused"; }
set +e; in_root sh /root/lyon.bundle --pubkey /root/other.pub >"$work/forged.log" 2>&1; code=$?; set -e
[ "$code" != 0 ] && grep -q "signature does not verify" "$work/forged.log" ||
  { cat "$work/forged.log" >&2; fail "a bundle checked against another key should be refused"; }
! in_root dpkg-query -W millrace-edge >/dev/null 2>&1 || fail "a refused bundle installed something"
ok "a damaged bundle and one checked against another key are refused; nothing installed"

# ---- the installation, offline ----
key=$(tail -1 "$work/bundle.pub")
start=$(date +%s.%N)
in_root sh /root/lyon.bundle --pubkey "$key" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "the bundle did not install"; }
took=$(since "$start")
cat "$work/install.log" | sed 's/^/      /'
for n in 1 2 3 4 5 6 7; do grep -q "^\[$n/7\]" "$work/install.log" || fail "no progress step $n/7"; done
in_net curl -sf http://127.0.0.1:8080/ready >/dev/null || fail "the edge is not ready after the installation"
# (whole answers read before grep: grep -q ending a pipe early would fail curl under pipefail)
grep -qi "<html" <<<"$(in_net curl -sf http://127.0.0.1:8080/)" || fail "the edge serves no terminal page"
[ "$(in_root stat -c "%U %a" /var/lib/millrace/edge/site.key)" = "millrace 600" ] ||
  fail "site.key is not millrace's 0600"
[ -s "$root/etc/millrace/bundle-signing.pub" ] || fail "the signing key was not recorded"
ok "the bundle installed offline in ${took} s and the edge serves the terminal"

in_root mes-sim --edge http://127.0.0.1:8080 --units 2 --cycle-ms 20 --duration 60 --events 60 --seed 7 \
  >"$work/sim.log" 2>&1 || { cat "$work/sim.log" >&2; fail "mes-sim against the installed edge"; }
backlog() { in_net curl -sf http://127.0.0.1:8080/metrics | sed -n 's/^mes_outbox_backlog_rows \([0-9.e+]*\)$/\1/p'; }
waiting=$(backlog)
[ "${waiting%.*}" -gt 0 ] || fail "no work waits in the outbox: $waiting"
edge_events() { sqlite3 "file:$root/var/lib/millrace/edge/edge.db?mode=ro" "SELECT count(*) FROM production_event"; }
events=$(edge_events)
[ "$events" -gt 0 ] || fail "the edge holds no production events"
ok "the edge keeps working offline: $events production events, $waiting changes waiting for central"

# ---- the WAN appears ----
socat UNIX-LISTEN:"$work/wan.sock",fork TCP:127.0.0.1:"$sync_port" &
pids+=($!)
wait_for 10 "the host end of the bridge" -- test -S "$work/wan.sock"
nsenter -t "$inner" -n -- socat TCP-LISTEN:7400,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$work/wan.sock" &
pids+=($!)
start=$(date +%s.%N)
wait_for 90 "the outbox to drain once central is reachable" -- sh -c "[ \"\$(nsenter -t $inner -n curl -sf http://127.0.0.1:8080/metrics | sed -n 's/^mes_outbox_backlog_rows \([0-9]*\)$/\1/p')\" = 0 ]"
took=$(since "$start")
events=$(edge_events)
at_central=$(psql "$db_url" -Atc "SELECT count(*) FROM millrace.production_event WHERE tenant_id = 'acme' AND site_id = 'lyon'")
[ "$at_central" = "$events" ] || fail "central holds $at_central production events, the edge $events"
ok "once the WAN appears the edge syncs: central holds all $events production events (${took} s)"

# ---- a fleet on mixed versions, and upgrades ----
cur=$(sed -n 's/^inline constexpr int kEdgeSchemaVersion = \([0-9]*\);$/\1/p' "$src/common/include/millrace/common/schema_versions.h")
prev=$((cur - 1)) next=$((cur + 1))
# Two builds of the next release from this tree: 0.1.0+up1 adds an edge migration (a
# table: edge schema $next; its central serves edge schemas $cur and $next), 0.1.0+up2 adds one more
# that fails.
echo "CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL);" >"$work/upgrade_probe.sql"
echo "INSERT INTO no_such_table VALUES (1);" >"$work/fails_on_purpose.sql"
start=$(date +%s.%N)
good_deb=$("$src/tests/support/release_variant.sh" "$src" "$work/variant" 0.1.0+up1 "$work/next" \
  "$work/upgrade_probe.sql")
cp "$work/variant/build/central/mes-central" "$work/mes-central-next"
bad_deb=$("$src/tests/support/release_variant.sh" "$src" "$work/variant" 0.1.0+up2 "$work/next" \
  "$work/fails_on_purpose.sql")
ok "built the next releases: $(basename "$good_deb") and $(basename "$bad_deb") in $(since "$start") s"
for v in good bad; do
  deb=${v}_deb
  "$src/installers/site-bundle" --site-dir "$work/lyon" --edge-deb "${!deb}" \
    --sign-key "$work/bundle.key" --out "$root/root/$v.bundle" \
    >"$work/bundle-$v.log" 2>&1 || { cat "$work/bundle-$v.log" >&2; fail "site-bundle ($v)"; }
done
schema() { sqlite3 "file:$root/var/lib/millrace/edge/edge.db?mode=ro" "PRAGMA user_version"; }
version() { in_root dpkg-query -W -f='${Version}' millrace-edge; }
sync_connected() { grep -q '"connected":true' <<<"$(in_net curl -sf http://127.0.0.1:8080/api/v1/sync)"; }
central_says() { psql "$db_url" -Atc "SELECT coalesce(edge_schema::text, '-') || ' ' || coalesce(edge_refusal, '') FROM millrace.sync_site WHERE tenant_id = 'acme' AND site_id = 'lyon'"; }
wait_for 30 "the edge to be connected to central" -- sync_connected
[ "$(central_says)" = "$cur " ] || fail "central's record of lyon's edge: $(central_says)"

# The edge first: central (edge schemas $prev and $cur) refuses edge schema $next, naming both
# versions, and the upgrade rolls back.
before=$(edge_events)
in_root env MILLRACE_UPGRADE_TIMEOUT=15 sh /root/good.bundle >"$work/too-new.log" 2>&1 &
upgrade=$!
refusal_recorded() { central_says | grep -q "^$next edge schema $next (mes-edge .*) is newer than this central serves edge schemas $prev to $cur: upgrade central first$"; }
wait_for 30 "central to record the refusal for its fleet view" -- refusal_recorded
set +e; wait "$upgrade"; code=$?; set -e
sed 's/^/      /' "$work/too-new.log"
[ "$code" = 3 ] && grep -q "edge schema $next (mes-edge .*) is newer than this central serves edge schemas $prev to $cur: upgrade central first" "$work/too-new.log" ||
  fail "an edge newer than central serves should be refused with both versions and rolled back (exit $code)"
[ "$(version)" = 0.1.0 ] && [ "$(schema)" = $cur ] && [ "$(edge_events)" = "$before" ] ||
  fail "after the refused upgrade: $(version), schema $(schema), $(edge_events) of $before events"
grep -q "refusing a store of site acme/lyon: edge schema $next (mes-edge .*) is newer than this central serves edge schemas $prev to $cur" "$work/central.log" ||
  fail "central did not log the refusal"
ok "an edge newer than central is refused with both versions named (central keeps the refusal for its fleet view) and rolled back"

# Central first: the next central serves edge schemas $cur and $next, so lyon, one behind, syncs
# with it; then lyon's upgrade to edge schema $next succeeds.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$work/mes-central-next" serve -c "$work/central.toml" --sync-endpoint-file "$work/sync2.endpoint" \
  --port-file "$work/central2.port" 2>"$work/central2.log" &
pids[0]=$!
wait_for 30 "the next central's sync endpoint" -- test -s "$work/sync2.endpoint"
sync_port=$(sed 's/.*://' "$work/sync2.endpoint")
kill "${pids[1]}" 2>/dev/null || true
socat UNIX-LISTEN:"$work/wan2.sock",fork TCP:127.0.0.1:"$sync_port" &
pids[1]=$!
wait_for 10 "the host end of the bridge" -- test -S "$work/wan2.sock"
kill "${pids[2]}" 2>/dev/null || true
sleep 0.5
nsenter -t "$inner" -n -- socat TCP-LISTEN:7400,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$work/wan2.sock" &
pids[2]=$!
in_root mes-sim --edge http://127.0.0.1:8080 --units 2 --cycle-ms 20 --duration 60 --events 20 --seed 6 >"$work/sim1.log" 2>&1 ||
  { cat "$work/sim1.log" >&2; fail "mes-sim before the edge's upgrade"; }
wait_for 90 "edge schema $cur to sync with the next central" -- sh -c "[ \"\$(nsenter -t $inner -n curl -sf http://127.0.0.1:8080/metrics | sed -n 's/^mes_outbox_backlog_rows \([0-9]*\)$/\1/p')\" = 0 ]"
[ "$(central_says)" = "$cur " ] || fail "the next central's record of lyon's edge: $(central_says)"
events=$(edge_events)
[ "$(psql "$db_url" -Atc "SELECT count(*) FROM millrace.production_event WHERE site_id = 'lyon'")" = "$events" ] ||
  fail "the next central does not hold the edge's $events production events"
ok "lyon, one edge schema behind, syncs with the next central: all $events production events"

before=$(edge_events)
start=$(date +%s.%N)
in_root sh /root/good.bundle >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log" >&2; fail "the good upgrade"; }
took=$(since "$start")
sed 's/^/      /' "$work/upgrade.log"
grep -q "upgraded to millrace-edge 0.1.0+up1" "$work/upgrade.log" || fail "the upgrade did not say so"
grep -q "signed by the key of the bundle installed here before" "$work/upgrade.log" ||
  fail "the upgrade was not checked against the recorded key"
[ "$(version)" = 0.1.0+up1 ] && [ "$(schema)" = $next ] || fail "after the upgrade: $(version), schema $(schema)"
[ "$(edge_events)" = "$before" ] || fail "the upgrade lost production events: $(edge_events) of $before"
wait_for 30 "central to record edge schema $next" -- sh -c "[ \"\$(psql '$db_url' -Atc \"SELECT edge_schema FROM millrace.sync_site WHERE site_id = 'lyon'\")\" = $next ]"
ok "an upgrade to 0.1.0+up1 (edge schema $next) migrates, is ready and syncing with the next central in ${took} s, nothing lost"

in_root mes-sim --edge http://127.0.0.1:8080 --units 2 --cycle-ms 20 --duration 60 --events 30 --seed 8 >"$work/sim2.log" 2>&1 ||
  { cat "$work/sim2.log" >&2; fail "mes-sim after the upgrade"; }
before=$(edge_events)
start=$(date +%s.%N)
set +e; in_root env MILLRACE_UPGRADE_TIMEOUT=20 sh /root/bad.bundle >"$work/rollback.log" 2>&1; code=$?; set -e
took=$(since "$start")
# expect_rolled_back CODE LOG WHAT: exit 3 and said so, 0.1.0+up1 ready on its store, no event lost.
expect_rolled_back() {
  sed 's/^/      /' "$2"
  [ "$1" = 3 ] && grep -q "ROLLED BACK: site lyon runs millrace-edge 0.1.0+up1 again" "$2" ||
    fail "$3 should roll back and say so (exit $1)"
  [ "$(version)" = 0.1.0+up1 ] && [ "$(schema)" = $next ] || fail "after $3: $(version), schema $(schema)"
  in_net curl -sf http://127.0.0.1:8080/ready >/dev/null || fail "the edge is not ready after $3"
  [ "$(edge_events)" = "$before" ] || fail "$3 lost production events: $(edge_events) of $before"
}
expect_rolled_back "$code" "$work/rollback.log" "the failed upgrade"
ok "an upgrade whose migration fails is rolled back in ${took} s: 0.1.0+up1 runs again on its store, nothing lost"

in_root mes-sim --edge http://127.0.0.1:8080 --units 2 --cycle-ms 20 --duration 60 --events 30 --seed 9 >"$work/sim3.log" 2>&1 ||
  { cat "$work/sim3.log" >&2; fail "mes-sim after the rollback"; }
wait_for 90 "the outbox to drain after the rollback" -- sh -c "[ \"\$(nsenter -t $inner -n curl -sf http://127.0.0.1:8080/metrics | sed -n 's/^mes_outbox_backlog_rows \([0-9]*\)$/\1/p')\" = 0 ]"
events=$(edge_events)
at_central=$(psql "$db_url" -Atc "SELECT count(*) FROM millrace.production_event WHERE tenant_id = 'acme' AND site_id = 'lyon'")
[ "$at_central" = "$events" ] || fail "after the rollback central holds $at_central production events, the edge $events"
ok "the rolled-back edge works on and syncs: central holds all $events production events"

# The same upgrade from the bare package, without a bundle: millrace-edge-upgrade.
cp "$bad_deb" "$root/root/"
before=$(edge_events)
start=$(date +%s.%N)
set +e; in_root millrace-edge-upgrade --timeout 20 "/root/$(basename "$bad_deb")" >"$work/deb-rollback.log" 2>&1; code=$?; set -e
took=$(since "$start")
expect_rolled_back "$code" "$work/deb-rollback.log" "millrace-edge-upgrade of the failing package"
ok "millrace-edge-upgrade rolls back a failing package in ${took} s: 0.1.0+up1 runs again, nothing lost"

# ---- remove keeps the data, purge deletes it ----
in_root sh -c 'kill -TERM "$(cat /var/lib/millrace/edge/mes-edge.pid)"'
wait_for 30 "mes-edge to stop" -- sh -c "! nsenter -t $inner -n curl -sf http://127.0.0.1:8080/health"
in_root dpkg -r millrace-edge >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r"; }
[ -f "$root/var/lib/millrace/edge/edge.db" ] || fail "dpkg -r deleted the store"
[ -f "$root/etc/millrace/edge.toml" ] || fail "dpkg -r deleted the configuration"
[ ! -e "$root/usr/bin/mes-edge" ] || fail "dpkg -r left mes-edge"
in_root dpkg -P millrace-edge >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg -P"; }
[ ! -e "$root/var/lib/millrace/edge" ] || fail "dpkg -P kept /var/lib/millrace/edge"
[ ! -e "$root/etc/millrace/edge.toml" ] || fail "dpkg -P kept /etc/millrace/edge.toml"
in_root getent passwd millrace >/dev/null || fail "the millrace user should stay"
ok "dpkg -r keeps the store and configuration; dpkg -P deletes them"

# ---- a site enrolled on first contact ----
# Porto's bundle holds a one-time code, no keys: the edge makes its key pair at its first
# start, works at once, and registers the public key with the code at central's HTTP API
# once it is reachable; then it syncs with that key.
cp "$work/porto.bundle" "$root/root/porto.bundle"
grep -q '^enrollment_code = ' "$work/porto/edge.toml" || fail "porto was provisioned without a code"
in_root sh /root/porto.bundle --pubkey "$key" >"$work/porto-install.log" 2>&1 ||
  { cat "$work/porto-install.log" >&2; fail "porto's bundle did not install"; }
sed 's/^/      /' "$work/porto-install.log"
[ "$(in_root stat -c "%U %a" /var/lib/millrace/edge/site.key)" = "millrace 600" ] ||
  fail "the edge did not make its own site.key (millrace, 0600)"
[ "$(in_root stat -c "%U %a" /etc/millrace/edge.toml)" = "root 640" ] ||
  fail "the configuration holding the code is not readable by millrace only"
[ ! -e "$root/var/lib/millrace/edge/site.key.enrolled" ] || fail "enrolled with central's HTTP API out of reach"
grep -q '^mes_edge_enrollment_pending 1' <<<"$(in_net curl -sf http://127.0.0.1:8080/metrics)" ||
  fail "the edge does not show its enrollment pending"
central_http=$(cat "$work/central2.port")
socat UNIX-LISTEN:"$work/http.sock",fork TCP:127.0.0.1:"$central_http" &
pids+=($!)
wait_for 10 "the host end of the HTTP bridge" -- test -S "$work/http.sock"
nsenter -t "$inner" -n -- socat TCP-LISTEN:7401,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$work/http.sock" &
pids+=($!)
start=$(date +%s.%N)
wait_for 90 "porto to enroll" -- test -e "$root/var/lib/millrace/edge/site.key.enrolled"
took=$(since "$start")
wait_for 60 "porto to sync with its new key" -- sync_connected
[ "$(psql "$db_url" -Atc "SELECT used_at IS NOT NULL FROM millrace.sync_enrollment WHERE site_id = 'porto'")" = t ] ||
  fail "central did not spend porto's code"
[ "$(psql "$db_url" -Atc "SELECT edge_schema FROM millrace.sync_site WHERE site_id = 'porto'")" = "$cur" ] ||
  fail "central has not served porto's edge"
grep -q "$(sed -n 's/^enrollment_code = "\(.*\)"$/\1/p' "$work/porto/edge.toml")" "$work/central2.log" &&
  fail "the code is in central's log"
ok "porto, installed offline with a one-time code, enrolled ${took} s after central's HTTP API became reachable and syncs with the key it made"
echo "debian root: $passed checks passed"
