"""The pure decisions of an analysis tick: what to query, how a tick is judged, what to say."""

import copy

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils import analysis
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    ControllerWatch,
    RunGone,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
)

SEED_CANARY = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "provider": "traefik",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "progressDeadlineSeconds": 60,
        "service": {"port": 80, "targetPort": 9898},
        "analysis": {
            "interval": "10s",
            "threshold": 10,
            "maxWeight": 50,
            "stepWeight": 5,
            "metrics": [
                {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
                {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
                {"name": "404s percentage", "templateRef": {"name": "not-found-percentage"},
                 "thresholdRange": {"max": 5}, "interval": "1m"},
            ],
            "webhooks": [
                {"name": "acceptance-test", "type": "pre-rollout",
                 "url": "http://flagger-loadtester.test/", "timeout": "10s",
                 "metadata": {"type": "bash", "cmd": "curl -sd 'test' "
                              "http://podinfo-canary.test/token | grep token"}},
                {"name": "load-test", "type": "rollout", "url": "http://flagger-loadtester.test/",
                 "timeout": "5s", "metadata": {"type": "cmd", "cmd": "hey -z 10m -q 10 -c 2 "
                                               "-host app.example.com http://traefik.traefik",
                                               "logCmdOutput": "true"}},
            ],
        },
    },
}

NOT_FOUND_TEMPLATE = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "MetricTemplate",
    "metadata": {"name": "not-found-percentage", "namespace": "test"},
    "spec": {
        "provider": {"type": "prometheus", "address": "http://prometheus.example:9090"},
        "query": 'sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-'
                 '{{ target }}-canary-[0-9]+@kubernetescrd",code="404"}[{{ interval }}]))',
    },
}


@pytest.fixture
def canary():
    return parse_canary(copy.deepcopy(SEED_CANARY))


def metric(canary, name):
    return [m for m in canary["analysis"]["metrics"] if m["name"] == name][0]


def test_builtin_metrics_are_keyed_by_the_canary_service_and_port(canary):
    params = analysis.metric_check_params(
        canary, metric(canary, "request-success-rate"), {"address": "http://p:9090"})
    plan = plan_check(params)
    assert 'service="test-podinfo-canary-80@kubernetescrd"' in plan.query
    assert "[1m]" in plan.query
    assert plan.provider_settings["address"] == "http://p:9090"


def test_a_service_name_different_from_the_target_is_measured(canary):
    manifest = copy.deepcopy(SEED_CANARY)
    manifest["spec"]["service"]["name"] = "frontend"
    renamed = parse_canary(manifest)
    params = analysis.metric_check_params(
        renamed, metric(renamed, "request-duration"), {"address": "http://p:9090"})
    plan = plan_check(params)
    assert "test-frontend-canary-80@kubernetescrd" in plan.query
    assert "podinfo-canary" not in plan.query


def test_template_metrics_render_the_template_from_the_cluster(canary):
    m = metric(canary, "404s percentage")
    provider = analysis.provider_for(canary, m, {"address": "http://module:9090"},
                                     NOT_FOUND_TEMPLATE)
    params = analysis.metric_check_params(canary, m, provider, NOT_FOUND_TEMPLATE)
    plan = plan_check(params)
    assert 'service=~"test-podinfo-canary-[0-9]+@kubernetescrd"' in plan.query
    # the template names its provider, which wins over the module's default
    assert plan.provider_settings["address"] == "http://prometheus.example:9090"


def test_a_template_without_provider_address_uses_the_module_default(canary):
    template = copy.deepcopy(NOT_FOUND_TEMPLATE)
    del template["spec"]["provider"]["address"]
    m = metric(canary, "404s percentage")
    provider = analysis.provider_for(canary, m, {"address": "http://module:9090"}, template)
    assert provider["address"] == "http://module:9090"


