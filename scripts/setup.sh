#!/usr/bin/env bash
# Installs everything the tests, the demo and the benchmarks need on a new Debian machine:
# the Debian packages (Prometheus, hey, util-linux for unshare, curl) and the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v hey >/dev/null 2>&1 || need_apt+=(hey)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
{ command -v unshare && command -v nsenter; } >/dev/null 2>&1 || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

stamp="$VENV/.requirements-installed"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  touch "$stamp"
fi
