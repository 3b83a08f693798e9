"""The statistical judge on the sandbox: real Traefik metrics of a canary and its primary, taken
from the real Prometheus as range queries, compared by canary_analysis and by metric_check.

One world for the file: the primary, a canary answering 30 ms slower (the Canary's), and a twin of
the primary behind a Service of its own, all three under steady load through one TraefikService.
"""
import pytest
import yaml

from pdtest.apps import deploy_pair, install_crds
from pdtest.load import Load
from pdtest.manifests import deployment, service
from pdtest.playbooks import run_tasks
from pdtest.sandbox import canary_events, prometheus_query_count, wait_for_series

from canary_world import canary_manifest, canary_service_series, canary_status
from traffic_world import scratch_namespace

ANALYSIS = "progressive.delivery.canary_analysis"
CHECK = "progressive.delivery.metric_check"
# Each value covers 2 s (twice the sandbox's scrape interval); 20 s windows give about ten.
WINDOW = "20s"
COMPARE = {"direction": "higher-is-worse", "max_ratio": 1.5, "resolution": "2s"}
WEIGHTS = {"podinfo-primary": 40, "podinfo-canary": 30, "podinfo-twin": 30}


def judged_metrics():
    """The article's thresholds, plus a comparison of the same p99 duration with the primary's."""
    return [
        {"name": "request-success-rate", "interval": WINDOW, "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": WINDOW, "thresholdRange": {"max": 500},
         "compare": {"direction": "higher-is-worse", "maxRatio": 1.5, "resolution": "2s"}},
    ]


@pytest.fixture(scope="module")
def world(sandbox):
    name, delete_namespace = scratch_namespace(sandbox, "judge")
    running = None
    try:
        install_crds(sandbox)
        # 30 ms more per answer: far below the 500 ms p99 threshold, many times the primary's p99.
        deploy_pair(sandbox, name, primary_version="4.0.5", canary_version="4.0.6",
                    canary_env={"SANDBOX_LATENCY": "0.03"}, weights=WEIGHTS,
                    extra_docs=[deployment("podinfo-twin", "podinfo-twin", "4.0.5"),
                                service("podinfo-twin", "podinfo-twin")])
        sandbox.wait_for_rollout(name, "podinfo-twin")
        sandbox.apply(yaml.safe_dump(canary_manifest(name, metrics=judged_metrics())), namespace=name)
        running = Load(sandbox, name, rps=30, seconds=600)
        # A whole window of values before the first comparison.
        wait_for_series(sandbox, canary_service_series(name), samples=20)
        yield name
    finally:
        if running is not None:
            running.stop()
        delete_namespace()


def compare_task(namespace, **extra):
    args = {"namespace": namespace, "service": "podinfo", "port": 80, "interval": WINDOW,
            "metric": "request-duration", "compare": dict(COMPARE)}
    args.update(extra)
    return {"name": "compare", CHECK: args}


def range_queries(sandbox):
    return prometheus_query_count(sandbox, with_range=True) - prometheus_query_count(sandbox)


def test_a_slower_canary_is_caught_by_the_comparison_while_the_thresholds_pass_it(
        sandbox, world, tmp_path):
    namespace = world
    before = range_queries(sandbox)

    rc, (analysed, threshold, compared), _stats = run_tasks(sandbox, tmp_path, [
        # One tick at the current weights (the world has a whole window of values).
        {"name": "analyse",
         ANALYSIS: {"name": "podinfo", "namespace": namespace, "weight": 30, "wait": 2}},
        {"name": "threshold only",
         CHECK: {"namespace": namespace, "service": "podinfo", "port": 80, "interval": WINDOW,
                 "metric": "request-duration", "threshold_range": {"max": 500}}},
        compare_task(namespace),
    ])

    assert rc == 0, (analysed, threshold, compared)
    # One range query per Service per comparison: two for the tick, two for metric_check.
    assert range_queries(sandbox) - before == 4
    assert all(m["passed"] for m in analysed["metrics"]), analysed["metrics"]
    assert threshold["passed"] is True and threshold["value"] < 500
    [comparison] = analysed["comparisons"]
    assert comparison["verdict"] == "high", comparison
    assert comparison["p_value"] < 0.05
    assert comparison["effect_size"] > 1.5
    assert comparison["canary_samples"] >= 5 and comparison["primary_samples"] >= 5
    assert analysed["judge"]["score"] == 0 and analysed["judge"]["outcome"] == "fail"
    assert analysed["passed"] is False and analysed["failed_checks"] == 1
    assert canary_status(sandbox, namespace)["failedChecks"] == 1
    halts = [e for e in canary_events(sandbox, namespace) if e.startswith("Halt ")]
    assert len(halts) == 1
    assert halts[0].startswith(f"Halt podinfo.{namespace} advancement judge score 0 < 75; "
                               "comparison request-duration: high (p-value ")
    assert "effect " in halts[0]
    # The same comparison standalone: the same verdict and fields.
    assert compared["verdict"] == "high" and compared["passed"] is False
    assert compared["p_value"] < 0.05 and compared["effect_size"] > 1.5
    assert set(compared["queries"]) == {"canary", "primary"}
    assert f'service="{namespace}-podinfo-canary-80@kubernetescrd"' in compared["queries"]["canary"]
    assert f'service="{namespace}-podinfo-primary-80@kubernetescrd"' in compared["queries"]["primary"]
    assert "[2s]" in compared["queries"]["canary"]


def test_a_canary_identical_to_the_primary_passes_the_comparison(sandbox, world, tmp_path):
    rc, [compared], _stats = run_tasks(sandbox, tmp_path, [
        # A twin measured on a busy machine may differ by a few milliseconds, significantly: the
        # allowed effect, not the p-value, is what lets an identical revision pass.
        compare_task(world, canary_service="podinfo-twin", compare=dict(COMPARE, max_ratio=3.0))])

    assert rc == 0, compared
    assert compared["verdict"] == "pass", compared
    assert compared["passed"] is True
    assert compared["canary_samples"] >= 5 and compared["primary_samples"] >= 5
    assert f'service="{world}-podinfo-twin-80@kubernetescrd"' in compared["queries"]["canary"]


def test_a_comparison_without_data_does_not_pass(sandbox, world, tmp_path):
    # The apex Service gets no traffic through Traefik (the TraefikService routes to the other
    # three), so it has no series in Prometheus.
    rc, [compared], _stats = run_tasks(sandbox, tmp_path, [
        compare_task(world, canary_service="podinfo")])

    assert rc == 0, compared
    assert compared["verdict"] == "no_data" and compared["passed"] is False
    assert compared["canary_samples"] == 0 and compared["primary_samples"] >= 5
    assert compared["p_value"] is None
    assert "no data: 0 canary and" in compared["msg"]
