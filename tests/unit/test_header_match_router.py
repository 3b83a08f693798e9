"""The A/B testing router against an in-memory API: the canary's IngressRoute narrows the user's
route to the matching requests, sits above it, follows the API group's syntax, and goes away at
weight 0; the TraefikService keeps all traffic on the primary. The user's route is never guessed."""
import copy

import pytest
import yaml
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import router_for
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_header_match import (
    TraefikHeaderMatchRouter,
)

from pdtest.fake_k8s import DiscoveryClient, Obj
from pdtest.manifests import SEED_CANARY, ingress_route
from test_routing_with_fake_api import FakeResource, traefik_service


class Store(FakeResource):
    """A kind of object in memory, with listing and deletion."""

    def __init__(self, kind, objects=None):
        super().__init__(objects or {})
        self.kind = kind
        self.deleted = []

    def get(self, name=None, namespace=None):
        if name is None:
            return Obj({"items": [copy.deepcopy(o) for (ns, _n), o in sorted(self.objects.items()) if ns == namespace]})
        return super().get(name, namespace)

    def create(self, body, namespace):
        body = dict(copy.deepcopy(body))
        body["metadata"]["resourceVersion"] = "1"
        return super().create(body, namespace)

    def delete(self, name, namespace):
        if (namespace, name) not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        self.writes += 1
        self.deleted.append(name)
        del self.objects[(namespace, name)]


def world(api_version="traefik.io/v1alpha1", user_routes=("podinfo",)):
    services = Store("TraefikService", {("test", "podinfo"): traefik_service({"podinfo-primary": 100})})
    routes = Store("IngressRoute")
    for name in user_routes:
        doc = ingress_route("test", api_version)
        doc["metadata"].update(name=name, namespace="test")
        doc["spec"]["routes"][0]["middlewares"] = [{"name": "auth"}]
        doc["spec"]["tls"] = {"secretName": "podinfo-tls"}
        routes.objects[("test", name)] = doc
    canaries = Store("Canary", {("test", "podinfo"): {"metadata": {"name": "podinfo", "uid": "u-1"}}})
    client = DiscoveryClient({(api_version, "TraefikService"): services, (api_version, "IngressRoute"): routes,
                              ("flagger.app/v1beta1", "Canary"): canaries})
    return client, services, routes


def ab_canary():
    doc = yaml.safe_load(SEED_CANARY)
    doc["spec"]["analysis"].update(iterations=2, match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    return parse_canary(doc)


def test_the_factory_picks_the_header_match_router_for_a_canary_with_match():
    client, _services, _routes = world()
    assert isinstance(router_for(client, ab_canary()), TraefikHeaderMatchRouter)


def test_weight_100_creates_the_canary_route_next_to_the_users_and_weight_0_deletes_it():
    client, services, routes = world()
    router = router_for(client, ab_canary())
    result = router.set_routes(0, 100)

    assert result["changed"] and result["weights"] == {"primary": 0, "canary": 100}
    ours = routes.objects[("test", "podinfo-canary-match")]
    user = routes.objects[("test", "podinfo")]
    route = ours["spec"]["routes"][0]
    host = "Host(`test.app.example.com`)"
    assert route["match"] == "({0}) && (Header(`x-canary`, `insider`))".format(host)
    assert route["priority"] > len(user["spec"]["routes"][0]["match"])
    assert route["services"] == [{"name": "podinfo-canary-match", "kind": "TraefikService"}]
    # Through a TraefikService, the matched requests are labelled with the canary Service.
    assert services.objects[("test", "podinfo-canary-match")]["spec"] == {
        "weighted": {"services": [{"name": "podinfo-canary", "port": 80, "weight": 1}]}}
    assert route["middlewares"] == [{"name": "auth"}]
    assert ours["spec"]["entryPoints"] == ["web"] and ours["spec"]["tls"] == {"secretName": "podinfo-tls"}
    assert ours["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    # Unmatched traffic stays on the primary through the user's route and the TraefikService.
    assert services.objects[("test", "podinfo")]["spec"]["weighted"]["services"] == [
        {"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]
    assert router.get_routes() == {"primary": 0, "canary": 100}

    writes = routes.writes
    assert router.set_routes(0, 100)["changed"] is False
    assert routes.writes == writes

    assert router.finalize()["previous"] == {"primary": 0, "canary": 100}
    assert ("test", "podinfo-canary-match") not in routes.objects
    assert ("test", "podinfo-canary-match") not in services.objects
    assert router.get_routes() == {"primary": 100, "canary": 0}


def test_check_mode_plans_the_route_without_writing():
    client, services, routes = world()
    result = router_for(client, ab_canary()).set_routes(0, 100, check_mode=True)
    assert result["changed"] and routes.writes == 0 and services.writes == 0


def test_the_v2_api_group_gets_traefik_v2_matchers():
    client, _services, routes = world("traefik.containo.us/v1alpha1")
    router_for(client, ab_canary()).set_routes(0, 100)
    match = routes.objects[("test", "podinfo-canary-match")]["spec"]["routes"][0]["match"]
    assert match.endswith("&& (Headers(`x-canary`, `insider`))")


@pytest.mark.parametrize("user_routes, words", [
    ((), "none in namespace test does"),
    (("podinfo", "podinfo-two"), "found podinfo, podinfo-two"),
])
def test_without_exactly_one_user_route_to_the_traefik_service_nothing_is_written(user_routes, words):
    client, services, routes = world(user_routes=user_routes)
    router = router_for(client, ab_canary())
    with pytest.raises(DeliveryError, match=words):
        router.plan_reconcile()
    with pytest.raises(DeliveryError, match=words):
        router.set_routes(0, 100)
    assert routes.writes == 0 and services.writes == 0


def test_a_partial_weight_is_refused_naming_what_a_b_testing_allows():
    client, _services, routes = world()
    with pytest.raises(InvalidInput, match="with spec.analysis.match the canary weight is 100"):
        router_for(client, ab_canary()).set_routes(90, 10)
    assert routes.writes == 0


def test_reconcile_creates_only_the_traefik_service_all_on_the_primary():
    client, services, routes = world()
    del services.objects[("test", "podinfo")]
    router = router_for(client, ab_canary())
    assert [c["action"] for c in router.reconcile(router.plan_reconcile())] == ["created"]
    assert services.objects[("test", "podinfo")]["spec"] == {
        "weighted": {"services": [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]}}
    assert list(routes.objects) == [("test", "podinfo")]
