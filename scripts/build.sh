#!/usr/bin/env bash
# Builds the collection tarball into build/, installs it offline (kubernetes.core from the
# `ansible` package's copy) into a temporary collections path, and checks that every module's
# documentation renders from the installed copy.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bin="$PWD/$VENV/bin"
mkdir -p build
"$bin/ansible-galaxy" collection build --force --output-path build . >/dev/null
version=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
tarball="build/progressive-delivery-${version}.tar.gz"
echo "built $tarball"

installed=$(mktemp -d)
trap 'rm -rf "$installed"' EXIT
core=$("$bin/python" -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])')
"$bin/ansible-galaxy" collection install --offline --force -p "$installed" "$core" >/dev/null 2>&1
"$bin/ansible-galaxy" collection install --offline --force -p "$installed" "$tarball" 2>&1 | grep -v "^\[WARNING\]: The specified collections path"
test -f "$installed/ansible_collections/progressive/delivery/MANIFEST.json"

export ANSIBLE_COLLECTIONS_PATH="$installed" ANSIBLE_NOCOLOR=1
modules=$(cd "$installed/ansible_collections/progressive/delivery/plugins/modules" && ls ./*.py | sed 's|^\./||; s|\.py$||')
for module in $modules; do
  doc=$("$bin/ansible-doc" "progressive.delivery.$module")
  for section in OPTIONS EXAMPLES "RETURN VALUES"; do
    grep -q "^$section" <<<"$doc" || { echo "ansible-doc progressive.delivery.$module has no $section" >&2; exit 1; }
  done
  echo "ansible-doc progressive.delivery.$module: ok"
done
