#!/usr/bin/env bash
# `make bench`: start a sandbox of its own in a temporary directory, measure the figures of
# issue 6 (scripts/bench/run.py), print the table, write docs/performance.md, and stop the sandbox
# and every process started here by PID -- also on failure or Ctrl-C (scripts/sandbox_run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${MAKELEVEL:-} ]]; then
    BENCH_COMMAND=${BENCH_COMMAND:-make bench}
else
    BENCH_COMMAND=${BENCH_COMMAND:-bash scripts/bench.sh}
fi
export BENCH_COMMAND

exec bash scripts/sandbox_run.sh bench --crds scripts/bench/run.py --command "$BENCH_COMMAND" "$@"
