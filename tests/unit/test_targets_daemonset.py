"""Specification of a DaemonSet as canary target, as Flagger handles one: its primary, readiness
by updated and available pods, scaling to zero by a node selector that matches no node, a revision
that ignores that selector, promotion of the template, and the Canary refusing an autoscaler."""
import copy

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils import permissions
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import target_for
from ansible_collections.progressive.delivery.plugins.module_utils.targets.daemonset import (
    DaemonSetTarget,
    build_primary_daemonset,
    rollout_progress,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.scaling import (
    scale_target,
)

from pdtest.fake_k8s import Discovery, MemoryResource
from pdtest.fake_time import FakeTime
from pdtest.manifests import SEED_CANARY

STOP = {"flagger.app/scale-to-zero": "true"}


def daemonset(name="podinfo", node_selector=None, image="stefanprodan/podinfo:4.0.5", **spec):
    pod_spec = {"containers": [{"name": "podinfod", "image": image}],
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "podinfo"}},
                     "topologyKey": "kubernetes.io/hostname"}]}}}
    if node_selector is not None:
        pod_spec["nodeSelector"] = node_selector
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "test",
                         "labels": {"app": "podinfo", "team": "web"},
                         "annotations": {"owner": "web"}},
            "spec": dict({"selector": {"matchLabels": {"app": "podinfo"}},
                          "template": {"metadata": {"labels": {"app": "podinfo"}},
                                       "spec": pod_spec}}, **spec)}
    return body


def daemonset_status(desired, updated, available, generation=3, observed=3):
    return {"metadata": {"name": "podinfo", "generation": generation},
            "status": {"observedGeneration": observed, "desiredNumberScheduled": desired,
                       "updatedNumberScheduled": updated, "numberAvailable": available}}


def ds_canary(**spec):
    manifest = yaml.safe_load(SEED_CANARY)
    manifest["spec"]["targetRef"]["kind"] = "DaemonSet"
    manifest["spec"].pop("autoscalerRef", None)
    manifest["spec"].update(spec)
    return parse_canary(manifest)


def target_over(*objects, **canary_spec):
    store = MemoryResource(objects, kind="DaemonSet")
    client = type("Client", (), {})()
    client.resources = Discovery({("apps/v1", "DaemonSet"): store})
    return target_for(client, ds_canary(**canary_spec)), store


# --- the Canary -------------------------------------------------------------------------------

def test_a_canary_of_a_daemonset_gets_a_daemonset_target():
    target, _store = target_over()
    assert isinstance(target, DaemonSetTarget)
    assert (target.kind, target.name, target.primary) == ("DaemonSet", "podinfo", "podinfo-primary")


def test_an_autoscaler_for_a_daemonset_is_refused_naming_the_field():
    manifest = yaml.safe_load(SEED_CANARY)
    manifest["spec"]["targetRef"]["kind"] = "DaemonSet"
    manifest["spec"]["autoscalerRef"] = {"apiVersion": "autoscaling/v2",
                                         "kind": "HorizontalPodAutoscaler", "name": "podinfo"}
    with pytest.raises(InvalidInput) as failure:
        parse_canary(manifest)
    assert failure.value.field == "spec.autoscalerRef"
    assert "must not be set for a DaemonSet target" in str(failure.value)


# --- the primary ------------------------------------------------------------------------------

def test_the_primary_daemonset_runs_the_template_under_the_primary_selector_label():
    target = daemonset(updateStrategy={"type": "RollingUpdate"}, minReadySeconds=3,
                       revisionHistoryLimit=4)
    primary = build_primary_daemonset(target, set())
    assert primary["kind"] == "DaemonSet"
    assert primary["metadata"]["name"] == "podinfo-primary"
    # Flagger copies no label of the target by default, only sets the selector label.
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["metadata"]["annotations"] == {"owner": "web"}
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    assert (primary["spec"]["minReadySeconds"], primary["spec"]["revisionHistoryLimit"]) == (3, 4)
    assert "replicas" not in primary["spec"]


def test_the_primary_daemonset_keeps_affinity_as_flagger_does_for_daemonsets():
    primary = build_primary_daemonset(daemonset(), set())
    terms = primary["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms[0]["labelSelector"] == {"matchLabels": {"app": "podinfo"}}


def test_a_target_created_while_stopped_does_not_stop_its_primary():
    primary = build_primary_daemonset(daemonset(node_selector=dict(STOP, disk="ssd")), set())
    assert primary["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_a_daemonset_that_does_not_roll_its_pods_is_refused_naming_the_field():
    with pytest.raises(DeliveryError, match=r"spec.updateStrategy.type must be RollingUpdate; got 'OnDelete'"):
        build_primary_daemonset(daemonset(updateStrategy={"type": "OnDelete"}), set())


# --- readiness ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, threshold, ready, words", [
    (daemonset_status(3, 3, 3), 100, True, "3 of 3 updated pods are available"),
    (daemonset_status(3, 2, 3), 100, False, "2 out of 3 new pods have been updated"),
    (daemonset_status(4, 4, 2), 100, False, "2 of 4 updated pods are available"),
    (daemonset_status(4, 4, 2), 50, True, "2 of 4 updated pods are available"),
    (daemonset_status(3, 3, 1), 50, False, "(ready threshold 50%)"),
    (daemonset_status(3, 3, 3, generation=4, observed=3), 100, False, "has not been observed"),
    (daemonset_status(0, 0, 0), 100, True, "0 of 0"),
])
def test_a_daemonset_is_ready_when_every_pod_is_updated_and_the_threshold_available(
        status, threshold, ready, words):
    is_ready, message = rollout_progress(status, threshold)
    assert is_ready is ready
    assert words in message


