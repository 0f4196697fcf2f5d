# shellcheck shell=bash
# Central across machines, on one machine: the PostgreSQL layer of pg_ha.sh (etcd, Patroni
# with a primary and a streaming replica, HAProxy, PgBouncer in transaction mode), two
# mes-central nodes behind HAProxy (TCP for the sync port, HTTP for the dashboard and the
# reporting API), and factory edges of tenant acme syncing through HAProxy. That is
# PostgreSQL cluster "a" of a tenant map (DIR/tenants.toml); cluster "b" is a second,
# plain PostgreSQL with a central node of its own (c3) holding tenant globex, and HAProxy
# sends each tenant's HTTP to its cluster by the first label of the Host header
# (acme.localhost, globex.localhost) through the map `mes-central tenant-map --haproxy`
# prints. Every process listens on 127.0.0.1 on ports chosen at run time and lives under
# one directory DIR.
#
# Source this file (it sources pg_ha.sh), then:
#   cluster_start DIR BUILD [SITES...]  everything; writes DIR/cluster.env (default sites:
#                                       lyon porto)
#   cluster_stop DIR                    stop everything it started
#   cluster_central_kill DIR N          SIGKILL central node N (1 or 2 of cluster a, 3 of b)
#   cluster_central_start DIR N         start central node N again; waits for /ready
#   cluster_sim_start DIR [MS]          a simulated shop floor on every edge
#   cluster_sim_stop DIR                stop it; prints its summary line
#   cluster_sync DIR SITE FIELD         a field of the edge's /api/v1/sync (connected,
#                                       backlog_rows, last_ack_age_s, ...)
#   cluster_report DIR NAME             GET /api/v1/reports/NAME?tenant=acme through HAProxy;
#                                       prints the HTTP status, X-Read-From and the body
#   cluster_converged DIR               0 when every site's rows equal central's, table by
#                                       table (content digests); else prints what differs
#   cluster_drained DIR TIMEOUT         waits until every edge's backlog is 0 and converged
#
# Central's [database]: url through PgBouncer (pooler = "transaction"), session_url through
# HAProxy's write port (LISTEN/NOTIFY), replica_url through PgBouncer's replica database.

cluster_dir_of_this_file=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/cluster/pg_ha.sh
source "$cluster_dir_of_this_file/pg_ha.sh"

_cluster_fail() {
  echo "cluster: FAIL: $1" >&2
  shift
  _pg_ha_tails "$@"
  return 1
}

# _cluster_node_toml DIR N CLUSTER SYNC_PORT HTTP_PORT DATABASE_LINES: central node N's
# directory with its copy of the key and its configuration, checked.
_cluster_node_toml() {
  local dir=$1 n=$2 cluster=$3 sync_port=$4 http_port=$5 database=$6 node="$1/c$2"
  mkdir -p "$node"
  install -m 600 "$dir/central.key" "$node/central.key"
  cat >"$node/central.toml" <<TOML
# Central node $n, cluster $cluster of the tenant map (deploy/cluster/cluster.sh).
[cluster]
name = "$cluster"
tenant_map = "../tenants.toml"
[database]
$database
[sync]
bind = "tcp://127.0.0.1:$sync_port"
secret_key_file = "central.key"
[jobs]
workers = 1
[backups]
dir = "$dir/backups-$cluster"
[http]
listen = "127.0.0.1"
port = $http_port
[log]
level = "info"
TOML
  "$CLUSTER_BUILD/central/mes-central" config check "$node/central.toml" >/dev/null
}

_cluster_env() {
  [ -f "$1/cluster.env" ] || { echo "cluster: $1/cluster.env not found: was cluster_start $1 run?" >&2; return 1; }
  # shellcheck disable=SC1091
  source "$1/pg/pg_ha.env"
  # shellcheck disable=SC1091
  source "$1/cluster.env"
}

# _cluster_wait_ready URL LOG SECONDS
_cluster_wait_ready() {
  local deadline=$((SECONDS + $3))
  until curl -sf --max-time 2 -o /dev/null "$1/ready"; do
    [ "$SECONDS" -ge "$deadline" ] && { _cluster_fail "$1 not ready after $3 s" "$2"; return 1; }
    sleep 0.2
  done
}

