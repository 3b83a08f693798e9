"""Routing decisions and guarded writes, against an in-memory stand-in for the dynamic client."""
import copy

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    api_error_message,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import detect_api_version as traefik_api_version
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import Route, route_traffic
from pdtest.fake_k8s import DiscoveryClient, Obj


class FakeResource(object):
    kind = "TraefikService"

    def __init__(self, objects, conflicts=0):
        self.objects = objects
        self.conflicts = conflicts
        self.writes = 0
        self.reads = 0

    def get(self, name, namespace):
        from kubernetes.dynamic.exceptions import NotFoundError
        self.reads += 1
        if (namespace, name) not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        return Obj(copy.deepcopy(self.objects[(namespace, name)]))

    def replace(self, body, namespace, name):
        if self.conflicts:
            self.conflicts -= 1
            # Someone else wrote in between: bump the stored version.
            stored = self.objects[(namespace, name)]
            stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
            raise ConflictError(ApiException(status=409, reason="Conflict"))
        assert body["metadata"]["resourceVersion"] == self.objects[(namespace, name)]["metadata"]["resourceVersion"]
        self.writes += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        self.objects[(namespace, name)] = stored
        return Obj(stored)

    def create(self, body, namespace):
        self.writes += 1
        self.objects[(namespace, body["metadata"]["name"])] = copy.deepcopy(body)
        return Obj(body)


def traefik_service(weights, rv="5"):
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
            "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": rv},
            "spec": {"weighted": {"services": [{"name": n, "port": 80, "weight": w} for n, w in weights.items()]}}}


def client_with(resource, api_version="traefik.io/v1alpha1"):
    return DiscoveryClient({(api_version, "TraefikService"): resource})


def test_detection_prefers_traefik_io_and_falls_back_to_containo_us():
    both = DiscoveryClient({("traefik.io/v1alpha1", "TraefikService"): 1, ("traefik.containo.us/v1alpha1", "TraefikService"): 2})
    assert traefik_api_version(both) == "traefik.io/v1alpha1"
    v2_only = DiscoveryClient({("traefik.containo.us/v1alpha1", "TraefikService"): 2})
    assert traefik_api_version(v2_only) == "traefik.containo.us/v1alpha1"


def test_detection_fails_clearly_without_traefik_crds():
    with pytest.raises(DeliveryError, match="serves TraefikService in none of traefik.io/v1alpha1, traefik.containo.us/v1alpha1"):
        traefik_api_version(DiscoveryClient({}))


def test_requested_group_must_be_known_and_served():
    with pytest.raises(InvalidInput, match="api_version must be one of"):
        traefik_api_version(DiscoveryClient({}), "traefik.io/v2")
    with pytest.raises(DeliveryError, match="does not serve TraefikService in it"):
        traefik_api_version(DiscoveryClient({("traefik.io/v1alpha1", "TraefikService"): 1}), "traefik.containo.us/v1alpha1")


def test_route_traffic_writes_once_and_reports_previous_weights():
    resource = FakeResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    result = route_traffic(client_with(resource), Route("test", "podinfo"), 30)
    assert result["changed"] and result["previous"] == {"primary": 100, "canary": 0}
    assert resource.writes == 1
    services = resource.objects[("test", "podinfo")]["spec"]["weighted"]["services"]
    # As Flagger writes them, the entries name the Services' namespace.
    assert services == [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 70},
                        {"name": "podinfo-canary", "namespace": "test", "port": 80, "weight": 30}]


def test_same_weights_mean_no_write():
    existing = traefik_service({"podinfo-primary": 70, "podinfo-canary": 30})
    for entry in existing["spec"]["weighted"]["services"]:
        entry["namespace"] = "test"
    resource = FakeResource({("test", "podinfo"): existing})
    result = route_traffic(client_with(resource), Route("test", "podinfo"), 30)
    assert result["changed"] is False and resource.writes == 0


def test_entries_written_without_a_namespace_get_it_at_the_next_write():
    resource = FakeResource({("test", "podinfo"): traefik_service({"podinfo-primary": 70, "podinfo-canary": 30})})
    result = route_traffic(client_with(resource), Route("test", "podinfo"), 30)
    assert result["changed"] and resource.writes == 1
    services = resource.objects[("test", "podinfo")]["spec"]["weighted"]["services"]
    assert [s["namespace"] for s in services] == ["test", "test"]
    assert [s["weight"] for s in services] == [70, 30]
    assert route_traffic(client_with(resource), Route("test", "podinfo"), 30)["changed"] is False


