"""A sticky canary: Flagger's analysis.sessionAffinity is read, refused when malformed, and put on
the weighted TraefikService as Traefik's sticky cookie, kept across weight changes."""
import copy

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import SpecError, parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import router_for
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_sticky import (
    TraefikStickyRouter,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    TraefikWeightedRouter,
)

from pdtest.fake_k8s import DiscoveryClient
from pdtest.manifests import SEED_CANARY
from test_routing_with_fake_api import FakeResource, traefik_service


def seed_with(affinity):
    doc = yaml.safe_load(SEED_CANARY)
    doc["spec"]["analysis"]["sessionAffinity"] = affinity
    return doc


def served(objects=None):
    resource = FakeResource(objects or {})
    return DiscoveryClient({("traefik.io/v1alpha1", "TraefikService"): resource}), resource


def test_session_affinity_is_read_with_flaggers_one_day_default_for_max_age():
    parsed = parse_canary(seed_with({"cookieName": "flagger-cookie"}))
    assert parsed["analysis"]["session_affinity"] == {"cookie_name": "flagger-cookie", "max_age": 86400}
    assert not any("sessionAffinity" in w for w in parsed["warnings"])
    parsed = parse_canary(seed_with({"cookieName": "c", "maxAge": 600, "primaryCookieName": "p"}))
    assert parsed["analysis"]["session_affinity"] == {"cookie_name": "c", "max_age": 600}
    assert any(w.startswith("spec.analysis.sessionAffinity.primaryCookieName is ignored") for w in parsed["warnings"])


def test_the_cookie_attributes_flagger_sets_are_read_and_only_those_given():
    parsed = parse_canary(seed_with({"cookieName": "c", "domain": "shop.example.com", "httpOnly": False,
                                     "path": "/cart", "sameSite": "Strict", "secure": True}))
    assert parsed["analysis"]["session_affinity"] == {
        "cookie_name": "c", "max_age": 86400, "domain": "shop.example.com", "http_only": False,
        "path": "/cart", "same_site": "Strict", "secure": True}
    assert not any("sessionAffinity" in w for w in parsed["warnings"])


def test_partitioned_is_accepted_with_a_warning_as_traefik_cannot_set_it():
    parsed = parse_canary(seed_with({"cookieName": "c", "partitioned": True}))
    assert parsed["analysis"]["session_affinity"] == {"cookie_name": "c", "max_age": 86400}
    assert any(w.startswith("spec.analysis.sessionAffinity.partitioned is ignored") for w in parsed["warnings"])


def test_the_sticky_cookie_carries_the_attributes_in_traefiks_names():
    parsed = parse_canary(seed_with({"cookieName": "c", "maxAge": 60, "domain": ".example.com",
                                     "httpOnly": False, "path": "/", "sameSite": "None", "secure": True}))
    client, resource = served()
    router_for(client, parsed).reconcile()
    assert resource.objects[("test", "podinfo")]["spec"]["weighted"]["sticky"] == {"cookie": {
        "name": "c", "maxAge": 60, "domain": ".example.com", "httpOnly": False, "path": "/",
        "sameSite": "none", "secure": True}}


def test_a_canary_without_session_affinity_has_none():
    assert parse_canary(yaml.safe_load(SEED_CANARY))["analysis"]["session_affinity"] is None


