#!/usr/bin/env bash
# Chromium for the dashboard's browser tests (test/e2e/dashboard.e2e.test.ts,
# test/unit/dashboard-render.test.ts), driven by puppeteer-core: on PATH or at a usual place
# already, or Debian's package (apt; root or sudo). CHROMIUM_PATH points the tests at another
# binary. Nothing is downloaded by npm: puppeteer-core ships no browser.
set -euo pipefail
for c in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome /usr/bin/google-chrome-stable; do
  if [ -n "$c" ] && [ -x "$c" ]; then
    echo "chromium: $("$c" --version 2>/dev/null | head -n1) ($c)"
    exit 0
  fi
done
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1) (/usr/bin/chromium)"
