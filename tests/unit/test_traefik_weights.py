"""Weighted TraefikService specs: building, reading and changing weights."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import split_weights
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import normalize_port
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    UnexpectedTraefikService,
    build_traefik_service,
    build_weighted_spec,
    read_weights,
    set_weights,
)

P, C = "podinfo-primary", "podinfo-canary"


def test_split_gives_the_primary_the_rest():
    assert split_weights(30) == {"primary": 70, "canary": 30}
    assert split_weights("0") == {"primary": 100, "canary": 0}
    assert split_weights(100) == {"primary": 0, "canary": 100}


@pytest.mark.parametrize("bad", [101, -1, "ten", 2.5, True, None])
def test_split_rejects_anything_but_0_to_100_and_names_the_field(bad):
    with pytest.raises(InvalidInput) as err:
        split_weights(bad)
    assert str(err.value).startswith("weight must be an integer between 0 and 100")
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)


def test_weighted_spec_lists_both_services_with_port():
    assert build_weighted_spec(P, C, 80, 70, 30) == {"weighted": {"services": [
        {"name": P, "port": 80, "weight": 70}, {"name": C, "port": 80, "weight": 30}]}}


def test_weighted_spec_leaves_out_the_canary_at_weight_zero():
    assert build_weighted_spec(P, C, 80, 100, 0) == {"weighted": {"services": [
        {"name": P, "port": 80, "weight": 100}]}}


def test_traefik_service_object_carries_api_version_and_namespace():
    obj = build_traefik_service("podinfo", "test", "traefik.containo.us/v1alpha1", {"weighted": {}})
    assert obj["apiVersion"] == "traefik.containo.us/v1alpha1" and obj["kind"] == "TraefikService"
    assert obj["metadata"] == {"name": "podinfo", "namespace": "test"}


def test_read_weights_treats_a_missing_canary_entry_as_zero():
    assert read_weights(build_weighted_spec(P, C, 80, 100, 0), P, C) == {"primary": 100, "canary": 0}
    assert read_weights(build_weighted_spec(P, C, 80, 60, 40), P, C) == {"primary": 60, "canary": 40}


def test_read_weights_refuses_a_mirroring_service():
    spec = {"mirroring": {"name": P, "mirrors": [{"name": C, "percent": 10}]}}
    with pytest.raises(UnexpectedTraefikService, match="is not of kind weighted"):
        read_weights(spec, P, C)


def test_read_weights_refuses_foreign_entries_and_lists_them():
    spec = {"weighted": {"services": [{"name": "a", "weight": 1}, {"name": P, "weight": 2}]}}
    with pytest.raises(UnexpectedTraefikService) as err:
        read_weights(spec, P, C)
    assert "a=1, podinfo-primary=2" in str(err.value)


def test_read_weights_refuses_nested_traefik_services():
    spec = {"weighted": {"services": [{"name": P, "kind": "TraefikService", "weight": 1}]}}
    with pytest.raises(UnexpectedTraefikService, match="TraefikService/podinfo-primary"):
        read_weights(spec, P, C)


def test_set_weights_keeps_other_fields_and_entry_extras():
    spec = {"weighted": {"sticky": {"cookie": {"name": "lb"}},
                         "services": [{"name": P, "port": 80, "weight": 100, "namespace": "test"}]}}
    new = set_weights(spec, P, C, None, 70, 30)
    assert new["weighted"]["sticky"] == {"cookie": {"name": "lb"}}
    assert new["weighted"]["services"] == [
        {"name": P, "port": 80, "weight": 70, "namespace": "test"},
        {"name": C, "port": 80, "weight": 30}]
    assert spec["weighted"]["services"][0]["weight"] == 100  # the input is not modified


def test_set_weights_on_takeover_replaces_mirroring():
    new = set_weights({"mirroring": {"name": "x"}}, P, C, 8080, 90, 10)
    assert "mirroring" not in new
    assert [e["name"] for e in new["weighted"]["services"]] == [P, C]


@pytest.mark.parametrize("given, expected", [(80, 80), ("8080", 8080), ("http", "http")])
def test_ports_are_numbers_or_names(given, expected):
    assert normalize_port(given) == expected


@pytest.mark.parametrize("bad", [0, 70000, "http port", "Http", True])
def test_bad_ports_are_refused(bad):
    with pytest.raises(InvalidInput, match="port must be"):
        normalize_port(bad)
