#!/usr/bin/env bash
# One command: install what the demo needs (npm packages, Envoy), build, run it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-envoy.sh >/dev/null
npm run --silent build
exec node bin/kvfleet.js demo
