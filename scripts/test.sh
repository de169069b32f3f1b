#!/usr/bin/env bash
# One command: install what the tests need (npm packages, Envoy, redis-server, Chromium), lint, check
# formatting, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-envoy.sh
bash scripts/setup-redis.sh
bash scripts/setup-chromium.sh
# Static checks first: a lint or format problem fails the run before the slow tests.
npm run --silent lint
npm run --silent format:check
results="$(mktemp -t kvfleet-vitest-XXXXXX.json)"
status=0
npm test -- --reporter=default --reporter=json --outputFile.json="$results" || status=$?
# A plain closing line: "N passed, N failed" (and skipped, when any).
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" 2>/dev/null || true
rm -f "$results"
exit "$status"
