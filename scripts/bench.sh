#!/usr/bin/env bash
# `make bench`: start a sandbox of its own in a temporary directory, measure the eight figures of
# issue 6 (scripts/bench/run.py), print the table, write docs/performance.md, and stop the sandbox
# and every process started here by PID -- also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${VENV:-.venv}/bin/python
if [[ ${MAKELEVEL:-} ]]; then
    BENCH_COMMAND=${BENCH_COMMAND:-make bench}
else
    BENCH_COMMAND=${BENCH_COMMAND:-bash scripts/bench.sh}
fi
export BENCH_COMMAND

# Never the developer's .sandbox (the Makefile exports SANDBOX_DIR): a fresh one, removed at the end.
SANDBOX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pd-bench-sandbox.XXXXXX")
export SANDBOX_DIR
RUNNER_PID=""

sandbox() {
    "$PY" -m kubesandbox.cli --dir "$SANDBOX_DIR" "$@"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $RUNNER_PID ]] && kill -0 "$RUNNER_PID" 2>/dev/null; then
        # the runner stops its own children (ansible-playbook, hey) by PID when it gets SIGTERM
        kill -TERM "$RUNNER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$RUNNER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$RUNNER_PID" 2>/dev/null || true
    fi
    sandbox down >/dev/null 2>&1 || echo "bench: stopping the sandbox in $SANDBOX_DIR failed" >&2
    rm -rf "$SANDBOX_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: starting a sandbox in $SANDBOX_DIR"
sandbox up --quiet >/dev/null
# shellcheck disable=SC1091
source "$SANDBOX_DIR/env"
echo "bench: installing the CRDs"
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal \
    .venv/bin/ansible-playbook playbooks/install_crds.yml >/dev/null

# In the background so that this shell can react to Ctrl-C and stop it by its PID.
"$PY" scripts/bench/run.py --env "$SANDBOX_DIR/env" --command "$BENCH_COMMAND" "$@" &
RUNNER_PID=$!
wait "$RUNNER_PID"
