"""Specification of how Canary manifests are read: Flagger's defaults and our refusals."""

import copy

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    SpecError,
    parse_canary,
    parse_duration,
    promotion_steps,
    weight_steps,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput

from pdtest.manifests import SEED_CANARY


def seed():
    return yaml.safe_load(SEED_CANARY)


def minimal(**analysis):
    body = {"stepWeight": 10, "maxWeight": 50}
    body.update(analysis)
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
            "service": {"port": 80},
            "analysis": body,
        },
    }


def refused(obj):
    with pytest.raises(SpecError) as info:
        parse_canary(obj)
    return info.value


# --- the seed manifest -------------------------------------------------------------------

def test_seed_canary_is_accepted_unchanged_with_its_own_values():
    canary = parse_canary(seed())
    assert canary["name"] == "podinfo" and canary["namespace"] == "test"
    assert canary["target"] == {"api_version": "apps/v1", "kind": "Deployment", "name": "podinfo"}
    assert canary["autoscaler"]["api_version"] == "autoscaling/v2beta2"
    assert canary["progress_deadline_seconds"] == 60
    assert canary["service"]["name"] == "podinfo"
    assert canary["service"]["port"] == 80 and canary["service"]["target_port"] == 9898
    assert canary["service"]["port_name"] == "http"
    analysis = canary["analysis"]
    assert analysis["interval_seconds"] == 10 and analysis["threshold"] == 10
    assert canary["steps"] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert [m["threshold_range"] for m in analysis["metrics"]] == [
        {"min": 99.0, "max": None}, {"min": None, "max": 500.0}]
    hooks = {h["name"]: h for h in analysis["webhooks"]}
    assert hooks["acceptance-test"]["type"] == "pre-rollout"
    assert hooks["acceptance-test"]["metadata"]["type"] == "bash"
    assert hooks["load-test"]["timeout_seconds"] == 5
    assert hooks["load-test"]["metadata"]["logCmdOutput"] == "true"
    assert canary["warnings"] == []


def test_seed_canary_is_not_modified_by_parsing():
    obj = seed()
    before = copy.deepcopy(obj)
    parse_canary(obj)
    assert obj == before


# --- Flagger's defaults ------------------------------------------------------------------

def test_defaults_follow_flagger():
    obj = minimal()
    del obj["spec"]["analysis"]["maxWeight"]
    canary = parse_canary(obj)
    assert canary["analysis"]["interval_seconds"] == 60
    assert canary["analysis"]["threshold"] == 1
    assert canary["progress_deadline_seconds"] == 600
    assert canary["analysis"]["max_weight"] == 100
    assert canary["steps"] == list(range(10, 101, 10))
    assert canary["skip_analysis"] is False


def test_metric_interval_defaults_to_one_minute():
    obj = minimal(metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 99}}])
    assert parse_canary(obj)["analysis"]["metrics"][0]["interval"] == "1m"


def test_webhook_without_type_is_a_rollout_hook_with_ten_second_timeout():
    obj = minimal(webhooks=[{"name": "h", "url": "http://x.ns/"}])
    hook = parse_canary(obj)["analysis"]["webhooks"][0]
    assert hook["type"] == "rollout" and hook["timeout_seconds"] == 10


def test_service_name_is_used_instead_of_target_name():
    obj = minimal()
    obj["spec"]["service"]["name"] = "frontend"
    assert parse_canary(obj)["service"]["name"] == "frontend"


def test_canary_without_analysis_skips_analysis():
    obj = minimal()
    del obj["spec"]["analysis"]
    canary = parse_canary(obj)
    assert canary["skip_analysis"] is True and canary["steps"] == []


def test_step_weights_list_is_used_in_order():
    obj = minimal(stepWeights=[1, 5, 20, 80])
    del obj["spec"]["analysis"]["stepWeight"], obj["spec"]["analysis"]["maxWeight"]
    canary = parse_canary(obj)
    assert canary["steps"] == [1, 5, 20, 80]
    assert canary["analysis"]["max_weight"] == 80


def test_step_weight_promotion_gives_primary_weights_up_to_100():
    obj = minimal(stepWeightPromotion=20)
    assert parse_canary(obj)["promotion_steps"] == [70, 90, 100]


def test_last_step_stops_at_max_weight():
    assert weight_steps(step_weight=20, max_weight=50) == [20, 40, 50]
    assert weight_steps(step_weight=25, max_weight=100) == [25, 50, 75, 100]
    assert promotion_steps(50, None) == []


def test_unquoted_boolean_in_webhook_metadata_becomes_a_string():
    obj = minimal(webhooks=[{"name": "h", "url": "http://x/", "metadata": {"logCmdOutput": True}}])
    assert parse_canary(obj)["analysis"]["webhooks"][0]["metadata"]["logCmdOutput"] == "true"


def test_mesh_only_fields_are_accepted_and_reported_as_warnings():
    obj = minimal()
    obj["spec"]["service"]["gateways"] = ["public-gateway"]
    canary = parse_canary(obj)
    assert any("spec.service.gateways" in w for w in canary["warnings"])


def test_template_ref_namespace_defaults_to_canary_namespace():
    obj = minimal(metrics=[{"name": "404s", "templateRef": {"name": "not-found"},
                            "thresholdRange": {"max": 5}}])
    assert parse_canary(obj)["analysis"]["metrics"][0]["template_ref"] == {
        "name": "not-found", "namespace": "ns"}