def test_builtin_metrics_fall_back_to_the_canarys_metrics_server(canary):
    canary["metrics_server"] = "http://metrics-server.example:9090"
    m = metric(canary, "request-success-rate")
    assert analysis.provider_for(canary, m, {})["address"] == "http://metrics-server.example:9090"
    assert analysis.provider_for(canary, m, {"address": "http://mine:9090"})["address"] == \
        "http://mine:9090"


def test_inline_query_metrics_are_passed_as_queries(canary):
    m = {"name": "errors", "query": "sum(up)", "threshold_range": {"min": None, "max": 1},
         "interval": "1m", "template_ref": None, "template_variables": {}}
    params = analysis.metric_check_params(canary, m, {})
    assert params["query"] == "sum(up)"
    assert params["metric"] is None


def ok(name="m"):
    return {"name": name, "passed": True, "msg": name + " fine"}


def bad(name="m", msg="success rate 53.42% < 99%"):
    return {"name": name, "passed": False, "msg": msg}


def hooks(passed, failed=None):
    return {"passed": passed, "failed": failed}


def test_a_tick_with_everything_passing_passes():
    assert analysis.judge_tick(hooks(True), [ok(), ok()], hooks(True)) == (analysis.PASSED, None)


def test_a_failing_rollout_hook_fails_the_tick_before_metrics():
    failed_hook = {"name": "load-test", "status": 500}
    outcome, failure = analysis.judge_tick(hooks(False, failed_hook), [bad()], None)
    assert outcome == analysis.FAILED
    assert failure == ("webhook", failed_hook)


def test_the_first_failing_metric_is_reported():
    outcome, failure = analysis.judge_tick(hooks(True), [ok("a"), bad("b"), bad("c")], None)
    assert outcome == analysis.FAILED
    assert failure[1]["name"] == "b"


def test_a_closed_traffic_gate_holds_without_failing():
    gate = {"name": "approve", "status": 403}
    outcome, failure = analysis.judge_tick(hooks(True), [ok()], hooks(False, gate))
    assert outcome == analysis.WAITING
    assert failure == ("gate", gate)


def test_halt_event_for_a_metric_uses_flaggers_words(canary):
    event = analysis.halt_event(canary, ("metric", bad()))
    assert event == ("Warning", "Halt podinfo.test advancement success rate 53.42% < 99%")


def test_halt_event_for_a_webhook_names_the_hook_in_flaggers_words(canary):
    result = {"name": "load-test", "status": 500, "output": "", "msg": "x",
              "error": "POST http://loadtester.test/ giving up after 1 attempt(s)"}
    event_type, message = analysis.halt_event(canary, ("webhook", result))
    assert event_type == "Warning"
    assert message == ("Halt podinfo.test advancement external check load-test failed "
                       "POST http://loadtester.test/ giving up after 1 attempt(s)")


def test_halt_event_for_a_closed_gate(canary):
    event = analysis.halt_event(canary, ("gate", {"name": "approve"}))
    assert event == ("Warning", "Halt podinfo.test advancement waiting for traffic increase "
                                "approval approve")


@pytest.mark.parametrize("failed, threshold, reached", [
    (0, 1, False), (2, 3, False), (3, 3, True), (4, 3, True)])
def test_threshold_is_reached_at_the_threshold(failed, threshold, reached):
    assert analysis.threshold_reached(failed, threshold) is reached


@pytest.mark.parametrize("hook_type, status, phase", [
    ("pre-rollout", {"phase": "Initialized"}, "Progressing"),
    ("rollout", {}, "Progressing"),
    ("confirm-promotion", {"phase": "WaitingPromotion"}, "Progressing"),
    ("confirm-rollout", {"phase": "Waiting"}, "Waiting"),
    ("post-rollout", {"phase": "Failed"}, "Failed"),
    ("post-rollout", {"phase": "Finalising"}, "Succeeded"),
    ("rollback", {"phase": "Progressing"}, "Progressing"),
])
def test_payload_phase_defaults_follow_flagger(hook_type, status, phase):
    assert analysis.default_phase(hook_type, status) == phase


