"""Specification of the objects canary_init creates (pure builders) and of revision decisions."""

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    resolve_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    release_decision,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import (
    build_primary_hpa,
    build_services,
    owner_reference,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import Route, build_traefik_service
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    selector_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    build_primary_deployment,
)

from pdtest.manifests import SEED_CANARY

CANARY = parse_canary(yaml.safe_load(SEED_CANARY))
TARGET = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "podinfo", "namespace": "test", "labels": {"app": "podinfo", "team": "a"},
                 "uid": "target-uid", "resourceVersion": "9"},
    "spec": {
        "replicas": 1, "minReadySeconds": 3,
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {
            "metadata": {"labels": {"app": "podinfo"}},
            "spec": {"containers": [{
                "name": "podinfod", "image": "stefanprodan/podinfo:4.0.5",
                "envFrom": [{"configMapRef": {"name": "podinfo-config"}}]}]},
        },
    },
    "status": {"availableReplicas": 1},
}


def test_primary_runs_the_target_template_under_primary_labels_and_config_copies():
    primary = build_primary_deployment(TARGET, {("ConfigMap", "podinfo-config")}, min_replicas=2)
    assert primary["metadata"]["name"] == "podinfo-primary"
    # As in Flagger, the target's own labels are copied only by include_label_prefix (none by default).
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["configMapRef"]["name"] == "podinfo-config-primary"
    assert primary["spec"]["replicas"] == 2 and primary["spec"]["minReadySeconds"] == 3
    assert "uid" not in primary["metadata"] and "status" not in primary
    assert TARGET["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo"


def test_selector_label_follows_flaggers_preference_and_refuses_others():
    other = {"metadata": {"name": "x"},
             "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}}}
    assert selector_label(other) == ("app.kubernetes.io/name", "web")
    with pytest.raises(DeliveryError, match="must contain one of app, name, app.kubernetes.io/name"):
        selector_label({"metadata": {"name": "x"},
                        "spec": {"selector": {"matchLabels": {"tier": "web"}}}})


def test_services_apex_and_primary_select_primary_pods_canary_selects_target():
    services = {s["metadata"]["name"]: s for s in build_services(CANARY, TARGET)}
    assert set(services) == {"podinfo", "podinfo-primary", "podinfo-canary"}
    assert services["podinfo"]["spec"]["selector"] == {"app": "podinfo-primary"}
    assert services["podinfo-primary"]["spec"]["selector"] == {"app": "podinfo-primary"}
    assert services["podinfo-canary"]["spec"]["selector"] == {"app": "podinfo"}
    assert services["podinfo"]["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 9898, "protocol": "TCP"}]


def test_services_take_their_names_from_spec_service_name():
    obj = yaml.safe_load(SEED_CANARY)
    obj["spec"]["service"]["name"] = "frontend"
    names = [s["metadata"]["name"] for s in build_services(parse_canary(obj), TARGET)]
    assert names == ["frontend", "frontend-primary", "frontend-canary"]


def test_apex_metadata_goes_on_the_apex_service_and_the_traefik_service():
    """As in Flagger's Traefik router: spec.service.apex labels and annotations on both."""
    obj = yaml.safe_load(SEED_CANARY)
    obj["spec"]["service"]["apex"] = {"labels": {"test": "test-label"},
                                      "annotations": {"test": "test-annotation"}}
    canary = parse_canary(obj)
    services = {s["metadata"]["name"]: s for s in build_services(canary, TARGET)}
    assert services["podinfo"]["metadata"]["labels"] == {"app": "podinfo", "test": "test-label"}
    flux = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled",
            "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
    assert services["podinfo"]["metadata"]["annotations"] == dict(flux, test="test-annotation")
    # Flagger's keys go on every generated Service and always win over the Canary's.
    assert services["podinfo-canary"]["metadata"]["annotations"] == flux
    route = Route.for_canary(canary)
    body = build_traefik_service(route.name, "test", "traefik.io/v1alpha1", {"weighted": {}},
                                 route.labels, route.annotations)
    assert body["metadata"] == {"name": "podinfo", "namespace": "test", "labels": {"test": "test-label"},
                                "annotations": dict(flux, test="test-annotation")}
    assert Route.for_canary(parse_canary(yaml.safe_load(SEED_CANARY))).labels == {}


def test_primary_hpa_scales_the_primary_with_overrides():
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "podinfo", "namespace": "test", "uid": "u"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "podinfo"}, "minReplicas": 2, "maxReplicas": 4}}
    clone = build_primary_hpa(hpa, "podinfo-primary", {"maxReplicas": 8})
    assert clone["metadata"]["name"] == "podinfo-primary"
    assert clone["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert clone["spec"]["maxReplicas"] == 8 and clone["spec"]["minReplicas"] == 2
    assert hpa["spec"]["scaleTargetRef"]["name"] == "podinfo"


def test_owner_reference_only_when_the_canary_exists():
    assert owner_reference(None) is None
    ref = owner_reference({"metadata": {"name": "podinfo", "uid": "abc"}})
    assert ref["kind"] == "Canary" and ref["uid"] == "abc" and ref["controller"] is True


@pytest.mark.parametrize("revision,status,expected", [
    ("r2", {"phase": "Succeeded", "lastPromotedSpec": "r1", "lastAppliedSpec": "r1"},
     (True, False, False)),
    ("r1", {"phase": "Succeeded", "lastPromotedSpec": "r1", "lastAppliedSpec": "r1"},
     (False, False, False)),
    ("r2", {"phase": "Progressing", "lastPromotedSpec": "r1", "lastAppliedSpec": "r2"},
     (False, True, False)),
    ("r3", {"phase": "Progressing", "lastPromotedSpec": "r1", "lastAppliedSpec": "r2"},
     (True, False, False)),
    ("r2", {"phase": "Failed", "lastPromotedSpec": "r1", "lastAppliedSpec": "r2"},
     (False, False, True)),
    ("r2", {}, (False, False, False)),
])
def test_release_decision(revision, status, expected):
    assert release_decision(revision, status) == expected


def test_canary_source_needs_exactly_one_way_of_naming_the_canary(tmp_path):
    with pytest.raises(InvalidInput, match="give the Canary as canary_file"):
        resolve_canary({}, lambda ns, name: None)
    path = tmp_path / "two.yaml"
    path.write_text(SEED_CANARY + "\n---\n" + SEED_CANARY)
    with pytest.raises(InvalidInput, match="exactly one Canary document; found 2"):
        resolve_canary({"canary_file": str(path)}, lambda ns, name: None)
    path.write_text("kind: ConfigMap\n---\n" + SEED_CANARY)
    canary, manifest, source, obj = resolve_canary({"canary_file": str(path)},
                                                   lambda ns, name: None)
    assert source == "file" and canary["name"] == "podinfo" and obj is None
    assert manifest["kind"] == "Canary"
