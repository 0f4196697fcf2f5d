#!/bin/sh
# Millrace offline site bundle: installs and starts one site's factory edge on Debian 12
# with no network. Run as root on the site's machine:
#
#   sh millrace-site-SITE.bundle [--pubkey KEY|FILE] [--no-start]
#
#   --pubkey KEY|FILE  the publisher's minisign public key (the key itself, "RW...", or a
#                      file). Without it: /etc/millrace/bundle-signing.pub if a bundle was
#                      installed here before, else the key inside the bundle (it says so).
#   --no-start         install and configure, but leave the edge stopped
#
# Nothing is installed until the payload's signature and every checksum have been
# verified. The bundle holds the millrace-edge package, the Debian packages it needs that a
# minimal Debian 12 lacks, and the site's keys, configuration and master data.
#
# What this check proves: the payload is whole and was signed with the key it is checked
# against. It cannot prove that this script itself (or, where minisign is not installed,
# the minisign it carries) is the publisher's: check the whole file first where a trusted
# minisign is installed, `minisign -Vm FILE -P KEY` (FILE.minisig beside it), or compare its
# SHA-256 with the one site-bundle printed.
set -eu
bundle=$0
die() { echo "millrace bundle: $*" >&2; exit 1; }
pubkey= no_start=
while [ $# -gt 0 ]; do
  case $1 in
    --pubkey) [ $# -ge 2 ] || die "--pubkey needs a key or a file"; pubkey=$2; shift 2 ;;
    --pubkey=*) pubkey=${1#--pubkey=}; shift ;;
    --no-start) no_start=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$bundle" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (--help says what there is)" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root"

tmp=$(mktemp -d /var/tmp/millrace-bundle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "[1/7] unpacking $bundle"
line=$(awk '/^__MILLRACE_PAYLOAD__$/ { print NR + 1; exit }' "$bundle")
[ -n "$line" ] || die "$bundle is not a Millrace site bundle"
# The files are root's whoever packed them, and the directory stays root's alone.
tail -n +"$line" "$bundle" | tar -xf - -C "$tmp" --no-same-owner --no-same-permissions ||
  die "$bundle is damaged: its payload does not unpack; nothing was installed"
chmod 0700 "$tmp"
[ -f "$tmp/SHA256SUMS" ] && [ -f "$tmp/SHA256SUMS.minisig" ] || die "$bundle has no signed checksums"

echo "[2/7] checking the signature"
if command -v minisign >/dev/null 2>&1; then
  verifier=minisign
else
  # The bundle's own minisign and libsodium, unpacked beside it (nothing is installed).
  mkdir "$tmp/.verifier"
  for d in "$tmp"/debs/minisign_*.deb "$tmp"/debs/libsodium23_*.deb; do
    [ -f "$d" ] || die "no minisign to check the signature with"
    dpkg-deb -x "$d" "$tmp/.verifier"
  done
  libdir=$(dirname "$(find "$tmp/.verifier" -name 'libsodium.so.*' | head -1)")
  verifier="env LD_LIBRARY_PATH=$libdir $tmp/.verifier/usr/bin/minisign"
fi
if [ -n "$pubkey" ]; then
  if [ -f "$pubkey" ]; then keyarg="-p $pubkey"; else keyarg="-P $pubkey"; fi
  trust="the key given"
elif [ -f /etc/millrace/bundle-signing.pub ]; then
  keyarg="-p /etc/millrace/bundle-signing.pub"
  trust="the key of the bundle installed here before"
elif [ -f "$tmp/signing.pub" ]; then
  keyarg="-p $tmp/signing.pub"
  trust="the key inside the bundle (this catches damage, not forgery: give --pubkey)"
else
  die "no key to check the signature with: give --pubkey"
fi
# shellcheck disable=SC2086
$verifier -V -q $keyarg -m "$tmp/SHA256SUMS" ||
  die "the signature does not verify with $trust: nothing was installed"
echo "      signed by $trust"

echo "[3/7] checking every file's checksum"
(cd "$tmp" && sha256sum --quiet --strict -c SHA256SUMS) ||
  die "checksums do not match: nothing was installed"
listed=$(cut -c67- "$tmp/SHA256SUMS" | LC_ALL=C sort)
present=$(cd "$tmp" && find . -type f ! -path './.verifier/*' ! -name SHA256SUMS ! -name SHA256SUMS.minisig |
  sed 's#^\./##' | LC_ALL=C sort)
[ "$listed" = "$present" ] || die "the bundle holds files its checksums do not list: nothing was installed"

# The key is recorded at the first installation, so later bundles are checked against it.
[ -n "$pubkey" ] || [ -f /etc/millrace/bundle-signing.pub ] || pubkey="$tmp/signing.pub"
status=0
BUNDLE_KEY=$pubkey NO_START=$no_start sh "$tmp/install.sh" "$tmp" || status=$?
exit $status