def test_hook_events_read_like_flaggers(canary):
    results = [
        {"name": "acceptance-test", "passed": True, "status": 200, "output": "", "msg": ""},
        {"name": "smoke", "passed": False, "status": 403, "output": "", "msg": "", "error": "not yet"},
    ]
    events = analysis.hook_events(canary, "pre-rollout", results)
    assert events == [
        ("Normal", "Pre-rollout check acceptance-test passed"),
        ("Warning", "Halt podinfo.test advancement pre-rollout check smoke failed not yet"),
    ]


def test_passing_rollout_hooks_record_no_event(canary):
    results = [{"name": "load-test", "passed": True, "status": 202, "output": "", "msg": ""}]
    assert analysis.hook_events(canary, "rollout", results) == []


def test_a_manifest_is_normalized_and_a_normalized_canary_kept(canary):
    normalized, obj = analysis.load_canary(copy.deepcopy(SEED_CANARY))
    assert normalized == canary
    assert obj is None
    again, _obj = analysis.load_canary(canary)
    assert again is canary


def test_a_bad_manifest_names_the_field():
    manifest = copy.deepcopy(SEED_CANARY)
    manifest["spec"]["analysis"]["webhooks"][0]["type"] = "pre-release"
    with pytest.raises(Exception) as err:
        analysis.load_canary(manifest)
    assert "spec.analysis.webhooks[0].type" in str(err.value)


def test_without_canary_or_name_the_options_are_named():
    with pytest.raises(Exception) as err:
        analysis.load_canary(None, None, None)
    assert "either canary, or name and namespace, is required" in str(err.value)


def test_template_variables_follow_flagger_service_is_the_apex_and_name_the_canary():
    """Flagger renders {{ service }} as spec.service.name and {{ name }} as the Canary's name."""
    manifest = copy.deepcopy(SEED_CANARY)
    manifest["metadata"]["name"] = "release"
    manifest["spec"]["service"]["name"] = "frontend"
    renamed = parse_canary(manifest)
    template = copy.deepcopy(NOT_FOUND_TEMPLATE)
    template["spec"]["query"] = 'x{svc="{{ service }}-canary",canary="{{ name }}",t="{{ target }}"}'
    m = metric(renamed, "404s percentage")
    params = analysis.metric_check_params(renamed, m, {"address": "http://p:9090"}, template)
    plan = plan_check(params)
    assert plan.query == 'x{svc="frontend-canary",canary="release",t="podinfo"}'


READY_DEPLOYMENT = {
    "metadata": {"name": "podinfo", "generation": 2},
    "spec": {"replicas": 1},
    "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
}


class _Orphaning(object):
    """A tick's view of the cluster and its own process tree: ansible-playbook is killed at
    ``kill_at`` (seconds of fake time, or when the metrics are measured); records every write."""

    def __init__(self, tmp_path, monkeypatch, kill_at=None):
        self.proc = tmp_path
        self.kill_at = kill_at
        self.now = 0.0
        self.measured = 0
        self.writes = []
        for pid, parent in {50: 40, 40: 30, 30: 20, 20: 1}.items():  # module, sh, worker, controller
            self._stat(pid, parent)
        self.watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
        canary_obj = {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
                      "status": {"phase": "Progressing", "failedChecks": 1, "iterations": 2}}
        monkeypatch.setattr(analysis, "read_canary", lambda *a, **k: canary_obj)
        # The tick's one read of its target: a Deployment that is rolled out.
        monkeypatch.setattr(analysis.ClusterReader, "target",
                            lambda _self, canary: (DeploymentTarget(None, "test", "podinfo"),
                                                   READY_DEPLOYMENT))
        monkeypatch.setattr(analysis, "evaluate_metrics", self.evaluate_metrics)
        monkeypatch.setattr(analysis, "update_status_guarded",
                            lambda *a, **k: self.writes.append("status") or (True, {}, {"failedChecks": 2}))
        monkeypatch.setattr(analysis, "_emit", lambda *a, **k: self.writes.append("event"))

    def _stat(self, pid, parent):
        (self.proc / str(pid)).mkdir(exist_ok=True)
        (self.proc / str(pid) / "stat").write_text("{0} (x) S {1} 1 1 0\n".format(pid, parent))

    def kill_the_controller(self):
        (self.proc / "20" / "stat").unlink(missing_ok=True)
        self._stat(30, 1)  # its worker, in a session of its own, re-parented to init

    def sleep(self, seconds):
        self.now += seconds
        if isinstance(self.kill_at, (int, float)) and self.now >= self.kill_at:
            self.kill_the_controller()

    def clock(self):
        return self.now

    def evaluate_metrics(self, *args, **kwargs):
        self.measured += 1
        if self.kill_at == "measuring":
            self.kill_the_controller()
        return [{"name": "request-success-rate", "value": 53.42, "passed": False, "verdict": "failed",
                 "msg": "success rate 53.42% < 99%", "query": "q"}]

    def tick(self, canary):
        return analysis.run_tick(None, canary, 10, wait=30, prometheus={}, traffic_gate=False,
                                 sleep=lambda s: self.watch.sleep(s, sleep=self.sleep, clock=self.clock),
                                 before_write=self.watch.check, tick_id="t1")


