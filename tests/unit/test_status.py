"""Specification of canary status records, Flagger-worded events and revision checksums."""

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils import events as events_mod
from ansible_collections.progressive.delivery.plugins.module_utils import status as status_mod
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    event_message,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    new_status,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets import config_tracking
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    revision_checksum,
    config_checksum,
)

from pdtest.manifests import SEED_CANARY

CANARY = parse_canary(yaml.safe_load(SEED_CANARY))
T0 = 1597407132.0  # 2020-08-14T12:12:12Z


# --- event wording -----------------------------------------------------------------------

@pytest.mark.parametrize("template,values,expected_type,expected", [
    ("new_revision", {}, "Normal", "New revision detected! Scaling up podinfo.test"),
    ("advance", {"weight": 10}, "Normal", "Advance podinfo.test canary weight 10"),
    ("halt", {"detail": "success rate 53.42% < 99%"}, "Warning",
     "Halt podinfo.test advancement success rate 53.42% < 99%"),
    ("rollback_threshold", {"failed_checks": 3}, "Warning",
     "Rolling back podinfo.test failed checks threshold reached 3"),
    ("failed", {}, "Warning", "Canary failed! Scaling down podinfo.test"),
    ("promoted", {}, "Normal", "Promotion completed! Scaling down podinfo.test"),
    ("starting_analysis", {}, "Normal", "Starting canary analysis for podinfo.test"),
    ("copying", {}, "Normal", "Copying podinfo.test template spec to podinfo-primary.test"),
    ("routing_to_primary", {}, "Normal", "Routing all traffic to primary"),
    ("initialized", {}, "Normal", "Initialization done! podinfo.test"),
    ("pre_rollout_passed", {"hook": "acceptance-test"}, "Normal",
     "Pre-rollout check acceptance-test passed"),
])
def test_event_messages_use_flaggers_words(template, values, expected_type, expected):
    assert event_message(template, CANARY, **values) == (expected_type, expected)


def test_target_and_canary_names_are_kept_apart():
    other = dict(CANARY, name="podinfo-2")
    assert event_message("advance", other, weight=5)[1] == "Advance podinfo-2.test canary weight 5"
    assert event_message("promoted", other)[1] == "Promotion completed! Scaling down podinfo.test"
    # Flagger's rollback names the Canary, its promotion and copy name the target and its primary.
    assert event_message("failed", other)[1] == "Canary failed! Scaling down podinfo-2.test"
    assert event_message("copying", other)[1] == "Copying podinfo.test template spec to podinfo-primary.test"
    assert event_message("new_revision", other)[1] == "New revision detected! Scaling up podinfo.test"


def test_unknown_template_or_missing_value_is_refused():
    with pytest.raises(InvalidInput, match="event template must be one of"):
        event_message("celebrate", CANARY)
    with pytest.raises(InvalidInput, match="weight"):
        event_message("advance", CANARY)


# --- status transitions ------------------------------------------------------------------

def test_phase_change_moves_last_transition_time_and_promoted_condition():
    first = new_status({}, {"phase": "Initialized"}, now=T0)
    assert first["lastTransitionTime"] == "2020-08-14T12:12:12Z"
    assert first["conditions"][0]["type"] == "Promoted"
    assert first["conditions"][0]["status"] == "True"
    assert first["conditions"][0]["reason"] == "Initialized"
    later = new_status(first, {"phase": "Progressing", "canaryWeight": 5}, now=T0 + 60)
    assert later["lastTransitionTime"] == "2020-08-14T12:13:12Z"
    assert later["canaryWeight"] == 5
    cond = later["conditions"][0]
    assert cond["status"] == "Unknown" and cond["reason"] == "Progressing"
    assert cond["lastTransitionTime"] == "2020-08-14T12:13:12Z"


def test_same_phase_keeps_last_transition_time():
    first = new_status({}, {"phase": "Progressing", "canaryWeight": 5}, now=T0)
    second = new_status(first, {"phase": "Progressing", "canaryWeight": 10}, now=T0 + 10)
    assert second["lastTransitionTime"] == first["lastTransitionTime"]
    assert second["conditions"] == first["conditions"]


def test_only_given_fields_change():
    current = {"phase": "Progressing", "canaryWeight": 20, "failedChecks": 1,
               "lastPromotedSpec": "abc"}
    after = new_status(current, {"failedChecks": 2}, now=T0)
    assert after["canaryWeight"] == 20 and after["lastPromotedSpec"] == "abc"
    assert after["failedChecks"] == 2 and after["phase"] == "Progressing"


def test_failed_phase_sets_promoted_false():
    after = new_status({"phase": "Progressing"}, {"phase": "Failed"}, now=T0)
    assert after["conditions"][0]["status"] == "False"
    assert "scaled to zero" in after["conditions"][0]["message"]


