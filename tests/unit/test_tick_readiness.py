"""Each tick judges the canary's readiness as Flagger's IsCanaryReady does: not ready halts the
tick without a failed check, past the progress deadline rolls back; rollback hooks hear the phase."""

import calendar
import time

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils import analysis
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.targets.daemonset import (
    DaemonSetTarget,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
    deadline_exceeded,
)

NOW = calendar.timegm((2026, 6, 1, 12, 0, 0, 0, 0, 0))


def stamp(seconds_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def deployment(available, replicas=2, conditions=()):
    return {"metadata": {"name": "podinfo", "generation": 3},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": available, "conditions": list(conditions)}}


def unavailable_since(seconds_ago):
    return {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
            "lastUpdateTime": stamp(seconds_ago), "lastTransitionTime": stamp(seconds_ago)}


def canary(ready_threshold=None, webhooks=()):
    analysis_spec = {"interval": "10s", "threshold": 3, "maxWeight": 50, "stepWeight": 10,
                     "metrics": [], "webhooks": list(webhooks)}
    if ready_threshold is not None:
        analysis_spec["canaryReadyThreshold"] = ready_threshold
    return parse_canary({
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                 "progressDeadlineSeconds": 60, "service": {"port": 80},
                 "analysis": analysis_spec}})


@pytest.mark.parametrize("conditions, stuck", [
    ((), False),
    ((unavailable_since(30),), False),
    ((unavailable_since(61),), True),
    (({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},), True),
    (({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
       "lastUpdateTime": stamp(3600)},), False),
])
def test_a_deployment_is_stuck_as_flagger_reads_its_conditions(conditions, stuck):
    assert deadline_exceeded(deployment(0, conditions=conditions), 60, NOW) is stuck


def test_canary_ready_threshold_decides_how_many_updated_pods_must_be_available():
    workload = DeploymentTarget(None, "test", "podinfo")
    half = deployment(1, replicas=2, conditions=[unavailable_since(600)])

    assert workload.canary_readiness(half, 50, 60, NOW)[0] is True
    ready, retriable, message = workload.canary_readiness(half, 100, 60, NOW)
    assert (ready, retriable) == (False, False)
    assert "1 of 2 updated replicas are available" in message


def test_a_daemonset_is_stuck_once_the_canary_phase_is_older_than_the_deadline():
    workload = DaemonSetTarget(None, "test", "podinfo")
    unready = {"metadata": {"name": "podinfo", "generation": 1},
               "status": {"observedGeneration": 1, "desiredNumberScheduled": 2,
                          "updatedNumberScheduled": 2, "numberAvailable": 0}}

    assert workload.canary_readiness(unready, 100, 60, NOW, since=NOW - 30)[:2] == (False, True)
    assert workload.canary_readiness(unready, 100, 60, NOW, since=NOW - 61)[:2] == (False, False)


class World(object):
    """run_tick's cluster: the Canary, its target as given, and every write and webhook call."""

    def __init__(self, monkeypatch, target, hook_answers=None):
        self.writes = []
        self.events = []
        self.measured = 0
        self.hook_calls = []
        self.hook_answers = hook_answers or {}
        canary_obj = {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
                      "status": {"phase": "Progressing", "failedChecks": 1, "iterations": 2,
                                 "lastAppliedSpec": "abc"}}
        monkeypatch.setattr(analysis, "read_canary", lambda *a, **k: canary_obj)
        monkeypatch.setattr(analysis.ClusterReader, "target",
                            lambda _self, _canary: (DeploymentTarget(None, "test", "podinfo"), target))
        monkeypatch.setattr(analysis, "evaluate_metrics", self.evaluate_metrics)
        monkeypatch.setattr(analysis, "update_status_guarded",
                            lambda *a, **k: self.writes.append("status") or (True, {}, {"failedChecks": 2}))
        monkeypatch.setattr(analysis, "_emit", lambda *a, **k: self.events.append(a[3]))

    def evaluate_metrics(self, *args, **kwargs):
        self.measured += 1
        return [{"name": "request-success-rate", "value": 100.0, "passed": True,
                 "verdict": "passed", "msg": "success rate 100% >= 99%", "query": "q"}]

    def post(self, url, payload, **_kwargs):
        self.hook_calls.append((url, payload["phase"]))
        return self.hook_answers.get(url, 200), "", "direct"

    def tick(self, canary_spec, **kwargs):
        return analysis.run_tick(None, canary_spec, 20, prometheus={}, traffic_gate=False,
                                 sender=self, clock=lambda: NOW, **kwargs)


def test_a_canary_that_is_not_ready_halts_the_tick_without_measuring_or_counting(monkeypatch):
    world = World(monkeypatch, deployment(1, conditions=[unavailable_since(10)]))

    result = world.tick(canary())

    assert result["halted"] is True and result["passed"] is False
    assert result["deadline_exceeded"] is False and result["failed_checks"] == 1
    assert world.measured == 0 and world.writes == []
    assert world.events == [("Warning", "canary deployment podinfo.test not ready: waiting for "
                                        "podinfo rollout to finish: 1 of 2 updated replicas are "
                                        "available")]


def test_a_canary_not_ready_past_its_progress_deadline_is_to_be_rolled_back(monkeypatch):
    world = World(monkeypatch, deployment(0, conditions=[unavailable_since(120)]))

    result = world.tick(canary())

    assert result["deadline_exceeded"] is True and result["halted"] is False
    assert result["msg"].startswith("canary deployment podinfo.test not ready: ")
    assert world.measured == 0 and world.writes == []


def test_a_canary_within_its_ready_threshold_is_measured(monkeypatch):
    world = World(monkeypatch, deployment(1, conditions=[unavailable_since(120)]))

    result = world.tick(canary(ready_threshold=50))

    assert result["passed"] is True and world.measured == 1


def test_the_rollback_hooks_hear_the_phase_the_tick_runs_in(monkeypatch):
    hooks = [{"name": "stop", "type": "rollback", "url": "http://hooks.test/rollback"}]
    world = World(monkeypatch, deployment(2), hook_answers={"http://hooks.test/rollback": 403})

    result = world.tick(canary(webhooks=hooks), phase="WaitingPromotion", record_pass=False)

    assert world.hook_calls == [("http://hooks.test/rollback", "WaitingPromotion")]
    # Passing while waiting writes nothing: the weight is recorded already.
    assert result["passed"] is True and world.writes == []


def test_a_tick_without_measuring_only_asks_the_rollback_hooks(monkeypatch):
    hooks = [{"name": "stop", "type": "rollback", "url": "http://hooks.test/rollback"}]
    world = World(monkeypatch, deployment(2))

    result = world.tick(canary(webhooks=hooks), measure=False)

    assert result["rollback_requested"] is True
    assert world.measured == 0 and world.events == [("Warning", "Rollback check stop passed")]


def test_a_tick_given_the_canary_as_just_written_reads_it_no_more_and_hands_its_write_on(
        monkeypatch):
    world = World(monkeypatch, deployment(2))
    reads, writes = [], []
    just_written = {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "9"},
                    "status": {"phase": "Progressing", "failedChecks": 0, "canaryWeight": 20}}
    monkeypatch.setattr(analysis, "read_canary",
                        lambda *a, **k: reads.append(a[1:]) or dict(just_written))
    monkeypatch.setattr(analysis, "update_status_guarded",
                        lambda *a, **k: writes.append(k) or (True, {}, {"failedChecks": 0}))

    def remember(_obj):
        return None

    result = world.tick(canary(), known=just_written, on_written=remember)

    assert reads == [] and result["passed"] is True
    assert writes[0]["known"] is just_written and writes[0]["on_written"] is remember
    # without it, the tick reads the Canary itself
    world.tick(canary())
    assert reads == [("test", "podinfo")]
