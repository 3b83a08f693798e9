#!/usr/bin/env bash
# Compatibility matrix: the unit tests on every ansible-core meta/runtime.yml claims (2.17, 2.18, 2.19)
# with the kubernetes.core that requirements-dev.txt pins, and on 2.19 with the newest kubernetes.core
# 6.x as well (the modules import kubernetes.core's module_utils). 2.19 is the project venv; 2.17 and
# 2.18 get venvs of their own in build/matrix/, made once from PyPI.
#   scripts/matrix.sh            unit tests across the matrix (MATRIX_ALL=1: also 2.19 with the pinned
#                                kubernetes.core, which make test's pytest run covers)
#   scripts/matrix.sh --sanity   and ansible-test sanity on 2.17 and 2.18 as well, without pylint
#                                there (MATRIX_PYLINT=1: with it). pylint reads the same code on every
#                                version and runs on 2.19 in `make sanity`; make test's static checks
#                                took 17 CPU minutes in one measured run, the two older sanity runs
#                                the longest part, on the two cores the sandbox tests need
# Galaxy is not reachable, so kubernetes.core comes from the `ansible` package that carries it:
# the pinned one from the project venv, the newest 6.x from the ansible release named below.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# Under build/: git, yamllint, ansible-lint and the collection build already leave it alone.
MATRIX=build/matrix
CORES=(2.17.14 2.18.19)
NEWEST_KC=6.6.0
NEWEST_KC_FROM=ansible==14.5.0
WORKERS=${MATRIX_WORKERS:-2}
sanity=false
[[ ${1:-} == --sanity ]] && sanity=true

mkdir -p "$MATRIX"
pinned_kc=$("$VENV/bin/python" -c 'import ansible_collections.kubernetes.core as c, json, os
p = list(c.__path__)[0]; print(json.load(open(os.path.join(p, "MANIFEST.json")))["collection_info"]["version"])')

# A directory holding only ansible_collections/kubernetes/core, put first on PYTHONPATH.
kc_dir() { echo "$PWD/$MATRIX/kubernetes.core-$1"; }
if [[ ! -f $(kc_dir "$pinned_kc")/ansible_collections/kubernetes/core/MANIFEST.json ]]; then
  src=$("$VENV/bin/python" -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])')
  mkdir -p "$(kc_dir "$pinned_kc")/ansible_collections/kubernetes"
  cp -r "$src" "$(kc_dir "$pinned_kc")/ansible_collections/kubernetes/core"
