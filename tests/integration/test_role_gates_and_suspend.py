"""Behaviour Flagger users know around the analysis: confirm-rollout before the scale-up (phase
Waiting while closed), spec.skipAnalysis (confirm-rollout asked, confirm-promotion not) and
spec.suspend (nothing happens)."""

import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.http_recorder import RecordingServer
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import recap, run_playbook
from pdtest.sandbox import canary_events, get_json


class Gate(RecordingServer):
    """A webhook on 127.0.0.1 that stays closed (403) for the first ``closed`` questions, then opens.
    At each question it notes the target's replicas and the Canary's phase, as they were then."""

    def __init__(self, sandbox, namespace, closed=0):
        self.questions = []

        def answer(request):
            target = get_json(sandbox, namespace, "deployment", "podinfo")
            phase = get_json(sandbox, namespace, "canary", "podinfo").get("status", {}).get("phase")
            self.questions.append({"path": request.path, "phase_sent": request.json().get("phase"),
                                   "replicas": target["spec"].get("replicas"), "phase": phase})
            return 403 if len(self.questions) <= closed else 200

        super().__init__(status=answer)
        self.url += "/"

    def asked(self, path):
        return [q for q in self.questions if q["path"] == path]


@pytest.fixture
def podinfo(sandbox, namespace, tmp_path):
    """podinfo 4.0.5 initialised as a canary target, with steady load through Traefik."""
    deploy_podinfo(sandbox, namespace)
    first = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, fast_canary(namespace)))})
    assert first.returncode == 0, first.stdout[-4000:]
    load = Load(sandbox, namespace, rps=30)
    try:
        yield
    finally:
        load.stop()


@pytest.fixture
def gate_of(sandbox, namespace):
    gates = []

    def start(closed=0):
        gates.append(Gate(sandbox, namespace, closed))
        return gates[-1]

    yield start
    for gate in gates:
        gate.stop()


def test_confirm_rollout_holds_the_canary_at_zero_replicas_in_phase_waiting(
        sandbox, namespace, podinfo, gate_of, tmp_path):
    gate = gate_of(closed=2)
    canary = fast_canary(namespace, max_weight=20, webhooks=[
        {"name": "approval", "type": "confirm-rollout", "url": gate.url + "gate/approve"}])
    set_image(sandbox, namespace, "4.0.6")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, canary, "gated.yaml"))})

    assert result.returncode == 0, result.stdout[-4000:]
    asked = gate.asked("/gate/approve")
    assert len(asked) == 3, asked
    # Asked before the scale-up, every time: the canary had no replica while the gate was closed.
    assert [q["replicas"] for q in asked] == [0, 0, 0]
    # The first closed answer put the Canary in phase Waiting, where it stayed until the gate opened.
    assert [q["phase"] for q in asked] == ["Progressing", "Waiting", "Waiting"]
    assert {q["phase_sent"] for q in asked} == {"Progressing"}
    events = canary_events(sandbox, namespace)
    waiting = f"Halt podinfo.{namespace} advancement waiting for approval approval"
    scaling = f"New revision detected! Scaling up podinfo.{namespace}"
    assert events.count(waiting) == 1, events
    assert events.index(waiting) < events.index("Confirm-rollout check approval passed") < events.index(scaling)
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}


def test_skip_analysis_asks_confirm_rollout_but_not_confirm_promotion(
        sandbox, namespace, podinfo, gate_of, tmp_path):
    gate = gate_of()
    canary = fast_canary(namespace, skipAnalysis=True, webhooks=[
        {"name": "rollout-approval", "type": "confirm-rollout", "url": gate.url + "gate/approve"},
        {"name": "promotion-approval", "type": "confirm-promotion", "url": gate.url + "gate/promote"},
        {"name": "after", "type": "post-rollout", "url": gate.url + "post"}])
    set_image(sandbox, namespace, "4.0.7")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, canary, "skip.yaml"))})

    assert result.returncode == 0, result.stdout[-4000:]
    assert len(gate.asked("/gate/approve")) == 1
    assert gate.asked("/gate/promote") == [] and gate.asked("/post") == []
    events = canary_events(sandbox, namespace)
    assert f"Promotion completed! Canary analysis was skipped for podinfo.{namespace}" in events
    assert not [m for m in events if "canary weight" in m]
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.7": 200}


def test_a_suspended_canary_is_left_as_it_is(sandbox, namespace, podinfo, tmp_path):
    canary = fast_canary(namespace, suspend=True)
    set_image(sandbox, namespace, "4.0.6")
    route_before = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"]
    status_before = get_json(sandbox, namespace, "canary", "podinfo")["status"]

    result = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, canary, "suspended.yaml"))})

    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result.stdout)["changed"] == 0
    assert f"podinfo.{namespace} is suspended (spec.suspend)" in result.stdout
    assert "skipping canary run as object is suspended" in canary_events(sandbox, namespace)
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"] == status_before
    assert get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"] == \
        route_before
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}
