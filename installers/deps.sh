#!/usr/bin/env bash
# Installs the Debian 12 packages Millrace needs to build, test and run locally.
# Idempotent: when everything is present it prints nothing and exits 0.
# Usage: installers/deps.sh [--check]   (--check lists what is missing, exits 1 if any)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang-format
  # storage
  libsqlite3-dev sqlite3 zlib1g-dev libpq-dev postgresql-15 postgresql-client-15
  # central's PostgreSQL backups: WAL archiving, full and incremental backups, PITR
  pgbackrest
  # HTTPS (Beast over OpenSSL); the openssl tool makes test certificates
  libssl-dev openssl
  # messaging and serialization
  libzmq3-dev cppzmq-dev protobuf-compiler libprotobuf-dev
  # runtime libraries
  libboost-dev libspdlog-dev libfmt-dev libsodium-dev libcctz-dev tzdata
  libcli11-dev nlohmann-json3-dev libtoml11-dev
  # tests (the browser test drives Debian's Chromium with playwright-core from npm; the
  # fuzz test builds with clang and libFuzzer)
  libgtest-dev libgmock-dev curl procps util-linux python3 nodejs chromium
  clang libclang-rt-14-dev
  # Debian packages (CPack runs dpkg-shlibdeps from dpkg-dev; the packages test runs lintian;
  # fakeroot for building them as a user)
  dpkg-dev lintian fakeroot systemd
  # offline site bundles: signed with minisign; the Debian-root test builds a minimal
  # Debian 12 with debootstrap
  minisign debootstrap socat
  # central across machines (deploy/cluster/): PostgreSQL high availability with Patroni and
  # etcd, HAProxy, PgBouncer in transaction mode; yamllint checks the compose file and the
  # Kubernetes manifests (their daemons are not started: see policy-rc.d below)
  pgbouncer haproxy patroni etcd-server etcd-client yamllint
  # promtool checks and unit-tests deploy/prometheus/alerts.yml (the package's server is
  # not started: see policy-rc.d below)
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
# Debian's nodejs ships npm as its own package; other builds of nodejs include it.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ "${1:-}" = --check ]; then
  [ ${#missing[@]} -eq 0 ] && exit 0
  printf 'missing: %s\n' "${missing[*]}"; exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or: sudo installers/deps.sh) to install them" >&2
  exit 1
fi

echo "deps.sh: installing ${#missing[@]} Debian package(s): ${missing[*]}"
# Millrace runs its own private PostgreSQL clusters; do not let the package create and
# start the system-wide 'main' cluster on port 5432.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/millrace.conf
export DEBIAN_FRONTEND=noninteractive
# Packages that ship a daemon (prometheus, pgbouncer, haproxy, etcd) must not start it here: Millrace's tests start
# what they need on ports of their own. A policy-rc.d that refuses every start, for the
# length of the install (one already there is kept).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
