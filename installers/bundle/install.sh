#!/bin/sh
# Installs a site bundle whose signature and checksums header.sh has verified: its Debian
# packages, the site's files, then starts the edge and waits until it is ready.
#
# A machine that already runs the site is upgraded instead, and rolled back if the new
# build fails: the edge is stopped and its store copied aside, the packages installed, the
# edge started; unless it is ready (and, when it was syncing before, has spoken with central)
# within MILLRACE_UPGRADE_TIMEOUT seconds (120), the previous packages are put back, the
# store restored from the copy (a new store epoch: central sends back what it lacks) and the
# previous edge started. The packages installed are kept in /var/lib/millrace/packages for
# that.
#
# Usage: sh install.sh PAYLOAD_DIR   (environment: BUNDLE_KEY, NO_START)
set -eu
tmp=$1
. "$tmp/bundle.env"   # site, version, http_port
state=/var/lib/millrace/edge
config=/etc/millrace/edge.toml
kept=/var/lib/millrace/packages
pidfile=$state/mes-edge.pid   # where no systemd runs it
timeout=${MILLRACE_UPGRADE_TIMEOUT:-120}
url="http://127.0.0.1:$http_port"
die() { echo "millrace bundle: $*" >&2; exit 1; }

installed_version() { dpkg-query -W -f='${Status} ${Version}' millrace-edge 2>/dev/null |
  sed -n 's/^install ok installed //p'; }
systemd_running() { [ -d /run/systemd/system ]; }

start_edge() {
  if systemd_running; then
    systemctl enable --quiet mes-edge.service
    systemctl restart mes-edge.service
  else
    # No systemd (a container, a chroot): run it as the unit would, as user millrace.
    install -d -o millrace -g millrace -m 0750 /var/log/millrace
    rm -f "$pidfile"
    (cd "$state" && setsid runuser -u millrace -- sh -c \
       'echo $$ >"$1"; exec /usr/bin/mes-edge serve --config "$2"' sh "$pidfile" "$config" \
       >>/var/log/millrace/mes-edge.log 2>&1 </dev/null &)
  fi
}

stop_edge() {
  if systemd_running; then
    systemctl stop mes-edge.service || true
  else
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while [ -d "/proc/$pid" ] && grep -q mes-edge "/proc/$pid/cmdline" 2>/dev/null; do
      i=$((i + 1)); [ $i -le 300 ] || die "mes-edge (pid $pid) did not stop within 30 s"
      sleep 0.1
    done
    rm -f "$pidfile"
  fi
}

# wait_ready SECONDS NEED_SYNC: 0 once the edge is ready (and connected to central, when
# NEED_SYNC is 1); 1 when SECONDS pass first, 2 when the edge exited.
wait_ready() {
  end=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    # Where no systemd restarts it, an edge that exited (a failed migration) will not be.
    if ! systemd_running && [ -s "$pidfile" ] && [ ! -d "/proc/$(cat "$pidfile")" ]; then
      return 2
    fi
    if mesctl --edge "$url" status >/dev/null 2>&1; then
      [ "$2" = 1 ] || return 0
      mesctl --edge "$url" --json sync status 2>/dev/null | grep -q '"connected": *true' && return 0
    fi
    sleep 1
  done
  return 1
}

