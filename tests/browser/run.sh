#!/usr/bin/env bash
# The web terminal in headless Chromium against a real, seeded mes-edge.
# Installs the pinned playwright-core (npm ci) into WORK_DIR on first use.
# Usage: tests/browser/run.sh MES_EDGE WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
edge=$1 work=$2
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/terminal_test.mjs" "$work/"
if [ ! -d "$work/node_modules/playwright-core" ] || ! cmp -s "$here/package-lock.json" "$work/node_modules/.package-lock.json.installed"; then
  (cd "$work" && npm ci --no-audit --no-fund --silent) && cp "$here/package-lock.json" "$work/node_modules/.package-lock.json.installed"
fi
[ -x /usr/bin/chromium ] || { echo "browser test: /usr/bin/chromium missing (installers/deps.sh installs it)" >&2; exit 1; }

run=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$run"' EXIT
printf '[site]\nid = "plant-a"\n[store]\npath = "%s/edge.db"\n[http]\nport = 0\n[backup]\ninterval_minutes = 0\n' "$run" >"$run/edge.toml"
"$edge" seed -c "$run/edge.toml" >/dev/null
"$edge" serve -c "$run/edge.toml" --port-file "$run/port" 2>"$run/edge.log" &
pid=$!
for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.1; done
[ -s "$run/port" ] || { cat "$run/edge.log" >&2; exit 1; }
node "$work/terminal_test.mjs" "http://127.0.0.1:$(cat "$run/port")" "$work"