# HAProxy's frontends for central (appended to pg_ha.sh's haproxy.cfg): the sync port in TCP
# mode (a ZeroMQ connection is one long TCP stream; an idle edge says Hello every 5 s, so
# an hour's tunnel timeout never cuts a live one) and HTTP with /ready as the health check.
_cluster_haproxy_extra() {
  cat <<CFG

frontend central_sync
    mode tcp
    bind 127.0.0.1:$SYNC_PORT
    timeout client 1h
    default_backend central_sync_nodes

backend central_sync_nodes
    mode tcp
    balance leastconn
    timeout server 1h
    timeout tunnel 1h
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server c1 127.0.0.1:$C1_SYNC check
    server c2 127.0.0.1:$C2_SYNC check

frontend central_sync_b
    mode tcp
    bind 127.0.0.1:$SYNC_B_PORT
    timeout client 1h
    default_backend central_sync_b_nodes

backend central_sync_b_nodes
    mode tcp
    timeout server 1h
    timeout tunnel 1h
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server c3 127.0.0.1:$C3_SYNC check

# A tenant's HTTP goes to its cluster's nodes: the Host's first label (acme.example.com)
# looked up in the tenant map; anything else goes to cluster a.
frontend central_http
    mode http
    bind 127.0.0.1:$HTTP_PORT
    timeout client 60s
    use_backend central_http_%[req.hdr(host),field(1,.),lower,map($1/tenants.map,a)]

backend central_http_a
    mode http
    balance roundrobin
    timeout server 60s
    option httpchk GET /ready
    http-check expect status 200
    retry-on conn-failure empty-response response-timeout
    retries 2
    option redispatch
    default-server inter 1s fall 2 rise 1
    server c1 127.0.0.1:$C1_HTTP check
    server c2 127.0.0.1:$C2_HTTP check

backend central_http_b
    mode http
    timeout server 60s
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
    server c3 127.0.0.1:$C3_HTTP check
CFG
}

# cluster_central_start DIR N: central node N on its ports, waits for /ready.
cluster_central_start() (
  set -euo pipefail
  local dir=$1 n=$2
  _cluster_env "$dir"
  local node="$dir/c$n" http_var="C${n}_HTTP"
  "$CLUSTER_BUILD/central/mes-central" serve -c "$node/central.toml" </dev/null \
    >>"$node/central.log" 2>&1 &
  echo $! >"$node/central.pid"
  _cluster_wait_ready "http://127.0.0.1:${!http_var}" "$node/central.log" 60
)

# Cluster b's PostgreSQL: one server, as the cluster's user, on 127.0.0.1:$PGB_PORT.
_cluster_pgb_start() {
  local dir=$1 pgb="$1/pgb"
  _pg_ha_identity
  mkdir -p "$pgb"
  chown "$_pg_ha_user" "$pgb"
  chmod 700 "$pgb"
  "${_pg_ha_as[@]}" "$PG_HA_PGBIN/initdb" -D "$pgb/data" -U postgres --auth=trust -E UTF8 --no-sync \
    >"$pgb/initdb.log" 2>&1 || { _cluster_fail "initdb of cluster b" "$pgb/initdb.log"; return 1; }
  "${_pg_ha_as[@]}" "$PG_HA_PGBIN/pg_ctl" -D "$pgb/data" -l "$pgb/server.log" -w -t 60 \
    -o "-k $pgb -c listen_addresses=127.0.0.1 -p $PGB_PORT -c fsync=off" start >/dev/null ||
    { _cluster_fail "PostgreSQL of cluster b" "$pgb/server.log"; return 1; }
  psql -X -qc "CREATE DATABASE millrace" "host=127.0.0.1 port=$PGB_PORT dbname=postgres user=postgres" >/dev/null
  echo "==> cluster b: PostgreSQL on 127.0.0.1:$PGB_PORT"
}

