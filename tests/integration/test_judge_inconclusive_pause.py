"""An inconclusive judge that pauses: the release stops at its weight for a person, and the promote
and abort playbooks finish it, through the role on the sandbox (real Traefik, Prometheus, kubectl).

Two namespaces are released side by side to the same pause: a revision answering 30 ms slower than
the primary, judged by two comparisons. The p99 duration is caught (high) and the success rate
passes (both 100%), so the score is 50: between the marginal 40 and the pass 95. One namespace is
then promoted by hand, the other aborted.
"""
import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import kill_release, run_playbook, start_playbook
from pdtest.sandbox import canary_events, get_json

from traffic_world import scratch_namespace

# Each value covers 2 s (twice the sandbox's scrape interval); a 20 s window holds about ten.
WINDOW = "20s"
COMPARED = [
    {"name": "request-duration", "interval": WINDOW,
     "compare": {"direction": "higher-is-worse", "maxRatio": 1.1, "resolution": "2s"}},
    {"name": "request-success-rate", "interval": WINDOW,
     "compare": {"direction": "lower-is-worse", "maxDifference": 5, "resolution": "2s"}},
]
JUDGE = {"passScore": 95, "marginalScore": 40, "inconclusive": "pause"}
# Generous: on a loaded two-core machine one release run has taken over four minutes.
PLAY_TIMEOUT = 600


def paused_canary(namespace):
    # One step, at 50%; a first tick without a whole window of canary values may find no data (a
    # failed check), so the threshold leaves room for two of them.
    doc = fast_canary(namespace, interval="10s", threshold=3, max_weight=50, step_weight=50,
                      metrics=COMPARED)
    doc["spec"]["analysis"]["judge"] = dict(JUDGE)
    return doc


def run_side_by_side(sandbox, logs, extra_vars_by_namespace):
    """Run canary.yml for every namespace at once; ``{namespace: (returncode, output)}``. Every
    ansible-playbook started here is stopped by PID, also when one does not finish in time."""
    procs = {}
    try:
        for namespace, extra_vars in extra_vars_by_namespace.items():
            log = logs / f"{namespace}-{len(list(logs.iterdir()))}.log"
            procs[namespace] = (start_playbook(sandbox, extra_vars=extra_vars, log_path=log), log)
        results = {}
        for namespace, (proc, log) in procs.items():
            proc.wait(PLAY_TIMEOUT)
            results[namespace] = (proc.returncode, log.read_text())
        return results
    finally:
        for proc, _log in procs.values():
            if proc.poll() is None:
                kill_release(proc)


@pytest.fixture(scope="module")
def paused(sandbox, tmp_path_factory):
    """Two namespaces whose release of 4.0.6 (30 ms slower) paused; ``{namespace: (canary_file,
    returncode, output)}`` of the release run."""
    logs = tmp_path_factory.mktemp("plays")
    namespaces, deletes, loads = [], [], []
    try:
        for prefix in ("pause-promote", "pause-abort"):
            name, delete = scratch_namespace(sandbox, prefix)
            namespaces.append(name)
            deletes.append(delete)
        files = {}
        for namespace in namespaces:
            deploy_podinfo(sandbox, namespace)
            files[namespace] = write_canary(tmp_path_factory.mktemp(namespace),
                                            paused_canary(namespace))
        initialised = run_side_by_side(sandbox, logs, {
            ns: {"canary_file": str(path)} for ns, path in files.items()})
        for namespace, (returncode, output) in initialised.items():
            assert returncode == 0, output[-4000:]
        for namespace in namespaces:
            loads.append(Load(sandbox, namespace, rps=30, seconds=PLAY_TIMEOUT * 2))
            set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_LATENCY": "0.03"})
        released = run_side_by_side(sandbox, logs, {
            ns: {"canary_file": str(path)} for ns, path in files.items()})
        yield {ns: (files[ns],) + released[ns] for ns in namespaces}
    finally:
        for load in loads:
            load.stop()
        for delete in deletes:
            delete()


def app_state(sandbox, namespace):
    canary = get_json(sandbox, namespace, "canary", "podinfo")
    target = get_json(sandbox, namespace, "deployment", "podinfo")
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    traefik = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")
    return {
        "status": canary.get("status") or {},
        "weights": {s["name"]: s["weight"] for s in traefik["spec"]["weighted"]["services"]},
        "canary_replicas": target["spec"].get("replicas"),
        "canary_ready": target.get("status", {}).get("readyReplicas") or 0,
        "primary_image": primary["spec"]["template"]["spec"]["containers"][0]["image"],
    }