@pytest.mark.parametrize("changes,words", [
    ({"phase": "Done"}, "phase must be one of Initializing"),
    ({"canaryWeight": 101}, "canaryWeight must be an integer between 0 and 100"),
    ({"failedChecks": -1}, "failedChecks must be an integer >= 0"),
    ({"trackedConfigs": ["configmap/x"]}, "trackedConfigs must be a mapping"),
])
def test_bad_status_input_is_refused(changes, words):
    with pytest.raises(InvalidInput, match=words):
        new_status({}, changes)


# --- revisions and configs ---------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "podinfo"}, "creationTimestamp": None},
    "spec": {
        "containers": [{
            "name": "podinfod", "image": "stefanprodan/podinfo:4.0.5",
            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "b",
                                                                 "optional": True}}}],
            "envFrom": [{"configMapRef": {"name": "env-cfg"}}],
        }],
        "initContainers": [{"name": "init", "image": "busybox",
                            "envFrom": [{"secretRef": {"name": "init-sec"}}]}],
        "volumes": [
            {"name": "v1", "configMap": {"name": "vol-cfg"}},
            {"name": "v2", "secret": {"secretName": "vol-sec"}},
            {"name": "v3", "projected": {"sources": [{"configMap": {"name": "proj-cfg"}},
                                                     {"secret": {"name": "proj-sec"}}]}},
        ],
    },
}


def test_tracked_config_keys_convert_to_workload_pairs():
    assert config_tracking.tracked_pairs({"configmap/cfg": "1", "secret/tok": "2"}) == {
        ("ConfigMap", "cfg"), ("Secret", "tok")}
    assert config_tracking.config_key("ConfigMap", "cfg") == "configmap/cfg"


def test_config_tracking_can_be_disabled_by_annotation():
    assert config_tracking.tracking_disabled(
        {"metadata": {"annotations": {"flagger.app/config-tracking": "disabled"}}})
    assert not config_tracking.tracking_disabled({"metadata": {}})


def test_revision_changes_with_image_and_with_config_but_not_with_noise():
    base = revision_checksum(TEMPLATE, {"configmap/cfg": "1"})
    noisy = dict(TEMPLATE, metadata={"labels": {"app": "podinfo"}})
    assert revision_checksum(noisy, {"configmap/cfg": "1"}) == base
    new_image = yaml.safe_load(yaml.safe_dump(TEMPLATE))
    new_image["spec"]["containers"][0]["image"] = "stefanprodan/podinfo:4.0.6"
    assert revision_checksum(new_image, {"configmap/cfg": "1"}) != base
    assert revision_checksum(TEMPLATE, {"configmap/cfg": "2"}) != base