@pytest.mark.parametrize("affinity, field, words", [
    ({"maxAge": 60}, "spec.analysis.sessionAffinity.cookieName", "is required"),
    ({"cookieName": "has space"}, "spec.analysis.sessionAffinity.cookieName", "cookie name"),
    ({"cookieName": "a;b"}, "spec.analysis.sessionAffinity.cookieName", "cookie name"),
    ({"cookieName": "c", "maxAge": -5}, "spec.analysis.sessionAffinity.maxAge", "integer between 1"),
    ({"cookieName": "c", "maxAge": "1h"}, "spec.analysis.sessionAffinity.maxAge", "integer between 1"),
    ("sticky", "spec.analysis.sessionAffinity", "must be a mapping"),
    ({"cookieName": "c", "sameSite": "lax"}, "spec.analysis.sessionAffinity.sameSite", "one of Strict, Lax, None"),
    ({"cookieName": "c", "secure": "yes"}, "spec.analysis.sessionAffinity.secure", "true or false"),
    ({"cookieName": "c", "httpOnly": 1}, "spec.analysis.sessionAffinity.httpOnly", "true or false"),
    ({"cookieName": "c", "domain": "a b.com"}, "spec.analysis.sessionAffinity.domain", "host name"),
    ({"cookieName": "c", "domain": "http://x.com"}, "spec.analysis.sessionAffinity.domain", "host name"),
    ({"cookieName": "c", "path": "cart"}, "spec.analysis.sessionAffinity.path", "starting with '/'"),
    ({"cookieName": "c", "path": "/a;Domain=evil"}, "spec.analysis.sessionAffinity.path", "without ';'"),
])
def test_bad_session_affinity_is_refused_naming_the_field(affinity, field, words):
    with pytest.raises(SpecError) as caught:
        parse_canary(seed_with(affinity))
    assert caught.value.field == field
    assert words in str(caught.value)


def test_the_factory_picks_the_sticky_router_only_when_the_canary_asks_for_it():
    client, _resource = served()
    sticky = router_for(client, parse_canary(seed_with({"cookieName": "flagger-cookie"})))
    plain = router_for(client, parse_canary(yaml.safe_load(SEED_CANARY)))
    assert isinstance(sticky, TraefikStickyRouter)
    assert isinstance(plain, TraefikWeightedRouter) and not isinstance(plain, TraefikStickyRouter)


def test_the_traefik_service_is_created_with_the_sticky_cookie_and_keeps_it_across_weight_steps():
    client, resource = served()
    router = router_for(client, parse_canary(seed_with({"cookieName": "flagger-cookie", "maxAge": 120})))
    router.reconcile()
    cookie = {"cookie": {"name": "flagger-cookie", "maxAge": 120, "httpOnly": True}}
    spec = resource.objects[("test", "podinfo")]["spec"]
    assert spec == {"weighted": {"services": [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}],
                                 "sticky": cookie}}
    # The fake API leaves the resourceVersion to the test, as the server would set it.
    resource.objects[("test", "podinfo")]["metadata"]["resourceVersion"] = "1"
    router.set_routes(70, 30)
    spec = resource.objects[("test", "podinfo")]["spec"]
    assert spec["weighted"]["sticky"] == cookie
    assert [s["name"] for s in spec["weighted"]["services"]] == ["podinfo-primary", "podinfo-canary"]
    router.finalize()
    spec = resource.objects[("test", "podinfo")]["spec"]
    # The canary's entry leaves at weight 0, so a cookie naming it leads nowhere.
    assert spec["weighted"] == {"services": [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}],
                                "sticky": cookie}


def test_an_adopted_traefik_service_gets_the_cookie_on_its_next_weight_change():
    existing = traefik_service({"podinfo-primary": 100})
    client, resource = served({("test", "podinfo"): copy.deepcopy(existing)})
    router = router_for(client, parse_canary(seed_with({"cookieName": "flagger-cookie"})))
    plan = router.plan(0)
    assert plan.changed
    router.apply(plan)
    assert resource.objects[("test", "podinfo")]["spec"]["weighted"]["sticky"]["cookie"]["name"] == "flagger-cookie"


def test_the_plain_weighted_router_keeps_a_sticky_cookie_someone_else_set():
    existing = traefik_service({"podinfo-primary": 100})
    existing["spec"]["weighted"]["sticky"] = {"cookie": {"name": "theirs"}}
    client, resource = served({("test", "podinfo"): existing})
    router_for(client, parse_canary(yaml.safe_load(SEED_CANARY))).set_routes(90, 10)
    assert resource.objects[("test", "podinfo")]["spec"]["weighted"]["sticky"] == {"cookie": {"name": "theirs"}}
