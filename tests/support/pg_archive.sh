#!/usr/bin/env bash
# A throwaway PostgreSQL 15 that archives its WAL to a pgBackRest repository beside it, as
# deploy/local/up sets up central's cluster: for the point-in-time recovery tests.
#
#   pg_archive.sh start DIR PORT           initdb, pgBackRest's config (stanza millrace),
#                                          archive_command, start; prints the conninfo
#   pg_archive.sh restore DIR PORT TARGET  stop, `pgbackrest restore --type=time` to TARGET
#                                          (as the README says), start, wait out recovery
#   pg_archive.sh command DIR              the pgbackrest command line as central's TOML
#                                          list (run as the cluster's owner)
#   pg_archive.sh stop DIR PORT            stop and remove DIR
#
# Unix socket DIR/run only; as root the server runs as 'millrace-test' (pg_fixture.sh).
set -euo pipefail

cmd=${1:?usage: pg_archive.sh start|restore|command|stop DIR [PORT [TARGET]]}
dir=${2:?missing DIR}
bin=/usr/lib/postgresql/15/bin
command -v pgbackrest >/dev/null || { echo "pg_archive: pgbackrest is not installed: run installers/deps.sh" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then
  user=millrace-test
  id -u "$user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  as_pg() { runuser -u "$user" -- "$@"; }
  toml_command="\"runuser\", \"-u\", \"$user\", \"--\", \"pgbackrest\""
else
  user=$(id -un)
  as_pg() { "$@"; }
  toml_command='"pgbackrest"'
fi
conf="$dir/pbr/pgbackrest.conf"
pg_start() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir/run -c listen_addresses= -p $1 -c max_connections=200" start >/dev/null ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
}
pg_stop() { [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null; true; }

case "$cmd" in
  start)
    port=${3:?missing PORT}
    pg_stop 2>/dev/null || true
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/run" "$dir/pbr/repo" "$dir/pbr/lock" "$dir/pbr/log" "$dir/pbr/spool"
    chown -R "$user" "$dir"
    chmod 700 "$dir/data"
    if [ "$(id -u)" = 0 ]; then chmod 711 "$dir"; fi
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    cat >"$conf" <<CONF
[global]
repo1-path=$dir/pbr/repo
repo1-retention-full=2
lock-path=$dir/pbr/lock
log-path=$dir/pbr/log
spool-path=$dir/pbr/spool
log-level-console=warn
log-level-file=off
start-fast=y

[millrace]
pg1-path=$dir/data
pg1-socket-path=$dir/run
pg1-port=$port
pg1-user=postgres
CONF
    chown "$user" "$conf"
    cat >>"$dir/data/postgresql.conf" <<CONF
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$conf --stanza=millrace archive-push %p'
CONF
    pg_start "$port"
    echo "host=$dir/run port=$port user=postgres dbname=postgres"
    ;;
  restore)
    port=${3:?missing PORT}
    target=${4:?missing TARGET}
    pg_stop
    as_pg pgbackrest --config="$conf" --stanza=millrace --delta --type=time "--target=$target" \
      --target-action=promote restore >"$dir/restore.log" 2>&1 || { cat "$dir/restore.log" >&2; exit 1; }
    pg_start "$port"
    admin="host=$dir/run port=$port user=postgres dbname=postgres"
    for _ in $(seq 300); do
      [ "$(psql "$admin" -qAtc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && exit 0
      sleep 0.1
    done
    echo "pg_archive: the restored cluster is still in recovery after 30 s" >&2
    tail -20 "$dir/server.log" >&2
    exit 1
    ;;
  command) echo "[$toml_command]" ;;
  stop)
    pg_stop
    rm -rf "$dir"
    ;;
  *) echo "usage: pg_archive.sh start|restore|command|stop DIR [PORT [TARGET]]" >&2; exit 2 ;;
esac
