#!/usr/bin/env bash
# Runs a Python script of this checkout against a sandbox of its own, started in a temporary
# directory (never the developer's .sandbox) and stopped at the end, with every process started
# here stopped by PID -- also on failure or Ctrl-C. Used by `make bench` and `make compare`.
#
#   scripts/sandbox_run.sh NAME [--crds] SCRIPT [ARGS...]
#
# The script gets `--env SANDBOX_DIR/env` before ARGS; --crds installs the collection's CRDs first.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${VENV:-.venv}/bin/python
name=$1
shift
crds=""
if [[ ${1:-} == --crds ]]; then
    crds=yes
    shift
fi
script=$1
shift

SANDBOX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pd-$name-sandbox.XXXXXX")
export SANDBOX_DIR
RUNNER_PID=""

sandbox() {
    "$PY" -m kubesandbox.cli --dir "$SANDBOX_DIR" "$@"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $RUNNER_PID ]] && kill -0 "$RUNNER_PID" 2>/dev/null; then
        # the runner stops its own children (ansible-playbook, hey, Flagger) by PID when it gets SIGTERM
        kill -TERM "$RUNNER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$RUNNER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$RUNNER_PID" 2>/dev/null || true
    fi
    sandbox down >/dev/null 2>&1 || echo "$name: stopping the sandbox in $SANDBOX_DIR failed" >&2
    rm -rf "$SANDBOX_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "$name: starting a sandbox in $SANDBOX_DIR"
sandbox up --quiet >/dev/null
if [[ -n $crds ]]; then
    # shellcheck disable=SC1091
    source "$SANDBOX_DIR/env"
    echo "$name: installing the CRDs"
    ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal \
        .venv/bin/ansible-playbook playbooks/install_crds.yml >/dev/null
fi

# In the background so that this shell can react to Ctrl-C and stop it by its PID.
"$PY" "$script" --env "$SANDBOX_DIR/env" "$@" &
RUNNER_PID=$!
wait "$RUNNER_PID"
