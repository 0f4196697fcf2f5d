# What a process-level test of mes-central starts from; sourced by tests/integration/*.sh:
#   source central_env.sh NAME MES_CENTRAL
# gives $central, a work directory $work (removed on exit), a database NAME_$$ in the
# fixture's PostgreSQL (dropped on exit) migrated by mes-central, a key pair and a
# $work/central.toml for it (one job worker, 3 s leases, any free ports), tenant acme with
# site lyon provisioned into $work/lyon, and helpers: ok, fail, expect_exit. A test keeps
# the pid of its mes-central in $pid and of any other process it starts in $extra_pids; they
# are killed on exit.
set -euo pipefail
central_env_name=$1
central=$2
: "${MILLRACE_TEST_PG:?MILLRACE_TEST_PG is not set: run through ctest (fixture postgres)}"
unset MILLRACE_LOG_LEVEL

work=$(mktemp -d)
pid=
extra_pids=()
db="${central_env_name}_$$"
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  local p
  for p in "${extra_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  psql "$MILLRACE_TEST_PG" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; [ -f "$work/central.log" ] && tail -20 "$work/central.log" >&2; exit 1; }
# expect_exit CODE DESCRIPTION -- command...: runs it, output in $work/out and $work/err.
expect_exit() {
  local want=$1 desc=$2; shift 3
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "$desc: exit $got, wanted $want"; }
}

psql "$MILLRACE_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null
"$central" migrate --db "$MILLRACE_TEST_PG dbname=$db" >/dev/null
"$central" keygen --secret "$work/central.key" --public "$work/central.pub" >/dev/null
cat >"$work/central.toml" <<TOML
[database]
url = "$MILLRACE_TEST_PG dbname=$db user=millrace_app"
[sync]
bind = "tcp://127.0.0.1:*"
secret_key_file = "central.key"
[jobs]
workers = 1
lease_seconds = 3
[http]
port = 0
[log]
level = "info"
TOML
"$central" create-tenant -c "$work/central.toml" --tenant acme --name Acme >/dev/null
"$central" provision-site -c "$work/central.toml" --tenant acme --site lyon --out "$work/lyon" \
  --endpoint tcp://127.0.0.1:1 >/dev/null
