"""The canary stays watched while the release waits, as in Flagger: rollback hooks and metrics keep
running while the confirm-promotion gate is closed (phase WaitingPromotion), a canary that stops
being ready halts the analysis and rolls back at its progress deadline, and a primary that does not
become ready at promotion leaves the traffic on the canary."""
import json
import threading

import pytest

from pdtest.apps import deploy_loadtester, deploy_podinfo, set_image
from pdtest.http_recorder import RecordingServer
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import acceptance_hook, fast_canary, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import canary_events, get_json, wait_until


class Hook(RecordingServer):
    """A webhook on 127.0.0.1 answering ``status``; ``on_question(n)`` runs before the n-th answer
    (from 1), so a test can change the world at a known point of the release."""

    def __init__(self, status=200, on_question=None):
        def answer(_request):
            if on_question is not None:
                on_question(len(self.requests))
            return status

        super().__init__(status=answer)
        self.url += "/"

    @property
    def phases(self):
        return [request.json().get("phase") for request in self.requests]


@pytest.fixture
def podinfo(sandbox, namespace, tmp_path):
    """podinfo 4.0.5 initialised as a canary target, with steady load through Traefik; the hooks,
    extra loads and node taints a test adds are undone at its end."""
    deploy_podinfo(sandbox, namespace)
    first = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, fast_canary(namespace)))})
    assert first.returncode == 0, first.stdout[-4000:]
    world = {"hooks": [], "loads": [Load(sandbox, namespace, rps=30)], "tainted": []}
    try:
        yield world
    finally:
        for hook in world["hooks"]:
            hook.stop()
        for load in world["loads"]:
            load.stop()
        for node in world["tainted"]:
            sandbox.kubectl("taint", "nodes", node, "pdtest/hold:NoSchedule-", check=False)


def hold_new_pods(sandbox, world):
    """No new pod can be scheduled from now on (a NoSchedule taint on every node); running pods stay."""
    nodes = json.loads(sandbox.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    for node in nodes:
        name = node["metadata"]["name"]
        world["tainted"].append(name)
        sandbox.kubectl("taint", "nodes", name, "pdtest/hold=1:NoSchedule", "--overwrite")


def release(sandbox, tmp_path, canary, **extra_vars):
    path = write_canary(tmp_path, canary, "watched.yaml")
    return run_playbook(sandbox, extra_vars=dict({"canary_file": str(path)}, **extra_vars), timeout=420)


def assert_back_on_the_primary(sandbox, namespace):
    canary_obj = get_json(sandbox, namespace, "canary", "podinfo")
    assert canary_obj["status"]["phase"] == "Failed"
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.5"
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}


def test_a_rollback_hook_opened_while_waiting_for_promotion_rolls_back(sandbox, namespace, podinfo, tmp_path):
    deploy_loadtester(sandbox, namespace)
    loadtester = f"http://flagger-loadtester.{namespace}/"
    canary = fast_canary(namespace, max_weight=20, step_weight=10, webhooks=[
        acceptance_hook(namespace),
        {"name": "promotion-gate", "type": "confirm-promotion", "url": loadtester + "gate/check"},
        {"name": "rollback-switch", "type": "rollback", "url": loadtester + "rollback/check"},
    ])
    set_image(sandbox, namespace, "4.0.6")
    opened = []

    def open_rollback_once_waiting():
        # The Canary says WaitingPromotion while the gate is closed; then someone pulls the switch.
        wait_until(lambda: get_json(sandbox, namespace, "canary", "podinfo").get("status", {}).get("phase")
                   == "WaitingPromotion", timeout=300, interval=0.3, what="phase WaitingPromotion")
        sandbox.kubectl("create", "--raw",
                        f"/api/v1/namespaces/{namespace}/services/flagger-loadtester:80/proxy/rollback/open",
                        "-f", "-", input=json.dumps({"name": "podinfo", "namespace": namespace}))
        opened.append(True)

    switch = threading.Thread(target=open_rollback_once_waiting, daemon=True)
    switch.start()
    result = release(sandbox, tmp_path, canary, canary_confirm_timeout=300)
    switch.join(10)

    assert opened == [True], result.stdout[-4000:]
    assert result.returncode != 0
    events = canary_events(sandbox, namespace)
    waiting = f"Halt podinfo.{namespace} advancement waiting for promotion approval promotion-gate"
    assert events.count(waiting) == 1, events
    assert events.index(waiting) < events.index("Rollback check rollback-switch passed") \
        < events.index(f"Rolling back podinfo.{namespace} manual webhook invoked"), events
    # Flagger's order: the analysis starts, then its pre-rollout hooks run.
    assert events.index(f"Starting canary analysis for podinfo.{namespace}") \
        < events.index("Pre-rollout check acceptance-test passed"), events
    assert not [e for e in events if e.startswith("Copying podinfo")], events
    assert_back_on_the_primary(sandbox, namespace)


