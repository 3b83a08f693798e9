"""Watch semantics client-go (inside Traefik) and kubectl rely on."""
from __future__ import annotations

import json

from _api_harness import api_server, rest  # noqa: F401  (api_server is a pytest fixture)

CONFIGMAPS = ("", "v1", "configmaps")


def _cm(name, labels=None, ns="default"):
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}}}


def _events(url, **params):
    params.setdefault("timeoutSeconds", "1")
    with rest.get(url, params=dict(params, watch="true"), stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        return [json.loads(line) for line in resp.iter_lines() if line]


def test_initial_events_end_with_an_annotated_bookmark(api_server):
    api_server.call(api_server.store.create, CONFIGMAPS, _cm("a"))
    api_server.call(api_server.store.create, CONFIGMAPS, _cm("b", ns="kube-system"))
    events = _events(f"{api_server.url}/api/v1/configmaps", sendInitialEvents="true",
                     resourceVersionMatch="NotOlderThan", allowWatchBookmarks="true")
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [("ADDED", "a"), ("ADDED", "b")]
    bookmark = events[2]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) == api_server.store.resource_version


def test_resume_from_resource_version_replays_only_newer_changes(api_server):
    first = api_server.call(api_server.store.create, CONFIGMAPS, _cm("a"))
    api_server.call(api_server.store.create, CONFIGMAPS, _cm("b"))
    api_server.call(api_server.store.delete, CONFIGMAPS, "default", "a")
    events = _events(f"{api_server.url}/api/v1/namespaces/default/configmaps",
                     resourceVersion=first["metadata"]["resourceVersion"])
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("DELETED", "a")]


def test_too_old_resource_version_answers_410_gone(api_server):
    store = api_server.store
    for i in range(5):
        api_server.call(store.create, CONFIGMAPS, _cm(f"c{i}"))

    def forget_history():
        store.history_floor = store.resource_version - 1
    api_server.call(forget_history)
    events = _events(f"{api_server.url}/api/v1/configmaps", resourceVersion="2")
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


def test_selectors_filter_watch_and_leaving_the_selection_is_a_delete(api_server):
    store = api_server.store
    api_server.call(store.create, CONFIGMAPS, _cm("keep", {"app": "x"}))
    api_server.call(store.create, CONFIGMAPS, _cm("other", {"app": "y"}))
    rv = str(store.resource_version)
    moved = api_server.call(store.get, CONFIGMAPS, "default", "keep")
    moved["metadata"]["labels"] = {"app": "z"}
    api_server.call(store.update, CONFIGMAPS, moved)
    events = _events(f"{api_server.url}/api/v1/namespaces/default/configmaps", resourceVersion=rv,
                     labelSelector="app=x")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "keep")]
    by_name = _events(f"{api_server.url}/api/v1/configmaps", fieldSelector="metadata.name=other")
    assert [e["object"]["metadata"]["name"] for e in by_name] == ["other"]
    secrets = _events(f"{api_server.url}/api/v1/secrets", labelSelector="owner!=helm")
    assert secrets == []


def test_table_lists_for_builtins(api_server):
    api_server.call(api_server.store.create, CONFIGMAPS, {"metadata": {"name": "t", "namespace": "default"},
                                                          "data": {"a": "1", "b": "2"}})
    resp = rest.get(f"{api_server.url}/api/v1/namespaces/default/configmaps",
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    table = resp.json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["t", 2]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
