#!/bin/sh
# Installs a site bundle whose signature and checksums header.sh has verified: its Debian
# packages, the site's files, then starts the edge and waits until it is ready.
#
# A machine that already runs the site is upgraded instead, and rolled back if the new
# build fails: the edge is stopped and its store copied aside, the packages installed, the
# edge started; unless it is ready (and, when it was syncing before, has spoken with central)
# within MILLRACE_UPGRADE_TIMEOUT seconds (120), the failed build's store is kept aside, the
# previous packages are put back, the store restored from the copy (a new store epoch:
# central sends back what it lacks) and the previous edge started. The packages installed
# are kept in /var/lib/millrace/packages for that.
#
# The packages' own scripts never start the edge here (MILLRACE_NO_START): this script
# starts it once the site's files are in place or the store is restored.
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
die() { echo "millrace bundle: $*" >&2; exit 1; }
case $timeout in
  ''|*[!0-9]*|0) die "MILLRACE_UPGRADE_TIMEOUT='$timeout' is not a number of seconds: nothing was changed" ;;
esac

installed_version() { dpkg-query -W -f='${Status} ${Version}' millrace-edge 2>/dev/null |
  sed -n 's/^install ok installed //p'; }
systemd_running() { [ -d /run/systemd/system ]; }
# The terminal's port as the configuration in force says ([http] port; 8080 by default).
config_port() {
  p=$(awk '/^\[/ { s = $0 } s == "[http]" && /^port *=/ { gsub(/[^0-9]/, ""); print; exit }' "$config")
  echo "${p:-8080}"
}

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

is_edge() { [ -n "$1" ] && [ -d "/proc/$1" ] && grep -q mes-edge "/proc/$1/cmdline" 2>/dev/null; }
stop_edge() {
  if systemd_running; then
    systemctl stop mes-edge.service || true
  else
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    # The file is the millrace user's: signal only a process that is mes-edge.
    if is_edge "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    i=0
    while is_edge "$pid"; do
      i=$((i + 1)); [ $i -le 300 ] || die "mes-edge (pid $pid) did not stop within 30 s"
      sleep 0.1
    done
    rm -f "$pidfile"
  fi
}

