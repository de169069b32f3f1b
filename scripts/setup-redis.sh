#!/usr/bin/env bash
# redis-server for the tests that need a real Redis (shared state between kvfleet instances):
# on PATH already, or Debian's package (apt; root or sudo). The tests start it themselves on a
# loopback port of their own (test/helpers/redis.ts); nothing is left running.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version | head -n1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The package starts a system service on 6379; the tests do not use it.
($SUDO service redis-server stop >/dev/null 2>&1 || true)
echo "redis-server: $(redis-server --version | head -n1)"