def test_config_checksum_follows_data_only():
    one = {"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"k": "v"}}
    two = {"metadata": {"name": "a", "resourceVersion": "2"}, "data": {"k": "v"}}
    three = {"metadata": {"name": "a"}, "data": {"k": "w"}}
    assert config_checksum(one) == config_checksum(two) != config_checksum(three)


# --- writing status: conflicts are retried on fresh data ----------------------------------

class _Conflict(Exception):
    pass


class FakeCanaries(object):
    """A status endpoint that answers 409 to the first write, as if another writer won."""

    kind = "Canary"

    def __init__(self, obj):
        self.obj = obj
        self.writes = []
        self.conflicts = 1
        self.subresources = {"status": self}

    def get(self, name=None, namespace=None):
        return _Wrap(yaml.safe_load(yaml.safe_dump(self.obj)))


class _Wrap(object):
    def __init__(self, data):
        self.data = data

    def to_dict(self):
        return self.data


class FakeClient(object):
    def __init__(self, canaries):
        self.canaries = canaries

    def replace(self, resource, body=None, name=None, namespace=None):
        if self.canaries.conflicts:
            self.canaries.conflicts -= 1
            # someone else bumped failedChecks in between
            self.canaries.obj["status"]["failedChecks"] = 4
            self.canaries.obj["metadata"]["resourceVersion"] = "8"
            raise _Conflict()
        assert body["metadata"]["resourceVersion"] == self.canaries.obj["metadata"][
            "resourceVersion"]
        self.canaries.writes.append(body)
        self.canaries.obj = body
        return _Wrap(body)


def test_write_status_rereads_and_reapplies_after_conflict(monkeypatch):
    canaries = FakeCanaries({"metadata": {"name": "podinfo", "namespace": "test",
                                          "resourceVersion": "7"},
                             "status": {"phase": "Progressing", "failedChecks": 3,
                                        "canaryWeight": 10}})
    monkeypatch.setattr(status_mod, "ConflictError", _Conflict)
    monkeypatch.setattr(status_mod, "canary_resource", lambda client: canaries)
    monkeypatch.setattr(status_mod, "get_object",
                        lambda res, ns, name: res.get(name=name, namespace=ns).to_dict())
    changed, before, after = status_mod.write_status(FakeClient(canaries), "test", "podinfo",
                                                     {"canaryWeight": 20}, now=T0)
    assert changed is True
    assert len(canaries.writes) == 1
    assert after["canaryWeight"] == 20 and after["failedChecks"] == 4


def test_write_status_in_check_mode_writes_nothing(monkeypatch):
    canaries = FakeCanaries({"metadata": {"name": "podinfo", "namespace": "test",
                                          "resourceVersion": "7"},
                             "status": {"phase": "Initialized"}})
    monkeypatch.setattr(status_mod, "canary_resource", lambda client: canaries)
    monkeypatch.setattr(status_mod, "get_object",
                        lambda res, ns, name: res.get(name=name, namespace=ns).to_dict())
    changed, _before, after = status_mod.write_status(FakeClient(canaries), "test", "podinfo",
                                                      {"phase": "Progressing"}, check_mode=True)
    assert changed is True and after["phase"] == "Progressing"
    assert canaries.writes == [] and canaries.obj["status"]["phase"] == "Initialized"


def test_explicit_condition_survives_a_write_in_the_same_phase():
    failed = new_status({"phase": "Progressing"}, {"phase": "Failed"}, now=T0,
                        condition={"type": "Promoted", "status": "False", "reason": "Failed",
                                   "message": "failed checks threshold reached 3"})
    again = new_status(failed, {"phase": "Failed", "canaryWeight": 0}, now=T0 + 5)
    assert again == failed


def test_write_status_recomputes_an_increment_on_the_fresh_count_after_conflict(monkeypatch):
    canaries = FakeCanaries({"metadata": {"name": "podinfo", "namespace": "test",
                                          "resourceVersion": "7"},
                             "status": {"phase": "Progressing", "failedChecks": 3}})
    monkeypatch.setattr(status_mod, "ConflictError", _Conflict)
    monkeypatch.setattr(status_mod, "canary_resource", lambda client: canaries)
    monkeypatch.setattr(status_mod, "get_object",
                        lambda res, ns, name: res.get(name=name, namespace=ns).to_dict())
    _changed, _before, after = status_mod.write_status(
        FakeClient(canaries), "test", "podinfo",
        lambda current: {"failedChecks": current.get("failedChecks", 0) + 1}, now=T0)
    # the competing writer raised it to 4 meanwhile; our +1 lands on top of that
    assert after["failedChecks"] == 5


def _counting_reads(monkeypatch, canaries):
    reads = []

    def get_object(res, ns, name):
        reads.append(name)
        return res.get(name=name, namespace=ns).to_dict()

    monkeypatch.setattr(status_mod, "ConflictError", _Conflict)
    monkeypatch.setattr(status_mod, "canary_resource", lambda client: canaries)
    monkeypatch.setattr(status_mod, "get_object", get_object)
    return reads


def _known_canary(monkeypatch, status, conflicts):
    """A Canary at resourceVersion 7 as a caller read it, its endpoint (answering 409 to the
    first ``conflicts`` writes) and the list of the reads made."""
    obj = {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
           "status": status}
    canaries = FakeCanaries(yaml.safe_load(yaml.safe_dump(obj)))
    canaries.conflicts = conflicts
    return obj, canaries, _counting_reads(monkeypatch, canaries)


def test_a_known_fresh_canary_is_written_without_reading_it_again(monkeypatch):
    obj, canaries, reads = _known_canary(
        monkeypatch, {"phase": "Progressing", "failedChecks": 3}, conflicts=0)

    changed, _before, after = status_mod.write_status(FakeClient(canaries), "test", "podinfo",
                                                      {"canaryWeight": 30}, now=T0, known=obj)

    assert reads == []
    assert changed is True and after["canaryWeight"] == 30
    assert canaries.writes[0]["metadata"]["resourceVersion"] == "7"


def test_a_stale_known_canary_costs_a_conflict_and_a_read_but_loses_nothing(monkeypatch):
    # answers 409 once, raising failedChecks to 4
    obj, canaries, reads = _known_canary(
        monkeypatch, {"phase": "Progressing", "failedChecks": 3}, conflicts=1)

    _changed, _before, after = status_mod.write_status(
        FakeClient(canaries), "test", "podinfo",
        lambda current: {"failedChecks": current.get("failedChecks", 0) + 1}, now=T0, known=obj)

    assert reads == ["podinfo"]
    assert after["failedChecks"] == 5
    assert obj["status"]["failedChecks"] == 3  # the caller's copy is left alone


class VersioningClient(FakeClient):
    """Raises the resourceVersion with every write and answers with the object as stored."""

    def replace(self, resource, body=None, name=None, namespace=None):
        stored = yaml.safe_load(yaml.safe_dump(body))
        written = super(VersioningClient, self).replace(resource, stored, name, namespace)
        stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
        return written


def test_the_canary_as_written_is_the_next_writes_known_canary(monkeypatch):
    obj, canaries, reads = _known_canary(
        monkeypatch, {"phase": "Progressing", "iterations": 1}, conflicts=0)
    client, written = VersioningClient(canaries), []

    status_mod.write_status(client, "test", "podinfo", {"canaryWeight": 20}, now=T0, known=obj,
                            on_written=written.append)
    assert written[0]["metadata"]["resourceVersion"] == "8"
    # the next write goes on top of the answer: no read, no conflict (the stale copy would fail
    # the client's resourceVersion check)
    _changed, _before, after = status_mod.write_status(
        client, "test", "podinfo", {"canaryWeight": 40}, now=T0, known=written[0],
        on_written=written.append)
    assert reads == []
    assert after["canaryWeight"] == 40 and canaries.obj["metadata"]["resourceVersion"] == "9"
    assert [w["metadata"]["resourceVersion"] for w in written] == ["8", "9"]


# --- events: identical events share a name and raise its count ---------------------------

class FakeEvents(object):
    """An Event endpoint: create answers 409 AlreadyExists for a taken name, as Kubernetes does."""

    kind = "Event"

    def __init__(self):
        from kubernetes.client.rest import ApiException
        from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
            ConflictError, NotFoundError)
        self.conflict = lambda: ConflictError(ApiException(status=409, reason="AlreadyExists"))
        self.not_found = lambda: NotFoundError(ApiException(status=404, reason="NotFound"))
        self.items = {}
        self.requests = []

    def create(self, body=None, namespace=None):
        self.requests.append(("create", body["metadata"]["name"]))
        if body["metadata"]["name"] in self.items:
            raise self.conflict()
        stored = dict(yaml.safe_load(yaml.safe_dump(body)))
        stored["metadata"]["resourceVersion"] = "1"
        self.items[body["metadata"]["name"]] = stored
        return _Wrap(stored)

    def get(self, name=None, namespace=None, **_kw):
        self.requests.append(("get", name))
        if name not in self.items:
            raise self.not_found()
        return _Wrap(yaml.safe_load(yaml.safe_dump(self.items[name])))

    def replace(self, body=None, namespace=None, name=None):
        self.requests.append(("replace", name))
        body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        self.items[name] = body
        return _Wrap(body)


