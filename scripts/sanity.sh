#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection, with no ignore entries. Runs with --local
# because --venv would download get-pip from the internet; the linters come from the venv
# (requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VENV
tree=${SANITY_TREE:-build/sanity}

# ansible-test still builds a small venv for some tests and bootstraps pip into it with a get-pip
# script from ci-files.testing.ansible.com, which is not reachable here. A stand-in script in its
# cache does the same with ensurepip and PyPI.
pip_version=$(grep -oP "pip='\K[0-9.]+" "$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -s "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'PY'
"""Stand-in for get-pip.py: install pip with ensurepip, then the requested packages from PyPI."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
PY
fi
# scripts/matrix.sh names the kubernetes.core to test with: a directory holding
# ansible_collections/kubernetes/core, for a venv that has no `ansible` package.
PYTHONPATH=${MATRIX_KUBERNETES_CORE:-${PYTHONPATH:-}} bash scripts/collection_tree.sh "$tree"
venv_bin=$(cd "$VENV/bin" && pwd)
cd "$tree/ansible_collections/progressive/delivery"
# ansible-test takes its file list from the nearest git repository; without one of its own the copy
# would be judged by the checkout's .gitignore, which ignores build/ and so every file in it.
git init -q .
PATH="$venv_bin:$PATH" "$venv_bin/ansible-test" sanity --local --python 3.11 --color no "$@"
