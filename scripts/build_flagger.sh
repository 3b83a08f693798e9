#!/usr/bin/env bash
# Builds Flagger's controller (flagger) and its load tester (loadtester) from the release pinned in
# tests/sandbox/flagger/go.mod. The sandbox runs the load tester for the pods of the image
# ghcr.io/fluxcd/flagger-loadtester; the controller is the peer the collection is compared with.
# Nothing of Flagger is kept in the repository: Go fetches the module into its module cache.
#
# The binaries are cached outside the work tree, in
#   ${PD_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/progressive-delivery}/flagger/<key>/bin/
# (see scripts/go_cached_build.sh); only the first run builds, later runs just print the directory.
#
# Progress goes to stderr; the last line of stdout is the bin directory:
#   BIN=$(scripts/build_flagger.sh | tail -1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/go_cached_build.sh
. "$root/scripts/go_cached_build.sh"
src=$root/tests/sandbox/flagger

flagger_version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/fluxcd/flagger" && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' "$src/go.mod")
if [[ -z $flagger_version ]]; then
  echo "cannot read the github.com/fluxcd/flagger version from $src/go.mod" >&2
  exit 1
fi
# Flagger's release images stamp the revision it was built from; the pinned version stands for it.
ldflags="-s -w -X github.com/fluxcd/flagger/pkg/version.REVISION=$flagger_version"

build_all() {
  echo "  (Flagger $flagger_version)" >&2
  go_build_one "$1" flagger "$src" "$ldflags" github.com/fluxcd/flagger/cmd/flagger
  go_build_one "$1" loadtester "$src" "$ldflags" github.com/fluxcd/flagger/cmd/loadtester
}

go_cached_build flagger "$(go_cache_key "$ldflags" "$src/go.mod" "$src/go.sum")" build_all flagger loadtester
