"""What Flagger's own objects, status and Events look like, where the side-by-side comparison
with Flagger found ours different: the primary's flagger-id, Flux's keys on generated objects,
the namespace of weighted entries, status resets at the end of a release, the words of a check
without data, and one query per metric per tick."""

import copy
import re

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils import analysis
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    metric_halt_event,
    primary_not_ready_detail,
)
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import (
    build_services,
    service_metadata,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import NoData
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    build_weighted_spec,
    set_weights,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import new_status
from ansible_collections.progressive.delivery.plugins.module_utils.targets.daemonset import (
    DaemonSetTarget,
    build_primary_daemonset,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
    build_primary_deployment,
)

from pdtest.manifests import analysis as analysis_spec, canary as canary_manifest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FLUX = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
        "helm.toolkit.fluxcd.io/driftDetection": "disabled"}

CANARY = canary_manifest("test", analysis_spec(
    interval="10s", threshold=3, max_weight=50, step_weight=10,
    metrics=[
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
        {"name": "errors", "templateRef": {"name": "errors"}, "interval": "1m",
         "thresholdRange": {"max": 5}},
        {"name": "inline", "query": "sum(up)", "thresholdRange": {"min": 1}},
    ]))

TEMPLATE = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "MetricTemplate",
    "metadata": {"name": "errors", "namespace": "test"},
    "spec": {"provider": {"type": "prometheus", "address": "http://prometheus.example:9090"},
             "query": "sum(rate(errors[{{ interval }}]))"},
}


def target(kind="Deployment", annotations=None, image="podinfo:1"):
    template = {"metadata": {"labels": {"app": "podinfo"}},
                "spec": {"containers": [{"name": "app", "image": image}]}}
    if annotations:
        template["metadata"]["annotations"] = dict(annotations)
    spec = {"selector": {"matchLabels": {"app": "podinfo"}}, "template": template}
    if kind == "Deployment":
        spec["replicas"] = 2
    else:
        spec["updateStrategy"] = {"type": "RollingUpdate"}
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "podinfo", "namespace": "test"}, "spec": spec}


def flagger_id(obj):
    return ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get("flagger-id")


@pytest.fixture
def canary():
    return parse_canary(copy.deepcopy(CANARY))


# --- flagger-id --------------------------------------------------------------------------

@pytest.mark.parametrize("build, kind", [
    (build_primary_deployment, "Deployment"),
    (build_primary_daemonset, "DaemonSet"),
])
def test_a_new_primary_gets_a_random_flagger_id_never_the_targets(build, kind):
    source = target(kind, annotations={"flagger-id": "copied", "team": "a"})
    first, second = build(source, set()), build(source, set())
    assert UUID.match(flagger_id(first)), flagger_id(first)
    assert flagger_id(first) != flagger_id(second)
    assert first["spec"]["template"]["metadata"]["annotations"]["team"] == "a"


@pytest.mark.parametrize("workload", [DeploymentTarget, DaemonSetTarget])
def test_each_promotion_that_changes_the_primary_writes_a_new_flagger_id(workload):
    kind = workload.kind
    builder = build_primary_deployment if kind == "Deployment" else build_primary_daemonset
    primary = builder(target(kind), set())
    primary["metadata"]["name"] = "podinfo-primary"
    first_id = flagger_id(primary)
    subject = workload(None, "test", "podinfo")

    promoted = subject.promoted_primary(primary, target(kind, image="podinfo:2"), set())

    assert UUID.match(flagger_id(promoted)) and flagger_id(promoted) != first_id
    # Promoting what the primary runs already changes nothing: its pods are not replaced twice.
    assert subject.promoted_primary(promoted, target(kind, image="podinfo:2"), set()) == promoted
    # A template only the target's flagger-id tells apart is the same revision.
    marked = target(kind, image="podinfo:2", annotations={"flagger-id": "x"})
    assert subject.promoted_primary(promoted, marked, set()) == promoted


def test_a_primary_made_before_flagger_id_gets_one_at_its_next_promotion():
    primary = build_primary_deployment(target(), set())
    primary["metadata"]["name"] = "podinfo-primary"
    del primary["spec"]["template"]["metadata"]["annotations"]
    subject = DeploymentTarget(None, "test", "podinfo")
    assert subject.promoted_primary(primary, target(), set()) == primary
    assert UUID.match(flagger_id(subject.promoted_primary(primary, target(image="podinfo:2"), set())))


# --- Flux's keys -------------------------------------------------------------------------

def test_generated_services_and_the_traefik_service_tell_flux_to_leave_them_alone(canary):
    canary["service"]["metadata"]["apex"]["annotations"] = {
        "kustomize.toolkit.fluxcd.io/reconcile": "enabled", "note": "x"}
    services = {s["metadata"]["name"]: s for s in build_services(canary, target())}
    # As in Flagger, the two keys win over what the Canary says.
    assert services["podinfo"]["metadata"]["annotations"] == dict(FLUX, note="x")
    assert services["podinfo-primary"]["metadata"]["annotations"] == FLUX
    assert services["podinfo-canary"]["metadata"]["annotations"] == FLUX
    assert Route.for_canary(canary).annotations == dict(FLUX, note="x")


def test_an_owned_service_keeps_flux_keys_disabled_even_when_listed_as_unmanaged(canary):
    desired = build_services(canary, target())[0]
    current = {"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/reconcile": "enabled",
                                            "other": "kept"}}}
    wanted = service_metadata(current, desired, {"annotations": [
        "kustomize.toolkit.fluxcd.io/reconcile", "other"]})
    assert wanted["annotations"] == dict(FLUX, other="kept")


