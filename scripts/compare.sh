#!/usr/bin/env bash
# `make compare`: in a sandbox of its own, release the same app with Flagger's controller and with
# the role side by side (scripts/compare/run.py), print both columns, write the tables into
# docs/flagger-compatibility.md and docs/performance.md, and stop the sandbox and every process
# started here by PID -- also on failure or Ctrl-C (scripts/sandbox_run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${MAKELEVEL:-} ]]; then
    COMPARE_COMMAND=${COMPARE_COMMAND:-make compare}
else
    COMPARE_COMMAND=${COMPARE_COMMAND:-bash scripts/compare.sh}
fi
export COMPARE_COMMAND

# Flagger's controller and load tester, built once into the cache (quick when cached).
bash scripts/build_flagger.sh >/dev/null

exec bash scripts/sandbox_run.sh compare scripts/compare/run.py --command "$COMPARE_COMMAND" "$@"