# --- durations ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,seconds", [
    ("1m", 60), ("10s", 10), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5), ("0", 0),
    ("2h", 7200), ("1m30s", 90), ("100us", 0.0001),
])
def test_go_durations_are_parsed(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "-1m", "1x", "m", "1m-", 10, None, "1 m"])
def test_malformed_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# --- refusals name the field and what is allowed -----------------------------------------

@pytest.mark.parametrize("mutate,field,words", [
    (lambda o: o["spec"]["analysis"].update(maxWeight=5, stepWeight=10),
     "spec.analysis.maxWeight", "stepWeight"),
    (lambda o: o["spec"]["analysis"].update(stepWeights=[10, 5], stepWeight=0),
     "spec.analysis.stepWeights", "increasing"),
    (lambda o: o["spec"]["analysis"].update(stepWeights=[10, 101], stepWeight=0),
     "spec.analysis.stepWeights", "between 1 and 100"),
    (lambda o: o["spec"]["analysis"].update(stepWeight=-5), "spec.analysis.stepWeight",
     "between 1 and 100"),
    (lambda o: o["spec"]["analysis"].update(maxWeight=120), "spec.analysis.maxWeight",
     "between 1 and 100"),
    (lambda o: o["spec"]["analysis"].update(interval="-1m"), "spec.analysis.interval",
     "negative"),
    (lambda o: o["spec"]["analysis"].update(interval="ten seconds"), "spec.analysis.interval",
     "duration"),
    (lambda o: o["spec"]["analysis"].update(threshold=0), "spec.analysis.threshold",
     "between 1 and"),
    (lambda o: o["spec"]["analysis"].update(webhooks=[{"name": "h", "type": "pre-launch",
                                                       "url": "http://x/"}]),
     "spec.analysis.webhooks[0].type", "confirm-rollout, pre-rollout, rollout"),
    (lambda o: o["spec"].pop("targetRef"), "spec.targetRef", "required"),
    (lambda o: o["spec"]["targetRef"].update(kind="StatefulSet"), "spec.targetRef.kind",
     "DaemonSet, Deployment"),
    (lambda o: o["spec"]["targetRef"].update(name="Pod_Info"), "spec.targetRef.name", "DNS"),
    (lambda o: o["metadata"].update(namespace="Test NS"), "metadata.namespace", "DNS"),
    (lambda o: o["spec"]["service"].update(name="9lives"), "spec.service.name", "DNS-1035"),
    (lambda o: o["spec"]["service"].pop("port"), "spec.service.port", "required"),
    (lambda o: o["spec"]["service"].update(port=70000), "spec.service.port", "1 and 65535"),
    (lambda o: o["spec"]["service"].update(port="eighty"), "spec.service.port", "1 and 65535"),
    (lambda o: o["spec"]["analysis"].update(metrics=[{"name": "request-success-rate"}]),
     "spec.analysis.metrics[0].thresholdRange", "required"),
    (lambda o: o["spec"]["analysis"].update(metrics=[{"name": "error-rate",
                                                      "thresholdRange": {"max": 1}}]),
     "spec.analysis.metrics[0].name", "request-success-rate, request-duration"),
    (lambda o: o["spec"]["analysis"].update(metrics=[{"name": "request-duration",
                                                      "thresholdRange": {"min": 9, "max": 1}}]),
     "spec.analysis.metrics[0].thresholdRange", "min (9) must not be greater than max (1)"),
    (lambda o: o["spec"]["analysis"].update(iterations=1001), "spec.analysis.iterations",
     "integer between 1 and 1000"),
    (lambda o: o["spec"].update(provider="istio"), "spec.provider", "traefik"),
    (lambda o: o.update(apiVersion="flagger.app/v1alpha3"), "apiVersion", "flagger.app/v1beta1"),
    (lambda o: o["spec"]["autoscalerRef"].update(kind="ScaledObject"), "spec.autoscalerRef.kind",
     "HorizontalPodAutoscaler"),
    (lambda o: o["spec"]["analysis"].update(stepWeight=0), "spec.analysis.stepWeight",
     "stepWeights is required"),
])
def test_bad_manifest_is_refused_naming_the_field(mutate, field, words):
    obj = minimal()
    obj["spec"]["autoscalerRef"] = {"apiVersion": "autoscaling/v2", "kind":
                                    "HorizontalPodAutoscaler", "name": "app"}
    mutate(obj)
    error = refused(obj)
    assert error.field == field
    assert field in str(error) and words in str(error)
    assert isinstance(error, InvalidInput)


def test_every_problem_is_reported_at_once():
    obj = minimal(threshold=-1, interval="soon")
    obj["spec"]["service"]["port"] = 0
    fields = [f for f, _m in refused(obj).problems]
    assert {"spec.analysis.threshold", "spec.analysis.interval", "spec.service.port"} <= set(fields)


def test_not_a_mapping_is_refused():
    with pytest.raises(SpecError):
        parse_canary(["not", "a", "canary"])


def test_unmanaged_service_metadata_keys_are_kept_as_lists():
    obj = minimal()
    obj["spec"]["service"]["unmanagedMetadata"] = {"annotations": ["external-dns.alpha.kubernetes.io/hostname"]}
    parsed = parse_canary(obj)
    assert parsed["service"]["unmanaged_metadata"] == {
        "labels": [], "annotations": ["external-dns.alpha.kubernetes.io/hostname"]}


def test_unmanaged_service_metadata_must_list_keys():
    obj = minimal()
    obj["spec"]["service"]["unmanagedMetadata"] = {"labels": "team"}
    assert "spec.service.unmanagedMetadata.labels" in str(refused(obj))