CANARY_OBJ = {"metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"}}


def test_a_new_event_costs_one_create_and_a_repeat_raises_the_count_of_the_same_object(monkeypatch):
    events = FakeEvents()
    monkeypatch.setattr(events_mod, "get_resource", lambda client, version, kind: events)

    first = events_mod.emit_event(None, CANARY_OBJ, "Advance podinfo.test canary weight 10", now=T0)
    other = events_mod.emit_event(None, CANARY_OBJ, "Advance podinfo.test canary weight 20", now=T0)
    repeat = events_mod.emit_event(None, CANARY_OBJ, "Advance podinfo.test canary weight 10", now=T0 + 5)

    assert events.requests[:2] == [("create", first["metadata"]["name"]), ("create", other["metadata"]["name"])]
    assert first["metadata"]["name"] != other["metadata"]["name"]
    assert repeat["metadata"]["name"] == first["metadata"]["name"] and repeat["count"] == 2
    assert repeat["firstTimestamp"] == first["firstTimestamp"] != repeat["lastTimestamp"]
    assert len(events.items) == 2
    # a Warning with the same words is another event
    warning = events_mod.emit_event(None, CANARY_OBJ, "Advance podinfo.test canary weight 10",
                                    event_type="Warning", now=T0)
    assert warning["count"] == 1 and len(events.items) == 3


def test_check_mode_predicts_the_count_without_writing(monkeypatch):
    events = FakeEvents()
    monkeypatch.setattr(events_mod, "get_resource", lambda client, version, kind: events)
    events_mod.emit_event(None, CANARY_OBJ, "Halt podinfo.test advancement", event_type="Warning", now=T0)

    predicted = events_mod.emit_event(None, CANARY_OBJ, "Halt podinfo.test advancement", event_type="Warning",
                                      check_mode=True, now=T0 + 1)

    assert predicted["count"] == 2
    assert [r[0] for r in events.requests] == ["create", "get"]
    assert list(events.items.values())[0]["count"] == 1
