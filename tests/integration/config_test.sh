#!/usr/bin/env bash
# The configuration reference and `config check` of both daemons: the published reference
# (deploy/config/README.md) is what this build prints; a good file checks out with a summary;
# a bad value, an unknown key, a missing file and a secret key readable by others are each
# refused with exit 2 and the key named.
# Usage: config_test.sh SOURCE_DIR MES_EDGE MES_CENTRAL
set -euo pipefail
src=$1 edge=$2 central=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }

# expect CODE PATTERN DESCRIPTION -- command...: exits CODE and prints PATTERN (stdout+stderr).
expect() {
  local want=$1 pattern=$2 desc=$3; shift 4
  set +e; "$@" >"$work/out" 2>&1; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out" >&2; fail "$desc: exit $got, wanted $want"; }
  grep -q -- "$pattern" "$work/out" || { cat "$work/out" >&2; fail "$desc: no '$pattern'"; }
  ok "$desc"
}

"$src/deploy/config/make_reference" "$edge" "$central" >"$work/reference.md"
diff -u "$src/deploy/config/README.md" "$work/reference.md" ||
  fail "deploy/config/README.md is not what this build prints: run deploy/config/make_reference"
ok "deploy/config/README.md is what the binaries print"
grep -q '^- `keep_facts_days`: integer 0..36500, default `365`' "$work/reference.md" ||
  fail "the reference lacks retention.keep_facts_days with its range and default"
ok "the reference gives a key's type, range and default"

# Keys: a real pair made by central, the secret 0600.
"$central" keygen --secret "$work/site.key" --public "$work/site.pub" >/dev/null
"$central" keygen --secret "$work/central.key" --public "$work/central.pub" >/dev/null
mkdir "$work/data"
cat >"$work/edge.toml" <<TOML
[site]
id = "lyon"
[store]
path = "data/edge.db"
[sync]
endpoints = ["tcp://central.example:7400"]
secret_key_file = "site.key"
central_public_key_file = "central.pub"
[http]
listen = "0.0.0.0"
TOML
expect 0 "sync to tcp://central.example:7400 over Curve" "a good edge file checks out" -- \
  "$edge" config check "$work/edge.toml"
grep -q "http http://0.0.0.0:8080" "$work/out" || fail "the summary lacks the HTTP address"

sed 's/listen = "0.0.0.0"/port = 70000/' "$work/edge.toml" >"$work/bad-port.toml"
expect 2 "key 'http.port': expected an integer in 0..65535, got 70000" "an out-of-range port" -- \
  "$edge" config check "$work/bad-port.toml"
sed 's/listen = /lisen = /' "$work/edge.toml" >"$work/typo.toml"
expect 2 "unknown key(s) 'http.lisen'" "an unknown key" -- "$edge" config check "$work/typo.toml"
sed 's/"central[.]pub"/"missing.pub"/' "$work/edge.toml" >"$work/missing.toml"
expect 2 "sync.central_public_key_file" "a missing key file" -- \
  "$edge" config check "$work/missing.toml"
sed 's#data/edge.db#nowhere/edge.db#' "$work/edge.toml" >"$work/nodir.toml"
expect 2 "key 'store.path'" "a store in a directory that does not exist" -- \
  "$edge" config check "$work/nodir.toml"
chmod 644 "$work/site.key"
expect 2 "chmod 600" "a secret key readable by others" -- "$edge" config check "$work/edge.toml"
chmod 600 "$work/site.key"

cat >"$work/central.toml" <<TOML
[database]
url = "host=/run/postgresql dbname=millrace"
[sync]
bind = "tcp://*:7400"
secret_key_file = "central.key"
[jobs]
workers = 3
TOML
expect 0 "sync on tcp://\*:7400 over Curve" "a good central file checks out" -- \
  "$central" config check "$work/central.toml"
grep -q "jobs: 3 workers" "$work/out" || fail "the summary lacks the job workers"
sed 's/workers = 3/workers = 65/' "$work/central.toml" >"$work/bad-workers.toml"
expect 2 "key 'jobs.workers'" "too many job workers" -- \
  "$central" config check "$work/bad-workers.toml"
printf '[pg_backup]\npgbackrest_config = "nowhere.conf"\n' >>"$work/central.toml"
expect 2 "key 'pg_backup.pgbackrest_config'" "a pgBackRest configuration that is not there" -- \
  "$central" config check "$work/central.toml"
expect 2 "required" "a check without a file" -- "$central" config check
echo "config: $passed checks passed"
