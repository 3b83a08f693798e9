"""Store semantics used directly by the controllers (no HTTP)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubesandbox.store import ApiError, Store  # noqa: E402

PODS = ("", "v1", "pods")
DEPLOYMENTS = ("apps", "v1", "deployments")
REPLICASETS = ("apps", "v1", "replicasets")
CONFIGMAPS = ("", "v1", "configmaps")
NAMESPACES = ("", "v1", "namespaces")


@pytest.fixture
def store():
    s = Store()
    s.create(NAMESPACES, {"metadata": {"name": "default"}})
    return s


def _owned(owner, kind):
    return [{"apiVersion": "apps/v1", "kind": kind, "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"], "controller": True}]


def _chain(store):
    dep = store.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": "default"},
                                     "spec": {"selector": {"matchLabels": {"a": "b"}}}})
    rs = store.create(REPLICASETS, {"metadata": {"name": "d-1", "namespace": "default",
                                                 "ownerReferences": _owned(dep, "Deployment")}})
    store.create(PODS, {"metadata": {"name": "d-1-x", "namespace": "default",
                                     "ownerReferences": _owned(rs, "ReplicaSet")}})
    return dep


def test_create_stamps_metadata_and_resource_versions_increase(store):
    a = store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "default"}})
    b = store.create(CONFIGMAPS, {"metadata": {"generateName": "b-", "namespace": "default"}})
    assert a["metadata"]["uid"] and a["metadata"]["creationTimestamp"].endswith("Z")
    assert a["metadata"]["generation"] == 1
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert b["metadata"]["name"].startswith("b-") and len(b["metadata"]["name"]) > 2
    assert store.resource_version == int(b["metadata"]["resourceVersion"])


def test_returned_objects_are_copies(store):
    created = store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}})
    created["data"]["k"] = "changed"
    fetched = store.get(CONFIGMAPS, "default", "a")
    fetched["data"]["k"] = "changed too"
    assert store.get(CONFIGMAPS, "default", "a")["data"] == {"k": "v"}


def test_generation_moves_on_spec_changes_only(store):
    dep = _chain(store)
    dep["metadata"]["labels"] = {"x": "y"}
    dep = store.update(DEPLOYMENTS, dep)
    assert dep["metadata"]["generation"] == 1
    dep["spec"]["replicas"] = 5
    dep = store.update(DEPLOYMENTS, dep)
    assert dep["metadata"]["generation"] == 2
    dep["status"] = {"observedGeneration": 2}
    dep = store.update(DEPLOYMENTS, dep, subresource="status")
    assert dep["metadata"]["generation"] == 2 and dep["status"] == {"observedGeneration": 2}


def test_status_subresource_writes_change_only_status(store):
    dep = _chain(store)
    dep["spec"]["replicas"] = 9
    dep["metadata"]["labels"] = {"sneaky": "yes"}
    dep["status"] = {"replicas": 1}
    updated = store.update(DEPLOYMENTS, dep, subresource="status")
    assert updated["status"] == {"replicas": 1}
    assert updated["spec"]["replicas"] == 1 and "labels" not in updated["metadata"]


def test_stale_update_conflicts_and_noop_update_keeps_resource_version(store):
    cm = store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}})
    same = store.update(CONFIGMAPS, cm)
    assert same["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    cm2 = dict(cm, data={"k": "w"})
    store.update(CONFIGMAPS, cm2)
    with pytest.raises(ApiError) as err:
        store.update(CONFIGMAPS, dict(cm, data={"k": "x"}))
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert err.value.status_object()["kind"] == "Status"


def test_delete_collects_dependents_recursively(store):
    _chain(store)
    events = []
    store.add_listener(lambda etype, gvr, obj: events.append((etype, gvr, obj["metadata"]["name"])))
    store.delete(DEPLOYMENTS, "default", "d")
    assert store.list(REPLICASETS) == [] and store.list(PODS) == []
    assert ("DELETED", ("", "v1", "pods"), "d-1-x") in events


def test_orphan_policy_leaves_dependents_without_owner(store):
    _chain(store)
    store.delete(DEPLOYMENTS, "default", "d", propagation_policy="Orphan")
    [rs] = store.list(REPLICASETS)
    assert "ownerReferences" not in rs["metadata"]
    assert len(store.list(PODS)) == 1


def test_namespace_deletion_removes_its_objects_and_missing_namespace_is_404(store):
    store.create(NAMESPACES, {"metadata": {"name": "team"}})
    store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "team"}})
    store.create(CONFIGMAPS, {"metadata": {"name": "b", "namespace": "default"}})
    store.delete(NAMESPACES, None, "team")
    assert [c["metadata"]["name"] for c in store.list(CONFIGMAPS)] == ["b"]
    with pytest.raises(ApiError) as err:
        store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "team"}})
    assert err.value.code == 404


def test_admission_can_default_and_reject(store):
    def admit(op, obj, old):
        if obj["metadata"]["name"] == "bad":
            raise ApiError(422, "Invalid", "bad name")
        obj.setdefault("spec", {})["clusterIP"] = "127.9.0.1"
        assert (op == "CREATE") == (old is None)
    store.add_admission(("", "v1", "services"), admit)
    svc = store.create(("", "v1", "services"), {"metadata": {"name": "web", "namespace": "default"}})
    assert svc["spec"]["clusterIP"] == "127.9.0.1"
    with pytest.raises(ApiError):
        store.create(("", "v1", "services"), {"metadata": {"name": "bad", "namespace": "default"}})


def test_finalizers_hold_deletion_until_removed(store):
    store.create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "default", "finalizers": ["x/y"]}})
    held = store.delete(CONFIGMAPS, "default", "a")
    assert held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    store.update(CONFIGMAPS, held)
    assert store.list(CONFIGMAPS) == []


def test_crd_registration_serves_and_removal_unserves(store):
    crd = {"metadata": {"name": "things.example.com"},
           "spec": {"group": "example.com", "scope": "Cluster",
                    "names": {"plural": "things", "kind": "Thing", "shortNames": ["th"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}}}]}}
    created = store.create(("apiextensions.k8s.io", "v1", "customresourcedefinitions"), crd)
    assert {c["type"] for c in created["status"]["conditions"]} == {"Established", "NamesAccepted"}
    info = store.resource_info(("example.com", "v1", "things"))
    assert info and not info.namespaced and "status" in info.subresources
    store.create(("example.com", "v1", "things"), {"metadata": {"name": "t1"}})
    store.delete(("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None, "things.example.com")
    assert store.resource_info(("example.com", "v1", "things")) is None


def test_selectors(store):
    for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "y"}), ("c", {})):
        store.create(CONFIGMAPS, {"metadata": {"name": name, "namespace": "default", "labels": labels}})

    def names(**kw):
        return [c["metadata"]["name"] for c in store.list(CONFIGMAPS, **kw)]
    assert names(label_selector="app==x") == ["a"]
    assert names(label_selector="app!=x") == ["b", "c"]
    assert names(label_selector="app in (x, y),tier") == ["a"]
    assert names(label_selector="app notin (x)") == ["b", "c"]
    assert names(label_selector="!app") == ["c"]
    assert names(field_selector="metadata.name!=a,metadata.namespace=default") == ["b", "c"]
    with pytest.raises(ApiError):
        names(label_selector="app in x")


def test_many_objects(store):
    for i in range(3000):
        store.create(PODS, {"metadata": {"name": f"p{i}", "namespace": "default", "labels": {"n": str(i % 10)}}})
    assert len(store.list(PODS, label_selector="n=3")) == 300
    assert len(store.history) >= 3000
