#!/usr/bin/env bash
# installers.mixed_versions: builds mes-edge of the release before this one (the newest
# schema fixture of the edge schema before this build's, at the commit that added it) and
# runs mixed_versions_tests with it on that fixture. The build is kept in
# /var/tmp/millrace-release-<commit> for the next run.
#
# Usage: mixed_versions_test.sh SOURCE_DIR MIXED_VERSIONS_TESTS MES_CENTRAL MES_EDGE
set -euo pipefail
src=$1 tests=$2 central=$3 edge=$4
cur=$(sed -n 's/^inline constexpr int kEdgeSchemaVersion = \([0-9]*\);$/\1/p' \
  "$src/common/include/millrace/common/schema_versions.h")
fixture=
for d in $(ls -d "$src"/tests/fixtures/schema/release-* | sort -t- -k2 -n); do
  [ "$(sed -n 's/^edge_schema //p' "$d/versions.txt")" = $((cur - 1)) ] && fixture=$d
done
[ -n "$fixture" ] || { echo "no schema fixture of edge schema $((cur - 1))" >&2; exit 1; }
commit=$(git -C "$src" log --diff-filter=A --format=%H -1 -- "${fixture#"$src"/}/versions.txt")
[ -n "$commit" ] || { echo "git history does not say which commit added $fixture" >&2; exit 1; }
echo "the release before: $(basename "$fixture") (edge schema $((cur - 1))), commit ${commit:0:12}"
cache=/var/tmp/millrace-release-$commit
if [ ! -x "$cache/build/edge/mes-edge" ]; then
  start=$(date +%s)
  rm -rf "$cache" && mkdir -p "$cache/src"
  git -C "$src" archive "$commit" | tar -x -C "$cache/src"
  cmake -S "$cache/src" -B "$cache/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMILLRACE_WERROR=OFF \
    >"$cache/configure.log" 2>&1 || { cat "$cache/configure.log" >&2; exit 1; }
  cmake --build "$cache/build" -j2 --target mes-edge >"$cache/build.log" 2>&1 ||
    { tail -30 "$cache/build.log" >&2; exit 1; }
  echo "built its mes-edge in $(( $(date +%s) - start )) s"
fi
exec "$tests" "$central" "$edge" "$cache/build/edge/mes-edge" "$fixture"