# wait_ready SECONDS NEED_SYNC: 0 once the edge is ready (and connected to central, when
# NEED_SYNC is 1); 1 when SECONDS pass first, 2 when the edge exited.
wait_ready() {
  url="http://127.0.0.1:$(config_port)"
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

# install_packages DIR [PACKAGE]: the .debs of DIR in one dpkg run, leaving out those the
# machine already has at the same or a newer version (PACKAGE is installed whatever its
# version: the rollback's millrace-edge). 0, or 1 with dpkg's output shown.
install_packages() {
  list=
  for deb in "$1"/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    ver=$(dpkg-deb -f "$deb" Version)
    have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null |
      sed -n 's/^install ok installed //p')
    if [ -n "$have" ] && [ "$pkg" != "${2:-}" ] && dpkg --compare-versions "$have" ge "$ver"; then
      continue
    fi
    list="$list $deb"
  done
  [ -n "$list" ] || return 0
  # shellcheck disable=SC2086
  if out=$(MILLRACE_NO_START=1 DEBIAN_FRONTEND=noninteractive dpkg -i --force-downgrade \
             --force-confdef --force-confold $list 2>&1); then
    printf '%s\n' "$out" | sed -n 's/^\(Unpacking\|Setting up\) \(.*\)/      \1 \2/p'
    return 0
  fi
  printf '%s\n' "$out" | tail -20 | sed 's/^/      /' >&2
  return 1
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
  install_packages "$tmp/debs" || die "dpkg could not install the packages"
  [ "$(installed_version)" = "$version" ] || die "dpkg did not install millrace-edge $version"
  echo "[5/7] installing site $site"
  install -d -o millrace -g millrace -m 0750 "$state"
  for f in site.key snapshot.pb; do
    [ -f "$tmp/site/$f" ] && install -o millrace -g millrace -m 0600 "$tmp/site/$f" "$state/$f"
  done
  for f in site.pub central.pub; do
    [ -f "$tmp/site/$f" ] && install -o millrace -g millrace -m 0644 "$tmp/site/$f" "$state/$f"
  done
  if grep -q '^enrollment_code = ' "$tmp/site/edge.toml"; then
    # A one-time code is a credential until the edge spends it: readable by the edge only.
    install -m 0640 -g millrace "$tmp/site/edge.toml" "$config"
  else
    install -m 0644 "$tmp/site/edge.toml" "$config"
  fi
  record_key
  checked=$(mes-edge config check "$config" 2>&1) || die "$config does not check out: $checked"
  printf '%s\n' "$checked" | sed 's/^/      /'
  keep_packages
  if [ -n "${NO_START:-}" ]; then
    echo "[6/7] not starting (--no-start)"; echo "[7/7] site $site installed"; exit 0
  fi
  echo "[6/7] starting mes-edge"
  start_edge
  wait_ready 60 0 || die "mes-edge is not ready after 60 s (journalctl -u mes-edge or /var/log/millrace/mes-edge.log)"
  echo "[7/7] site $site is running: the terminal is at http://$(hostname):$(config_port)/ (it syncs once central is reachable)"
  exit 0
fi

# ---- upgrade of an installed site ----
grep -q "^id = \"$site\"" "$config" ||
  die "this machine runs another site ($(sed -n 's/^id = //p' "$config" | head -1)), not $site"
[ -d "$kept" ] || die "no packages of the installed build in $kept to roll back to: nothing was changed"
echo "[4/7] upgrading site $site from millrace-edge $before to $version"
url="http://127.0.0.1:$(config_port)"
need_sync=0
if mesctl --edge "$url" --json sync status 2>/dev/null | grep -q '"connected": *true'; then need_sync=1; fi
stop_edge
# One file to copy: opening and closing the store folds its write-ahead log into it.
runuser -u millrace -- mes-edge init --db "$state/edge.db" >/dev/null 2>&1 || true
if [ -s "$state/edge.db-wal" ]; then
  start_edge
  die "the store's write-ahead log is still there after the edge stopped: nothing was changed"
fi
aside="$state/pre-upgrade"
rm -rf "$aside" && install -d -o millrace -g millrace -m 0700 "$aside"
cp -p "$state/edge.db" "$aside/edge.db"
echo "      the store is copied aside to $aside"
outcome=0
if install_packages "$tmp/debs" && [ "$(installed_version)" = "$version" ]; then
  echo "[5/7] starting millrace-edge $version"
  start_edge
  if [ "$need_sync" = 1 ]; then what="ready and syncing"; else what="ready"; fi
  wait_ready "$timeout" "$need_sync" || outcome=$?
  if [ "$outcome" = 0 ]; then
    keep_packages
    record_key
    echo "[6/7] mes-edge $version is $what"
    echo "[7/7] site $site upgraded to millrace-edge $version (the pre-upgrade store stays in $aside)"
    exit 0
  fi
else
  outcome=3
fi

# ---- rollback ----
# What the new edge last heard from central (a refusal names both versions).
said=$(mesctl --edge "$url" --json sync status 2>/dev/null |
  sed -n 's/^ *"last_error": *"\(..*\)",\{0,1\}$/\1/p' | head -1)
case $outcome in
  2) echo "[6/7] mes-edge $version exited before it was $what: rolling back to $before" >&2 ;;
  3) echo "[6/7] millrace-edge $version did not install: rolling back to $before" >&2 ;;
  *) echo "[6/7] mes-edge $version was not $what within $timeout s: rolling back to $before" >&2 ;;
esac
[ -z "$said" ] || echo "      its link to central: $said" >&2
tail -5 /var/log/millrace/mes-edge.log 2>/dev/null | sed 's/^/      /' >&2 || true
stop_edge
# The failed build's store stays, for what was entered on it and never reached central.
failed="$state/failed-upgrade-$version"
rm -rf "$failed" && install -d -o millrace -g millrace -m 0700 "$failed"
for f in edge.db edge.db-wal edge.db-shm; do [ -f "$state/$f" ] && mv "$state/$f" "$failed/$f"; done
install_packages "$kept" millrace-edge || die "could not put back the packages of $before from $kept"
[ "$(installed_version)" = "$before" ] || die "rollback left millrace-edge at $(installed_version)"
stop_edge
restored=$(runuser -u millrace -- mesctl restore --backup "$aside/edge.db" --db "$state/edge.db" 2>&1) ||
  die "could not restore the pre-upgrade store from $aside: $restored"
printf '%s\n' "$restored" | sed 's/^/      /'
start_edge
wait_ready 60 0 || die "the rolled-back mes-edge $before is not ready either"
echo "[7/7] ROLLED BACK: site $site runs millrace-edge $before again, on its pre-upgrade store (the failed upgrade's store is kept in $failed); $version was not installed" >&2
exit 3