_cluster_pgb_stop() {
  local pgb="$1/pgb"
  [ -f "$pgb/data/postmaster.pid" ] || return 0
  _pg_ha_identity
  "${_pg_ha_as[@]}" "$PG_HA_PGBIN/pg_ctl" -D "$pgb/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}

cluster_central_kill() (
  set -euo pipefail
  local pid
  pid=$(cat "$1/c$2/central.pid")
  kill -9 "$pid" 2>/dev/null || true
  _pg_ha_wait_gone 10 "$pid" || { echo "cluster: central node $2 ($pid) did not die" >&2; exit 1; }
)

# cluster_start DIR BUILD [SITES...]
cluster_start() (
  set -euo pipefail
  local dir=$1 build=$2
  shift 2
  local sites=("$@")
  [ ${#sites[@]} -gt 0 ] || sites=(lyon porto)
  mkdir -p "$dir"
  local central="$build/central/mes-central" edge="$build/edge/mes-edge"
  [ -x "$central" ] && [ -x "$edge" ] || { echo "cluster: no mes-central/mes-edge in $build" >&2; exit 1; }

  local ports
  mapfile -t ports < <(free_port $((10 + ${#sites[@]})))
  {
    echo "CLUSTER_BUILD=$build"
    echo "CLUSTER_SITES=\"${sites[*]}\""
    echo "SYNC_PORT=${ports[0]}"
    echo "HTTP_PORT=${ports[1]}"
    echo "C1_SYNC=${ports[2]}"
    echo "C1_HTTP=${ports[3]}"
    echo "C2_SYNC=${ports[4]}"
    echo "C2_HTTP=${ports[5]}"
    echo "SYNC_B_PORT=${ports[6]}"
    echo "C3_SYNC=${ports[7]}"
    echo "C3_HTTP=${ports[8]}"
    echo "PGB_PORT=${ports[9]}"
    echo "PGB_URL=\"host=127.0.0.1 port=${ports[9]} dbname=millrace user=postgres\""
    local i
    for i in "${!sites[@]}"; do echo "EDGE_${sites[$i]}_HTTP=${ports[$((10 + i))]}"; done
  } >"$dir/cluster.env"
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  # The tenant -> cluster map, the same file for every node, and HAProxy's form of it.
  cat >"$dir/tenants.toml" <<TOML
# Which PostgreSQL cluster holds each tenant (mes-central [cluster] tenant_map).
[clusters.a]
sync = "tcp://127.0.0.1:$SYNC_PORT"
http = "http://acme.localhost:$HTTP_PORT"
[clusters.b]
sync = "tcp://127.0.0.1:$SYNC_B_PORT"
[tenants]
acme = "a"
globex = "b"
TOML
  printf '[database]\nurl = "unused"\n[cluster]\nname = "a"\ntenant_map = "tenants.toml"\n' >"$dir/map.toml"
  "$central" tenant-map -c "$dir/map.toml" --haproxy >"$dir/tenants.map"
  _cluster_haproxy_extra "$dir" >"$dir/central.haproxy"
  PG_HA_HAPROXY_EXTRA="$dir/central.haproxy" pg_ha_start "$dir/pg"
  _cluster_env "$dir"
  _cluster_pgb_start "$dir"

  echo "==> migrating central's schema through HAProxy's write port"
  "$central" migrate --db "$PG_WRITE_URL" >"$dir/migrate.log" 2>&1 ||
    { _cluster_fail "mes-central migrate" "$dir/migrate.log"; exit 1; }
  "$central" migrate --db "$PGB_URL" >>"$dir/migrate.log" 2>&1 ||
    { _cluster_fail "mes-central migrate (cluster b)" "$dir/migrate.log"; exit 1; }
  "$central" keygen --secret "$dir/central.key" --public "$dir/central.pub" >/dev/null
  local n
  for n in 1 2; do
    local sync_var="C${n}_SYNC" http_var="C${n}_HTTP"
    _cluster_node_toml "$dir" "$n" a "${!sync_var}" "${!http_var}" \
      "url = \"$BOUNCER_URL_PRIMARY user=millrace_app\"
pooler = \"transaction\"
session_url = \"host=127.0.0.1 port=$PG_WRITE_PORT dbname=millrace user=millrace_app\"
replica_url = \"$BOUNCER_URL_REPLICA user=millrace_app\"
replica_max_staleness_seconds = 10
replica_retry_seconds = 5"
  done
  # Cluster b: one node on a plain PostgreSQL, straight to it (no pooler, no replica).
  _cluster_node_toml "$dir" 3 b "$C3_SYNC" "$C3_HTTP" \
    "url = \"host=127.0.0.1 port=$PGB_PORT dbname=millrace user=millrace_app\""
  for n in 1 2 3; do
    echo "==> mes-central node $n: sync 127.0.0.1:$(eval echo "\$C${n}_SYNC"), http 127.0.0.1:$(eval echo "\$C${n}_HTTP")"
    cluster_central_start "$dir" "$n"
  done
  _cluster_wait_ready "http://127.0.0.1:$HTTP_PORT" "$dir/pg/haproxy.log" 30

  echo "==> tenant acme with sites ${sites[*]}"
  "$central" create-tenant -c "$dir/c1/central.toml" --tenant acme --name Acme >/dev/null
  "$central" seed-demo -c "$dir/c1/central.toml" --tenant acme \
    --sites "$(IFS=,; echo "${sites[*]}")" >/dev/null
  (umask 077; "$central" token create -c "$dir/c1/central.toml" --name "cluster-$$" \
     2>/dev/null >"$dir/admin.token")
  local site
  for site in "${sites[@]}"; do
    local port_var="EDGE_${site}_HTTP" sdir="$dir/edge-$site"
    "$central" provision-site -c "$dir/c1/central.toml" --tenant acme --site "$site" --out "$sdir" \
      --endpoint "tcp://127.0.0.1:$SYNC_PORT" --http-port "${!port_var}" >/dev/null
    "$edge" seed -c "$sdir/edge.toml" --if-empty >/dev/null
    "$edge" serve -c "$sdir/edge.toml" </dev/null >>"$sdir/edge.log" 2>&1 &
    echo $! >"$sdir/edge.pid"
    echo "==> edge $site: http://127.0.0.1:${!port_var}, syncing through HAProxy 127.0.0.1:$SYNC_PORT"
  done
  for site in "${sites[@]}"; do
    local port_var="EDGE_${site}_HTTP"
    _cluster_wait_ready "http://127.0.0.1:${!port_var}" "$dir/edge-$site/edge.log" 30
  done
)

cluster_sim_start() (
  set -euo pipefail
  _cluster_env "$1"
  local args=() site port_var
  for site in $CLUSTER_SITES; do
    port_var="EDGE_${site}_HTTP"
    args+=(--edge "http://127.0.0.1:${!port_var}")
  done
  "$CLUSTER_BUILD/edge/mes-sim" "${args[@]}" --units 2 --cycle-ms "${2:-300}" --seed 7 \
    </dev/null >"$1/sim.log" 2>&1 &
  echo $! >"$1/sim.pid"
)

cluster_sim_stop() (
  set -euo pipefail
  local pid
  pid=$(cat "$1/sim.pid" 2>/dev/null || true)
  [ -n "$pid" ] || exit 0
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do _pg_ha_running "$pid" || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1/sim.pid"
  grep '^mes-sim: [0-9]* writes in' "$1/sim.log" | tail -1 || true
)

cluster_sync() (
  set -euo pipefail
  _cluster_env "$1"
  local port_var="EDGE_${2}_HTTP"
  curl -s --max-time 3 "http://127.0.0.1:${!port_var}/api/v1/sync" |
    "$PG_HA_PYTHON" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else str(v).lower())' "$3"
)

cluster_report() (
  set -euo pipefail
  _cluster_env "$1"
  curl -s --max-time 10 -D "$1/report.headers" -o "$1/report.body" -w '%{http_code}' \
    -H "Authorization: Bearer $(cat "$1/admin.token")" \
    "http://127.0.0.1:$HTTP_PORT/api/v1/reports/$2?tenant=acme" || true
  printf ' %s ' "$(tr -d '\r' <"$1/report.headers" | sed -n 's/^[Xx]-[Rr]ead-[Ff]rom: //p')"
  cat "$1/report.body"
  echo
)

cluster_converged() (
  set -euo pipefail
  _cluster_env "$1"
  local ok=0 site port_var
  for site in $CLUSTER_SITES; do
    port_var="EDGE_${site}_HTTP"
    "$PG_HA_PYTHON" - "http://127.0.0.1:${!port_var}" \
      "http://127.0.0.1:$HTTP_PORT/api/v1/tenants/acme/sites/$site/content" "$site" \
      "$(cat "$1/admin.token")" <<'PY' || ok=1
import json, sys, urllib.request
def get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    return json.load(urllib.request.urlopen(req, timeout=30))
# The edge's digests are a supervisor's to read (the demo supervisor, badge 2001).
login = urllib.request.Request(sys.argv[1] + "/api/v1/sessions", method="POST",
                               data=json.dumps({"badge_id": "2001", "pin": "1234"}).encode(),
                               headers={"Content-Type": "application/json"})
token = json.load(urllib.request.urlopen(login, timeout=30))["token"]
edge, central = get(sys.argv[1] + "/api/v1/sync/content", token), get(sys.argv[2], sys.argv[4])
diff = sorted(t for t in set(edge) | set(central) if edge.get(t) != central.get(t))
if diff:
    print("%s differs from central in: %s" % (sys.argv[3], ", ".join(diff)))
    sys.exit(1)
PY
  done
  exit $ok
)

cluster_drained() (
  set -euo pipefail
  _cluster_env "$1"
  local deadline=$((SECONDS + $2)) site all
  while :; do
    all=1
    for site in $CLUSTER_SITES; do
      [ "$(cluster_sync "$1" "$site" backlog_rows 2>/dev/null)" = 0 ] || all=0
    done
    if [ "$all" = 1 ] && cluster_converged "$1" >/dev/null 2>&1; then exit 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then cluster_converged "$1" || true; exit 1; fi
    sleep 0.5
  done
)

cluster_stop() (
  set +e
  local dir=$1 pid f
  cluster_sim_stop "$dir" >/dev/null 2>&1
  for f in "$dir"/edge-*/edge.pid "$dir"/c*/central.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null
    _pg_ha_wait_gone 15 "$pid" || kill -9 "$pid" 2>/dev/null
  done
  _cluster_pgb_stop "$dir"
  [ -d "$dir/pg" ] && pg_ha_stop "$dir/pg"
  true
)
