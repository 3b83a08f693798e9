"""Mirroring: the Canary fields read and refused as the spec says, and the router against an
in-memory API turning the TraefikService from weighted into mirroring (the primary answers, the
canary gets copies) and back; a mirroring TraefikService that is not ours is never changed."""
import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import SpecError, parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import router_for
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_mirror import (
    TraefikMirrorRouter,
)

from pdtest.fake_k8s import DiscoveryClient
from pdtest.manifests import SEED_CANARY, mirroring_traefik_service
from test_routing_with_fake_api import FakeResource, traefik_service


def seed(**analysis):
    doc = yaml.safe_load(SEED_CANARY)
    for key in ("stepWeight", "maxWeight"):
        doc["spec"]["analysis"].pop(key, None)
    doc["spec"]["analysis"].update(analysis)
    return doc


def mirror_canary(weight=40):
    return parse_canary(seed(iterations=3, mirror=True, mirrorWeight=weight))


def test_mirror_with_iterations_makes_one_step_at_the_mirror_weight_per_iteration():
    parsed = mirror_canary(40)
    assert parsed["analysis"]["mirror"] == {"weight": 40}
    assert parsed["steps"] == [40, 40, 40]


def test_without_mirror_weight_every_request_is_mirrored_as_in_flagger():
    parsed = parse_canary(seed(iterations=2, mirror=True))
    assert parsed["analysis"]["mirror"] == {"weight": 100}
    assert parsed["steps"] == [100, 100]


def test_mirror_false_is_blue_green_and_a_lone_mirror_weight_is_only_warned_about():
    parsed = parse_canary(seed(iterations=2, mirror=False, mirrorWeight=30))
    assert parsed["analysis"]["mirror"] is None and parsed["steps"] == [0, 0]
    assert any(w.startswith("spec.analysis.mirrorWeight is ignored") for w in parsed["warnings"])


@pytest.mark.parametrize("analysis, field, words", [
    ({"mirror": True, "stepWeight": 10, "maxWeight": 30}, "spec.analysis.mirror", "needs spec.analysis.iterations"),
    ({"mirror": True, "stepWeights": [10, 20]}, "spec.analysis.mirror", "not supported with stepWeight"),
    ({"mirror": True, "iterations": 2, "mirrorWeight": 101}, "spec.analysis.mirrorWeight", "between 0 and 100"),
    ({"mirror": True, "iterations": 2, "mirrorWeight": -5}, "spec.analysis.mirrorWeight", "between 0 and 100"),
    ({"mirror": True, "iterations": 2, "mirrorWeight": "50%"}, "spec.analysis.mirrorWeight", "between 0 and 100"),
    ({"mirror": "yes", "iterations": 2}, "spec.analysis.mirror", "true or false"),
    ({"mirror": True, "iterations": 2, "match": [{"headers": {"x": {"exact": "y"}}}]}, "spec.analysis.mirror",
     "cannot be combined with spec.analysis.match"),
    ({"mirror": True, "iterations": 2, "sessionAffinity": {"cookieName": "c"}}, "spec.analysis.mirror",
     "cannot be combined with spec.analysis.sessionAffinity"),
])
def test_bad_mirror_input_is_refused_naming_the_field(analysis, field, words):
    with pytest.raises(SpecError) as caught:
        parse_canary(seed(**analysis))
    assert any(f == field and words in m for f, m in caught.value.problems), str(caught.value)


def world(spec_obj=None):
    services = FakeResource({("test", "podinfo"): spec_obj or traefik_service({"podinfo-primary": 100})})
    client = DiscoveryClient({("traefik.io/v1alpha1", "TraefikService"): services})
    return client, services


def test_the_factory_picks_the_mirror_router_for_a_canary_with_mirror():
    client, _services = world()
    assert isinstance(router_for(client, mirror_canary()), TraefikMirrorRouter)


def test_the_mirror_weight_turns_the_traefik_service_into_a_mirror_and_0_turns_it_back():
    client, services = world()
    router = router_for(client, mirror_canary(40))

    result = router.set_routes(60, 40)

    assert result["changed"] and result["previous"] == {"primary": 100, "canary": 0}
    assert services.objects[("test", "podinfo")]["spec"] == {"mirroring": {
        "name": "podinfo-primary", "port": 80,
        "mirrors": [{"name": "podinfo-canary", "port": 80, "percent": 40}]}}
    assert router.get_routes() == {"primary": 60, "canary": 40}
    # The same weight again writes nothing.
    writes = services.writes
    assert not router.set_routes(60, 40)["changed"] and services.writes == writes

    back = router.finalize()

    assert back["changed"] and back["previous"] == {"primary": 60, "canary": 40}
    assert services.objects[("test", "podinfo")]["spec"] == {
        "weighted": {"services": [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]}}
    assert router.get_routes() == {"primary": 100, "canary": 0}


def test_check_mode_plans_the_mirror_without_writing():
    client, services = world()
    result = router_for(client, mirror_canary(40)).set_routes(60, 40, check_mode=True)
    assert result["changed"] and services.writes == 0
    assert "weighted" in services.objects[("test", "podinfo")]["spec"]


def test_a_weight_other_than_the_mirror_weight_is_refused():
    client, services = world()
    with pytest.raises(InvalidInput, match="spec.analysis.mirrorWeight"):
        router_for(client, mirror_canary(40)).set_routes(90, 10)
    assert services.writes == 0


def test_a_mirroring_traefik_service_of_other_services_is_not_changed():
    foreign = mirroring_traefik_service("podinfo")
    foreign["metadata"].update(namespace="test", resourceVersion="5")
    foreign["spec"]["mirroring"]["mirrors"][0]["name"] = "someone-else"
    client, services = world(foreign)
    with pytest.raises(DeliveryError, match="not podinfo-primary mirrored to podinfo-canary"):
        router_for(client, mirror_canary(40)).finalize()
    assert services.writes == 0
