#!/usr/bin/env bash
# `make test`: the static checks and pytest side by side.
#
# The static checks (sanity on every supported ansible-core, lint, the build, changelog and docs
# lint, the execution environment's context, the unit-test matrix) run beside pytest instead of
# before it, on whatever CPU pytest's sandboxes leave idle. Their output goes to build/logs/static-checks.log
# and is printed once pytest is done; the last lines say which part failed, if any.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
WORKERS=${TEST_WORKERS:-3}
STATIC_TARGETS=${STATIC_TARGETS:-sanity lint build changelog-lint docs-lint ee matrix-sanity}
log=build/logs/static-checks.log
mkdir -p build/logs

started=$SECONDS
# A session of its own, so that an interrupted `make test` stops every static check too; at the
# lowest CPU priority, so that they use the idle core and never slow the sandboxes' pods, Traefik
# and controllers (a zero-downtime test saw five 502s in one run while they ran at normal priority).
setsid nice -n 19 make --no-print-directory -k -o setup $STATIC_TARGETS >"$log" 2>&1 &
static_pid=$!
stop_static() {
  if kill -0 "$static_pid" 2>/dev/null; then
    kill -- "-$static_pid" 2>/dev/null
    wait "$static_pid" 2>/dev/null
  fi
}
trap stop_static EXIT
trap 'exit 130' INT TERM

"$VENV/bin/python" -m pytest -p no:cacheprovider -n "$WORKERS" --dist loadfile --no-loadscope-reorder \
  --durations=30 --junitxml=build/reports/pytest.xml tests
pytest_rc=$?
pytest_seconds=$((SECONDS - started))

wait "$static_pid"
static_rc=$?
echo
echo "==================== static checks (build/logs/static-checks.log) ===================="
cat "$log"
echo "======================================================================================="
echo "make test: pytest $([[ $pytest_rc == 0 ]] && echo passed || echo "FAILED (exit $pytest_rc)") in ${pytest_seconds} s;" \
  "static checks ($STATIC_TARGETS) $([[ $static_rc == 0 ]] && echo passed || echo "FAILED (exit $static_rc)")" \
  "in $((SECONDS - started)) s overall"
[[ $pytest_rc == 0 && $static_rc == 0 ]]
