#!/usr/bin/env bash
# The execution environment's build context from docs/awx/execution-environment.yml, as
# `ansible-builder create` writes it (offline); building the image itself needs a container engine.
# Checks that the context installs the collection and the Python libraries its modules need.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
context=build/ee
rm -rf "$context"
"$VENV/bin/ansible-builder" create -f docs/awx/execution-environment.yml -c "$context" \
  --output-filename Containerfile >/dev/null
grep -q "^ARG ANSIBLE_INSTALL_REFS=\"ansible-core" "$context/Containerfile"
grep -q "name: progressive.delivery" "$context/_build/requirements.yml"
cmp -s requirements.txt "$context/_build/requirements.txt" \
  || { echo "the EE context's requirements.txt is not the collection's" >&2; exit 1; }
echo "ansible-builder create: $context/Containerfile"
