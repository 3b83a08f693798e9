#!/usr/bin/env bash
# The collection's documentation site, built by antsibull-docs from a copy of the collection:
# module and role references from their own documentation, the guides in docs/*.md as extra docs.
#   scripts/docs.sh lint    antsibull-docs lint-collection-docs (part of make test)
#   scripts/docs.sh html    lint, then the HTML site in build/docs/html (make docs)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VENV
mode=${1:-html}
bin="$PWD/$VENV/bin"
tree="$PWD/build/docs-collection"
collection="$tree/ansible_collections/progressive/delivery"

bash scripts/collection_tree.sh "$tree"
"$bin/python" scripts/docs_extra.py "$collection"
export ANSIBLE_COLLECTIONS_PATH="$tree" PATH="$bin:$PATH"
antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs --validate-collection-refs dependent "$collection"
echo "antsibull-docs lint-collection-docs: ok"
[[ $mode == lint ]] && exit 0

site="$PWD/build/docs"
rm -rf "$site"
mkdir -p "$site/src"
chmod 700 "$site/src"  # antsibull-docs refuses a destination others can write to
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site/src" progressive.delivery >/dev/null
# Offline: no inventories from docs.python.org or docs.ansible.com; links to them stay plain URLs.
{
  echo "intersphinx_mapping = {}"
  # What would resolve "ref.ref" targets on docs.ansible.com (common return values, other
  # collections) is its inventory, which is not reachable; the collection's own references are
  # checked by lint-collection-docs above.
  echo "suppress_warnings = [\"ref.ref\"]"
} >>"$site/src/conf.py"
bash "$site/src/build.sh"
rm -rf "$site/html"
mv "$site/src/build/html" "$site/html"
echo "documentation site: build/docs/html/index.html"
