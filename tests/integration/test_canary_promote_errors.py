"""canary_promote checks everything it can before its first write."""
import pytest
import yaml

from pdtest.apps import deploy_pair
from pdtest.manifests import mirroring_traefik_service
from pdtest.playbooks import run_tasks

from traffic_world import assert_failed_without_changes, scratch_namespace


def _deployment(name, app, replicas=0, env=None):
    container = {"name": "app", "image": "stefanprodan/podinfo:3.0.0"}
    if env:
        container["env"] = env
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}}}}


@pytest.fixture(scope="module")
def world(sandbox):
    namespace, delete = scratch_namespace(sandbox, "cp-bad")
    try:
        deploy_pair(sandbox, namespace, weights={"podinfo-primary": 70, "podinfo-canary": 30})
        missing_config = [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "absent-config", "key": "x"}}}]
        sandbox.apply(yaml.safe_dump_all([
            _deployment("lonely", "lonely"),
            _deployment("needsconfig", "needsconfig", env=missing_config),
            _deployment("needsconfig-primary", "needsconfig-primary"),
            mirroring_traefik_service("mirrored"),
        ]), namespace=namespace)
        yield namespace
    finally:
        delete()


CASES = [
    ("missing-canary", {"name": "ghost"}, ["Deployment {ns}/ghost (canary) not found"]),
    ("missing-primary", {"name": "lonely"}, ["Deployment {ns}/lonely-primary (primary) not found", "initialise"]),
    ("missing-configmap", {"name": "needsconfig"},
     ["ConfigMap {ns}/absent-config, referenced by the canary's pod template, not found"]),
    ("not-weighted-traefik-service", {"traefik_service": "mirrored"},
     ["TraefikService {ns}/mirrored is not of kind weighted"]),
    ("timeout-zero", {"timeout": 0}, ["timeout must be a positive number of seconds", "0"]),
    ("invalid-namespace", {"namespace": "Not_A_Namespace"}, ["namespace must be a DNS label", "'Not_A_Namespace'"]),
]


@pytest.mark.parametrize("args, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_write(sandbox, world, tmp_path, args, expected):
    task_args = {"name": "podinfo", "namespace": world, "timeout": 30}
    task_args.update(args)

    def run():
        rc, results, _stats = run_tasks(sandbox, tmp_path, [{"progressive.delivery.canary_promote": task_args}])
        return rc, results

    assert_failed_without_changes(sandbox, world, run, [e.format(ns=world) for e in expected])
