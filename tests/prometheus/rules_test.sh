#!/usr/bin/env bash
# deploy/prometheus/alerts.yml: valid rules (promtool check rules), alerts that fire on the
# series that should raise them and only then (promtool test rules on alerts_test.yml),
# and every metric they name one that Millrace exposes (a renamed metric fails here, not
# silently in production).
# Usage: rules_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: rules_test.sh SOURCE_DIR}
rules=$src/deploy/prometheus/alerts.yml
command -v promtool >/dev/null || { echo "FAIL promtool is missing (installers/deps.sh installs prometheus)" >&2; exit 1; }

promtool check rules "$rules"
echo "ok   promtool check rules"
(cd "$src/tests/prometheus" && promtool test rules alerts_test.yml)
echo "ok   promtool test rules: the alerts fire when and where they should"

names=$(grep -o 'mes_[a-z_]*' "$rules" | sort -u)
[ -n "$names" ] || { echo "FAIL no Millrace metric in $rules" >&2; exit 1; }
for n in $names; do
  grep -rqF "\"$n\"" "$src/common/src" "$src/sync/src" "$src/central/src" "$src/edge/src" ||
    { echo "FAIL $rules names $n, which no Millrace source registers" >&2; exit 1; }
done
echo "ok   every metric the rules name is registered by Millrace ($(echo $names | wc -w) names)"
