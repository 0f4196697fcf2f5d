# shellcheck shell=bash
# PostgreSQL high availability on one machine, for tests and demonstrations:
# etcd (one member) + two Patroni nodes (pg1, pg2: PostgreSQL 15, streaming replication)
# + HAProxy (pg_write -> the leader, pg_read -> the replica) + PgBouncer (transaction
# pooling in front of HAProxy). Every process listens on 127.0.0.1 only, on ports chosen
# at run time, and lives under one directory DIR. See deploy/cluster/README.md.
#
# Source this file, then:
#   pg_ha_start DIR                 start everything; writes DIR/pg_ha.env (sourceable)
#   pg_ha_stop DIR                  stop everything it started; fails if a process is left
#   pg_ha_leader DIR                print the leader's member name (pg1 or pg2)
#   pg_ha_switchover DIR            planned switchover to the replica; prints seconds
#   pg_ha_kill_leader DIR           SIGKILL the leader's Patroni and PostgreSQL; prints its name
#   pg_ha_wait_leader DIR NOT TIMEOUT
#                                   wait for a leader other than NOT that pg_write reaches;
#                                   prints seconds
#   pg_ha_restart_member DIR NAME   start a killed member again; waits until it streams
#   pg_ha_kill_replica DIR          SIGKILL the replica's Patroni and PostgreSQL; prints its name
#   pg_ha_start_replica DIR         start every killed member again; waits until they stream
#   pg_ha_restart_bouncer DIR       kill PgBouncer and start it on the same port; prints seconds
#   pg_ha_haproxy_reload DIR        rewrite haproxy.cfg (base + $PG_HA_HAPROXY_EXTRA), reload
#   free_port [N]                   print N free loopback TCP ports (default 1)
#
# Environment:
#   PG_HA_HAPROXY_EXTRA   a file whose contents are appended to haproxy.cfg (e.g. central's
#                         frontends), read by pg_ha_start and pg_ha_haproxy_reload
#
# As root, every process runs as the system user 'millrace-test' (PostgreSQL refuses root),
# as tests/support/pg_fixture.sh does. Each public function runs in a subshell with
# `set -euo pipefail`, so sourcing this file changes nothing in the caller; a failure
# prints "pg_ha: ..." with the tail of the relevant log to stderr and returns non-zero.

PG_HA_PGBIN=${PG_HA_PGBIN:-/usr/lib/postgresql/15/bin}
# The system python: Patroni's, with psycopg2. A python3 earlier in PATH (pyenv) lacks it.
PG_HA_PYTHON=/usr/bin/python3
PG_HA_SCOPE=millrace
PG_HA_MEMBERS="pg1 pg2"

# ---------------------------------------------------------------- small helpers

# free_port [N]: N distinct free TCP ports on 127.0.0.1, one a line, taken at random below
# the kernel's ephemeral range (ip_local_port_range), so that no outgoing connection made
# before a daemon binds its port can take it meanwhile. All N sockets are held open
# together so none is handed out twice.
free_port() {
  "$PG_HA_PYTHON" - "${1:-1}" <<'EOF'
import random, socket, sys
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    low = 32768
socks, tries = [], 0
while len(socks) < int(sys.argv[1]):
    tries += 1
    if tries > 10000:
        sys.exit("free_port: no free port found below %d" % low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(max(1024, low - 12000), low)))
    except OSError:
        s.close()
        continue
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

_pg_ha_log() { echo "==> $*"; }

# _pg_ha_tails LOGFILE...: the last lines of each file that exists, to stderr.
_pg_ha_tails() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    echo "---- last lines of $f ----" >&2
    tail -n 40 "$f" >&2
  done
}

# _pg_ha_fail MESSAGE [LOGFILE...]: say what failed and show the logs' tails, then leave the
# public function's subshell.
_pg_ha_fail() {
  echo "pg_ha: FAIL: $1" >&2
  shift
  _pg_ha_tails "$@"
  exit 1
}

_pg_ha_now() { echo "${EPOCHREALTIME/,/.}"; }
_pg_ha_since() { awk -v a="$1" -v b="$(_pg_ha_now)" 'BEGIN { printf "%.1f\n", b - a }'; }

# Who runs the processes: the caller, or 'millrace-test' when the caller is root.
# Sets _pg_ha_user and the command prefix _pg_ha_as (an array: setpriv execs, so a
# background job's $! is the server's own pid, not a wrapper's).
_pg_ha_identity() {
  if [ "$(id -u)" = 0 ]; then
    _pg_ha_user=millrace-test
    if ! id -u "$_pg_ha_user" >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$_pg_ha_user"
    fi
    _pg_ha_as=(setpriv "--reuid=$_pg_ha_user" "--regid=$(id -g "$_pg_ha_user")" --init-groups --)
  else
    _pg_ha_user=$(id -un)
    _pg_ha_as=()
  fi
}