# --- weighted entries name their namespace -------------------------------------------------

def test_weighted_entries_name_the_namespace_as_flagger_writes_them():
    spec = build_weighted_spec("podinfo-primary", "podinfo-canary", 80, 90, 10, namespace="test")
    assert spec["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": "test", "weight": 90, "port": 80},
        {"name": "podinfo-canary", "namespace": "test", "weight": 10, "port": 80}]
    moved = set_weights(spec, "podinfo-primary", "podinfo-canary", None, 100, 0, namespace="test")
    assert moved["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": "test", "weight": 100, "port": 80}]


# --- status at the end of a release --------------------------------------------------------

RUNNING = {"phase": "Progressing", "canaryWeight": 30, "failedChecks": 2, "iterations": 3,
           "lastCheck": "rev/30/2/abc"}


@pytest.mark.parametrize("phase", ["Finalising", "Succeeded"])
def test_a_promotion_leaves_iterations_and_weight_at_zero_and_keeps_the_failed_checks(phase):
    status = new_status(RUNNING, {"phase": phase})
    assert (status["iterations"], status["canaryWeight"], status["failedChecks"]) == (0, 0, 2)
    assert "lastCheck" not in status


def test_a_rollback_leaves_no_failed_checks_as_flaggers_fresh_status():
    status = new_status(RUNNING, {"phase": "Failed"})
    assert (status["iterations"], status["canaryWeight"], status["failedChecks"]) == (0, 0, 0)
    assert "lastCheck" not in status


@pytest.mark.parametrize("phase", ["Progressing", "Waiting", "Promoting", "WaitingPromotion"])
def test_phases_of_a_running_analysis_keep_its_progress(phase):
    status = new_status(RUNNING, {"phase": phase})
    assert (status["iterations"], status["canaryWeight"], status["failedChecks"]) == (3, 30, 2)
    assert status["lastCheck"] == RUNNING["lastCheck"]


def test_values_written_with_the_phase_win_over_its_resets():
    status = new_status(RUNNING, {"phase": "Failed", "canaryWeight": 100})
    assert (status["canaryWeight"], status["failedChecks"]) == (100, 0)


# --- the words of a check without data -----------------------------------------------------

def no_data(name, msg="no values found (the query returned no series)"):
    return {"name": name, "value": None, "passed": False, "verdict": "no_data", "msg": msg}


def test_a_builtin_check_without_data_halts_in_flaggers_words(canary):
    assert metric_halt_event(canary, no_data("request-success-rate")) == (
        "Warning", "Halt advancement no values found for traefik metric request-success-rate "
                   "probably podinfo.test is not receiving traffic: running query failed: no values found")
    assert metric_halt_event(canary, no_data("request-duration")) == (
        "Warning", "Halt advancement no values found for traefik metric request-duration "
                   "probably podinfo.test is not receiving traffic")


def test_template_and_inline_checks_without_data_halt_in_flaggers_words(canary):
    msg = "errors: no values found (MetricTemplate test/errors (provider prometheus): the query returned NaN)"
    assert metric_halt_event(canary, no_data("errors", msg)) == (
        "Warning", "Halt advancement no values found for custom metric: errors: no values found "
                   "(MetricTemplate test/errors (provider prometheus): the query returned NaN)")
    assert metric_halt_event(canary, no_data("inline")) == (
        "Warning", "Halt advancement no values found for metric: inline")


def test_a_check_with_a_value_halts_naming_the_canary(canary):
    failed = {"name": "request-success-rate", "verdict": "fail", "passed": False,
              "msg": "success rate 53.42% < 99%"}
    assert analysis.halt_event(canary, ("metric", failed)) == (
        "Warning", "Halt podinfo.test advancement success rate 53.42% < 99%")
    assert analysis.halt_event(canary, ("metric", no_data("request-duration")))[1].startswith(
        "Halt advancement no values found for traefik metric request-duration")


def test_the_primary_not_ready_detail_reads_as_flaggers():
    assert primary_not_ready_detail(
        "waiting for podinfo-primary rollout to finish: 0 of 2 updated replicas are available",
        "podinfo-primary") == "waiting for rollout to finish: 0 of 2 updated replicas are available"


# --- one query per metric per tick ---------------------------------------------------------

class Reader(object):
    def template(self, namespace, name):
        return copy.deepcopy(TEMPLATE)

    def secret(self, namespace, name):
        raise AssertionError("no Secret is read")

    def object(self, *args):
        return None


class CountingProvider(object):
    """Answers the queries in order from ``answers`` (an exception is raised)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.queries = []

    def __call__(self, **settings):
        return self

    def run_query(self, promql):
        self.queries.append(promql)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_tick_asks_each_metric_exactly_once_also_when_one_has_no_data(canary):
    # Every check is measured on every tick (the step line and the report show each value), each
    # with one query: no retry, no second query to tell "no data" apart.
    provider = CountingProvider([NoData("the query returned no series"), 120.0, 1.0, 2.0])
    results = analysis.evaluate_metrics(canary, {"address": "http://p:9090"}, Reader(), provider)
    assert len(provider.queries) == 4 and not provider.answers
    assert [r["verdict"] for r in results] == ["no_data", "pass", "pass", "pass"]
