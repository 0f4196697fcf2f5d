#!/usr/bin/env bash
# The Debian packages: CPack makes millrace-edge and millrace-central from this build;
# lintian finds no error in either; each holds its binaries, its hardened unit, its
# configuration as a conffile, the configuration reference, copyright and changelog, and
# maintainer scripts that parse; `systemd-analyze verify` takes each unit without a word, and
# `systemd-analyze security` rates each unit's exposure (the
# scores are printed; above 2.0 fails).
# Usage: packages_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
edge=$(ls "$work"/out/millrace-edge_*.deb) central=$(ls "$work"/out/millrace-central_*.deb)
ok "cpack made $(basename "$edge") and $(basename "$central")"

lintian --no-tag-display-limit "$edge" "$central" >"$work/lintian" 2>&1 || true
if grep -q '^E: ' "$work/lintian"; then cat "$work/lintian" >&2; fail "lintian reports errors"; fi
ok "lintian: no errors ($(grep -c '^W: ' "$work/lintian" || true) warnings)"

check_package() {  # check_package DEB ROLE BINARIES...
  local deb=$1 role=$2; shift 2
  local dir="$work/$role"
  dpkg-deb -x "$deb" "$dir"
  dpkg-deb -e "$deb" "$dir/DEBIAN"
  for b in "$@"; do
    [ -x "$dir/usr/bin/$b" ] || fail "$role: no /usr/bin/$b"
    "$dir/usr/bin/$b" --help >/dev/null || fail "$role: $b --help"
  done
  [ "$(cat "$dir/DEBIAN/conffiles")" = "/etc/millrace/$role.toml" ] ||
    fail "$role: conffiles is not /etc/millrace/$role.toml"
  [ -f "$dir/etc/millrace/$role.toml" ] || fail "$role: no /etc/millrace/$role.toml"
  local doc="$dir/usr/share/doc/millrace-$role"
  for f in copyright changelog.gz config.md; do [ -s "$doc/$f" ] || fail "$role: no $doc/$f"; done
  for s in postinst prerm postrm; do
    sh -n "$dir/DEBIAN/$s" || fail "$role: $s does not parse"
    grep -q "@" "$dir/DEBIAN/$s" && fail "$role: $s has an unexpanded @VARIABLE@"
  done
  grep -q "adduser --system" "$dir/DEBIAN/postinst" || fail "$role: postinst makes no system user"
  grep -q 'purge' "$dir/DEBIAN/postrm" || fail "$role: postrm does not handle purge"
  grep -q "rm -rf /var/lib/millrace/$role" "$dir/DEBIAN/postrm" || fail "$role: purge keeps the data"
  local unit="$dir/usr/lib/systemd/system/mes-$role.service"
  [ -f "$unit" ] || fail "$role: no unit"
  for d in "User=millrace" "StateDirectory=millrace/$role" "ProtectSystem=strict" \
           "NoNewPrivileges=yes" "PrivateTmp=yes" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
           "ExecStartPre=/usr/bin/mes-$role config check /etc/millrace/$role.toml"; do
    grep -qx "$d" "$unit" || fail "$role: the unit lacks $d"
  done
  # systemd-analyze verify over a root holding the package and the host's system units
  # (the targets the unit names); any complaint fails, warnings included.
  local root="$work/verify-$role"
  mkdir -p "$root/usr/lib/systemd" "$root/usr/bin"
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  ln -s usr/lib "$root/lib"
  cp -a "$dir/usr/bin/." "$root/usr/bin/"
  cp "$unit" "$root/usr/lib/systemd/system/"
  systemd-analyze verify --root="$root" "mes-$role.service" >"$work/verify-$role.log" 2>&1 ||
    { cat "$work/verify-$role.log" >&2; fail "$role: systemd-analyze verify"; }
  [ ! -s "$work/verify-$role.log" ] ||
    { cat "$work/verify-$role.log" >&2; fail "$role: systemd-analyze verify complains"; }
  systemd-analyze security --offline=yes --no-pager "$unit" >"$work/security-$role" 2>&1 ||
    { cat "$work/security-$role" >&2; fail "$role: systemd-analyze security"; }
  local score
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security-$role")
  [ -n "$score" ] || { cat "$work/security-$role" >&2; fail "$role: no exposure score"; }
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "$role: exposure $score is above 2.0"
  ok "millrace-$role: binaries, unit (verified), conffile, docs, scripts; systemd-analyze security exposure $score"
}
check_package "$edge" edge mes-edge mesctl mes-sim
[ -x "$work/edge/usr/sbin/millrace-edge-upgrade" ] && [ -s "$work/edge/usr/lib/millrace/edge-install.sh" ] ||
  fail "edge: no millrace-edge-upgrade or the installer it runs"
sh -n "$work/edge/usr/sbin/millrace-edge-upgrade" && sh -n "$work/edge/usr/lib/millrace/edge-install.sh" ||
  fail "edge: millrace-edge-upgrade does not parse"
"$work/edge/usr/sbin/millrace-edge-upgrade" --help | grep -q "^Usage: millrace-edge-upgrade" || fail "edge: millrace-edge-upgrade --help"
set +e; "$work/edge/usr/sbin/millrace-edge-upgrade" --timeout soon x.deb >/dev/null 2>"$work/upgrade-usage"; code=$?; set -e
[ "$code" = 2 ] && grep -q "'soon' is not a number" "$work/upgrade-usage" || fail "edge: millrace-edge-upgrade takes a bad --timeout"
ok "millrace-edge: millrace-edge-upgrade and its installer"
check_package "$central" central mes-central
# The shipped configuration files are what a site installer starts from: central's checks
# as it is (key files aside), the edge's says that the site is still to be named.
set +e
"$work/edge/usr/bin/mes-edge" config check "$work/edge/etc/millrace/edge.toml" >"$work/check" 2>&1
code=$?
set -e
[ "$code" = 2 ] && grep -q "key 'site.id': is required" "$work/check" ||
  { cat "$work/check" >&2; fail "the shipped edge.toml should ask for the site's id"; }
ok "the shipped edge.toml asks for the site's id"
echo "packages: $passed checks passed"
