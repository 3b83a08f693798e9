"""A canary halfway through its analysis, for the webhook, analysis and alert module tests.

On top of traffic_world's primary/canary pair (split 50/50 by the weighted TraefikService) come
Flagger's loadtester and the Canary registered in the cluster; everything is made with kubectl, so
these tests exercise only the modules under test.
"""
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from lifecycle import get_json, load_manifests
from lifecycle import install_crds
from module_runner import run_tasks
from traffic_world import deploy_pair

# Webhook and alert receivers on 127.0.0.1 are the unit tests' recorder; one implementation.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from http_recorder import RecordingServer  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["RecordingServer", "acceptance_hook", "build_world", "canary_manifest",
           "canary_service_series", "canary_status", "describe_canary", "prometheus_query_count",
           "run_task", "wait_for_series"]

HALF = {"podinfo-primary": 50, "podinfo-canary": 50}


def canary_manifest(namespace, *, threshold=2, metrics=None, webhooks=None):
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "traefik",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 80, "targetPort": 9898},
            "analysis": {
                "interval": "5s",
                "threshold": threshold,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": metrics if metrics is not None else [
                    {"name": "request-success-rate", "interval": "10s",
                     "thresholdRange": {"min": 99}},
                    {"name": "request-duration", "interval": "10s",
                     "thresholdRange": {"max": 500}},
                ],
                "webhooks": webhooks or [],
            },
        },
    }


def acceptance_hook(namespace, grep="token"):
    """The article's acceptance test, pointed at this namespace."""
    return {"name": "acceptance-test", "type": "pre-rollout",
            "url": f"http://flagger-loadtester.{namespace}/", "timeout": "10s",
            "metadata": {"type": "bash",
                         "cmd": f"curl -sd 'test' http://podinfo-canary.{namespace}/token | grep {grep}"}}


def build_world(sandbox, namespace, canary, *, loadtester=True, canary_env=None):
    install_crds(sandbox)
    extra = load_manifests(["loadtester-deployment.yaml", "loadtester-service.yaml"], namespace) if loadtester else ()
    deploy_pair(sandbox, namespace, primary_version="4.0.5", canary_version="4.0.6",
                canary_env=canary_env, weights=HALF, extra_docs=extra)
    if loadtester:
        sandbox.wait_for_rollout(namespace, "flagger-loadtester")
    sandbox.apply(yaml.safe_dump(canary), namespace=namespace)


def canary_status(sandbox, namespace):
    return get_json(sandbox, namespace, "canary", "podinfo").get("status") or {}


def run_task(sandbox, tmp_path, module, args, *, loop=None, check=False):
    """Run one task of ``module``; returns ``(returncode, result)``.

    ``loop`` adds task keywords such as ``until``/``retries``/``delay``; the task registers
    ``result`` for them.
    """
    task = {"name": "task under test", module: args, "register": "result",
            "ignore_errors": True}
    task.update(loop or {})
    returncode, results, stats = run_tasks(sandbox, tmp_path, [task], check=check)
    result = results[0]
    return (1 if result.get("failed") else returncode), result


def wait_for_series(sandbox, query, timeout=30, samples=3):
    """Wait until Prometheus returns a series for ``query`` that has seen ``samples`` scrapes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sandbox.prometheus_query(query)
        if found:
            count = sandbox.prometheus_query(f"count_over_time(({query})[30s:1s])")
            if count and float(count[0]["value"][1]) >= samples:
                return found
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no series for {query} after {timeout}s")


def describe_canary(sandbox, namespace):
    return sandbox.kubectl("-n", namespace, "describe", "canary/podinfo").stdout


def prometheus_query_count(sandbox):
    """How many instant queries Prometheus has answered, from its own /metrics."""
    with urllib.request.urlopen(sandbox.prometheus_url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def canary_service_series(namespace):
    return f'traefik_service_requests_total{{service="{namespace}-podinfo-canary-80@kubernetescrd"}}'
