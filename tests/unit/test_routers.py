"""The router interface and its factory: a Canary's provider picks the router, and the weighted
Traefik router creates, adopts, reads and sets the TraefikService in either API group."""
import copy

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils import canary_spec
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    ROUTERS,
    router_class,
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import Router
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    TraefikWeightedRouter,
)

from pdtest.manifests import SEED_CANARY
from pdtest.fake_k8s import DiscoveryClient
from test_routing_with_fake_api import FakeResource, traefik_service

CANARY = parse_canary(yaml.safe_load(SEED_CANARY))


def served_in(api_version, objects=None):
    resource = FakeResource(objects or {})
    return DiscoveryClient({(api_version, "TraefikService"): resource}), resource


def stored(resource):
    return resource.objects[("test", "podinfo")]


def test_a_canary_with_provider_traefik_or_none_gets_the_weighted_traefik_router():
    client, _resource = served_in("traefik.io/v1alpha1")
    assert isinstance(router_for(client, CANARY), TraefikWeightedRouter)
    without = dict(CANARY, provider=None)
    assert isinstance(router_for(client, without), TraefikWeightedRouter)


def test_the_factory_refuses_an_unknown_provider_naming_the_field_and_the_allowed_values():
    with pytest.raises(InvalidInput) as caught:
        router_for(None, dict(CANARY, provider="istio"))
    assert str(caught.value) == "spec.provider must be one of traefik (or omitted); got 'istio'"


def test_the_factory_serves_every_provider_the_canary_parser_accepts():
    assert sorted(ROUTERS) == sorted(canary_spec.PROVIDERS)


def test_every_registered_router_implements_the_whole_interface():
    for provider, cls in ROUTERS.items():
        assert issubclass(cls, Router) and cls.provider == provider
        assert not cls.__abstractmethods__, provider


@pytest.mark.parametrize("api_version", ["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"])
def test_reconcile_creates_the_traefik_service_in_the_group_the_cluster_serves(api_version):
    client, resource = served_in(api_version)
    router = router_for(client, CANARY)
    changes = router.reconcile()
    assert [c["action"] for c in changes] == ["created"]
    body = stored(resource)
    assert body["apiVersion"] == api_version and body["kind"] == "TraefikService"
    assert body["spec"] == {"weighted": {"services": [
        {"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]}}
    # Flagger's: Flux leaves a TraefikService generated for a Canary alone.
    assert body["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
                                               "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
    assert router.api_version() == api_version


def test_a_pinned_group_the_cluster_does_not_serve_is_refused_before_any_write():
    client, resource = served_in("traefik.io/v1alpha1")
    router = router_for(client, CANARY, api_version="traefik.containo.us/v1alpha1")
    with pytest.raises(DeliveryError, match="does not serve TraefikService in it"):
        router.plan_reconcile()
    assert resource.writes == 0


def test_without_traefik_crds_the_version_is_none_unless_required():
    router = router_for(DiscoveryClient({}), CANARY)
    assert router.api_version(required=False) is None
    with pytest.raises(DeliveryError, match="serves TraefikService in none of"):
        router.api_version()


def test_reconcile_adopts_an_existing_traefik_service_keeping_its_weights():
    existing = traefik_service({"podinfo-primary": 60, "podinfo-canary": 40})
    client, resource = served_in("traefik.io/v1alpha1", {("test", "podinfo"): existing})
    canary = copy.deepcopy(CANARY)
    canary["service"]["metadata"] = {"apex": {"labels": {"team": "shop"}, "annotations": {}}}

    assert router_for(client, canary).reconcile(check_mode=True)[0]["action"] == "updated"
    assert resource.writes == 0

    changes = router_for(client, canary).reconcile()
    flux = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
            "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
    assert changes[0]["after"] == {"metadata": {"labels": {"team": "shop"}, "annotations": flux}}
    assert stored(resource)["metadata"]["labels"] == {"team": "shop"}
    assert stored(resource)["metadata"]["annotations"] == flux
    assert [s["weight"] for s in stored(resource)["spec"]["weighted"]["services"]] == [60, 40]
    assert router_for(client, canary).reconcile() == []


def test_a_created_traefik_service_is_owned_by_the_canary_and_an_adopted_one_keeps_its_owners():
    owner = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "podinfo", "uid": "u-1",
             "controller": True, "blockOwnerDeletion": True}
    client, resource = served_in("traefik.io/v1alpha1")
    router_for(client, CANARY).reconcile(owner=owner)
    assert stored(resource)["metadata"]["ownerReferences"] == [owner]

    existing = traefik_service({"podinfo-primary": 100})
    client, resource = served_in("traefik.io/v1alpha1", {("test", "podinfo"): existing})
    router_for(client, CANARY).reconcile(owner=owner)
    assert "ownerReferences" not in stored(resource)["metadata"]


def test_set_routes_get_routes_and_finalize_move_and_read_the_weights():
    client, resource = served_in("traefik.io/v1alpha1", {("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    router = router_for(client, CANARY)
    result = router.set_routes(80, 20)
    assert result["changed"] and result["previous"] == {"primary": 100, "canary": 0}
    assert router.get_routes() == {"primary": 80, "canary": 20}
    router.finalize()
    assert router.get_routes() == {"primary": 100, "canary": 0}
    assert stored(resource)["spec"]["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]


def test_set_routes_refuses_weights_that_do_not_split_the_whole_traffic():
    client, resource = served_in("traefik.io/v1alpha1", {("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    with pytest.raises(InvalidInput, match="must add up to 100; got 90 and 20"):
        router_for(client, CANARY).set_routes(90, 20)
    assert resource.writes == 0


def test_get_routes_refuses_a_traefik_service_that_is_not_the_weighted_pair():
    foreign = traefik_service({"other-app": 100})
    client, _resource = served_in("traefik.io/v1alpha1", {("test", "podinfo"): foreign})
    with pytest.raises(DeliveryError, match="TraefikService test/podinfo has entries other-app=100"):
        router_for(client, CANARY).get_routes()


def test_the_router_gives_the_label_matcher_of_a_services_traffic_in_traefiks_metrics():
    matcher = router_class("traefik").service_matcher
    assert matcher("test", "podinfo-canary", 80) == 'service="test-podinfo-canary-80@kubernetescrd"'
    assert matcher("test", "podinfo-canary") == 'service=~"test-podinfo-canary-[0-9]+@kubernetescrd"'
    with pytest.raises(InvalidInput, match="service must be a DNS label"):
        matcher("test", "Podinfo")
