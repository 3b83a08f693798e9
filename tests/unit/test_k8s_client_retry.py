"""The Kubernetes access helpers ride out transient faults, against in-memory stand-ins.

The stand-ins fail in scripted ways (503s, a 409 from a competing writer, a connection dropped
after the server applied the write) and a fake clock replaces sleeping, so the tests are fast
and deterministic.
"""
import copy

import pytest
from urllib3.exceptions import ProtocolError

from ansible_collections.progressive.delivery.plugins.module_utils import k8s_client
from ansible_collections.progressive.delivery.plugins.module_utils import status as status_mod
from ansible_collections.progressive.delivery.plugins.module_utils.analysis import (
    check_marker,
    count_failed_check,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import load_canary_file
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    create_object,
    get_object,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import detect_api_version as traefik_api_version
from ansible_collections.progressive.delivery.plugins.module_utils.retry import RetryPolicy
from pdtest.fake_k8s import DiscoveryClient, Obj, http_error
from pdtest.fake_time import FakeTime


def policy(timeout=10.0):
    clock = FakeTime()
    return RetryPolicy(timeout=timeout, sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.5), clock


class ScriptedResource(object):
    """One kind in one namespace; ``faults[verb]`` lists what the next calls raise (None: succeed)."""

    kind = "TraefikService"

    def __init__(self, objects=None, faults=None):
        self.objects = dict(objects or {})
        self.faults = dict((verb, list(items)) for verb, items in (faults or {}).items())
        self.calls = {"get": 0, "replace": 0, "create": 0}
        self.resource_version = 10

    def _fault(self, verb):
        self.calls[verb] += 1
        queue = self.faults.get(verb) or []
        return queue.pop(0) if queue else None

    def get(self, name, namespace):
        fault = self._fault("get")
        if fault is not None:
            raise fault
        if name not in self.objects:
            raise http_error(404, "Not Found")
        return Obj(copy.deepcopy(self.objects[name]))

    def _store(self, body):
        self.resource_version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.resource_version)
        self.objects[stored["metadata"]["name"]] = stored
        return stored

    def replace(self, body, namespace, name):
        fault = self._fault("replace")
        if fault == "someone-else-wrote":
            self.objects[name]["spec"]["other"] = "theirs"
            self._store(self.objects[name])
            raise http_error(409, "Conflict", "the object has been modified")
        if fault is not None:
            raise fault
        if body["metadata"]["resourceVersion"] != self.objects[name]["metadata"]["resourceVersion"]:
            raise http_error(409, "Conflict", "the object has been modified")
        return Obj(self._store(body))

    def create(self, body, namespace):
        fault = self._fault("create")
        name = body["metadata"]["name"]
        if fault == "landed-then-dropped":
            self._store(body)
            raise ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
        if fault is not None:
            raise fault
        if name in self.objects:
            raise http_error(409, "AlreadyExists", 'traefikservices "%s" already exists' % name)
        return Obj(self._store(body))


def route(weight=0, rv="5"):
    return {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": rv},
            "spec": {"weight": weight}}


def test_a_read_that_fails_twice_with_503_then_succeeds_returns_the_object():
    unavailable = http_error(503, "Service Unavailable", "the server is currently unable to handle the request")
    resource = ScriptedResource({"podinfo": route(30)}, faults={"get": [unavailable, unavailable]})
    retry, clock = policy()

    obj = get_object(resource, "test", "podinfo", policy=retry)

    assert obj["spec"]["weight"] == 30
    assert resource.calls["get"] == 3
    assert len(clock.sleeps) == 2


def test_a_missing_object_is_none_and_not_retried():
    resource = ScriptedResource()
    assert get_object(resource, "test", "podinfo", policy=policy()[0]) is None
    assert resource.calls["get"] == 1


def test_a_replace_that_meets_409_is_reapplied_on_a_fresh_read():
    resource = ScriptedResource({"podinfo": route(0)}, faults={"replace": ["someone-else-wrote"]})

    def set_weight(obj):
        if obj["spec"]["weight"] == 40:
            return None
        obj["spec"]["weight"] = 40
        return obj

    _before, after = replace_with_retry(resource, "test", "podinfo", set_weight, policy=policy()[0])

    # Our change landed on top of the competing writer's, not instead of it.
    assert after["spec"] == {"weight": 40, "other": "theirs"}
    assert resource.objects["podinfo"]["spec"] == {"weight": 40, "other": "theirs"}
    assert resource.calls["replace"] == 2 and resource.calls["get"] == 2


def _set_weight_40(obj):
    if obj["spec"]["weight"] == 40:
        return None
    obj["spec"]["weight"] = 40
    return obj


