#!/usr/bin/env bash
# A short libFuzzer run of the wire decoder and the applier's input checks
# (tests/fuzz/wire_fuzz.cc), as the CTest test fuzz.wire. Needs clang; without it the
# test is reported as skipped (exit 77).
#
#   tests/fuzz/run.sh SOURCE_DIR WORK_DIR SECONDS
#
# WORK_DIR holds a clang build (MILLRACE_FUZZ=ON) and the growing corpus; the seed corpus
# is tests/fuzz/corpus/wire. For a long run: tests/fuzz/run.sh . build/fuzz 3600
set -euo pipefail
src=${1:?usage: run.sh SOURCE_DIR WORK_DIR SECONDS}
work=${2:?missing WORK_DIR}
seconds=${3:?missing SECONDS}
clangxx=$(command -v clang++ || true)
[ -n "$clangxx" ] || { echo "fuzz: clang++ is not installed; skipping (apt-get install clang)"; exit 77; }
mkdir -p "$work/corpus"
echo "fuzz: building wire_fuzz with $clangxx in $work/build"
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$clangxx" -DMILLRACE_FUZZ=ON -DMILLRACE_WERROR=OFF \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" --target wire_fuzz >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
echo "fuzz: running for $seconds s"
"$work/build/tests/wire_fuzz" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$src/tests/fuzz/corpus/wire" 2>&1 |
  grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|INFO: Seed)' || true
exit "${PIPESTATUS[0]}"
