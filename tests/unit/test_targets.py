"""Specification of canary targets: the factory, the readiness of a Deployment with its ready
threshold, the one wait for the primary, and which configs are tracked."""
import copy

import pytest
import yaml
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    TARGET_KINDS,
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    TARGETS,
    target_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import Target
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    ConfigTracker,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
    rollout_progress,
)

from pdtest.fake_time import FakeTime
from pdtest.manifests import SEED_CANARY


class Obj(dict):
    def to_dict(self):
        return copy.deepcopy(dict(self))


class Store(object):
    def __init__(self, kind, objects):
        self.kind = kind
        self.objects = dict((o["metadata"]["name"], o) for o in objects)

    def get(self, name, namespace):
        if name not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        return Obj(copy.deepcopy(self.objects[name]))


class Client(object):
    """Just enough of the dynamic client to read objects by kind."""

    def __init__(self, **kinds):
        self.kinds = dict((kind, Store(kind, objects)) for kind, objects in kinds.items())
        self.resources = self

    def get(self, api_version, kind):  # client.resources.get
        return self.kinds.setdefault(kind, Store(kind, []))


def canary(**analysis):
    manifest = yaml.safe_load(SEED_CANARY)
    manifest["spec"]["analysis"].update(analysis)
    return parse_canary(manifest)


def deployment(name="podinfo-primary", generation=2, observed=2, replicas=4, updated=4, total=4,
               available=4, conditions=None):
    status = {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
              "availableReplicas": available}
    if conditions:
        status["conditions"] = conditions
    return {"metadata": {"name": name, "namespace": "test", "generation": generation},
            "spec": {"replicas": replicas}, "status": status}


# --- the factory ----------------------------------------------------------------------------

def test_a_deployment_target_takes_its_name_and_primary_ready_threshold_from_the_canary():
    target = target_for(Client(), canary(primaryReadyThreshold=50))
    assert isinstance(target, DeploymentTarget)
    assert (target.namespace, target.name, target.primary) == ("test", "podinfo", "podinfo-primary")
    assert target.primary_ready_threshold == 50


def test_the_primary_ready_threshold_defaults_to_every_replica():
    assert target_for(Client(), canary()).primary_ready_threshold == 100


def test_a_kind_without_a_target_implementation_is_refused_naming_the_field_and_the_kinds():
    spec = canary()
    spec["target"] = dict(spec["target"], kind="StatefulSet")
    with pytest.raises(InvalidInput) as failure:
        target_for(Client(), spec)
    assert str(failure.value) == ("spec.targetRef.kind must be one of DaemonSet, Deployment; "
                                  "got 'StatefulSet'")


def test_every_kind_the_canary_spec_accepts_has_a_target_implementation():
    assert sorted(TARGET_KINDS) == sorted(TARGETS)


def test_a_kind_must_say_how_to_build_judge_and_scale_its_workload():
    assert Target.__abstractmethods__ == frozenset((
        "build_primary", "rollout_progress", "scale_to_zero", "scale_up", "is_scaled_to_zero",
        "replicas"))
    assert not DeploymentTarget.__abstractmethods__


# --- readiness with its threshold -------------------------------------------------------------

def test_two_of_four_available_is_ready_with_a_threshold_of_half():
    ready, message = rollout_progress(deployment(available=2), ready_threshold=50)
    assert ready
    assert message == "podinfo-primary ready: 2 of 4 updated replicas are available (ready threshold 50%)"


def test_two_of_four_available_is_not_ready_with_the_default_threshold():
    ready, message = rollout_progress(deployment(available=2))
    assert not ready
    assert message == "waiting for podinfo-primary rollout to finish: 2 of 4 updated replicas are available"


def test_a_threshold_rounds_the_replicas_it_needs_up():
    assert not rollout_progress(deployment(replicas=3, updated=3, total=3, available=1), 50)[0]
    assert rollout_progress(deployment(replicas=3, updated=3, total=3, available=2), 50)[0]


def test_a_deployment_whose_new_spec_is_not_observed_is_not_ready_whatever_the_threshold():
    ready, message = rollout_progress(deployment(generation=3, observed=2), ready_threshold=50)
    assert not ready and "has not been observed" in message


