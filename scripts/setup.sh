#!/usr/bin/env bash
# Installs everything the tests, the demo and the benchmarks need on a new Debian machine:
# the Debian packages (Prometheus and its Pushgateway, hey, util-linux for unshare, iproute2, curl, InfluxDB,
# Graphite), the project venv,
# the real control plane and Flagger (built once per machine into a cache outside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
# The sandbox's Pushgateway, which receives the Flagger metrics a release pushes.
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway)
command -v hey >/dev/null 2>&1 || need_apt+=(hey)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# make docs and docs-lint turn the Markdown guides into antsibull-docs extra docs with pandoc.
command -v pandoc >/dev/null 2>&1 || need_apt+=(pandoc)
{ command -v unshare && command -v nsenter; } >/dev/null 2>&1 || need_apt+=(util-linux)
# The real control plane's pods live in network namespaces on a bridge of ours.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# The sandbox's InfluxDB 1.x and Graphite (carbon-cache and the render API): the tests that ask
# for them start their own processes on free loopback ports; the system services are not used.
command -v influxd >/dev/null 2>&1 || need_apt+=(influxdb)
command -v carbon-cache >/dev/null 2>&1 || need_apt+=(graphite-carbon)
[ -f /usr/lib/python3/dist-packages/graphite/wsgi.py ] || need_apt+=(graphite-web)
# The release report's test opens the HTML page in headless Chromium.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
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
# The sandbox and the test-support package, editable: an edit needs no reinstall. Offline: the
# venv's setuptools builds them (requirements-dev.txt) and they declare no dependencies. An
# editable install points at one checkout, so it is redone when the venv's points elsewhere.
if ! "$VENV/bin/python" - "$PWD" <<'PY'
import sys
from pathlib import Path
try:
    import kubesandbox
    import pdtest
except ImportError:
    sys.exit(1)
here = Path(sys.argv[1]).resolve()
sys.exit(0 if {Path(m.__file__).resolve().parents[1] for m in (kubesandbox, pdtest)}
         == {here / "tests" / "sandbox", here / "tests" / "support"} else 1)
PY
then
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation --no-deps \
    -e tests/sandbox -e tests/support
fi

# Cold, this takes minutes (it says what it builds); afterwards it only prints the cached directory.
bash scripts/build_control_plane.sh >/dev/null
# Flagger's load tester serves the sandbox's load-tester pods; its controller is the peer we compare with.
bash scripts/build_flagger.sh >/dev/null
