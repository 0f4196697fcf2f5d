#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the test suite (CTest fixture "postgres").
#
#   pg_fixture.sh start DIR PORT   initdb + start; listens only on the unix socket DIR/run
#   pg_fixture.sh stop  DIR PORT   fast shutdown, check none of its processes is left, rm DIR
#
# PostgreSQL refuses to run as root, so as root the server runs as the system user
# 'millrace-test' (created on first use). The superuser inside is 'postgres', trust auth,
# reachable only through the socket directory, which nobody else can enter.
# The tests get "host=DIR/run port=PORT user=postgres dbname=postgres" in MILLRACE_TEST_PG.
set -euo pipefail

cmd=${1:?usage: pg_fixture.sh start|stop DIR PORT}
dir=${2:?missing DIR}
port=${3:?missing PORT}
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/postgres" ] || { echo "pg_fixture: $bin/postgres not found: run installers/deps.sh" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  user=millrace-test
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  fi
  as_user() { runuser -u "$user" -- "$@"; }
else
  user=$(id -un)
  as_user() { "$@"; }
fi

# This cluster's processes: the postmaster of DIR and its children. (Other clusters of the
# same user, e.g. a second build directory's suite running at the same time, are not ours.)
cluster_pids() {
  local pm
  pm=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null || return 0
  echo "$pm"
  pgrep -P "$pm" || true
}

stop_server() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

case "$cmd" in
  start)
    stop_server  # a server left by an interrupted earlier run
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/run"
    chown -R "$user" "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" = 0 ]; then chmod 711 "$dir"; fi  # root (the tests) must reach the socket
    as_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-k $dir/run -c listen_addresses= -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    psql "host=$dir/run port=$port user=postgres dbname=postgres" -qAtc 'SELECT 1' >/dev/null
    echo "pg_fixture: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running as $user at $dir/run:$port"
    ;;
  stop)
    pids=$(cluster_pids | tr '\n' ' ')
    stop_server
    for _ in $(seq 50); do
      left=""
      for p in $pids; do kill -0 "$p" 2>/dev/null && left+="$p "; done
      [ -z "$left" ] && break
      sleep 0.2
    done
    if [ -n "$left" ]; then
      echo "pg_fixture: postgres processes of the cluster in $dir still running after stop: $left" >&2
      exit 1
    fi
    rm -rf "$dir"
    echo "pg_fixture: stopped; none of the cluster's processes (${pids:-none}) is left"
    ;;
  *) echo "usage: pg_fixture.sh start|stop DIR PORT" >&2; exit 2 ;;
esac
