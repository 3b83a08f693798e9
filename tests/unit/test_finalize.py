"""What deleting a Canary gives back to its target (Flagger's finalizer): the replicas of the
target Deployment, the selector of an apex Service the Canary does not own, and the field
``spec.revertOnDeletion``."""
import json

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    SpecError,
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError
from ansible_collections.progressive.delivery.plugins.module_utils.finalize import (
    LAST_APPLIED,
    restored_selector,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    replicas_on_revert,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.daemonset import (
    SCALE_TO_ZERO_SELECTOR,
    DaemonSetTarget,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
)


def deployment(replicas="unset"):
    spec = {"template": {}}
    if replicas != "unset":
        spec["replicas"] = replicas
    return {"metadata": {"name": "app"}, "spec": spec}


@pytest.mark.parametrize("target, primary, hpa_min, expected", [
    (0, 3, None, 3),          # the primary's replicas
    (0, "unset", None, 1),    # a primary without replicas counts as 1, as in Flagger
    (5, 3, None, 3),          # also down to the primary's
    (2, None, None, 2),       # no primary: the target's own when above zero
    (0, None, None, 1),       # no primary, no autoscaler: one
    (0, None, 4, 4),          # no primary: the autoscaler's minReplicas when above one
    (0, None, 1, 1),
])
def test_target_deployment_gets_the_replicas_flaggers_finalizer_gives_it(target, primary, hpa_min, expected):
    primary_obj = None if primary is None else deployment(primary)
    assert replicas_on_revert(deployment(target), primary_obj, hpa_min) == expected


def test_a_deployment_is_given_the_primarys_replicas_and_nothing_when_it_has_them():
    target = DeploymentTarget(None, "ns", "app")
    assert target.revert_replicas(deployment(0), deployment(2)) == 2
    assert target.revert_replicas(deployment(2), deployment(2)) is None
    assert target.revert_replicas(deployment("unset"), deployment("unset")) is None


def test_a_daemonset_is_only_started_again_whatever_the_primary_runs():
    stopped = {"spec": {"template": {"spec": {"nodeSelector": dict(SCALE_TO_ZERO_SELECTOR)}}}}
    running = {"spec": {"template": {"spec": {}}}, "status": {"desiredNumberScheduled": 3}}
    target = DaemonSetTarget(None, "ns", "app")
    assert target.revert_replicas(stopped, deployment(5)) == 1
    assert target.revert_replicas(running, deployment(5)) is None


def service(selector, last_applied=None):
    annotations = {} if last_applied is None else {LAST_APPLIED: last_applied}
    return {"metadata": {"name": "app", "namespace": "ns", "annotations": annotations},
            "spec": {"selector": selector}}


def test_apex_service_gets_the_selector_kubectl_last_applied():
    applied = json.dumps({"spec": {"selector": {"app.kubernetes.io/name": "app", "tier": "web"}}})
    assert restored_selector(service({"app": "app-primary"}, applied), "app", "app") == {
        "app.kubernetes.io/name": "app", "tier": "web"}


@pytest.mark.parametrize("applied", [None, json.dumps({"spec": {}}), json.dumps({"kind": "Service"})])
def test_apex_service_without_a_last_applied_selector_selects_the_targets_label(applied):
    assert restored_selector(service({"app": "app-primary"}, applied), "name", "app") == {"name": "app"}


def test_a_last_applied_annotation_that_is_not_json_is_named():
    with pytest.raises(DeliveryError) as info:
        restored_selector(service({"app": "app-primary"}, "{not json"), "app", "app")
    assert "ns/app" in str(info.value) and LAST_APPLIED in str(info.value)


def canary(**spec):
    body = {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
            "service": {"port": 80}, "analysis": {"stepWeight": 10, "maxWeight": 50}}
    body.update(spec)
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": "app", "namespace": "ns"}, "spec": body}


def test_revert_on_deletion_is_read_and_defaults_to_false_as_in_flagger():
    assert parse_canary(canary())["revert_on_deletion"] is False
    parsed = parse_canary(canary(revertOnDeletion=True))
    assert parsed["revert_on_deletion"] is True
    assert not [w for w in parsed["warnings"] if "revertOnDeletion" in w]


def test_revert_on_deletion_that_is_not_a_boolean_is_refused_naming_the_field():
    with pytest.raises(SpecError) as info:
        parse_canary(canary(revertOnDeletion="yes"))
    assert "spec.revertOnDeletion" in str(info.value)
