"""A run killed mid-analysis leaves enough in the cluster for the next run to resume it or roll it
back, as the user chooses with ``canary_on_interrupted``."""
import os
import signal
import threading
import time

import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import descendants, run_playbook, start_playbook
from pdtest.sandbox import get_json, wait_until

from traffic_world import scratch_namespace


# The killed run's lock expires after 20 s; the next run waits for that instead of failing at once.
LOCK = {"canary_lock_duration": 20, "canary_lock_wait": 60}


@pytest.fixture(scope="module")
def app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as a canary target, under steady load through Traefik."""
    namespace, delete_namespace = scratch_namespace(sandbox, "resume")
    load = None
    try:
        deploy_podinfo(sandbox, namespace)
        canary_file = write_canary(tmp_path_factory.mktemp("resume"),
                                   fast_canary(namespace, interval="3s", max_weight=40, step_weight=10))
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        load = Load(sandbox, namespace, rps=30, seconds=900)
        yield namespace, canary_file
    finally:
        if load is not None:
            load.stop()
        delete_namespace()


def status(sandbox, namespace):
    return get_json(sandbox, namespace, "canary", "podinfo").get("status") or {}


def kill_at_weight(sandbox, namespace, canary_file, tmp_path, weight, processes=None):
    """Start a release and SIGKILL ansible-playbook once the status records ``weight`` for it.

    Only the playbook's process group is killed, as when a job's controller dies: ansible-core's
    workers run in sessions of their own and outlive it. ``processes`` (a list) receives the PIDs
    below the playbook just before the kill.
    """
    analysed_before = status(sandbox, namespace).get("lastAppliedSpec")

    def reached():
        current = status(sandbox, namespace)
        return current.get("lastAppliedSpec") != analysed_before and current.get("canaryWeight", 0) >= weight

    proc = start_playbook(sandbox, extra_vars=dict(LOCK, canary_file=str(canary_file)),
                          log_path=tmp_path / "killed.log")
    try:
        wait_until(reached, timeout=180, interval=0.3, what="canary weight {0} of the new revision".format(weight))
    finally:
        if processes is not None:
            processes.extend(descendants(proc.pid))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return status(sandbox, namespace)


def running(pid):
    """Whether `pid` runs (a zombie waiting for its parent to reap it has stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


class WeightWatch(threading.Thread):
    """The (phase, canaryWeight) pairs the status goes through while the next run works."""

    def __init__(self, sandbox, namespace):
        super().__init__(daemon=True)
        self.sandbox, self.namespace = sandbox, namespace
        self.seen = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            current = status(self.sandbox, self.namespace)
            self.seen.append((current.get("phase"), current.get("canaryWeight", 0)))
            time.sleep(0.3)

    def stop(self):
        self.done.set()
        self.join(10)


def test_a_killed_release_is_resumed_at_its_weight_and_promoted(sandbox, app, tmp_path):
    namespace, canary_file = app
    set_image(sandbox, namespace, "4.0.6")
    at_kill = kill_at_weight(sandbox, namespace, canary_file, tmp_path, 20)

    watch = WeightWatch(sandbox, namespace)
    watch.start()
    try:
        rerun = run_playbook(sandbox, extra_vars=dict(LOCK, canary_file=str(canary_file),
                                                      canary_on_interrupted="resume"))
    finally:
        watch.stop()

    assert rerun.returncode == 0, rerun.stdout[-4000:]
    final = status(sandbox, namespace)
    assert final["phase"] == "Succeeded", final
    progressing = [w for phase, w in watch.seen if phase == "Progressing"]
    assert progressing and min(progressing) >= at_kill["canaryWeight"], (
        "the analysis restarted below weight {0}: {1}".format(at_kill["canaryWeight"], watch.seen))
    assert final.get("failedChecks", 0) >= at_kill.get("failedChecks", 0)
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.6": 100}


def test_a_killed_release_is_rolled_back_when_the_user_asks(sandbox, app, tmp_path):
    namespace, canary_file = app
    before = get_json(sandbox, namespace, "deployment", "podinfo-primary")["spec"]["template"]["spec"]["containers"][0]["image"]
    set_image(sandbox, namespace, "4.0.7")
    kill_at_weight(sandbox, namespace, canary_file, tmp_path, 10)

    run_playbook(sandbox, extra_vars=dict(LOCK, canary_file=str(canary_file), canary_on_interrupted="rollback"))

    final = status(sandbox, namespace)
    assert final["phase"] == "Failed", final
    assert final.get("canaryWeight", 0) == 0
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == before
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    served = versions_through_traefik(sandbox, namespace, 100)
    assert served == {before.rpartition(":")[2]: 100}, served


def test_the_step_loop_of_a_killed_run_stops_shifting_traffic(sandbox, app, tmp_path):
    namespace, _canary_file = app
    # Eighteen steps of 3 s: an orphaned loop left to itself would shift traffic for a minute.
    long_release = write_canary(tmp_path, fast_canary(namespace, interval="3s", max_weight=90, step_weight=5),
                                "long.yaml")
    set_image(sandbox, namespace, "4.0.8")
    below = []
    kill_at_weight(sandbox, namespace, long_release, tmp_path, 5, processes=below)
    assert below, "the release had no worker process to watch"

    # The orphaned worker and its canary_analysis module notice before the next tick and exit.
    wait_until(lambda: not any(running(pid) for pid in below), timeout=12,
               what="the killed run's worker and module to exit")
    frozen = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"]
    time.sleep(7)  # more than two analysis intervals of 3 s
    assert get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"] == frozen
