"""spec.service.portDiscovery, headless and trafficDistribution on the generated Services, as
Flagger's Kubernetes router builds them for every provider."""
import copy

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import SpecError, parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import (
    _service_drifted,
    build_services,
    discovered_ports,
)

from pdtest.manifests import SEED_CANARY

TARGET = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {"metadata": {"labels": {"app": "podinfo"}}, "spec": {"containers": [
            {"name": "podinfod", "ports": [
                {"name": "http", "containerPort": 9898},
                {"name": "http-metrics", "containerPort": 9797},
                {"containerPort": 9999}]},
            {"name": "istio-proxy", "ports": [{"name": "http-envoy-prom", "containerPort": 15090}]},
            {"name": "sidecar", "ports": [{"containerPort": 8125, "protocol": "UDP"}]},
        ]}},
    },
}


def canary_with(**service):
    doc = yaml.safe_load(SEED_CANARY)
    doc["spec"]["service"].update(service)
    return parse_canary(doc)


def test_the_flags_default_off_and_are_no_longer_reported_as_ignored():
    parsed = parse_canary(yaml.safe_load(SEED_CANARY))
    assert (parsed["service"]["port_discovery"], parsed["service"]["headless"],
            parsed["service"]["traffic_distribution"]) == (False, False, None)
    parsed = canary_with(portDiscovery=True, headless=True, trafficDistribution="PreferClose")
    assert (parsed["service"]["port_discovery"], parsed["service"]["headless"],
            parsed["service"]["traffic_distribution"]) == (True, True, "PreferClose")
    assert not [w for w in parsed["warnings"] if w.startswith("spec.service.")]


@pytest.mark.parametrize("service, field, words", [
    ({"portDiscovery": "yes"}, "spec.service.portDiscovery", "true or false"),
    ({"headless": 1}, "spec.service.headless", "true or false"),
    ({"trafficDistribution": "Closest"}, "spec.service.trafficDistribution",
     "one of PreferClose, PreferSameZone, PreferSameNode"),
])
def test_bad_values_are_refused_naming_the_field(service, field, words):
    with pytest.raises(SpecError) as caught:
        canary_with(**service)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_discovered_ports_leave_out_the_service_port_and_mesh_proxies():
    service = canary_with(portDiscovery=True)["service"]  # port 80, targetPort 9898
    assert discovered_ports(service, TARGET) == [
        {"name": "tcp-sidecar-0", "port": 8125, "targetPort": 8125, "protocol": "TCP"},
        {"name": "http-metrics", "port": 9797, "targetPort": 9797, "protocol": "TCP"},
        {"name": "tcp-podinfod-2", "port": 9999, "targetPort": 9999, "protocol": "TCP"},
    ]
    # A named targetPort leaves out the container port of that name, whatever its number.
    named = canary_with(portDiscovery=True, targetPort="http-metrics")["service"]
    assert [p["name"] for p in discovered_ports(named, TARGET)] == ["tcp-sidecar-0", "http", "tcp-podinfod-2"]


def test_all_three_services_get_the_discovered_ports_after_their_own():
    services = build_services(canary_with(portDiscovery=True), TARGET)
    for service in services:
        assert [p["port"] for p in service["spec"]["ports"]] == [80, 8125, 9797, 9999]
    assert [p["port"] for p in build_services(canary_with(), TARGET)[0]["spec"]["ports"]] == [80]


def test_headless_and_traffic_distribution_shape_every_generated_service():
    for service in build_services(canary_with(headless=True, trafficDistribution="PreferSameZone"), TARGET):
        assert service["spec"]["clusterIP"] == "None"
        assert service["spec"]["trafficDistribution"] == "PreferSameZone"
    for service in build_services(canary_with(), TARGET):
        assert "clusterIP" not in service["spec"] and "trafficDistribution" not in service["spec"]


def test_ports_in_another_order_are_no_drift_but_a_missing_one_is():
    desired = build_services(canary_with(portDiscovery=True), TARGET)[0]
    current = copy.deepcopy(desired)
    current["spec"]["ports"].reverse()
    assert not _service_drifted(current, desired)
    current["spec"]["ports"].pop()
    assert _service_drifted(current, desired)
