#!/bin/sh
# Run by Patroni once, on the member that bootstraps the cluster (bootstrap.post_bootstrap),
# with a superuser connection string as its argument: creates the database mes-central
# uses and the role it logs in as, with the SCRAM verifier PgBouncer's auth_file holds
# too (the same secret sets both, so PgBouncer can pass the client's proof through).
# `mes-central migrate` then makes the owner and report roles, the schema and the rest,
# and keeps millrace_app's attributes as they are here.
set -eu
url=${1:?usage: millrace-post-bootstrap CONNINFO}
scram=$(head -n 1 "${MILLRACE_APP_SCRAM_FILE:?}")
case "$scram" in
  SCRAM-SHA-256\$*) ;;
  *) echo "millrace-post-bootstrap: $MILLRACE_APP_SCRAM_FILE holds no SCRAM-SHA-256 verifier" >&2; exit 1 ;;
esac
psql --no-psqlrc -v ON_ERROR_STOP=1 -v scram="$scram" -d "$url" <<'SQL'
CREATE DATABASE millrace;
CREATE ROLE millrace_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
  PASSWORD :'scram';
SQL
