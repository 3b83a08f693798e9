"""canary_weight against the sandbox: real API writes, real Traefik routing."""
from pdtest.apps import deploy_pair
from pdtest.manifests import host_for, traefik_service
from pdtest.playbooks import run_tasks

from traffic_world import get, resource_versions, weights_of

import yaml


def weight_task(namespace, weight, **extra):
    args = {"name": "podinfo", "namespace": namespace, "weight": weight}
    args.update(extra)
    return {"name": "set weight", "progressive.delivery.canary_weight": args, "register": "result"}


def test_sets_70_30_idempotently_and_traefik_splits_traffic_700_300(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, primary_version="1.0.0", canary_version="2.0.0")

    rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 30)])
    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["changed"] is True
    assert results[0]["weights"] == {"primary": 70, "canary": 30}
    assert results[0]["previous"] == {"primary": 100, "canary": 0}
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {
        "podinfo-primary": 70, "podinfo-canary": 30}

    rc, again, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 30)])
    assert rc == 0 and again[0]["changed"] is False
    assert again[0]["previous"] == {"primary": 70, "canary": 30}

    sandbox.wait_for_weights(namespace, "podinfo", {"podinfo-primary": 70, "podinfo-canary": 30})
    split = sandbox.traffic_split(host_for(namespace), 1000)
    assert abs(split["1.0.0"] - 700) <= 10, split
    assert abs(split["2.0.0"] - 300) <= 10, split
    assert split["1.0.0"] + split["2.0.0"] == 1000, split


def test_check_mode_predicts_the_change_and_writes_nothing(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)
    before = resource_versions(sandbox, namespace)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 40)], check=True)

    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["changed"] is True
    assert results[0]["weights"] == {"primary": 60, "canary": 40}
    assert resource_versions(sandbox, namespace) == before
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {"podinfo-primary": 100}


def test_diff_shows_weights_before_and_after(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights={"podinfo-primary": 90, "podinfo-canary": 10})
    task = weight_task(namespace, 50)
    task["diff"] = True

    rc, results, _stats = run_tasks(sandbox, tmp_path, [task])

    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["diff"]["before"] == {"weights": {"primary": 90, "canary": 10}}
    assert results[0]["diff"]["after"] == {"weights": {"primary": 50, "canary": 50}}


def test_weight_zero_removes_the_canary_entry_and_all_traffic_reaches_primary(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights={"podinfo-primary": 50, "podinfo-canary": 50})

    rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 0)])

    assert rc == 0 and results[0]["weights"] == {"primary": 100, "canary": 0}
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {"podinfo-primary": 100}
    sandbox.wait_for_weights(namespace, "podinfo", {"podinfo-primary": 100})
    assert sandbox.traffic_split(host_for(namespace), 50) == {"1.0.0": 50}


def test_creates_the_traefik_service_when_asked(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, with_traefik_service=False)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 20, create=True, port=80)])

    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["changed"] is True and results[0]["created"] is True
    assert results[0]["previous"] is None
    created = get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")
    assert weights_of(created) == {"podinfo-primary": 80, "podinfo-canary": 20}
    assert {s["port"] for s in created["spec"]["weighted"]["services"]} == {80}


def test_traefik_v2_api_group_is_handled(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, with_traefik_service=False)
    sandbox.apply(yaml.safe_dump(traefik_service("traefik.containo.us/v1alpha1", {"podinfo-primary": 100})),
                  namespace=namespace)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        weight_task(namespace, 30, api_version="traefik.containo.us/v1alpha1")])

    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["api_version"] == "traefik.containo.us/v1alpha1"
    v2 = get(sandbox, namespace, "traefikservices.traefik.containo.us", "podinfo")
    assert weights_of(v2) == {"podinfo-primary": 70, "podinfo-canary": 30}
    assert get(sandbox, namespace, "traefikservices.traefik.io", "podinfo") is None


def test_auto_detection_prefers_the_traefik_io_group(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 10)])

    assert rc == 0 and results[0]["api_version"] == "traefik.io/v1alpha1"


def test_write_survives_conflicts_by_rereading(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)
    sandbox.set_faults(conflict_rate=0.5, paths="traefikservices")
    try:
        rc, results, _stats = run_tasks(sandbox, tmp_path, [weight_task(namespace, 25)])
    finally:
        sandbox.clear_faults()

    assert rc == 0, [r.get("msg") for r in results]
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {
        "podinfo-primary": 75, "podinfo-canary": 25}


def test_one_module_defaults_group_configures_this_collection_and_kubernetes_core(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)
    # A context that does not exist makes every task that received the defaults fail, naming it.
    task = weight_task(namespace, 15)
    task["ignore_errors"] = True
    info = {"kubernetes.core.k8s_info": {"kind": "Service", "namespace": namespace}, "ignore_errors": True}
    block = {"block": [task, info],
             "module_defaults": {"group/progressive.delivery.k8s": {"context": "no-such-context"}}}

    rc, results, _stats = run_tasks(sandbox, tmp_path, [block])

    assert results[0].get("failed") and "no-such-context" in results[0]["msg"], results[0]
    assert results[1].get("failed") and "no-such-context" in results[1]["msg"], results[1]
    assert weights_of(get(sandbox, namespace, "traefikservices.traefik.io", "podinfo")) == {"podinfo-primary": 100}
