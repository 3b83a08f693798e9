"""The Python `kubernetes` DynamicClient against the emulated API."""
from __future__ import annotations

import threading
import time

import pytest
from kubernetes import config, dynamic
from kubernetes.client import Configuration, api_client
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

from _api_harness import api_server  # noqa: F401  (pytest fixture)


@pytest.fixture
def client(api_server):
    configuration = Configuration()
    config.load_kube_config(config_file=str(api_server.kubeconfig), client_configuration=configuration)
    with api_client.ApiClient(configuration) as raw:
        yield dynamic.DynamicClient(raw)


def _deployment(name, labels):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "podinfo:1.0.0"}]}}}}


def test_get_list_by_label_and_merge_patch(client):
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=_deployment("front", {"tier": "web"}), namespace="default")
    deployments.create(body=_deployment("back", {"tier": "db"}), namespace="default")

    assert deployments.get(name="front", namespace="default").spec.replicas == 1
    web = deployments.get(namespace="default", label_selector="tier=web")
    assert [i.metadata.name for i in web.items] == ["front"]
    assert web.kind == "DeploymentList"
    not_db = deployments.get(namespace="default", label_selector="tier notin (db)")
    assert [i.metadata.name for i in not_db.items] == ["front"]

    patched = deployments.patch(name="front", namespace="default", body={"spec": {"replicas": 3}},
                                content_type="application/merge-patch+json")
    assert patched.spec.replicas == 3
    assert patched.metadata.generation == 2


def test_replace_with_stale_resource_version_is_a_conflict(client):
    configmaps = client.resources.get(api_version="v1", kind="ConfigMap")
    first = configmaps.create(body={"metadata": {"name": "cfg"}, "data": {"a": "1"}}, namespace="default")
    configmaps.patch(name="cfg", namespace="default", body={"data": {"a": "2"}},
                     content_type="application/merge-patch+json")
    stale = first.to_dict()
    stale["data"] = {"a": "3"}
    with pytest.raises(ConflictError) as err:
        configmaps.replace(body=stale, namespace="default")
    assert err.value.status == 409
    assert configmaps.get(name="cfg", namespace="default").data.a == "2"
    with pytest.raises(NotFoundError):
        configmaps.get(name="missing", namespace="default")


def test_watch_receives_events(client):
    configmaps = client.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(body={"metadata": {"name": "before"}}, namespace="default")

    def writer():
        time.sleep(0.3)
        configmaps.create(body={"metadata": {"name": "after"}}, namespace="default")
        configmaps.delete(name="before", namespace="default")

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    try:
        for event in client.watch(configmaps, namespace="default", timeout=5):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                break
    finally:
        thread.join(10)
    assert seen == [("ADDED", "before"), ("ADDED", "after"), ("DELETED", "before")]
