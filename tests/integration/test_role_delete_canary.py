"""Deleting a Canary with the role's delete entry point, as Flagger's finalizer does.

The app's own Service `podinfo` exists before the Canary (so the Canary does not own it) and the
IngressRoute sends its host to that Service. After initialisation the Service selects the primary's
pods and the target runs none. With `spec.revertOnDeletion` the delete entry point gives the app
back: the target runs the primary's replicas again, the Service selects the target's pods, and the
Canary goes with everything it owns. Without it the Canary is only deleted, as in Flagger.
"""
from collections import Counter

import pytest
import requests
import yaml

from pdtest.apps import deploy_podinfo
from pdtest.manifests import fast_canary, host_for, service, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import canary_events, get_json, wait_until


def route_to_service(namespace):
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
        "metadata": {"name": "podinfo"},
        "spec": {"entryPoints": ["web"], "routes": [{
            "match": f"Host(`{host_for(namespace)}`)", "kind": "Rule",
            "services": [{"name": "podinfo", "kind": "Service", "port": 80}]}]},
    }


def pods_answering(sandbox, namespace, n=60):
    """Which pods (by hostname) answered ``n`` requests through Traefik; failures by status."""
    seen = Counter()
    with requests.Session() as session:
        for _request in range(n):
            try:
                resp = session.get(sandbox.traefik_url + "/", headers={"Host": host_for(namespace)}, timeout=5)
            except requests.RequestException as exc:
                seen[f"error {exc.__class__.__name__}"] += 1
                continue
            seen[resp.json()["hostname"] if resp.status_code == 200 else f"HTTP {resp.status_code}"] += 1
    return seen


def answered_only_by(sandbox, namespace, pods, n=20):
    """A check for wait_until: the answers to ``n`` requests when every one came from ``pods``."""
    def check():
        seen = pods_answering(sandbox, namespace, n)
        return seen if set(seen) <= pods else None
    return check


def pod_names(sandbox, namespace, app):
    pods = get_json(sandbox, namespace, "pods", "-l", f"app={app}")["items"]
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def names_of(sandbox, namespace, kind):
    return {item["metadata"]["name"] for item in get_json(sandbox, namespace, kind)["items"]}


def delete(sandbox, namespace, **extra):
    return run_playbook(sandbox, "delete.yml",
                        extra_vars=dict(canary_name="podinfo", canary_namespace=namespace, **extra))


def initialised_app(sandbox, namespace, tmp_path, revert):
    deploy_podinfo(sandbox, namespace, ingress=False)
    sandbox.apply(yaml.safe_dump_all([service("podinfo", "podinfo"), route_to_service(namespace)]),
                  namespace=namespace)
    canary = fast_canary(namespace, revertOnDeletion=revert)
    done = run_playbook(sandbox, extra_vars={"canary_file": str(write_canary(tmp_path, canary))})
    assert done.returncode == 0, done.stdout[-3000:]
    assert get_json(sandbox, namespace, "service", "podinfo")["spec"]["selector"] == {"app": "podinfo-primary"}
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    primary_pods = pod_names(sandbox, namespace, "podinfo-primary")
    answered = wait_until(answered_only_by(sandbox, namespace, primary_pods), timeout=30,
                          what="only the primary answering")
    assert sum(answered.values()) == 20
    return get_json(sandbox, namespace, "deployment", "podinfo-primary")["spec"]["replicas"]


@pytest.mark.parametrize("by_extra_var", [False, True], ids=["spec-revertOnDeletion", "canary_revert_on_deletion"])
def test_revert_on_deletion_gives_the_app_back_to_its_target_and_removes_what_the_canary_owns(
        sandbox, namespace, tmp_path, by_extra_var):
    primary_replicas = initialised_app(sandbox, namespace, tmp_path, revert=not by_extra_var)

    done = delete(sandbox, namespace, **({"canary_revert_on_deletion": True} if by_extra_var else {}))

    assert done.returncode == 0, done.stdout[-3000:]
    # The target runs the primary's replicas again and the app's own Service selects its pods.
    target = get_json(sandbox, namespace, "deployment", "podinfo")
    assert target["spec"]["replicas"] == primary_replicas >= 1
    assert target["status"].get("availableReplicas") == primary_replicas
    assert get_json(sandbox, namespace, "service", "podinfo")["spec"]["selector"] == {"app": "podinfo"}
    # The Canary is gone, and with it everything it owned; the Service it did not own stays.
    assert "podinfo" not in names_of(sandbox, namespace, "canaries.flagger.app")
    assert "podinfo-primary" not in names_of(sandbox, namespace, "deployments")
    assert names_of(sandbox, namespace, "services") == {"podinfo"}
    assert not names_of(sandbox, namespace, "traefikservices.traefik.io")
    assert names_of(sandbox, namespace, "horizontalpodautoscalers") == {"podinfo"}
    assert "Terminating canary podinfo." + namespace in canary_events(sandbox, namespace)
    # Users are answered by the target's pods, through the same route.
    target_pods = pod_names(sandbox, namespace, "podinfo")
    answered = wait_until(answered_only_by(sandbox, namespace, target_pods), timeout=30,
                          what="only the target answering")
    assert sum(answered.values()) == 20

    # Running it again finds nothing to do and changes nothing.
    again = delete(sandbox, namespace)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "is not in the cluster; nothing was changed" in again.stdout
    assert "changed=0" in again.stdout


def test_without_revert_on_deletion_the_canary_is_only_deleted_as_in_flagger(sandbox, namespace, tmp_path):
    initialised_app(sandbox, namespace, tmp_path, revert=False)

    done = delete(sandbox, namespace)

    assert done.returncode == 0, done.stdout[-3000:]
    assert "podinfo" not in names_of(sandbox, namespace, "canaries.flagger.app")
    assert "podinfo-primary" not in names_of(sandbox, namespace, "deployments")
    assert not names_of(sandbox, namespace, "traefikservices.traefik.io")
    # Nothing was reverted: the target stays at zero and the Service still selects the (gone) primary.
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert get_json(sandbox, namespace, "service", "podinfo")["spec"]["selector"] == {"app": "podinfo-primary"}
    assert not any(m.startswith("Terminating canary") for m in canary_events(sandbox, namespace))
