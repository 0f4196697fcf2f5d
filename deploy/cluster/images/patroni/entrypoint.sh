#!/bin/sh
# millrace/patroni's entrypoint: reads the cluster's passwords from files (Docker secrets,
# a Kubernetes Secret volume) into the environment Patroni reads, then runs Patroni on
# MILLRACE_PATRONI_CONFIG. The member's own name and addresses come from the environment
# (PATRONI_NAME, PATRONI_RESTAPI_CONNECT_ADDRESS, PATRONI_POSTGRESQL_CONNECT_ADDRESS).
set -eu
secrets=${MILLRACE_SECRETS_DIR:-/run/secrets}
config=${MILLRACE_PATRONI_CONFIG:-/etc/millrace/patroni/patroni.yml}

# read_secret VARIABLE FILE: VARIABLE=the file's first line (a missing file is an error).
read_secret() {
  [ -r "$secrets/$2" ] || { echo "millrace-patroni: $secrets/$2 is missing or unreadable" >&2; exit 1; }
  value=$(head -n 1 "$secrets/$2")
  [ -n "$value" ] || { echo "millrace-patroni: $secrets/$2 is empty" >&2; exit 1; }
  export "$1=$value"
}
export PATRONI_SUPERUSER_USERNAME=postgres
read_secret PATRONI_SUPERUSER_PASSWORD pg-superuser-password
export PATRONI_REPLICATION_USERNAME=replicator
read_secret PATRONI_REPLICATION_PASSWORD pg-replication-password
export PATRONI_REWIND_USERNAME=rewind
read_secret PATRONI_REWIND_PASSWORD pg-rewind-password
export PATRONI_RESTAPI_USERNAME=patroni
read_secret PATRONI_RESTAPI_PASSWORD patroni-restapi-password
# Read by millrace-post-bootstrap (never a PATRONI_*_PASSWORD name: Patroni would take
# that for a user to create).
[ -r "$secrets/millrace-app-scram" ] ||
  { echo "millrace-patroni: $secrets/millrace-app-scram is missing or unreadable" >&2; exit 1; }
export MILLRACE_APP_SCRAM_FILE="$secrets/millrace-app-scram"

: "${PATRONI_NAME:?PATRONI_NAME must name this member}"
: "${PATRONI_RESTAPI_CONNECT_ADDRESS:?PATRONI_RESTAPI_CONNECT_ADDRESS must be host:8008}"
: "${PATRONI_POSTGRESQL_CONNECT_ADDRESS:?PATRONI_POSTGRESQL_CONNECT_ADDRESS must be host:5432}"
umask 077
exec /usr/bin/patroni "$config"
