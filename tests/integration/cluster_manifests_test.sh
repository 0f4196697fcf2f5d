#!/usr/bin/env bash
# deploy/cluster's Docker Compose file and Kubernetes manifests, checked with what this
# machine has (no Docker engine, no cluster): yamllint -d relaxed on every YAML file, then
# deploy/cluster/check_manifests (structure, references, hardening, the configurations
# agreeing with each other and between compose and Kubernetes, haproxy -c, pgbouncer
# loading its file, patroni --validate-config, etcd's flags, kubectl kustomize, and
# `mes-central config check` on each central.toml). Then the checker must catch real
# mistakes: each mutation below, made in a copy of the tree, must make it fail and say why.
# Usage: cluster_manifests_test.sh MES_CENTRAL
set -euo pipefail
central=${1:?usage: cluster_manifests_test.sh MES_CENTRAL}
src=$(cd "$(dirname "$0")/../.." && pwd)
cluster=$src/deploy/cluster
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }

[ -x "$central" ] || fail "$central is not an executable mes-central"
"$python" -c 'import yaml, tomllib' 2>/dev/null || fail "$python lacks PyYAML (python3-yaml) or tomllib"
command -v yamllint >/dev/null || fail "yamllint is missing (apt-get install yamllint)"

# ---- yamllint
mapfile -t yamls < <(cd "$src" && ls deploy/cluster/compose/*.yaml deploy/cluster/compose/*.yml \
                     deploy/cluster/kubernetes/*.yaml)
set +e
(cd "$src" && yamllint -d relaxed -f parsable "${yamls[@]}") >"$work/yamllint" 2>&1
rc=$?
set -e
if [ "$rc" != 0 ] || grep -q '\[error\]' "$work/yamllint"; then
  grep '\[error\]' "$work/yamllint" >&2 || cat "$work/yamllint" >&2
  fail "yamllint -d relaxed"
fi
ok "yamllint -d relaxed: ${#yamls[@]} files, no errors ($(grep -c '\[warning\]' "$work/yamllint" || true) warnings)"

# ---- the checker on the tree as it is
set +e
"$python" "$cluster/check_manifests" --mes-central "$central" >"$work/check" 2>&1
rc=$?
set -e
sed 's/^/     /' "$work/check"
[ "$rc" = 0 ] || fail "deploy/cluster/check_manifests --mes-central $central (exit $rc)"
ok "deploy/cluster/check_manifests: $(grep -c '^ok ' "$work/check") checks"

# ---- the checker catches mistakes: each mutation, in a copy, must fail with its reason
tree=$work/tree
mkdir -p "$tree/central/src" "$tree/common/src" "$tree/deploy"
cp "$src/CMakeLists.txt" "$tree/"
cp "$src/central/src/central_config_docs.cc" "$tree/central/src/"
cp "$src/common/src/daemon_config.cc" "$tree/common/src/"
(cd "$src/deploy" && tar --exclude=secrets -cf - cluster) | (cd "$tree/deploy" && tar -xf -)
"$python" "$tree/deploy/cluster/check_manifests" --root "$tree" --no-tools >"$work/copy" 2>&1 ||
  { cat "$work/copy" >&2; fail "the checker fails on an unchanged copy of the tree"; }

# mutate FILE OLD NEW EXPECTED DESCRIPTION [CHECKER OPTIONS...]: OLD (once in FILE) becomes
# NEW; the checker must exit 1 and print EXPECTED; then the file is put back.
mutate() {
  local rel=$1 file=$tree/deploy/cluster/$1 old=$2 new=$3 expected=$4 desc=$5
  shift 5
  cp "$file" "$work/saved"
  "$python" - "$file" "$old" "$new" <<'PY' || fail "mutation '$desc': its text is not in $rel once (stale test)"
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(1)
open(path, "w").write(text.replace(old, new))
PY
  set +e
  "$python" "$tree/deploy/cluster/check_manifests" --root "$tree" "$@" >"$work/mutant" 2>&1
  local got=$?
  set -e
  cp "$work/saved" "$file"
  [ "$got" = 1 ] || { cat "$work/mutant" >&2; fail "mutation '$desc': the checker exits $got, not 1"; }
  grep -qF -- "$expected" "$work/mutant" ||
    { cat "$work/mutant" >&2; fail "mutation '$desc': no '$expected' in the checker's output"; }
  ok "caught: $desc -> $(grep -F -- "$expected" "$work/mutant" | head -n 1 | cut -c1-150)"
}

mutate kubernetes/central.yaml "      targetPort: http" "      targetPort: 8091" \
  "targetPort 8091 is no containerPort" "a Service targeting a port no container has" --no-tools
mutate kubernetes/pgbouncer.yaml $'  selector:\n    app.kubernetes.io/name: pgbouncer\n  ports:' \
  $'  selector:\n    app.kubernetes.io/name: pg-bouncer\n  ports:' \
  "matches no pod template" "a Service selector matching no pods" --no-tools
mutate kubernetes/central.yaml $'    matchLabels:\n      app.kubernetes.io/name: mes-central\n  strategy:' \
  $'    matchLabels:\n      app.kubernetes.io/name: central\n  strategy:' \
  "does not match its pod template's labels" "a Deployment selector not matching its template" --no-tools
mutate compose/compose.yaml $'    pgbouncer:\n      condition: service_healthy\n    haproxy:' \
  $'    pg-bouncer:\n      condition: service_healthy\n    haproxy:' \
  "depends_on 'pg-bouncer', which is no service" "compose depends_on a missing service" --no-tools
mutate compose/compose.yaml "    - central.pgpass" "    - central-pgpass" \
  "secret 'central-pgpass' is not declared" "compose mounting an undeclared secret" --no-tools
mutate compose/compose.yaml '      - "127.0.0.1:8404:8404"' $'      - "127.0.0.1:8404:8404"\n      - "8090:8404"' \
  "collides with haproxy's" "compose publishing one host port twice" --no-tools
mutate kubernetes/central.yaml "  replicas: 2" $'  replicas: 2\n  replicas: 3' \
  "duplicate key 'replicas'" "a duplicate YAML key (file:line)" --no-tools
mutate kubernetes/etcd.yaml "          readinessProbe:" "          readinesProbe:" \
  "readinesProbe: unknown field" "a misspelt field" --no-tools
mutate kubernetes/central.yaml $'            defaultMode: 0440\n            sources:\n              - secret:\n                  name: central-curve-key' \
  $'            defaultMode: 0444\n            sources:\n              - secret:\n                  name: central-curve-key' \
  "a secret readable by others" "central's secret key readable by others" --no-tools
mutate kubernetes/central.yaml "        runAsUser: 990" "        runAsUser: 1000" \
  "but its image's user is 990" "central running as a uid its image does not have" --no-tools
mutate kubernetes/haproxy.yaml "            readOnlyRootFilesystem: true" "            readOnlyRootFilesystem: false" \
  "readOnlyRootFilesystem must be true" "a writable root file system" --no-tools
mutate kubernetes/central.yaml "              mountPath: /run/millrace" "              mountPath: /run/millrace-run" \
  "is not a writable tmpfs/emptyDir" "central without a writable /run/millrace (read-only root)" --no-tools
mutate kubernetes/haproxy.yaml $'        server pg-1 pg-1.pg.millrace.svc.cluster.local:5432 check port 8008\n\n    frontend pg_read' \
  $'        server pg-1 pg-2.pg.millrace.svc.cluster.local:5432 check port 8008\n\n    frontend pg_read' \
  "has 2 replicas" "HAProxy naming a Patroni member the StatefulSet does not have" --no-tools
mutate compose/central.toml "replica_retry_seconds = 10" "replica_retry_s = 10" \
  "database.replica_retry_s is no key mes-central's sources document" "a central.toml key mes-central does not read" --no-tools
mutate compose/pgbouncer.ini "pool_mode = transaction" "pool_mode = session" \
  "pool_mode = 'session', wanted transaction" "PgBouncer out of transaction mode" --no-tools
mutate kubernetes/pgbouncer.yaml "    default_pool_size = 20" $'    default_pool_size = 20\n    max_prepared_statements = 100' \
  "unknown parameter: pgbouncer/max_prepared_statements" "a PgBouncer setting 1.18 does not have (pgbouncer loads the file)"
mutate compose/haproxy.cfg $'backend central_sync_nodes\n    balance leastconn' $'backend central_sync_nodes\n    balance leastconnn' \
  "haproxy -c fails" "an HAProxy configuration haproxy -c refuses"
mutate kubernetes/kustomization.yaml "central.key=secrets/central.key" "central.key=secrets/central.secret" \
  "is no file compose/make-secrets makes" "a generated secret from a file make-secrets does not make"
echo "cluster_manifests_test: $passed passed"
