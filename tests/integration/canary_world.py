"""A canary halfway through its analysis, for the webhook, analysis and alert module tests.

On top of the primary/canary pair (split 50/50 by the weighted TraefikService) come Flagger's
loadtester and the Canary registered in the cluster; everything is made with kubectl, so these
tests exercise only the modules under test.
"""
import yaml

from pdtest.apps import deploy_pair, install_crds, loadtester_docs
from pdtest.manifests import analysis, canary
from pdtest.playbooks import run_tasks
from pdtest.sandbox import get_json

HALF = {"podinfo-primary": 50, "podinfo-canary": 50}


def canary_manifest(namespace, *, threshold=2, metrics=None, webhooks=None):
    return canary(namespace, analysis(interval="5s", threshold=threshold, max_weight=50, step_weight=10,
                                      metrics=metrics, metric_interval="10s", webhooks=webhooks or []))


def build_world(sandbox, namespace, canary_doc, *, loadtester=True, canary_env=None):
    install_crds(sandbox)
    extra = loadtester_docs(namespace) if loadtester else ()
    deploy_pair(sandbox, namespace, primary_version="4.0.5", canary_version="4.0.6",
                canary_env=canary_env, weights=HALF, extra_docs=extra)
    if loadtester:
        sandbox.wait_for_rollout(namespace, "flagger-loadtester")
    sandbox.apply(yaml.safe_dump(canary_doc), namespace=namespace)


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
    returncode, results, _stats = run_tasks(sandbox, tmp_path, [task], check=check)
    result = results[0]
    return (1 if result.get("failed") else returncode), result


def describe_canary(sandbox, namespace):
    return sandbox.kubectl("-n", namespace, "describe", "canary/podinfo").stdout


def canary_service_series(namespace):
    return f'traefik_service_requests_total{{service="{namespace}-podinfo-canary-80@kubernetescrd"}}'