def test_check_mode_predicts_without_writing():
    resource = FakeResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    result = route_traffic(client_with(resource), Route("test", "podinfo"), 50, check_mode=True)
    assert result["changed"] and result["weights"] == {"primary": 50, "canary": 50} and resource.writes == 0


def test_conflicts_are_retried_on_fresh_reads():
    resource = FakeResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})}, conflicts=2)
    route_traffic(client_with(resource), Route("test", "podinfo"), 10)
    assert resource.writes == 1
    assert resource.objects[("test", "podinfo")]["metadata"]["resourceVersion"] == "8"


class VersionedResource(FakeResource):
    """Answers 409 to a write whose resourceVersion is not the stored one, as Kubernetes does."""

    def replace(self, body, namespace, name):
        if body["metadata"]["resourceVersion"] != self.objects[(namespace, name)]["metadata"]["resourceVersion"]:
            raise ConflictError(ApiException(status=409, reason="Conflict"))
        return super(VersionedResource, self).replace(body, namespace, name)


def _weights(resource):
    services = resource.objects[("test", "podinfo")]["spec"]["weighted"]["services"]
    return dict((s["name"], s["weight"]) for s in services)


def test_a_route_moved_step_by_step_reads_its_traefikservice_once():
    resource = VersionedResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    client, route = client_with(resource), Route("test", "podinfo")
    for weight in (20, 40, 60):
        assert route_traffic(client, route, weight)["changed"]
    assert resource.reads == 1 and resource.writes == 3
    assert _weights(resource) == {"podinfo-primary": 40, "podinfo-canary": 60}
    # the last step's weights as the write before it left them
    assert route_traffic(client, route, 0)["previous"] == {"primary": 40, "canary": 60}
    assert resource.reads == 1


def test_a_change_made_between_steps_costs_a_read_and_is_kept():
    resource = VersionedResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    client, route = client_with(resource), Route("test", "podinfo")
    route_traffic(client, route, 20)
    # someone adds a key to the primary's entry in between
    stored = resource.objects[("test", "podinfo")]
    stored["spec"]["weighted"]["services"][0]["passHostHeader"] = False
    stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
    route_traffic(client, route, 40)
    assert resource.reads == 2 and resource.writes == 2
    assert _weights(resource) == {"podinfo-primary": 60, "podinfo-canary": 40}
    assert resource.objects[("test", "podinfo")]["spec"]["weighted"]["services"][0]["passHostHeader"] is False


def test_the_same_weights_again_are_checked_on_a_fresh_read():
    resource = VersionedResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    client, route = client_with(resource), Route("test", "podinfo")
    route_traffic(client, route, 20)
    # someone puts all traffic back on the primary; asking for 20 again must see it and write
    stored = resource.objects[("test", "podinfo")]
    stored["spec"]["weighted"]["services"] = stored["spec"]["weighted"]["services"][:1]
    stored["spec"]["weighted"]["services"][0]["weight"] = 100
    stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
    result = route_traffic(client, route, 20)
    assert result["changed"] and result["previous"] == {"primary": 100, "canary": 0}
    assert resource.reads == 2
    assert _weights(resource) == {"podinfo-primary": 80, "podinfo-canary": 20}


def test_endless_conflicts_give_up_with_a_clear_message():
    resource = FakeResource({("test", "podinfo"): traefik_service({"podinfo-primary": 100})}, conflicts=99)
    with pytest.raises(DeliveryError, match="kept changing underneath us"):
        replace_with_retry(resource, "test", "podinfo", lambda obj: obj, attempts=3)


def test_api_errors_say_what_was_tried_and_what_the_server_said():
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = '{"kind": "Status", "message": "traefikservices is forbidden: no RBAC"}'
    assert api_error_message(exc, "update TraefikService test/podinfo") == (
        "Failed to update TraefikService test/podinfo: traefikservices is forbidden: no RBAC (HTTP 403)")
