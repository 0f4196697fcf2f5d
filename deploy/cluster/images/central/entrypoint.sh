#!/bin/sh
# millrace/central's entrypoint. Secrets mounted by Docker or Kubernetes cannot be trusted
# to have the modes central and libpq insist on (a Kubernetes Secret volume with an fsGroup
# is group-readable whatever its defaultMode; a Compose secret keeps its host file's owner
# and mode), so they are copied into MILLRACE_RUN_DIR (a tmpfs/emptyDir, 0700) with mode
# 0600 first:
#   MILLRACE_CONFIG_SOURCE  central.toml        -> $run/central.toml
#   MILLRACE_KEY_SOURCE     the Curve secret key -> $run/central.key (the file's
#                           secret_key_file = "central.key" is relative to it)
#   MILLRACE_PGPASS_SOURCE  a libpq password file -> $run/pgpass (PGPASSFILE)
# and $run/backups (the [backups] dir default, "backups" beside the file) links to
# /var/lib/millrace/central/backups, the directory every node shares.
#
#   serve                 config check, then mes-central serve --config $run/central.toml
#   migrate --db URL      mes-central migrate, retried until PostgreSQL answers
#                         (MILLRACE_WAIT_SECONDS, default 300)
#   anything else         mes-central with those arguments
set -eu
run=${MILLRACE_RUN_DIR:-/run/millrace}
state=/var/lib/millrace/central
umask 077
mkdir -p "$run"

copy() {  # copy SOURCE DEST MODE
  [ -r "$1" ] || { echo "millrace-central: $1 is missing or unreadable" >&2; exit 1; }
  cp "$1" "$2.tmp"
  chmod "$3" "$2.tmp"
  mv -f "$2.tmp" "$2"
}
if [ -n "${MILLRACE_PGPASS_SOURCE:-}" ]; then
  copy "$MILLRACE_PGPASS_SOURCE" "$run/pgpass" 0600
  export PGPASSFILE="$run/pgpass"
fi
if [ -n "${MILLRACE_CONFIG_SOURCE:-}" ]; then
  copy "$MILLRACE_CONFIG_SOURCE" "$run/central.toml" 0600
  if [ -n "${MILLRACE_KEY_SOURCE:-}" ]; then copy "$MILLRACE_KEY_SOURCE" "$run/central.key" 0600; fi
  mkdir -p "$state/backups" "$state/exports"
  ln -sfn "$state/backups" "$run/backups"
fi

case "${1:-serve}" in
  serve)
    [ $# -gt 0 ] && shift
    # As the systemd unit's ExecStartPre: a file that would not start says which key is wrong.
    /usr/bin/mes-central config check "$run/central.toml"
    exec /usr/bin/mes-central serve --config "$run/central.toml" "$@"
    ;;
  migrate)
    deadline=$(( $(date +%s) + ${MILLRACE_WAIT_SECONDS:-300} ))
    until /usr/bin/mes-central "$@"; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "millrace-central: migrate kept failing for ${MILLRACE_WAIT_SECONDS:-300} s" >&2
        exit 1
      fi
      echo "millrace-central: migrate failed (PostgreSQL not up yet?); again in 5 s" >&2
      sleep 5
    done
    ;;
  *)
    exec /usr/bin/mes-central "$@"
    ;;
esac