# _pg_ha_bg DIR NAME COMMAND...: start COMMAND in the background as the cluster's user with
# a clean environment (no pyenv, no PG* variables of the caller), output to DIR/NAME.log,
# pid to DIR/NAME.pid.
_pg_ha_bg() {
  local dir=$1 name=$2
  shift 2
  _pg_ha_identity
  "${_pg_ha_as[@]}" env -i \
    PATH="$PG_HA_PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="$dir" LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@" </dev/null >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# _pg_ha_alive PID WORD: is PID running and is WORD in its command line? (A pid file can
# outlive its process and the pid be reused; a zombie has an empty command line.)
_pg_ha_alive() {
  local pid=$1 word=$2 cmd
  [ -n "$pid" ] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$word"* ]]
}

# _pg_ha_running PID: a live process (not a zombie: this machine's init may not reap the
# orphans quickly). /proc files have size 0, so read the command line rather than test -s.
_pg_ha_running() { [ -n "$1" ] && [ -n "$(tr -d '\0' 2>/dev/null <"/proc/$1/cmdline")" ]; }

# _pg_ha_pid DIR NAME: the pid in DIR/NAME.pid if that process still runs, else nothing.
_pg_ha_pid() {
  local pid word=$2
  pid=$(cat "$1/$2.pid" 2>/dev/null || true)
  case $2 in pg1 | pg2) word=patroni ;; esac
  if _pg_ha_alive "$pid" "$word"; then echo "$pid"; fi
}

# _pg_ha_postmaster DIR NAME: the running postmaster of member NAME and its children.
_pg_ha_postmaster() {
  local pm
  pm=$(head -1 "$1/$2/data/postmaster.pid" 2>/dev/null || true)
  _pg_ha_alive "$pm" postgres || return 0
  echo "$pm"
  pgrep -P "$pm" || true
}

# _pg_ha_wait_gone SECONDS PID...: wait until none of the pids runs; 1 if some still do.
_pg_ha_wait_gone() {
  local deadline=$((SECONDS + $1)) p left
  shift
  while :; do
    left=""
    for p in "$@"; do _pg_ha_running "$p" && left+="$p "; done
    [ -z "$left" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

_pg_ha_env() {
  [ -f "$1/pg_ha.env" ] || _pg_ha_fail "$1/pg_ha.env not found: was pg_ha_start $1 run?"
  # shellcheck disable=SC1091
  source "$1/pg_ha.env"
}

# Member NAME's PostgreSQL port and Patroni REST address (needs pg_ha.env sourced).
_pg_ha_member_port() { case $1 in pg1) echo "$PG1_PORT" ;; pg2) echo "$PG2_PORT" ;; *) return 1 ;; esac }
_pg_ha_member_api() { case $1 in pg1) echo "$PATRONI1_API" ;; pg2) echo "$PATRONI2_API" ;; *) return 1 ;; esac }
_pg_ha_other() { case $1 in pg1) echo pg2 ;; pg2) echo pg1 ;; *) return 1 ;; esac }

# _pg_ha_sql CONNINFO SQL: one query, tuples only; bounded so a dead peer cannot hang us.
_pg_ha_sql() {
  PGCONNECT_TIMEOUT=3 timeout 15 psql -X -qAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# HTTP status of a Patroni REST endpoint ("000" when nothing answers).
_pg_ha_http() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1" 2>/dev/null || true
}

# The cluster as Patroni's REST API says (GET /cluster on whichever member answers).
_pg_ha_cluster_json() {
  local api
  for api in "$PATRONI1_API" "$PATRONI2_API"; do
    curl -sf --max-time 2 "http://$api/cluster" 2>/dev/null && return 0
  done
  return 1
}

# The running leader's name, or nothing.
_pg_ha_leader_name() {
  _pg_ha_cluster_json | "$PG_HA_PYTHON" -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    if m.get("role") == "leader" and m.get("state") == "running":
        print(m["name"])' 2>/dev/null || true
}

# Is NAME a replica streaming from leader LEADER? Patroni says it is a running replica
# (GET /replica answers 200) and the leader has its walsender in state 'streaming'.
_pg_ha_is_streaming() {
  local name=$1 leader=$2 n
  [ "$(_pg_ha_http "$(_pg_ha_member_api "$name")/replica")" = 200 ] || return 1
  n=$(_pg_ha_sql "host=127.0.0.1 port=$(_pg_ha_member_port "$leader") user=postgres dbname=postgres" \
    "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$name' AND state = 'streaming'" \
    2>/dev/null) || return 1
  [ "$n" = 1 ]
}

