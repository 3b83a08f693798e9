"""Every name a release works with comes from the field Flagger takes it from."""
import copy

import yaml

from ansible_collections.progressive.delivery.plugins.module_utils import promotion
from ansible_collections.progressive.delivery.plugins.module_utils.analysis import metric_check_params
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import build_services
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import plan_check
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import Route

from pdtest.manifests import SEED_CANARY


def cart_canary():
    """Canary `cart-release` for Deployment `cart-api`, Service `cart`: three different names."""
    manifest = copy.deepcopy(yaml.safe_load(SEED_CANARY))
    manifest["metadata"]["name"] = "cart-release"
    manifest["metadata"]["namespace"] = "shop"
    manifest["spec"]["targetRef"]["name"] = "cart-api"
    manifest["spec"]["service"]["name"] = "cart"
    return parse_canary(manifest)


def test_routing_names_follow_the_service_and_workload_names_follow_the_target():
    assert cart_canary()["names"] == {
        "target": "cart-api",
        "primary": "cart-api-primary",
        "apex_service": "cart",
        "primary_service": "cart-primary",
        "canary_service": "cart-canary",
        "traefik_service": "cart",
    }


def test_without_a_service_name_the_services_are_named_after_the_target():
    names = parse_canary(yaml.safe_load(SEED_CANARY))["names"]
    assert (names["traefik_service"], names["primary_service"], names["canary_service"]) == \
        ("podinfo", "podinfo-primary", "podinfo-canary")


def test_the_route_of_a_canary_splits_between_its_services():
    route = Route.for_canary(cart_canary())
    assert (route.namespace, route.name, route.primary_service, route.canary_service, route.port) == \
        ("shop", "cart", "cart-primary", "cart-canary", 80)


def test_initialised_services_are_the_ones_the_route_names():
    canary = cart_canary()
    target = {"metadata": {"name": "cart-api", "labels": {"app": "cart-api"}},
              "spec": {"selector": {"matchLabels": {"app": "cart-api"}},
                       "template": {"metadata": {"labels": {"app": "cart-api"}}}}}
    services = {s["metadata"]["name"]: s["spec"]["selector"] for s in build_services(canary, target)}
    route = Route.for_canary(canary)
    assert services == {route.name: {"app": "cart-api-primary"},
                        route.primary_service: {"app": "cart-api-primary"},
                        route.canary_service: {"app": "cart-api"}}


class _StopBeforeTheCluster(Exception):
    pass


def test_promotion_routes_the_services_named_after_the_traefik_service(monkeypatch):
    seen = {}

    def capture(client, namespace, name, timeout, router, **kwargs):
        seen["route"] = router.route
        raise _StopBeforeTheCluster()

    monkeypatch.setattr(promotion, "Promotion", capture)
    try:
        promotion.promote(None, "shop", "cart-api", 60, traefik_service="cart", port=80)
    except _StopBeforeTheCluster:
        pass
    route = seen["route"]
    assert (route.name, route.primary_service, route.canary_service) == ("cart", "cart-primary", "cart-canary")


def test_builtin_checks_measure_the_canary_service_and_templates_see_flaggers_variables():
    canary = cart_canary()
    metric = {"name": "request-success-rate", "threshold_range": {"min": 99, "max": None}, "interval": "1m"}
    builtin = plan_check(metric_check_params(canary, metric, {"address": "http://p:9090"}))
    assert 'service="shop-cart-canary-80@kubernetescrd"' in builtin.query

    query = 'x{n="{{ name }}",t="{{ target }}",s="{{ service }}",i="{{ ingress }}",r="{{ route }}"}'
    custom = dict(metric, name="custom", query=query)
    plan = plan_check(metric_check_params(canary, custom, {"address": "http://p:9090"}))
    assert plan.query == 'x{n="cart-release",t="cart-api",s="cart",i="cart-api",r="cart-api"}'


def test_metric_check_alone_measures_the_service_named_after_service_else_target():
    base = {"metric": "request-duration", "namespace": "shop", "interval": "1m",
            "threshold_range": {"min": None, "max": 500}, "provider": {"address": "http://p:9090"}}
    assert 'shop-cart-api-canary-' in plan_check(dict(base, target="cart-api")).query
    assert 'shop-cart-canary-' in plan_check(dict(base, target="cart-api", service="cart")).query
    assert 'shop-blue-' in plan_check(dict(base, service="cart", canary_service="blue")).query