install_packages() {  # install_packages DIR: every .deb in DIR, in one dpkg run
  DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "$1"/*.deb 2>&1 |
    sed -n 's/^\(Unpacking\|Setting up\) \(.*\)/      \1 \2/p'
  dpkg-query -W -f='${Status}' millrace-edge 2>/dev/null | grep -q 'install ok installed' ||
    die "dpkg did not install millrace-edge"
}

keep_packages() {  # the packages now installed, for a later rollback
  rm -rf "$kept.new" && mkdir -p "$kept.new" && cp "$tmp"/debs/*.deb "$kept.new/"
  rm -rf "$kept" && mv "$kept.new" "$kept"
}

record_key() {
  [ -n "${BUNDLE_KEY:-}" ] || return 0
  install -d -m 0755 /etc/millrace
  if [ -f "$BUNDLE_KEY" ]; then
    install -m 0644 "$BUNDLE_KEY" /etc/millrace/bundle-signing.pub
  else
    printf 'untrusted comment: minisign public key of Millrace site bundles\n%s\n' "$BUNDLE_KEY" \
      >/etc/millrace/bundle-signing.pub
  fi
}

before=$(installed_version)
if [ -z "$before" ] || [ ! -f "$state/edge.db" ]; then
  # ---- first installation ----
  echo "[4/7] installing $(ls "$tmp"/debs/*.deb | wc -l) Debian packages (millrace-edge $version)"
  install_packages "$tmp/debs"
  echo "[5/7] installing site $site"
  install -d -o millrace -g millrace -m 0750 "$state"
  for f in site.key snapshot.pb; do
    [ -f "$tmp/site/$f" ] && install -o millrace -g millrace -m 0600 "$tmp/site/$f" "$state/$f"
  done
  for f in site.pub central.pub; do
    [ -f "$tmp/site/$f" ] && install -o millrace -g millrace -m 0644 "$tmp/site/$f" "$state/$f"
  done
  install -m 0644 "$tmp/site/edge.toml" "$config"
  record_key
  mesctl --version >/dev/null
  mes-edge config check "$config" | sed 's/^/      /' || die "$config does not check out"
  keep_packages
  if [ -n "${NO_START:-}" ]; then
    echo "[6/7] not starting (--no-start)"; echo "[7/7] site $site installed"; exit 0
  fi
  echo "[6/7] starting mes-edge"
  start_edge
  wait_ready 60 0 || die "mes-edge is not ready after 60 s (journalctl -u mes-edge or /var/log/millrace/mes-edge.log)"
  echo "[7/7] site $site is running: the terminal is at http://$(hostname):$http_port/ (it syncs once central is reachable)"
  exit 0
fi

# ---- upgrade of an installed site ----
grep -q "^id = \"$site\"" "$config" ||
  die "this machine runs another site ($(sed -n 's/^id = //p' "$config" | head -1)), not $site"
echo "[4/7] upgrading site $site from millrace-edge $before to $version"
need_sync=0
if mesctl --edge "$url" --json sync status 2>/dev/null | grep -q '"connected": *true'; then need_sync=1; fi
stop_edge
aside="$state/pre-upgrade"
rm -rf "$aside" && install -d -o millrace -g millrace -m 0700 "$aside"
for f in edge.db edge.db-wal; do [ -f "$state/$f" ] && cp -p "$state/$f" "$aside/$f"; done
echo "      the store is copied aside to $aside"
[ -d "$kept" ] || die "no packages of the installed build in $kept to roll back to"
install_packages "$tmp/debs"
echo "[5/7] starting millrace-edge $version"
start_edge
if [ "$need_sync" = 1 ]; then what="ready and syncing"; else what="ready"; fi
outcome=0
wait_ready "$timeout" "$need_sync" || outcome=$?
if [ "$outcome" = 0 ]; then
  keep_packages
  record_key
  echo "[6/7] mes-edge $version is $what"
  echo "[7/7] site $site upgraded to millrace-edge $version (the pre-upgrade store stays in $aside)"
  exit 0
fi

# ---- rollback ----
# What the new edge last heard from central (a refusal names both versions).
said=$(mesctl --edge "$url" --json sync status 2>/dev/null |
  sed -n 's/^ *"last_error": *"\(..*\)",\{0,1\}$/\1/p' | head -1)
if [ "$outcome" = 2 ]; then
  echo "[6/7] mes-edge $version exited before it was $what: rolling back to $before" >&2
else
  echo "[6/7] mes-edge $version was not $what within $timeout s: rolling back to $before" >&2
fi
[ -z "$said" ] || echo "      its link to central: $said" >&2
tail -5 /var/log/millrace/mes-edge.log 2>/dev/null | sed 's/^/      /' >&2 || true
stop_edge
DEBIAN_FRONTEND=noninteractive dpkg -i --force-downgrade --force-confdef --force-confold \
  "$kept"/*.deb >/dev/null 2>&1 || die "could not put back the packages of $before from $kept"
[ "$(installed_version)" = "$before" ] || die "rollback left millrace-edge at $(installed_version)"
rm -f "$state/edge.db-wal" "$state/edge.db-shm"
runuser -u millrace -- mesctl restore --backup "$aside/edge.db" --db "$state/edge.db" |
  sed 's/^/      /' || die "could not restore the pre-upgrade store from $aside"
start_edge
wait_ready 60 0 || die "the rolled-back mes-edge $before is not ready either"
echo "[7/7] ROLLED BACK: site $site runs millrace-edge $before again, on its pre-upgrade store; $version was not installed" >&2
exit 3