def test_a_replace_on_top_of_a_known_fresh_object_does_not_read_it_again():
    resource = ScriptedResource({"podinfo": route(0, rv="11")})
    resource.resource_version = 11
    known = copy.deepcopy(resource.objects["podinfo"])

    _before, after = replace_with_retry(resource, "test", "podinfo", _set_weight_40, policy=policy()[0],
                                        known=known)

    assert after["spec"] == {"weight": 40}
    assert resource.calls == {"get": 0, "replace": 1, "create": 0}
    assert known["spec"]["weight"] == 0  # the caller's copy is left alone


def test_a_stale_known_object_costs_a_conflict_and_a_read_and_keeps_the_other_write():
    resource = ScriptedResource({"podinfo": route(0, rv="11")}, faults={"replace": ["someone-else-wrote"]})
    resource.resource_version = 11
    known = copy.deepcopy(resource.objects["podinfo"])

    _before, after = replace_with_retry(resource, "test", "podinfo", _set_weight_40, policy=policy()[0],
                                        known=known)

    assert after["spec"] == {"weight": 40, "other": "theirs"}
    assert resource.calls["get"] == 1 and resource.calls["replace"] == 2


def test_a_replace_whose_answer_was_lost_is_not_written_twice():
    resource = ScriptedResource({"podinfo": route(0)})
    original_replace = resource.replace

    def replace_then_drop(body, namespace, name):
        original_replace(body, namespace, name)
        if resource.calls["replace"] == 1:
            raise ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
        raise AssertionError("the change was already applied; no second write expected")

    resource.replace = replace_then_drop

    def set_weight(obj):
        if obj["spec"]["weight"] == 40:
            return None
        obj["spec"]["weight"] = 40
        return obj

    _before, after = replace_with_retry(resource, "test", "podinfo", set_weight, policy=policy()[0])
    assert after["spec"]["weight"] == 40
    assert resource.calls["replace"] == 1


def test_a_create_whose_connection_dropped_after_it_landed_is_accepted():
    resource = ScriptedResource(faults={"create": ["landed-then-dropped"]})

    created = create_object(resource, "test", route(20), policy=policy()[0])

    assert created["spec"]["weight"] == 20
    assert list(resource.objects) == ["podinfo"]
    assert resource.calls["create"] == 2


def test_a_create_that_meets_an_existing_object_at_once_is_refused():
    resource = ScriptedResource({"podinfo": route(70)})
    with pytest.raises(DeliveryError, match=r"Failed to create TraefikService test/podinfo: .*already exists \(HTTP 409\)"):
        create_object(resource, "test", route(20), policy=policy()[0])
    assert resource.objects["podinfo"]["spec"]["weight"] == 70


def test_a_permanent_500_gives_up_naming_the_action_and_what_the_server_said():
    broken = http_error(500, "Internal Server Error", "etcdserver: request timed out")
    resource = ScriptedResource({"podinfo": route(0)}, faults={"get": [broken] * 1000})
    retry, clock = policy(timeout=3.0)

    with pytest.raises(DeliveryError) as caught:
        get_object(resource, "test", "podinfo", policy=retry)

    message = str(caught.value)
    assert message.startswith("read TraefikService test/podinfo: etcdserver: request timed out (HTTP 500)")
    assert "gave up after" in message
    assert 1 < resource.calls["get"] < 1000
    assert clock.now <= 3.0


def test_a_forbidden_read_fails_at_once_with_the_servers_words():
    forbidden = http_error(403, "Forbidden", "traefikservices is forbidden")
    resource = ScriptedResource({"podinfo": route(0)}, faults={"get": [forbidden]})
    with pytest.raises(DeliveryError, match=r"read TraefikService test/podinfo: traefikservices is forbidden \(HTTP 403\)"):
        get_object(resource, "test", "podinfo", policy=policy()[0])
    assert resource.calls["get"] == 1


def test_client_construction_is_retried_when_kubernetes_core_wrapped_a_transient_fault(monkeypatch):
    attempts = []

    class Built(object):
        client = "dynamic-client"

    def flaky_get_api_client(**auth):
        attempts.append(auth)
        if len(attempts) < 3:
            try:
                raise ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            except ProtocolError as cause:
                raise k8s_client.CoreException("Could not create API client") from cause
        return Built()

    class Module(object):
        params = {}

    monkeypatch.setattr(k8s_client, "get_api_client", flaky_get_api_client)
    assert k8s_client.get_dynamic_client(Module(), policy=policy()[0]) == "dynamic-client"
    assert len(attempts) == 3