# --- scaling --------------------------------------------------------------------------------------

def test_scaling_to_zero_adds_the_node_selector_no_node_carries_and_keeps_the_users():
    target, store = target_over(daemonset(node_selector={"disk": "ssd"}))
    result = scale_target(target, "zero")
    stored = store.objects[("test", "podinfo")]
    assert stored["spec"]["template"]["spec"]["nodeSelector"] == dict(STOP, disk="ssd")
    assert result["changed"] and store.writes == 1
    assert target.is_scaled_to_zero(stored) and target.replicas(stored) == 0


def test_scaling_up_removes_only_that_node_selector():
    target, store = target_over(daemonset(node_selector=dict(STOP, disk="ssd")))
    scale_target(target, "up")
    assert store.objects[("test", "podinfo")]["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_scaling_up_a_stopped_daemonset_without_a_selector_of_its_own_leaves_none():
    target, store = target_over(daemonset(node_selector=dict(STOP)))
    scale_target(target, "up")
    assert "nodeSelector" not in store.objects[("test", "podinfo")]["spec"]["template"]["spec"]


def test_scaling_to_what_it_is_writes_nothing_and_reports_no_change():
    target, store = target_over(daemonset(node_selector=dict(STOP)))
    assert not scale_target(target, "zero")["changed"]
    assert store.writes == 0


def test_check_mode_predicts_the_scale_and_writes_nothing():
    target, store = target_over(daemonset())
    result = scale_target(target, "zero", check_mode=True)
    assert result["changed"] and result["diff"]["after"] == {"scaled_to_zero": True}
    assert store.writes == 0


def test_the_wait_gives_up_after_the_timeout_saying_it_timed_out():
    stuck = daemonset(node_selector=dict(STOP))
    stuck["status"] = {"desiredNumberScheduled": 1, "updatedNumberScheduled": 1, "numberAvailable": 0}
    target, _store = target_over(stuck)
    clock = FakeTime()
    with pytest.raises(DeliveryError) as failure:
        scale_target(target, "up", wait=True, timeout=5, clock=clock.clock, sleep=clock.sleep)
    assert failure.value.details["timed_out"] is True
    assert "DaemonSet test/podinfo not ready within 5s" in str(failure.value)
    assert clock.now == 5


# --- revision and promotion -----------------------------------------------------------------------

def test_the_revision_ignores_the_scale_to_zero_node_selector():
    target, _store = target_over()
    running, _tracked = target.revision(daemonset())
    stopped, _tracked = target.revision(daemonset(node_selector=dict(STOP)))
    changed, _tracked = target.revision(daemonset(image="stefanprodan/podinfo:4.0.6"))
    assert running == stopped
    assert changed != running


def test_promotion_copies_the_template_and_daemonset_fields_but_not_the_stop():
    target, _store = target_over()
    primary = build_primary_daemonset(daemonset(), set())
    primary["metadata"]["annotations"]["deprecated.daemonset.template.generation"] = "2"
    canary = daemonset(node_selector=dict(STOP), image="stefanprodan/podinfo:4.0.6",
                       updateStrategy={"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": 2}}, minReadySeconds=5)
    promoted = target.promoted_primary(copy.deepcopy(primary), canary, set())
    pod_spec = promoted["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == "stefanprodan/podinfo:4.0.6"
    assert "nodeSelector" not in pod_spec
    assert promoted["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 2}
    assert promoted["spec"]["minReadySeconds"] == 5
    assert promoted["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert promoted["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo-primary"}
    # What the DaemonSet controller keeps on the primary stays, so a second promotion is a no-op.
    assert promoted["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "2"}
    assert target.promoted_primary(promoted, canary, set()) == promoted


# --- permissions ---------------------------------------------------------------------------------

def test_a_release_of_a_daemonset_asks_for_daemonsets_and_no_deployments():
    needs = {n.describe() for n in permissions.release_needs(ds_canary(), "traefik.io", initialized=False)}
    assert {"get daemonsets.apps", "update daemonsets.apps", "create daemonsets.apps"} <= needs
    assert not [n for n in needs if "deployments" in n]