def routed(state):
    """The TraefikService's services that get traffic (a finalised one may drop the canary)."""
    return {name: weight for name, weight in state["weights"].items() if weight}


def promoted_condition(status):
    return next(c for c in status.get("conditions") or [] if c["type"] == "Promoted")


def lock_held(sandbox, namespace):
    leases = sandbox.kubectl("-n", namespace, "get", "leases", "-o", "name").stdout
    return "podinfo-canary-lock" in leases


def operate(sandbox, namespace, playbook):
    return run_playbook(sandbox, playbook, timeout=PLAY_TIMEOUT, extra_vars={
        "canary_name": "podinfo", "canary_namespace": namespace})


def test_an_inconclusive_step_pauses_at_its_weight_and_a_next_run_leaves_it_so(sandbox, paused):
    for namespace, (canary_file, returncode, output) in paused.items():
        # The run ends well: no rollback, no failed play.
        assert returncode == 0, output[-4000:]
        assert f"podinfo.{namespace} is paused for a decision at canary weight 50" in output
        state = app_state(sandbox, namespace)
        assert state["status"]["phase"] == "Waiting"
        assert state["status"]["canaryWeight"] == 50
        condition = promoted_condition(state["status"])
        assert (condition["status"], condition["reason"]) == ("Unknown", "Inconclusive")
        assert "comparison request-duration: high" in condition["message"]
        # Traffic stays split at the step's weight and the canary keeps serving.
        assert state["weights"] == {"podinfo-primary": 50, "podinfo-canary": 50}
        assert state["canary_replicas"] >= 1
        assert state["canary_ready"] == state["canary_replicas"]
        assert state["primary_image"] == "stefanprodan/podinfo:4.0.5"
        events = canary_events(sandbox, namespace)
        [pause] = [e for e in events if "paused for a decision" in e]
        assert pause.startswith(f"Halt podinfo.{namespace} advancement judge score 50 inconclusive "
                                "(between 40 and 95); comparison request-duration: high (p-value ")
        assert pause.endswith("; paused for a decision: promote or abort")
        assert not any(e.startswith("Rolling back") or e.startswith("Promotion completed")
                       for e in events), events
        # The finished run gave the release lock back.
        assert not lock_held(sandbox, namespace)

    # The next run of the role on a paused Canary says so and changes nothing.
    namespace, (canary_file, _rc, _out) = next(iter(paused.items()))
    before = app_state(sandbox, namespace)
    again = run_playbook(sandbox, timeout=PLAY_TIMEOUT, extra_vars={"canary_file": str(canary_file)})
    assert again.returncode == 0, again.stdout[-4000:]
    assert "waits for the promote or abort playbook" in again.stdout
    assert "changed=0" in again.stdout
    assert app_state(sandbox, namespace) == before


def test_the_promote_playbook_finishes_a_paused_release(sandbox, paused):
    namespace = next(ns for ns in paused if ns.startswith("pause-promote"))

    promoted = operate(sandbox, namespace, "promote.yml")

    assert promoted.returncode == 0, promoted.stdout[-4000:]
    state = app_state(sandbox, namespace)
    assert state["status"]["phase"] == "Succeeded"
    assert state["primary_image"] == "stefanprodan/podinfo:4.0.6"
    assert routed(state) == {"podinfo-primary": 100}
    assert state["canary_replicas"] == 0
    assert f"Promotion completed! Scaling down podinfo.{namespace} (promoted by an operator)" in \
        canary_events(sandbox, namespace)
    # Every answer through Traefik now comes from the promoted revision.
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}


def test_the_abort_playbook_rolls_a_paused_release_back(sandbox, paused):
    namespace = next(ns for ns in paused if ns.startswith("pause-abort"))

    aborted = operate(sandbox, namespace, "abort.yml")

    assert aborted.returncode == 0, aborted.stdout[-4000:]
    state = app_state(sandbox, namespace)
    assert state["status"]["phase"] == "Failed"
    assert state["primary_image"] == "stefanprodan/podinfo:4.0.5"
    assert routed(state) == {"podinfo-primary": 100}
    assert state["canary_replicas"] == 0
    assert f"Canary failed! Scaling down podinfo.{namespace} (aborted by an operator)" in \
        canary_events(sandbox, namespace)
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}
