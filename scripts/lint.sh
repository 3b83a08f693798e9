#!/usr/bin/env bash
# yamllint, then ansible-lint with the production profile (configured in .ansible-lint).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
yamllint --strict .
# ansible-lint resolves progressive.delivery.* against this checkout.
collections=$(mktemp -d)
trap 'rm -rf "$collections"' EXIT
mkdir -p "$collections/ansible_collections/progressive"
ln -s "$PWD" "$collections/ansible_collections/progressive/delivery"
ANSIBLE_COLLECTIONS_PATH="$collections:$PWD/$VENV/lib/python3.11/site-packages" ansible-lint --offline "$@"