# Does HAProxy's pg_write reach the running leader LEADER (a writable server on its port)?
_pg_ha_write_reaches() {
  local got
  got=$(_pg_ha_sql "host=127.0.0.1 port=$PG_WRITE_PORT user=postgres dbname=postgres" \
    "SELECT pg_is_in_recovery()::text || ' ' || inet_server_port()" 2>/dev/null) || return 1
  [ "$got" = "false $(_pg_ha_member_port "$1")" ]
}

# Do HAProxy's checks agree with Patroni: in pg_write only LEADER is UP, in pg_read only
# the other member? (A server's status is "UP", "UP 1/2" going down, "DOWN", "DOWN 1/2"
# going up, ...)
_pg_ha_haproxy_agrees() {
  local leader=$1 other
  other=$(_pg_ha_other "$leader")
  echo "show stat" | socat -t 2 stdio "unix:$PG_HA_DIR/haproxy.sock" 2>/dev/null |
    awk -F, -v l="$leader" -v o="$other" '
      $1 == "pg_write" && $2 == l && $18 == "UP" { ok++ }
      $1 == "pg_write" && $2 == o && $18 ~ /^DOWN/ { ok++ }
      $1 == "pg_read" && $2 == o && $18 == "UP" { ok++ }
      $1 == "pg_read" && $2 == l && $18 ~ /^DOWN/ { ok++ }
      END { exit ok == 4 ? 0 : 1 }'
}

# _pg_ha_wait_streaming DIR NAME TIMEOUT: until NAME streams from the (other) leader.
_pg_ha_wait_streaming() {
  local dir=$1 name=$2 deadline=$((SECONDS + $3)) leader
  while :; do
    leader=$(_pg_ha_leader_name)
    if [ -n "$leader" ] && [ "$leader" != "$name" ] && _pg_ha_is_streaming "$name" "$leader"; then
      return 0
    fi
    [ "$SECONDS" -ge "$deadline" ] &&
      _pg_ha_fail "$name is not a streaming replica after $3 s (leader: ${leader:-none}); cluster: $(_pg_ha_cluster_json || echo unreachable)" \
        "$dir/$name.log" "$dir/$(_pg_ha_other "$name").log"
    sleep 0.5
  done
}

# ---------------------------------------------------------------- configuration files

# Patroni's configuration of member NAME (pg1 uses PG1_PORT and PATRONI1_API, ...).
_pg_ha_write_patroni_yml() {
  local dir=$1 name=$2 port api
  port=$(_pg_ha_member_port "$name")
  api=$(_pg_ha_member_api "$name")
  cat >"$dir/$name/patroni.yml" <<EOF
# Patroni node $name of cluster '$PG_HA_SCOPE' (written by deploy/cluster/pg_ha.sh).
scope: $PG_HA_SCOPE
namespace: /service/
name: $name

restapi:
  listen: $api
  connect_address: $api

# Patroni 3 speaks etcd's v3 API (gRPC gateway, JSON over HTTP): no --enable-v2 needed.
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT

bootstrap:
  # Written to etcd once, by the node that initialises the cluster; shared by all nodes.
  dcs:
    # A failover starts once the leader key, renewed every loop_wait, is ttl seconds old.
    # Patroni's rule: loop_wait + 2 * retry_timeout <= ttl. Short values so a failover
    # completes in about 10-20 s here; Patroni's defaults are 30/10/10 (and Patroni 3.2+
    # raises a ttl below 20 to 20). A real cluster keeps the defaults.
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      # An old primary that fell behind a promoted replica is rewound, not re-cloned.
      # (Patroni turns wal_log_hints on, which pg_rewind needs.)
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        shared_buffers: 32MB
        # fsync off only saves disk writes on this shared machine. It matters when the
        # operating system crashes, which these tests never do: a SIGKILLed postmaster
        # loses nothing that fsync would have saved (its writes are in the kernel's page
        # cache). synchronous_commit and full_page_writes stay on: the first decides what
        # a killed primary has acknowledged, and pg_rewind needs the second.
        fsync: "off"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums

postgresql:
  listen: 127.0.0.1:$port
  connect_address: 127.0.0.1:$port
  data_dir: $dir/$name/data
  bin_dir: $PG_HA_PGBIN
  pgpass: $dir/$name/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
  parameters:
    unix_socket_directories: $dir/$name
  basebackup:
    - checkpoint: fast
  # Throwaway cluster on loopback: trust. A real host uses scram-sha-256 with passwords
  # (authentication.*.password above, password_encryption = scram-sha-256) and lists
  # its peers' and clients' addresses, not 127.0.0.1.
  pg_hba:
    - local all all trust
    - local replication all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust

# No watchdog device for an unprivileged user on a test machine.
watchdog:
  mode: "off"
EOF
}