def test_a_traefik_group_that_is_not_served_names_what_is_installed_and_what_is_allowed():
    client = DiscoveryClient({("traefik.io/v1alpha1", "TraefikService")})
    with pytest.raises(DeliveryError) as caught:
        traefik_api_version(client, "traefik.containo.us/v1alpha1")
    message = str(caught.value)
    assert "traefik.containo.us/v1alpha1 was requested" in message
    assert "canary_traefik_api_version" in message
    assert "traefik.io/v1alpha1 is installed" in message
    assert "Allowed values are traefik.io/v1alpha1, traefik.containo.us/v1alpha1" in message


def test_a_file_without_a_canary_says_what_it_holds(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: podinfo}\nspec: {}\n")
    with pytest.raises(InvalidInput) as caught:
        load_canary_file(str(path))
    assert str(caught.value) == (
        "canary_file {0} holds apps/v1 Deployment 'podinfo', not a flagger.app/v1beta1 Canary "
        "(a document with kind: Canary)".format(path))


# --- counting a failed check once, even when the answer to the write was lost ----------------

class StatusEndpoint(object):
    """The Canary and its status subresource; the first write lands but its answer is lost."""

    kind = "Canary"

    def __init__(self, status, drop_answers=1):
        self.obj = {"metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
                    "status": status}
        self.drop_answers = drop_answers
        self.writes = 0
        self.subresources = {"status": self}

    def get(self, name=None, namespace=None):
        return Obj(copy.deepcopy(self.obj))

    def replace(self, resource, body=None, name=None, namespace=None):
        if body["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise http_error(409, "Conflict", "the object has been modified")
        self.writes += 1
        self.obj = copy.deepcopy(body)
        self.obj["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        if self.drop_answers:
            self.drop_answers -= 1
            raise ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
        return Obj(copy.deepcopy(self.obj))


@pytest.fixture
def status_endpoint(monkeypatch):
    endpoint = StatusEndpoint({"phase": "Progressing", "failedChecks": 1, "canaryWeight": 10,
                               "iterations": 0})
    monkeypatch.setattr(status_mod, "canary_resource", lambda client: endpoint)
    monkeypatch.setattr(status_mod, "get_object", lambda res, ns, name: res.get(name=name, namespace=ns).to_dict())
    return endpoint


def test_a_failed_check_is_counted_once_when_the_answer_to_its_write_was_lost(status_endpoint):
    marker = check_marker("abc123", 10, 0, "tick-1")

    changed, before, after = status_mod.write_status(status_endpoint, "test", "podinfo",
                                                     count_failed_check(marker))

    assert changed is True
    assert before["failedChecks"] == 1
    assert after["failedChecks"] == 2 and after["lastCheck"] == "abc123/10/0/tick-1"
    assert status_endpoint.obj["status"]["failedChecks"] == 2
    assert status_endpoint.writes == 1


def test_another_check_is_counted_on_top(status_endpoint):
    status_endpoint.drop_answers = 0
    status_mod.write_status(status_endpoint, "test", "podinfo",
                            count_failed_check(check_marker("abc123", 10, 0, "tick-1")))
    _changed, _before, after = status_mod.write_status(
        status_endpoint, "test", "podinfo", count_failed_check(check_marker("abc123", 10, 0, "tick-2")))
    assert after["failedChecks"] == 3 and status_endpoint.writes == 2


class SwallowingDiscovery(object):
    """kubernetes' discoverer after a 503 on a group's document: "No matches found", twice."""

    def __init__(self, misses):
        self.misses = misses
        self.lookups = 0

    def get(self, api_version, kind):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        self.lookups += 1
        if self.misses:
            self.misses -= 1
            raise ResourceNotFoundError("No matches found")
        return "traefikservices"


class RawDiscoveryClient(object):
    def __init__(self, misses, documents):
        self.resources = SwallowingDiscovery(misses)
        self.documents = documents
        self.paths = []

    def request(self, method, path):
        self.paths.append((method, path))
        if path not in self.documents:
            raise http_error(404, "Not Found")
        return Obj(self.documents[path])


def test_a_kind_hidden_by_a_swallowed_503_is_looked_up_again():
    client = RawDiscoveryClient(2, {"/apis/traefik.io/v1alpha1": {
        "resources": [{"name": "traefikservices", "kind": "TraefikService"}]}})
    assert k8s_client.get_resource(client, "traefik.io/v1alpha1", "TraefikService",
                                   policy=policy()[0]) == "traefikservices"
    assert client.resources.lookups == 3
    assert client.paths == [("GET", "/apis/traefik.io/v1alpha1")]


def test_a_group_that_the_server_does_not_know_is_not_served():
    client = RawDiscoveryClient(99, {})
    assert k8s_client.is_served(client, "traefik.containo.us/v1alpha1", "TraefikService",
                                policy=policy()[0]) is False
    assert client.resources.lookups == 1