def test_a_threshold_does_not_count_old_replicas():
    ready, message = rollout_progress(deployment(updated=2, total=4, available=4), ready_threshold=50)
    assert not ready and "2 of 4 updated replicas are available" in message


def test_an_exceeded_progress_deadline_is_reported():
    stuck = deployment(available=0, conditions=[
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "podinfo-primary-5d8f" has timed out progressing.'}])
    ready, message = rollout_progress(stuck)
    assert not ready
    assert message == ('podinfo-primary exceeded its progress deadline: '
                       'ReplicaSet "podinfo-primary-5d8f" has timed out progressing.')


# --- the one wait for the primary -------------------------------------------------------------

def waiting_primary(threshold, available=2):
    client = Client(Deployment=[deployment(available=available)])
    return target_for(client, canary(primaryReadyThreshold=threshold))


def test_the_wait_for_the_primary_ends_once_its_threshold_is_met():
    clock = FakeTime()
    ready, _message = waiting_primary(50).wait_for_primary(30, clock.clock, clock.sleep, 0.5)
    assert ready and clock.now == 0


def test_the_wait_for_the_primary_gives_up_after_its_timeout_when_the_threshold_is_not_met():
    clock = FakeTime()
    ready, message = waiting_primary(100).wait_for_primary(30, clock.clock, clock.sleep, 0.5)
    assert not ready and clock.now == 30
    assert message.endswith("2 of 4 updated replicas are available")


def test_a_primary_that_is_gone_is_an_error_that_says_to_initialise():
    target = target_for(Client(), canary())
    with pytest.raises(DeliveryError, match=r"Deployment test/podinfo-primary \(primary\) not found; initialise"):
        target.is_primary_ready()


# --- config tracking --------------------------------------------------------------------------

def config(name, data, annotations=None, kind="ConfigMap"):
    meta = {"name": name, "namespace": "test"}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": kind, "metadata": meta, "data": data}


TEMPLATE = {"spec": {"containers": [{"name": "app", "envFrom": [
    {"configMapRef": {"name": "settings"}},
    {"configMapRef": {"name": "untracked"}},
    {"secretRef": {"name": "maybe", "optional": True}},
]}]}}


def test_configs_opted_out_of_tracking_and_absent_optional_ones_are_not_tracked():
    client = Client(ConfigMap=[config("settings", {"a": "1"}),
                               config("untracked", {"b": "2"}, {"flagger.app/config-tracking": "disabled"})])
    configs = ConfigTracker(client, "test").read(TEMPLATE)
    assert sorted(configs) == [("ConfigMap", "settings")]


def test_a_missing_required_config_is_an_error_naming_it():
    with pytest.raises(DeliveryError, match="ConfigMap test/settings, referenced by the canary's pod template, not found"):
        ConfigTracker(Client(), "test").read(TEMPLATE)


def test_only_copies_that_are_missing_or_differ_need_writing():
    client = Client(ConfigMap=[config("settings", {"a": "2"}), config("settings-primary", {"a": "1"})])
    tracker = ConfigTracker(client, "test")
    (kind, wanted, current), = tracker.copies(tracker.read({"spec": {"volumes": [
        {"name": "v", "configMap": {"name": "settings"}}]}}))
    assert kind == "ConfigMap" and wanted["metadata"]["name"] == "settings-primary"
    assert not tracker.copy_is_current(current, wanted)
    assert tracker.copy_is_current(dict(current, data={"a": "2"}), wanted)
    assert not tracker.copy_is_current(None, wanted)


def test_the_revision_changes_with_a_tracked_config_and_names_it():
    template = {"spec": {"volumes": [{"name": "v", "configMap": {"name": "settings"}}]}}
    target = {"metadata": {"name": "podinfo"}, "spec": {"template": template}}
    before = Client(ConfigMap=[config("settings", {"a": "1"})])
    after = Client(ConfigMap=[config("settings", {"a": "2"})])
    revision, tracked = target_for(before, canary()).revision(target)
    changed, _tracked = target_for(after, canary()).revision(target)
    assert list(tracked) == ["configmap/settings"]
    assert revision != changed
