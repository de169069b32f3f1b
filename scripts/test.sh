#!/usr/bin/env bash
# One command: install what the tests need (npm packages, Envoy), build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-envoy.sh
npm test
