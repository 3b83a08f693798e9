"""One release per app at a time: the canary_lock Lease under concurrent runs, dead runs and API faults.

The fault tests switch a fault on for the Lease's API path only, wait in the API server's request
log until the module has met it a given number of times, then switch it off: the module must ride
through it with its retries and still leave exactly the Lease it was asked for.
"""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from pdtest.checkout import ROOT, VENV_BIN
from pdtest.playbooks import ansible_env
from pdtest.procs import tied
from pdtest.sandbox import wait_until
from pdtest.timeouts import guard

LEASE = "podinfo-canary-lock"


def lock_task(namespace, **args):
    task_args = {"name": "podinfo", "namespace": namespace}
    task_args.update(args)
    return {"name": "lock", "progressive.delivery.canary_lock": task_args, "ignore_errors": True}


class Run:
    """ansible-playbook running module tasks in the background, stopped by PID."""

    def __init__(self, sandbox, tmp_path, tasks, name, check=False):
        playbook = tmp_path / name
        playbook.write_text(yaml.safe_dump([{
            "name": "lock test", "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]))
        env = ansible_env(sandbox)
        env["ANSIBLE_STDOUT_CALLBACK"] = "json"
        cmd = [str(VENV_BIN / "ansible-playbook"), str(playbook)] + (["--check"] if check else [])
        self.started = time.monotonic()
        self.proc = subprocess.Popen(tied(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT, start_new_session=True)

    def results(self, timeout=120):
        try:
            out, err = self.proc.communicate(timeout=guard(timeout))
        finally:
            self.stop()
        self.seconds = time.monotonic() - self.started
        try:
            report = json.loads(out)
        except ValueError:
            raise AssertionError("ansible-playbook gave no JSON:\n{0}\n{1}".format(out[-3000:], err[-3000:]))
        return [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run(sandbox, tmp_path, tasks, name="play.yml", check=False):
    return Run(sandbox, tmp_path, tasks, name, check=check).results()


def lease_of(sandbox, namespace):
    done = sandbox.kubectl("-n", namespace, "get", "lease", LEASE, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def put_lease(sandbox, namespace, holder, renewed_seconds_ago, duration):
    stamp = (datetime.now(timezone.utc) - timedelta(seconds=renewed_seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sandbox.apply(yaml.safe_dump({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": namespace},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": stamp,
                 "renewTime": stamp, "leaseTransitions": 4}}), namespace=namespace)


def test_of_two_concurrent_runs_one_takes_the_lease_and_the_other_fails_fast_naming_it(sandbox, namespace, tmp_path):
    first = Run(sandbox, tmp_path, [lock_task(namespace, holder="run-one", lease_duration=60)], "one.yml")
    second = Run(sandbox, tmp_path, [lock_task(namespace, holder="run-two", lease_duration=60)], "two.yml")
    results = {"run-one": first.results()[0], "run-two": second.results()[0]}

    winners = [h for h, r in results.items() if not r.get("failed")]
    assert len(winners) == 1, results
    winner = winners[0]
    loser = results["run-two" if winner == "run-one" else "run-one"]
    lease = lease_of(sandbox, namespace)
    assert lease["spec"]["holderIdentity"] == winner
    assert "held by run '{0}' since {1}".format(winner, lease["spec"]["acquireTime"]) in loser["msg"]
    assert loser["holder"] == winner and loser["holder_since"] == lease["spec"]["acquireTime"]

    # A later run meets the Lease at once, without waiting for it.
    late = Run(sandbox, tmp_path, [lock_task(namespace, holder="run-three")], "three.yml")
    result = late.results()[0]
    assert result["failed"] and "held by run '{0}'".format(winner) in result["msg"]
    assert late.seconds < 30


def test_an_expired_lease_of_a_killed_run_is_taken_over_and_a_live_one_is_not(sandbox, namespace, tmp_path):
    put_lease(sandbox, namespace, "killed-run", renewed_seconds_ago=120, duration=30)
    other = "{0}-other".format(namespace)
    sandbox.kubectl("create", "namespace", other)
    try:
        put_lease(sandbox, other, "live-run", renewed_seconds_ago=5, duration=300)
        before_live = lease_of(sandbox, other)["metadata"]["resourceVersion"]

        taken, refused = run(sandbox, tmp_path, [lock_task(namespace, holder="new-run"),
                                                 lock_task(other, holder="new-run")])

        assert not taken.get("failed"), taken
        assert taken["how"] == "taken_over" and taken["previous_holder"] == "killed-run"
        lease = lease_of(sandbox, namespace)
        assert lease["spec"]["holderIdentity"] == "new-run"
        assert lease["spec"]["leaseTransitions"] == 5
        assert refused["failed"] and "held by run 'live-run'" in refused["msg"]
        assert lease_of(sandbox, other)["metadata"]["resourceVersion"] == before_live
    finally:
        sandbox.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_release_deletes_only_the_lease_this_run_holds(sandbox, namespace, tmp_path):
    put_lease(sandbox, namespace, "someone-else", renewed_seconds_ago=0, duration=300)

    foreign = run(sandbox, tmp_path, [lock_task(namespace, holder="me", state="released")])[0]
    assert foreign["changed"] is False and "held by 'someone-else'" in foreign["msg"]
    assert lease_of(sandbox, namespace)["spec"]["holderIdentity"] == "someone-else"

    sandbox.kubectl("-n", namespace, "delete", "lease", LEASE)
    acquired, renewed, released, again = run(sandbox, tmp_path, _acquire_renew_release(namespace), "cycle.yml")
    assert acquired["how"] == "created"
    assert renewed["how"] == "renewed" and renewed["holder"] == acquired["holder"]
    assert renewed["lease"]["acquire_time"] == acquired["lease"]["acquire_time"]
    assert released["changed"] is True and released["released"] is True
    assert again["changed"] is False
    assert lease_of(sandbox, namespace) is None


def _acquire_renew_release(namespace):
    first = dict(lock_task(namespace, lease_duration=30), register="first")
    return [
        first,
        lock_task(namespace, holder="{{ first.holder }}", lease_duration=30),
        lock_task(namespace, holder="{{ first.holder }}", state="released"),
        lock_task(namespace, holder="{{ first.holder }}", state="released"),
    ]


def test_check_mode_predicts_without_writing(sandbox, namespace, tmp_path):
    put_lease(sandbox, namespace, "killed-run", renewed_seconds_ago=600, duration=30)
    before = lease_of(sandbox, namespace)["metadata"]["resourceVersion"]

    predicted = run(sandbox, tmp_path, [lock_task(namespace, holder="planner")], check=True)[0]

    assert predicted["changed"] is True and predicted["how"] == "taken_over"
    assert lease_of(sandbox, namespace)["metadata"]["resourceVersion"] == before


# --- API faults ------------------------------------------------------------------------------

def lease_requests(sandbox, namespace, since):
    marker = "/namespaces/{0}/leases".format(namespace)
    return [e for e in sandbox.requests(since) if marker in e["path"]]


def acquire_through_fault(sandbox, namespace, tmp_path, faults, is_fault, times=2):
    """Acquire the Lease while ``faults`` hit its API path until the module met them ``times`` times."""
    since = sandbox.last_request_index()
    sandbox.set_faults(paths="/namespaces/{0}/leases".format(namespace), **faults)
    proc = Run(sandbox, tmp_path, [lock_task(namespace, holder="faulty-run", retry_timeout=60)], "fault.yml")
    try:
        wait_until(lambda: len([e for e in lease_requests(sandbox, namespace, since) if is_fault(e)]) >= times,
                   timeout=90, interval=0.1, what="{0} faulted Lease requests".format(times))
    finally:
        sandbox.clear_faults()
    result = proc.results()[0]
    return result, lease_requests(sandbox, namespace, since)


@pytest.mark.parametrize("faults, status", [
    ({"error_rate": 1.0, "error_codes": [500]}, 500),
    ({"error_rate": 1.0, "error_codes": [503]}, 503),
    ({"drop_rate": 1.0}, 0),
], ids=["500", "503", "dropped-connection"])
def test_the_lease_is_taken_through_transient_faults(sandbox, namespace, tmp_path, faults, status):
    result, requests = acquire_through_fault(sandbox, namespace, tmp_path, faults,
                                             lambda e: e["status"] == status)

    assert not result.get("failed"), result
    assert lease_of(sandbox, namespace)["spec"]["holderIdentity"] == "faulty-run"
    assert [e["status"] for e in requests].count(status) >= 2
    assert len([e for e in requests if e["verb"] == "create" and e["status"] == 201]) == 1


def test_429_waits_as_long_as_retry_after_asks(sandbox, namespace, tmp_path):
    result, requests = acquire_through_fault(sandbox, namespace, tmp_path,
                                             {"error_rate": 1.0, "error_codes": [429], "retry_after": 2},
                                             lambda e: e["status"] == 429)

    assert not result.get("failed"), result
    statuses = [e["status"] for e in requests]
    first = statuses.index(429)
    # The request after a 429 is sent no sooner than Retry-After allows (completion times, so the
    # next request's own duration only adds to the gap).
    assert requests[first + 1]["time"] - requests[first]["time"] >= 2.0 - 0.05
    assert lease_of(sandbox, namespace)["spec"]["holderIdentity"] == "faulty-run"


def test_a_conflicting_write_is_reread_and_applied_once(sandbox, namespace, tmp_path):
    put_lease(sandbox, namespace, "killed-run", renewed_seconds_ago=600, duration=30)

    result, requests = acquire_through_fault(sandbox, namespace, tmp_path, {"conflict_rate": 1.0},
                                             lambda e: e["status"] == 409)

    assert not result.get("failed"), result
    assert result["how"] == "taken_over"
    writes = [e for e in requests if e["verb"] in ("update", "create", "patch")]
    assert [e["status"] for e in writes].count(200) == 1, writes
    # Every write after a conflict follows a fresh read.
    for earlier, later in zip(requests, requests[1:]):
        if earlier["status"] == 409:
            assert later["verb"] == "get", requests
    lease = lease_of(sandbox, namespace)
    assert lease["spec"]["holderIdentity"] == "faulty-run" and lease["spec"]["leaseTransitions"] == 5


def test_a_fault_that_does_not_end_fails_within_the_bound_saying_what_was_being_done(sandbox, namespace, tmp_path):
    sandbox.set_faults(paths="/namespaces/{0}/leases".format(namespace), error_rate=1.0, error_codes=[503])
    try:
        started = time.monotonic()
        result = run(sandbox, tmp_path, [lock_task(namespace, holder="doomed-run", retry_timeout=3)])[0]
        elapsed = time.monotonic() - started
    finally:
        sandbox.clear_faults()

    assert result["failed"]
    assert result["msg"].startswith(
        "acquire Lease {0}/{1} for run 'doomed-run': injected fault: ServiceUnavailable (HTTP 503); "
        "gave up after".format(namespace, LEASE)), result["msg"]
    assert elapsed < 3 + 60  # the retry bound plus ansible-playbook's own start on a busy machine
    assert lease_of(sandbox, namespace) is None
