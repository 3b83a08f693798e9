#!/usr/bin/env bash
# Copies the collection's shippable files into DEST/ansible_collections/progressive/delivery and
# installs kubernetes.core next to it from the `ansible` package's bundled copy (Galaxy is not
# needed). ansible-test refuses a symlinked collection, hence the copy.
# Usage: scripts/collection_tree.sh DEST   (run from the repository root, venv at $VENV)
set -euo pipefail
DEST=$1
VENV=${VENV:-.venv}
target="$DEST/ansible_collections/progressive/delivery"
rm -rf "$DEST"
mkdir -p "$target"
# Files git would track (committed or not, never ignored), minus what the build leaves out.
git ls-files --cached --others --exclude-standard -z \
  | grep -zv -E '^(tests/sandbox/|tests/conftest\.py$|\.ci/|Makefile$|scripts/|requirements[^/]*\.txt$)' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | xargs -0 cp --parents -t "$target"
core=$("$VENV/bin/python" -c 'import ansible_collections.kubernetes.core as c, os; print(os.path.dirname(c.__file__) if c.__file__ else list(c.__path__)[0])')
"$VENV/bin/ansible-galaxy" collection install --offline --no-deps --force -p "$DEST" "$core" >/dev/null 2>&1