fi
if [[ ! -f $(kc_dir "$NEWEST_KC")/ansible_collections/kubernetes/core/MANIFEST.json ]]; then
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  # That ansible release needs Python 3.12 to install; only its copy of kubernetes.core is used.
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 "$NEWEST_KC_FROM" -d "$wheels"
  "$VENV/bin/python" - "$wheels"/*.whl "$(kc_dir "$NEWEST_KC")" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:3]
with zipfile.ZipFile(wheel) as archive:
    archive.extractall(dest, [n for n in archive.namelist() if n.startswith("ansible_collections/kubernetes/core/")])
PY
fi

for core in "${CORES[@]}"; do
  venv="$MATRIX/core-${core%.*}"
  stamp="$venv/.installed-$core"
  if [[ ! -f $stamp || requirements-dev.txt -nt $stamp ]]; then
    echo "matrix: creating $venv (ansible-core $core)"
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core" \
      $(grep -E '^(kubernetes|requests|jmespath|pytest|pytest-xdist|pyyaml|setuptools|scipy|matplotlib|junitparser|cryptography)[=<>]' requirements-dev.txt)
    touch "$stamp"
  fi
  # The unit tests import the sandbox's pytest plugin and the test-support package, installed
  # editable from this checkout as in the project venv (scripts/setup.sh).
  if ! "$venv/bin/python" -c 'import kubesandbox, pdtest, sys; sys.exit(not pdtest.__file__.startswith(sys.argv[1]))' \
      "$PWD/tests/support/" 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check "$(grep -E '^setuptools[=<>]' requirements-dev.txt)"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-build-isolation --no-deps -e tests/sandbox -e tests/support
  fi
  # Sanity gets a venv of its own: the linters that version's ansible-test pins hold back
  # libraries (PyYAML, typing-extensions) that the kubernetes client of the unit venv needs.
  sanity_venv="$MATRIX/sanity-${core%.*}"
  if $sanity && [[ ! -f $sanity_venv/.installed-$core ]]; then
    echo "matrix: creating $sanity_venv (ansible-test $core and its linters)"
    python3 -m venv --clear "$sanity_venv"
    "$sanity_venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core"
    tests=$("$sanity_venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
    "$sanity_venv/bin/pip" install -q --disable-pip-version-check -r "$tests/sanity.pylint.txt" \
      -r "$tests/sanity.pep8.txt" -r "$tests/sanity.validate-modules.txt" -r "$tests/sanity.yamllint.txt"
    touch "$sanity_venv/.installed-$core"
  fi
done

# Which ansible-core and kubernetes.core a run really imports, so a mix-up fails here.
check_versions() {
  local python=$1 core=$2 kc=$3
  PYTHONPATH="$(kc_dir "$kc")" "$python" - "$core" "$kc" <<'PY'
import json, os, sys
import ansible, ansible_collections.kubernetes.core as kc
core = ansible.release.__version__ if hasattr(ansible, "release") else __import__("ansible.release").release.__version__
with open(os.path.join(list(kc.__path__)[0], "MANIFEST.json")) as handle:
    kc_version = json.load(handle)["collection_info"]["version"]
if not core.startswith(sys.argv[1]) or kc_version != sys.argv[2]:
    sys.exit("matrix: expected ansible-core {0} / kubernetes.core {1}, got {2} / {3}".format(
        sys.argv[1], sys.argv[2], core, kc_version))
PY
}

failed=()
run_units() {
  local python=$1 core=$2 kc=$3 start=$SECONDS
  check_versions "$python" "$core" "$kc"
  if PYTHONPATH="$(kc_dir "$kc")" "$python" -m pytest -p no:cacheprovider -q -n "$WORKERS" tests/unit >"$MATRIX/units-$core-$kc.log" 2>&1; then
    echo "matrix: unit tests on ansible-core $core, kubernetes.core $kc: $(tail -1 "$MATRIX/units-$core-$kc.log") ($((SECONDS - start)) s)"
  else
    tail -30 "$MATRIX/units-$core-$kc.log"
    echo "matrix: unit tests on ansible-core $core, kubernetes.core $kc FAILED" >&2
    failed+=("units $core/$kc")
  fi
}

main_core=$("$VENV/bin/python" -c 'from ansible.release import __version__; print(__version__)')
for core in "${CORES[@]}"; do
  run_units "$MATRIX/core-${core%.*}/bin/python" "$core" "$pinned_kc"
done
# 2.19 with the pinned kubernetes.core is the project venv, whose unit tests run in make test's pytest.
[[ ${MATRIX_ALL:-} ]] && run_units "$VENV/bin/python" "$main_core" "$pinned_kc"
run_units "$VENV/bin/python" "$main_core" "$NEWEST_KC"

sanity_skip=(--skip-test pylint)
[[ ${MATRIX_PYLINT:-} ]] && sanity_skip=()
if $sanity; then
  for core in "${CORES[@]}"; do
    start=$SECONDS
    if VENV="$MATRIX/sanity-${core%.*}" SANITY_TREE="build/sanity-${core%.*}" \
      MATRIX_KUBERNETES_CORE="$(kc_dir "$pinned_kc")" bash scripts/sanity.sh "${sanity_skip[@]}"; then
      echo "matrix: sanity on ansible-core $core ($((SECONDS - start)) s)"
    else
      failed+=("sanity $core")
    fi
  done
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "matrix: failed: ${failed[*]}" >&2
  exit 1
fi
