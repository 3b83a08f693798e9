"""Real Traefik routes by the TraefikService weights stored in the API server, and quickly."""

import pytest
from _manifests import ingressroute, join, podinfo_deployment, service, weighted_traefikservice
from kubernetes import config, dynamic
from kubernetes.client import Configuration, api_client


@pytest.fixture(scope="module")
def split_app(sandbox):
    ns = "traffic-split"
    host = "split.example.com"
    sandbox.kubectl("create", "namespace", ns)
    sandbox.apply(join(
        podinfo_deployment("podinfo-primary", image="stefanprodan/podinfo:3.1.0", replicas=1),
        podinfo_deployment("podinfo-canary", image="stefanprodan/podinfo:4.0.6", replicas=1),
        service("podinfo-primary"), service("podinfo-canary"),
        weighted_traefikservice("podinfo", {"podinfo-primary": 80, "podinfo-canary": 20}),
        ingressroute("podinfo", host, "podinfo"),
    ), namespace=ns)
    sandbox.wait_for_rollout(ns, "podinfo-primary")
    sandbox.wait_for_rollout(ns, "podinfo-canary")
    sandbox.wait_for_weights(ns, "podinfo", {"podinfo-primary": 80, "podinfo-canary": 20})
    sandbox.wait_for_versions(host, ["3.1.0", "4.0.6"])
    try:
        yield ns, host
    finally:
        sandbox.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def traefikservices(sandbox):
    cfg = Configuration()
    config.load_kube_config(config_file=sandbox.kubeconfig, client_configuration=cfg)
    client = dynamic.DynamicClient(api_client.ApiClient(configuration=cfg))
    return client.resources.get(api_version="traefik.io/v1alpha1", kind="TraefikService")


def test_weights_80_20_split_1000_requests_within_one_point(sandbox, split_app):
    ns, host = split_app
    counts = sandbox.traffic_split(host, 1000)
    assert counts["3.1.0"] + counts["4.0.6"] == 1000, counts
    assert 190 <= counts["4.0.6"] <= 210, counts


def test_a_weight_change_through_the_api_goes_live_in_traefik(sandbox, split_app, traefikservices):
    # How fast it goes live is measured by scripts/bench_sandbox_weights.py, not asserted here.
    ns, host = split_app
    body = {"spec": {"weighted": {"services": [
        {"name": "podinfo-primary", "port": 80, "weight": 50},
        {"name": "podinfo-canary", "port": 80, "weight": 50},
    ]}}}
    traefikservices.patch(name="podinfo", namespace=ns, body=body, content_type="application/merge-patch+json")
    sandbox.wait_for_weights(ns, "podinfo", {"podinfo-primary": 50, "podinfo-canary": 50}, timeout=5.0)
    counts = sandbox.traffic_split(host, 200)
    # Weighted round robin is exact over whole rounds; a request in flight while Traefik swaps its
    # configuration may still take the old turn.
    assert set(counts) == {"3.1.0", "4.0.6"} and abs(counts["4.0.6"] - 100) <= 2, counts
