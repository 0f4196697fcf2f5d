#!/usr/bin/env bash
# Central's dashboard in headless Chromium against a real installation (central, two edges,
# the floor simulator): tests/integration/dashboard_browser_test.cc sets it up and runs
# dashboard_test.mjs. Installs the pinned playwright-core (npm ci) into WORK_DIR on first
# use; the screenshots of every page are kept in WORK_DIR/dashboard-shots.
# Usage: tests/browser/dashboard_run.sh DRIVER MES_CENTRAL MES_EDGE MES_SIM WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
driver=$1 central=$2 edge=$3 sim=$4 work=$5
mkdir -p "$work/dashboard-shots"
cp "$here/package.json" "$here/package-lock.json" "$here/dashboard_test.mjs" "$work/"
if [ ! -d "$work/node_modules/playwright-core" ] || ! cmp -s "$here/package-lock.json" "$work/node_modules/.package-lock.json.installed"; then
  (cd "$work" && npm ci --no-audit --no-fund --silent) && cp "$here/package-lock.json" "$work/node_modules/.package-lock.json.installed"
fi
[ -x /usr/bin/chromium ] || { echo "browser test: /usr/bin/chromium missing (installers/deps.sh installs it)" >&2; exit 1; }
exec "$driver" "$central" "$edge" "$sim" "$work/dashboard_test.mjs" "$work/dashboard-shots"
