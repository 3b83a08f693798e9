"""Prometheus scrapes real Traefik: Flagger's built-in Traefik queries return real values."""
import subprocess
import time

import pytest
from _manifests import ingressroute, join, podinfo_deployment, service, weighted_traefikservice

NS = "metrics"
HOST = "metrics.example.com"


def success_rate_query(ns, svc, window="30s"):
    selector = f'service=~"{ns}-{svc}-[0-9a-zA-Z-]+@kubernetescrd"'
    return (f'sum(rate(traefik_service_requests_total{{{selector},code!~"5.."}}[{window}])) / '
            f'sum(rate(traefik_service_requests_total{{{selector}}}[{window}])) * 100')


def p99_query(ns, svc, window="30s"):
    selector = f'service=~"{ns}-{svc}-[0-9a-zA-Z-]+@kubernetescrd"'
    return (f"histogram_quantile(0.99, sum(rate(traefik_service_request_duration_seconds_bucket{{{selector}}}[{window}])) "
            f"by (le)) * 1000")


def scalar(sandbox, query, timeout=15.0):
    """The single value of an instant query, waiting for data to appear (scrapes are every second)."""
    deadline = time.monotonic() + timeout
    while True:
        result = sandbox.prometheus_query(query)
        if result and result[0]["value"][1] not in ("NaN", "+Inf"):
            return float(result[0]["value"][1])
        if time.monotonic() > deadline:
            raise AssertionError(f"no data for {query}: {result}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def canary_with_failures(sandbox):
    sandbox.kubectl("create", "namespace", NS)
    sandbox.apply(join(
        podinfo_deployment("podinfo-primary", image="stefanprodan/podinfo:3.1.0", replicas=1),
        podinfo_deployment("podinfo-canary", image="stefanprodan/podinfo:4.0.6", replicas=1,
                           env={"SANDBOX_FAIL_RATE": "0.1", "SANDBOX_LATENCY": "0.02"}),
        service("podinfo-primary"), service("podinfo-canary"),
        weighted_traefikservice("podinfo", {"podinfo-primary": 50, "podinfo-canary": 50}),
        ingressroute("podinfo", HOST, "podinfo"),
    ), namespace=NS)
    sandbox.wait_for_rollout(NS, "podinfo-primary")
    sandbox.wait_for_rollout(NS, "podinfo-canary")
    sandbox.wait_for_weights(NS, "podinfo", {"podinfo-primary": 50, "podinfo-canary": 50})
    sandbox.wait_for_versions(HOST, ["3.1.0", "4.0.6"], n=20)
    # About 1200 requests over 6 s: enough for a 10% failure share to read within a few points.
    subprocess.run(["hey", "-z", "6s", "-c", "4", "-q", "50", "-host", HOST, sandbox.traefik_url + "/"],
                   check=True, capture_output=True, timeout=60)
    time.sleep(2.0)  # two more scrapes, so the last requests are in Prometheus
    try:
        yield
    finally:
        sandbox.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_success_rate_of_a_canary_failing_10_percent_reads_near_90(sandbox, canary_with_failures):
    rate = scalar(sandbox, success_rate_query(NS, "podinfo-canary"))
    assert 84.0 <= rate <= 96.0, rate


def test_success_rate_of_a_healthy_primary_reads_100(sandbox, canary_with_failures):
    assert scalar(sandbox, success_rate_query(NS, "podinfo-primary")) == 100.0


def test_p99_latency_reflects_the_injected_delay(sandbox, canary_with_failures):
    canary = scalar(sandbox, p99_query(NS, "podinfo-canary"))
    primary = scalar(sandbox, p99_query(NS, "podinfo-primary"))
    # 20 ms added per canary request: its p99 falls in the 25 ms bucket or above, never near zero.
    assert 20.0 <= canary <= 1000.0, canary
    assert 0.0 < primary <= 1000.0, primary