def test_failing_metrics_while_waiting_for_promotion_roll_back(sandbox, namespace, podinfo, tmp_path):
    def break_the_canary(question):
        # From the first question on, part of the users' requests fail: the canary at its
        # weight answers them, so its success rate drops while the gate stays closed.
        if question == 1:
            podinfo["loads"].append(Load(sandbox, namespace, rps=30, path="/status/500"))

    gate = Hook(status=403, on_question=break_the_canary)
    podinfo["hooks"].append(gate)
    canary = fast_canary(namespace, max_weight=30, step_weight=10, threshold=2, webhooks=[
        {"name": "promotion-gate", "type": "confirm-promotion", "url": gate.url + "gate/check"}])
    set_image(sandbox, namespace, "4.0.6")

    result = release(sandbox, tmp_path, canary, canary_confirm_timeout=300)

    assert result.returncode != 0
    assert gate.phases, "the confirm-promotion gate was never asked"
    events = canary_events(sandbox, namespace)
    waiting = f"Halt podinfo.{namespace} advancement waiting for promotion approval promotion-gate"
    assert events.count(waiting) == 1, events
    halts_after = [e for e in events[events.index(waiting):]
                   if e.startswith(f"Halt podinfo.{namespace} advancement") and e != waiting]
    assert halts_after, events
    assert f"Rolling back podinfo.{namespace} failed checks threshold reached 2" in events, events
    # As in Flagger, the Failed phase sets failedChecks back to 0; the Event above names the count.
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["failedChecks"] == 0
    for load in podinfo["loads"][1:]:
        load.stop()
    assert_back_on_the_primary(sandbox, namespace)


def test_a_canary_that_stops_being_ready_halts_then_rolls_back_at_its_deadline(
        sandbox, namespace, podinfo, tmp_path):
    def lose_the_canary_pod(question):
        # At the second rollout hook the canary's pod goes and no new pod can start.
        if question == 2:
            hold_new_pods(sandbox, podinfo)
            sandbox.kubectl("-n", namespace, "delete", "pods", "-l", "app=podinfo", "--wait=false")

    hook = Hook(on_question=lose_the_canary_pod)
    podinfo["hooks"].append(hook)
    canary = fast_canary(namespace, max_weight=50, step_weight=10, threshold=3, progress_deadline=30,
                         webhooks=[{"name": "load", "type": "rollout", "url": hook.url + "rollout"}])
    set_image(sandbox, namespace, "4.0.6")

    result = release(sandbox, tmp_path, canary)

    assert result.returncode != 0
    events = canary_events(sandbox, namespace)
    not_ready = [e for e in events if e.startswith(f"canary deployment podinfo.{namespace} not ready: ")]
    # More halted ticks than the threshold, none counted: the deadline, not the checks, ended it.
    assert len(not_ready) > 3, events
    rolling_back = [e for e in events if e.startswith(f"Rolling back podinfo.{namespace} ")]
    assert len(rolling_back) == 1, events
    assert rolling_back[0].startswith(
        f"Rolling back podinfo.{namespace} progress deadline exceeded canary deployment podinfo.{namespace} not ready"), events
    assert not [e for e in events if "failed checks threshold reached" in e], events
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert_back_on_the_primary(sandbox, namespace)


def test_a_primary_that_does_not_become_ready_leaves_the_traffic_on_the_canary(
        sandbox, namespace, podinfo, tmp_path):
    # The gate opens, and from then on no new pod can start: the primary's new pods never run.
    gate = Hook(on_question=lambda question: question == 1 and hold_new_pods(sandbox, podinfo))
    podinfo["hooks"].append(gate)
    canary = fast_canary(namespace, max_weight=20, step_weight=10, progress_deadline=20, webhooks=[
        {"name": "promotion-gate", "type": "confirm-promotion", "url": gate.url + "gate/check"}])
    set_image(sandbox, namespace, "4.0.6")

    result = release(sandbox, tmp_path, canary)

    assert result.returncode != 0
    events = canary_events(sandbox, namespace)
    failed = [e for e in events if e.startswith(f"Promotion of podinfo.{namespace} failed, primary not ready: ")]
    assert len(failed) == 1, events
    assert f"podinfo-primary.{namespace} not ready" in failed[0]
    assert not [e for e in events if e.startswith("Canary failed! Scaling down")], events
    status = get_json(sandbox, namespace, "canary", "podinfo")["status"]
    assert (status["phase"], status["canaryWeight"]) == ("Failed", 100)
    # The canary, the only ready copy of the new revision, serves everyone and keeps running.
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] > 0
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}