# haproxy.cfg: the base (pg_write, pg_read) + the contents of \$PG_HA_HAPROXY_EXTRA.
_pg_ha_write_haproxy_cfg() {
  local dir=$1 out=$2
  {
    cat <<EOF
# HAProxy in front of the Patroni cluster '$PG_HA_SCOPE' (written by deploy/cluster/pg_ha.sh).
# Which node is which is Patroni's word: its REST API answers /primary with 200 on the
# leader only and /replica with 200 on a running replica only. HAProxy asks with OPTIONS,
# which Patroni answers with the same status as GET but no body: HAProxy resets a check's
# connection once it has the status line, and with GET that lands while Patroni still
# writes the body (a logged traceback per check).
global
    maxconn 2000
    log stdout format raw local0
    # Tests read the servers' states here: echo "show stat" | socat stdio unix:$dir/haproxy.sock
    stats socket $dir/haproxy.sock mode 600 level admin expose-fd listeners
    # After a reload the old worker keeps its PostgreSQL sessions at most this long.
    hard-stop-after 30s
    # A new worker would start with every server UP (then mark the wrong ones down after
    # 'fall' failed checks), sending writes to a replica meanwhile. pg_ha_haproxy_reload
    # saves the servers' states here first and the new worker starts from them.
    server-state-file $dir/haproxy.state

defaults
    mode tcp
    log global
    load-server-state-from-file global
    option log-health-checks
    timeout connect 2s
    # PostgreSQL sessions idle for long (pools, LISTEN): HAProxy must not cut them.
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 2

listen pg_write
    bind 127.0.0.1:$PG_WRITE_PORT
    option httpchk OPTIONS /primary
    http-check expect status 200
    # Checked every second; down after 2 failed checks, and then its sessions are cut so
    # no client keeps writing to a demoted or dead primary.
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:$PG1_PORT check port ${PATRONI1_API##*:}
    server pg2 127.0.0.1:$PG2_PORT check port ${PATRONI2_API##*:}

listen pg_read
    bind 127.0.0.1:$PG_READ_PORT
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:$PG1_PORT check port ${PATRONI1_API##*:}
    server pg2 127.0.0.1:$PG2_PORT check port ${PATRONI2_API##*:}
EOF
    if [ -n "${PG_HA_HAPROXY_EXTRA:-}" ]; then
      [ -r "$PG_HA_HAPROXY_EXTRA" ] || _pg_ha_fail "PG_HA_HAPROXY_EXTRA=$PG_HA_HAPROXY_EXTRA is not a readable file"
      echo
      echo "# ---- from $PG_HA_HAPROXY_EXTRA ----"
      cat "$PG_HA_HAPROXY_EXTRA"
    fi
  } >"$out"
}

_pg_ha_write_pgbouncer_ini() {
  local dir=$1
  cat >"$dir/pgbouncer.ini" <<EOF
; PgBouncer in front of HAProxy (written by deploy/cluster/pg_ha.sh).
; Debian 12's PgBouncer 1.18 has no prepared-statement support in transaction mode:
; clients must use unnamed statements only (no PREPARE, no PQprepare).
[databases]
millrace = host=127.0.0.1 port=$PG_WRITE_PORT dbname=millrace
millrace_replica = host=127.0.0.1 port=$PG_READ_PORT dbname=millrace

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
; Throwaway on loopback: trust, users listed in auth_file without passwords. A real
; deployment uses auth_type = scram-sha-256 with auth_user + auth_query (passwords
; looked up in PostgreSQL) instead.
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
; A server connection serves one transaction, then returns to the pool: session state
; (SET, LISTEN, advisory locks, prepared statements) does not survive a transaction.
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
; After a failover HAProxy cuts the old primary's sessions; idle server connections are
; checked after 1 s and a failed login is retried after 1 s, so PgBouncer is back as soon
; as HAProxy reaches the new primary.
server_check_delay = 1
server_check_query = select 1
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
EOF
  printf '"postgres" ""\n"millrace_app" ""\n' >"$dir/userlist.txt"
}

# ---------------------------------------------------------------- starting pieces

_pg_ha_start_patroni() {
  local dir=$1 name=$2
  _pg_ha_bg "$dir" "$name" /usr/bin/patroni "$dir/$name/patroni.yml"
}

_pg_ha_start_haproxy() {
  local dir=$1
  # Master-worker mode (-W): the master (our pid) stays; SIGUSR2 makes it re-read the
  # configuration and start new workers, which take the listening sockets over.
  _pg_ha_bg "$dir" haproxy /usr/sbin/haproxy -W -f "$dir/haproxy.cfg"
}

_pg_ha_start_bouncer() {
  local dir=$1 deadline=$((SECONDS + 15))
  _pg_ha_bg "$dir" pgbouncer /usr/sbin/pgbouncer "$dir/pgbouncer.ini"
  until _pg_ha_sql "host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=postgres" "SHOW VERSION" >/dev/null 2>&1; do
    [ -n "$(_pg_ha_pid "$dir" pgbouncer)" ] || _pg_ha_fail "PgBouncer exited at start" "$dir/pgbouncer.log"
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "PgBouncer does not answer on 127.0.0.1:$BOUNCER_PORT" "$dir/pgbouncer.log"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- public functions

pg_ha_start() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_start DIR}
  local deadline
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -z "$(ls -A "$dir")" ] || _pg_ha_fail "$dir is not empty (pg_ha_start wants a fresh directory)"
  for bin in "$PG_HA_PGBIN/postgres" /usr/bin/patroni /usr/bin/etcd /usr/bin/etcdctl /usr/sbin/haproxy /usr/sbin/pgbouncer; do
    [ -x "$bin" ] || _pg_ha_fail "$bin not found"
  done
  _pg_ha_identity
  mkdir -p "$dir/etcd" "$dir/pg1" "$dir/pg2"
  chmod 700 "$dir/etcd" "$dir/pg1" "$dir/pg2"

  # Ports: etcd client + peer, two PostgreSQL, two Patroni REST, pg_write, pg_read, PgBouncer.
  local ports
  mapfile -t ports < <(free_port 9)
  [ "${#ports[@]}" = 9 ] || _pg_ha_fail "free_port gave ${#ports[@]} ports, not 9"
  cat >"$dir/pg_ha.env" <<EOF
# The PostgreSQL HA cluster under $dir (deploy/cluster/pg_ha.sh). Source me.
PG_HA_DIR='$dir'
PG_HA_USER='$_pg_ha_user'
ETCD_PORT=${ports[0]}
ETCD_PEER_PORT=${ports[1]}
PG1_PORT=${ports[2]}
PG2_PORT=${ports[3]}
PATRONI1_API='127.0.0.1:${ports[4]}'
PATRONI2_API='127.0.0.1:${ports[5]}'
PG_WRITE_PORT=${ports[6]}
PG_READ_PORT=${ports[7]}
BOUNCER_PORT=${ports[8]}
PG_WRITE_URL='host=127.0.0.1 port=${ports[6]} dbname=millrace user=postgres'
PG_READ_URL='host=127.0.0.1 port=${ports[7]} dbname=millrace user=postgres'
BOUNCER_URL_PRIMARY='host=127.0.0.1 port=${ports[8]} dbname=millrace'
BOUNCER_URL_REPLICA='host=127.0.0.1 port=${ports[8]} dbname=millrace_replica'
EOF
  _pg_ha_env "$dir"
  _pg_ha_write_patroni_yml "$dir" pg1
  _pg_ha_write_patroni_yml "$dir" pg2
  _pg_ha_write_haproxy_cfg "$dir" "$dir/haproxy.cfg"
  _pg_ha_write_pgbouncer_ini "$dir"
  chown -R "$_pg_ha_user" "$dir"
  # Every directory above DIR must let the servers' user through (a mktemp -d parent of
  # root's is mode 700).
  "${_pg_ha_as[@]}" test -w "$dir/pg1" ||
    _pg_ha_fail "user $_pg_ha_user cannot reach $dir: open its parent directories to it (chmod o+x)"

  # 1. etcd: one member; Patroni keeps the leader key and the cluster's config in it.
  _pg_ha_log "etcd on 127.0.0.1:$ETCD_PORT (peer 127.0.0.1:$ETCD_PEER_PORT)"
  _pg_ha_bg "$dir" etcd /usr/bin/etcd --name etcd1 --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "etcd1=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --initial-cluster-token "millrace-pg-ha" --logger zap --log-outputs stderr
  deadline=$((SECONDS + 20))
  until ETCDCTL_API=3 etcdctl --endpoints="http://127.0.0.1:$ETCD_PORT" --command-timeout=2s endpoint health >/dev/null 2>&1; do
    [ -n "$(_pg_ha_pid "$dir" etcd)" ] || _pg_ha_fail "etcd exited at start" "$dir/etcd.log"
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "etcd is not healthy after 20 s" "$dir/etcd.log"
    sleep 0.3
  done

  # 2. Patroni: pg1 first, alone, so it initialises the cluster and leads; then pg2, which
  #    finds a leader and clones it with pg_basebackup.
  _pg_ha_log "Patroni pg1: PostgreSQL on 127.0.0.1:$PG1_PORT, REST on $PATRONI1_API"
  _pg_ha_start_patroni "$dir" pg1
  deadline=$((SECONDS + 60))
  until [ "$(_pg_ha_http "$PATRONI1_API/primary")" = 200 ]; do
    [ -n "$(_pg_ha_pid "$dir" pg1)" ] || _pg_ha_fail "Patroni pg1 exited at start" "$dir/pg1.log"
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "pg1 is not the leader after 60 s" "$dir/pg1.log" "$dir/etcd.log"
    sleep 0.5
  done
  _pg_ha_log "Patroni pg2: PostgreSQL on 127.0.0.1:$PG2_PORT, REST on $PATRONI2_API"
  _pg_ha_start_patroni "$dir" pg2
  _pg_ha_wait_streaming "$dir" pg2 90
  _pg_ha_log "pg1 leads, pg2 streams from it"

  # 3. HAProxy.
  _pg_ha_log "HAProxy: pg_write on 127.0.0.1:$PG_WRITE_PORT, pg_read on 127.0.0.1:$PG_READ_PORT, stats $dir/haproxy.sock"
  /usr/sbin/haproxy -c -q -f "$dir/haproxy.cfg" >"$dir/haproxy-check.log" 2>&1 ||
    _pg_ha_fail "haproxy.cfg is not valid" "$dir/haproxy-check.log"
  _pg_ha_start_haproxy "$dir"
  deadline=$((SECONDS + 20))
  until _pg_ha_haproxy_agrees pg1 && _pg_ha_write_reaches pg1 &&
    [ "$(_pg_ha_sql "host=127.0.0.1 port=$PG_READ_PORT user=postgres dbname=postgres" "SELECT pg_is_in_recovery()" 2>/dev/null)" = t ]; do
    [ -n "$(_pg_ha_pid "$dir" haproxy)" ] || _pg_ha_fail "HAProxy exited at start" "$dir/haproxy.log"
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "HAProxy does not reach the primary and the replica after 20 s" "$dir/haproxy.log"
    sleep 0.3
  done

  # 5 (before PgBouncer, whose databases name it). Through pg_write, i.e. on the leader.
  _pg_ha_sql "host=127.0.0.1 port=$PG_WRITE_PORT user=postgres dbname=postgres" "CREATE DATABASE millrace" >/dev/null ||
    _pg_ha_fail "CREATE DATABASE millrace through pg_write failed" "$dir/pg1.log"
  _pg_ha_log "database millrace created on the leader"

  # 4. PgBouncer.
  _pg_ha_log "PgBouncer on 127.0.0.1:$BOUNCER_PORT (millrace -> pg_write, millrace_replica -> pg_read)"
  _pg_ha_start_bouncer "$dir"
  _pg_ha_log "ready: source $dir/pg_ha.env"
)

pg_ha_stop() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_stop DIR}
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  local all=() pids p name leader order
  # Everything of ours that runs now, to check at the end (postmasters may be restarted by
  # Patroni meanwhile, so they are collected again before the SIGKILL round).
  collect() {
    local n
    for n in pgbouncer haproxy pg1 pg2 etcd; do
      p=$(_pg_ha_pid "$dir" "$n")
      [ -n "$p" ] && all+=("$p")
      if [ "$n" = haproxy ] && [ -n "$p" ]; then mapfile -t -O "${#all[@]}" all < <(pgrep -P "$p" || true); fi
    done
    for n in $PG_HA_MEMBERS; do mapfile -t -O "${#all[@]}" all < <(_pg_ha_postmaster "$dir" "$n"); done
  }
  collect
  [ "${#all[@]}" -gt 0 ] || { rm -f "$dir"/*.pid; exit 0; }

  term() { # term NAME SECONDS: SIGTERM the process of DIR/NAME.pid and wait for it
    local pid
    pid=$(_pg_ha_pid "$dir" "$1")
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    _pg_ha_wait_gone "$2" "$pid" || echo "pg_ha: $1 (pid $pid) still runs $2 s after SIGTERM" >&2
  }
  term pgbouncer 5
  term haproxy 5
  # The replica first: stopping the leader first would have the replica take over, only to
  # be stopped in turn. Patroni stops its PostgreSQL (fast shutdown) and drops its keys.
  leader=""
  # shellcheck disable=SC1091
  [ -f "$dir/pg_ha.env" ] && leader=$(source "$dir/pg_ha.env" && _pg_ha_leader_name)
  order=$PG_HA_MEMBERS
  [ "$leader" = pg1 ] && order="pg2 pg1"
  for name in $order; do term "$name" 30; done
  # A postmaster whose Patroni was killed earlier: fast shutdown.
  for name in $PG_HA_MEMBERS; do
    p=$(_pg_ha_postmaster "$dir" "$name" | head -1)
    [ -n "$p" ] && kill -INT "$p" 2>/dev/null && { _pg_ha_wait_gone 20 "$p" || true; }
  done
  term etcd 10

  # Whatever is left gets SIGKILL; then nothing may be left.
  collect
  pids=()
  for p in "${all[@]}"; do _pg_ha_running "$p" && pids+=("$p"); done
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "pg_ha: SIGKILL to leftovers: ${pids[*]}" >&2
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  _pg_ha_wait_gone 10 "${all[@]}" ||
    _pg_ha_fail "processes of the cluster in $dir still run after stop: $(for p in "${all[@]}"; do _pg_ha_running "$p" && echo -n "$p "; done)"
  rm -f "$dir"/*.pid
  echo "==> pg_ha stopped; none of its processes (${#all[@]} pids) is left"
)

pg_ha_leader() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_leader DIR} leader
  _pg_ha_env "$dir"
  leader=$(_pg_ha_leader_name)
  [ -n "$leader" ] || _pg_ha_fail "no running leader; cluster: $(_pg_ha_cluster_json || echo unreachable)"
  echo "$leader"
)

pg_ha_switchover() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_switchover DIR} leader candidate t0 deadline
  _pg_ha_env "$dir"
  leader=$(_pg_ha_leader_name)
  [ -n "$leader" ] || _pg_ha_fail "no running leader to switch over from"
  candidate=$(_pg_ha_other "$leader")
  _pg_ha_is_streaming "$candidate" "$leader" || _pg_ha_fail "$candidate is not a streaming replica"
  t0=$(_pg_ha_now)
  # patronictl asks the leader's REST API (POST /switchover) and waits for the result.
  /usr/bin/patronictl -c "$dir/$leader/patroni.yml" switchover --leader "$leader" --candidate "$candidate" \
    --force >"$dir/switchover.log" 2>&1 || _pg_ha_fail "patronictl switchover failed" "$dir/switchover.log" "$dir/$leader.log"
  deadline=$((SECONDS + 60))
  until [ "$(_pg_ha_leader_name)" = "$candidate" ] && _pg_ha_write_reaches "$candidate"; do
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "$candidate is not the leader reached by pg_write 60 s after the switchover" \
      "$dir/switchover.log" "$dir/$candidate.log" "$dir/haproxy.log"
    sleep 0.2
  done
  _pg_ha_wait_streaming "$dir" "$leader" 60
  _pg_ha_since "$t0"
)

# _pg_ha_kill_member DIR NAME: SIGKILL Patroni, the postmaster and its children, as if the
# host had died (killing Patroni alone would leave a primary nobody manages).
_pg_ha_kill_member() {
  local dir=$1 name=$2 pids=()
  mapfile -t pids < <(_pg_ha_pid "$dir" "$name"; _pg_ha_postmaster "$dir" "$name")
  [ "${#pids[@]}" -gt 0 ] || _pg_ha_fail "$name runs no process to kill"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  # The children notice their postmaster's death and exit on their own; if one lingers
  # (holding the shared memory) it blocks the next start.
  mapfile -t -O "${#pids[@]}" pids < <(for p in "${pids[@]}"; do pgrep -P "$p" || true; done)
  kill -KILL "${pids[@]}" 2>/dev/null || true
  _pg_ha_wait_gone 10 "${pids[@]}" || _pg_ha_fail "$name's processes survive SIGKILL: ${pids[*]}"
}

pg_ha_kill_leader() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_kill_leader DIR} leader
  _pg_ha_env "$dir"
  leader=$(_pg_ha_leader_name)
  [ -n "$leader" ] || _pg_ha_fail "no running leader to kill"
  _pg_ha_kill_member "$dir" "$leader"
  echo "$leader"
)

pg_ha_kill_replica() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_kill_replica DIR} leader replica
  _pg_ha_env "$dir"
  leader=$(_pg_ha_leader_name)
  [ -n "$leader" ] || _pg_ha_fail "no running leader, so no replica either"
  replica=$(_pg_ha_other "$leader")
  _pg_ha_kill_member "$dir" "$replica"
  echo "$replica"
)

pg_ha_wait_leader() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_wait_leader DIR NOT_NAME TIMEOUT} not=${2:?missing NOT_NAME} timeout=${3:?missing TIMEOUT}
  local t0 deadline leader
  _pg_ha_env "$dir"
  t0=$(_pg_ha_now)
  deadline=$((SECONDS + timeout))
  while :; do
    leader=$(_pg_ha_leader_name)
    if [ -n "$leader" ] && [ "$leader" != "$not" ] && _pg_ha_write_reaches "$leader"; then break; fi
    [ "$SECONDS" -ge "$deadline" ] &&
      _pg_ha_fail "no leader other than $not reached through pg_write after $timeout s (leader: ${leader:-none})" \
        "$dir/$(_pg_ha_other "$not").log" "$dir/haproxy.log"
    sleep 0.2
  done
  _pg_ha_since "$t0"
)

pg_ha_restart_member() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_restart_member DIR NAME} name=${2:?missing NAME} t0
  _pg_ha_env "$dir"
  _pg_ha_member_port "$name" >/dev/null || _pg_ha_fail "no member '$name' (pg1 or pg2)"
  [ -z "$(_pg_ha_pid "$dir" "$name")" ] || _pg_ha_fail "$name's Patroni is running"
  t0=$(_pg_ha_now)
  # Patroni finds the data directory, sees another leader and joins it as a replica
  # (running pg_rewind first when this node's timeline went on past the fork point).
  _pg_ha_start_patroni "$dir" "$name"
  _pg_ha_wait_streaming "$dir" "$name" 90
  _pg_ha_since "$t0"
)

pg_ha_start_replica() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_start_replica DIR} name started=""
  _pg_ha_env "$dir"
  for name in $PG_HA_MEMBERS; do
    [ -n "$(_pg_ha_pid "$dir" "$name")" ] && continue
    _pg_ha_start_patroni "$dir" "$name"
    started+="$name "
  done
  [ -n "$started" ] || _pg_ha_fail "every member's Patroni is running already"
  for name in $started; do _pg_ha_wait_streaming "$dir" "$name" 90; done
  echo "$started"
)

pg_ha_restart_bouncer() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_restart_bouncer DIR} pid t0
  _pg_ha_env "$dir"
  t0=$(_pg_ha_now)
  pid=$(_pg_ha_pid "$dir" pgbouncer)
  if [ -n "$pid" ]; then
    kill -KILL "$pid"
    _pg_ha_wait_gone 10 "$pid" || _pg_ha_fail "PgBouncer (pid $pid) survives SIGKILL"
  fi
  _pg_ha_start_bouncer "$dir"
  _pg_ha_since "$t0"
)

pg_ha_haproxy_reload() (
  set -euo pipefail
  local dir=${1:?usage: pg_ha_haproxy_reload DIR} master old new deadline
  _pg_ha_env "$dir"
  dir=$PG_HA_DIR
  master=$(_pg_ha_pid "$dir" haproxy)
  [ -n "$master" ] || _pg_ha_fail "HAProxy is not running"
  _pg_ha_write_haproxy_cfg "$dir" "$dir/haproxy.cfg.new"
  # A configuration HAProxy refuses never replaces the running one.
  /usr/sbin/haproxy -c -q -f "$dir/haproxy.cfg.new" >"$dir/haproxy-check.log" 2>&1 ||
    _pg_ha_fail "the new haproxy.cfg is not valid (kept as $dir/haproxy.cfg.new)" "$dir/haproxy-check.log"
  chown "$PG_HA_USER" "$dir/haproxy.cfg.new"
  mv "$dir/haproxy.cfg.new" "$dir/haproxy.cfg"
  echo "show servers state" | socat -t 2 stdio "unix:$dir/haproxy.sock" >"$dir/haproxy.state" 2>/dev/null ||
    _pg_ha_fail "cannot save the servers' states through $dir/haproxy.sock"
  # The worker answering on the stats socket changes when the reload is done.
  old=$(echo "show info" | socat -t 2 stdio "unix:$dir/haproxy.sock" 2>/dev/null | awk '/^Pid:/ { print $2 }' || true)
  kill -USR2 "$master"
  deadline=$((SECONDS + 15))
  while :; do
    new=$(echo "show info" | socat -t 2 stdio "unix:$dir/haproxy.sock" 2>/dev/null | awk '/^Pid:/ { print $2 }' || true)
    [ -n "$new" ] && [ "$new" != "$old" ] && break
    [ "$SECONDS" -ge "$deadline" ] && _pg_ha_fail "HAProxy did not reload within 15 s (worker still ${old:-unknown})" "$dir/haproxy.log"
    sleep 0.2
  done
  [ "$(_pg_ha_pid "$dir" haproxy)" = "$master" ] || _pg_ha_fail "the HAProxy master exited on reload" "$dir/haproxy.log"
  _pg_ha_log "HAProxy reloaded: master $master, worker $old -> $new"
)
