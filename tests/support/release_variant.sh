#!/usr/bin/env bash
# Builds another release from this source tree with extra edge migrations: the "next
# release" an upgrade test installs over this build's packages.
#
# Usage: release_variant.sh SOURCE_DIR WORK_DIR VERSION OUT_DIR [MIGRATION.sql ...]
#   The tree (its files as they are now, those git ignores left out) is copied to WORK_DIR/src once; each
#   MIGRATION.sql is added as the next edge migration (kEdgeSchemaVersion follows, so the
#   release's central serves that edge schema and the one before), the programs are built
#   (Debug, in WORK_DIR/build, incrementally on later calls) and the edge packaged as
#   millrace-edge VERSION into OUT_DIR; its mes-central is WORK_DIR/build/central/mes-central.
#   Prints the package's path.
set -euo pipefail
src=$1 work=$2 version=$3 out=$4
shift 4
if [ ! -d "$work/src" ]; then
  mkdir -p "$work/src"
  (cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -x -C "$work/src"
fi
migrations="$work/src/edge/migrations"
for m in "$@"; do
  n=$(( $(ls "$migrations"/*.sql | wc -l) + 1 ))
  cp "$m" "$migrations/$(printf '%04d' "$n")_$(basename "$m")"
done
n=$(ls "$migrations"/*.sql | wc -l)
sed -i "s/^inline constexpr int kEdgeSchemaVersion = [0-9]*;/inline constexpr int kEdgeSchemaVersion = $n;/" \
  "$work/src/common/include/millrace/common/schema_versions.h"
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMILLRACE_WERROR=OFF \
  -DMILLRACE_PACKAGE_VERSION="$version" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" -j2 --target mes-edge mesctl mes-sim mes-central >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; exit 1; }
mkdir -p "$out"
cpack --config "$work/build/CPackConfig.cmake" -D CPACK_COMPONENTS_ALL=edge -B "$work/cpack" \
  >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; exit 1; }
deb=$(ls "$work"/cpack/millrace-edge_"$version"_*.deb)
mv "$deb" "$out/"
echo "$out/$(basename "$deb")"