@pytest.fixture
def hookless_canary():
    manifest = copy.deepcopy(SEED_CANARY)
    manifest["spec"]["analysis"]["webhooks"] = []
    return parse_canary(manifest)


def test_a_tick_whose_run_is_killed_during_its_wait_measures_and_writes_nothing(
        tmp_path, monkeypatch, hookless_canary):
    world = _Orphaning(tmp_path, monkeypatch, kill_at=12)

    with pytest.raises(RunGone, match="process 30 was orphaned"):
        world.tick(hookless_canary)

    assert world.now < 12 + 1  # noticed within a poll, not after the whole 30 s interval
    assert world.measured == 0 and world.writes == []


def test_a_tick_whose_run_is_killed_while_it_measures_writes_nothing(tmp_path, monkeypatch, hookless_canary):
    world = _Orphaning(tmp_path, monkeypatch, kill_at="measuring")

    with pytest.raises(RunGone):
        world.tick(hookless_canary)

    assert world.measured == 1 and world.writes == []


def test_a_tick_whose_run_lives_counts_its_failed_check(tmp_path, monkeypatch, hookless_canary):
    world = _Orphaning(tmp_path, monkeypatch)

    result = world.tick(hookless_canary)

    assert world.now == pytest.approx(30)
    assert world.writes == ["status", "event"]
    assert result["failed_checks"] == 2 and not result["passed"]


class _ClosedGate(object):
    """A sender whose every hook answers 403, as a closed gate does."""

    def post(self, url, payload, **_kwargs):
        return 403, "not yet", "direct"

    def route(self, url):
        return "direct", None


def test_a_closed_confirm_promotion_gate_starts_waiting_once(canary, monkeypatch):
    gated = copy.deepcopy(canary)
    gated["analysis"]["webhooks"] = [
        {"name": "approve", "type": "confirm-promotion", "url": "http://gate.test/"}]
    writes, emitted = [], []
    monkeypatch.setattr(analysis, "write_status", lambda _c, _ns, _n, changes, **_k: (
        writes.append(changes) or (True, {}, dict(changes))))
    monkeypatch.setattr(analysis, "_emit", lambda *args, **_k: emitted.append(args[3][1]))
    canary_obj = {"status": {"phase": "Progressing"}}

    first = analysis.run_stage_hooks(object(), gated, canary_obj, "confirm-promotion", _ClosedGate())
    again = analysis.run_stage_hooks(object(), gated, canary_obj, "confirm-promotion", _ClosedGate())

    assert not first["passed"] and not again["passed"]
    assert writes == [{"phase": "WaitingPromotion"}]
    assert emitted == ["Halt podinfo.test advancement waiting for promotion approval approve"]
