"""The collection runs with the least privilege it ships (rbac/); a run
that lacks one permission stops before its first write, naming the verb and the resource."""
import copy
from pathlib import Path

import yaml

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import get_json

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [yaml.safe_load(path.read_text()) for path in sorted((ROOT / "rbac").glob("*.yaml"))]
WATCHED = [("deployment", "podinfo"), ("deployment", "podinfo-primary"), ("service", "podinfo"),
           ("service", "podinfo-primary"), ("service", "podinfo-canary"),
           ("traefikservices.traefik.io", "podinfo"), ("canary", "podinfo")]


def without(verb, resource):
    """The shipped ClusterRole's rules less one verb on one resource."""
    role = copy.deepcopy(next(d for d in SHIPPED if d["kind"] == "ClusterRole"))
    for rule in role["rules"]:
        if resource in rule["resources"] and verb in rule["verbs"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    return role["rules"]


def limited_kubeconfig(sandbox, namespace, tmp_path, rules):
    """A ServiceAccount of the namespace with `rules`, and a kubeconfig that uses its token."""
    sandbox.apply(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "limited"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "limited"},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "limited"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "limited"},
         "subjects": [{"kind": "ServiceAccount", "name": "limited", "namespace": namespace}]},
    ]), namespace=namespace)
    token = sandbox.kubectl("-n", namespace, "create", "token", "limited", "--duration=1h").stdout.strip()
    path = tmp_path / "limited.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "limited",
        "clusters": [{"name": "sandbox", "cluster": {"server": sandbox.api_url}}],
        "users": [{"name": "limited", "user": {"token": token}}],
        "contexts": [{"name": "limited", "context": {"cluster": "sandbox", "user": "limited",
                                                     "namespace": namespace}}],
    }))
    return path


def versions(sandbox, namespace):
    return {f"{kind}/{name}": get_json(sandbox, namespace, kind, name)["metadata"]["resourceVersion"]
            for kind, name in WATCHED}


def test_a_release_runs_as_the_shipped_service_account_and_one_missing_permission_stops_it_unchanged(
        sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, fast_canary(namespace))
    # The initialising run uses the shipped ServiceAccount (the suite's default identity).
    first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    assert first.returncode == 0, first.stdout[-4000:]

    kubeconfig = limited_kubeconfig(sandbox, namespace, tmp_path, without("update", "traefikservices"))
    set_image(sandbox, namespace, "4.0.6")
    before = versions(sandbox, namespace)

    refused = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, kubeconfig=kubeconfig)

    assert refused.returncode != 0
    assert f"system:serviceaccount:{namespace}:limited may not update traefikservices.traefik.io" in refused.stdout, \
        refused.stdout[-3000:]
    assert "nothing was changed" in refused.stdout
    assert versions(sandbox, namespace) == before
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert not get_json(sandbox, namespace, "leases")["items"]
    assert versions_through_traefik(sandbox, namespace, 50) == {"4.0.5": 50}

    # With every permission back, the same release goes through.
    granted = limited_kubeconfig(sandbox, namespace, tmp_path, without("nothing", "nothing"))
    load = Load(sandbox, namespace, rps=30)
    try:
        released = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, kubeconfig=granted)
    finally:
        load.stop()
    assert released.returncode == 0, released.stdout[-4000:]
    assert versions_through_traefik(sandbox, namespace, 50) == {"4.0.6": 50}
