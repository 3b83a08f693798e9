"""Errors come back as `Status` objects with the codes Kubernetes uses."""
from __future__ import annotations

from _api_harness import api_server, rest  # noqa: F401  (api_server is a pytest fixture)

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object"}}}]},
}


def _status(resp, code, reason):
    body = resp.json()
    assert resp.status_code == code, body
    assert body["kind"] == "Status" and body["code"] == code and body["reason"] == reason
    return body


def test_unknown_resource_and_missing_object_are_404(api_server):
    _status(rest.get(f"{api_server.url}/apis/example.com/v1/widgets"), 404, "NotFound")
    body = _status(rest.get(f"{api_server.url}/api/v1/namespaces/default/configmaps/nope"), 404, "NotFound")
    assert body["details"]["name"] == "nope"
    _status(rest.post(f"{api_server.url}/api/v1/namespaces/ghost/configmaps",
                      json={"metadata": {"name": "c"}}), 404, "NotFound")


def test_duplicate_create_and_stale_update_are_409(api_server):
    url = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    created = rest.post(url, json={"metadata": {"name": "c"}, "data": {"k": "v"}})
    assert created.status_code == 201
    _status(rest.post(url, json={"metadata": {"name": "c"}}), 409, "AlreadyExists")
    obj = created.json()
    obj["data"]["k"] = "w"
    assert rest.put(f"{url}/c", json=obj).status_code == 200
    obj["data"]["k"] = "x"  # still carries the old resourceVersion
    _status(rest.put(f"{url}/c", json=obj), 409, "Conflict")


def test_invalid_objects_are_422(api_server):
    url = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    _status(rest.post(url, json={"metadata": {}}), 422, "Invalid")
    body = _status(rest.post(url, json={"metadata": {"name": "Not_A_Name"}}), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    _status(rest.post(url, json={"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "x"}}), 422,
            "Invalid")
    _status(rest.post(url, json={"kind": "ConfigMap", "apiVersion": "apps/v1", "metadata": {"name": "x"}}), 422,
            "Invalid")


def test_strategic_merge_patch_on_custom_resource_is_415(api_server):
    assert rest.post(f"{api_server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                     json=CRD).status_code == 201
    url = f"{api_server.url}/apis/example.com/v1/namespaces/default/widgets"
    assert rest.post(url, json={"metadata": {"name": "w"}, "spec": {"a": 1}}).status_code == 201
    resp = rest.patch(f"{url}/w", data='{"spec":{"a":2}}',
                      headers={"Content-Type": "application/strategic-merge-patch+json"})
    _status(resp, 415, "UnsupportedMediaType")
    merge = rest.patch(f"{url}/w", data='{"spec":{"a":2}}',
                       headers={"Content-Type": "application/merge-patch+json"})
    assert merge.status_code == 200 and merge.json()["spec"] == {"a": 2}


def test_wrong_method_is_405(api_server):
    resp = rest.post(f"{api_server.url}/api/v1/namespaces/default/configmaps/c", json={})
    _status(resp, 405, "MethodNotAllowed")


def test_dry_run_returns_results_without_storing(api_server):
    url = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    made = rest.post(url, params={"dryRun": "All"}, json={"metadata": {"name": "d"}, "data": {"a": "1"}})
    assert made.status_code == 201 and made.json()["data"] == {"a": "1"}
    assert rest.get(f"{url}/d").status_code == 404
    rest.post(url, json={"metadata": {"name": "d"}, "data": {"a": "1"}})
    patched = rest.patch(f"{url}/d", params={"dryRun": "All"}, data='{"data":{"a":"2"}}',
                         headers={"Content-Type": "application/merge-patch+json"})
    assert patched.json()["data"] == {"a": "2"}
    assert rest.delete(f"{url}/d", params={"dryRun": "All"}).status_code == 200
    assert rest.get(f"{url}/d").json()["data"] == {"a": "1"}


def test_scale_subresource_maps_to_spec_replicas(api_server):
    url = f"{api_server.url}/apis/apps/v1/namespaces/default/deployments"
    rest.post(url, json={"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}})
    scale = rest.get(f"{url}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "app=web"
    scale["spec"]["replicas"] = 5
    assert rest.put(f"{url}/web/scale", json=scale).json()["spec"]["replicas"] == 5
    assert rest.get(f"{url}/web").json()["spec"]["replicas"] == 5
    bad = rest.put(f"{url}/web/scale", json={"spec": {"replicas": -1}})
    assert bad.status_code == 422


def test_status_is_ignored_on_the_main_endpoint(api_server):
    url = f"{api_server.url}/apis/apps/v1/namespaces/default/deployments"
    dep = rest.post(url, json={"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"a": "b"}}},
                               "status": {"replicas": 9}}).json()
    assert "status" not in dep
    rest.patch(f"{url}/web/status", data='{"status":{"replicas":1}}',
               headers={"Content-Type": "application/merge-patch+json"})
    sneaky = rest.patch(f"{url}/web", data='{"status":{"replicas":7}}',
                        headers={"Content-Type": "application/merge-patch+json"})
    assert sneaky.json()["status"] == {"replicas": 1}


def test_delete_collection_by_label(api_server):
    url = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        rest.post(url, json={"metadata": {"name": name, "labels": {"tier": tier}}})
    gone = rest.delete(url, params={"labelSelector": "tier=x"}).json()
    assert sorted(i["metadata"]["name"] for i in gone["items"]) == ["a", "b"]
    assert [i["metadata"]["name"] for i in rest.get(url).json()["items"]] == ["c"]
    meta = rest.get(url, headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"})
    assert meta.json()["kind"] == "PartialObjectMetadataList"
    assert meta.json()["items"][0] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                       "metadata": rest.get(f"{url}/c").json()["metadata"]}


def test_list_pages_with_limit_and_continue(api_server):
    url = f"{api_server.url}/api/v1/namespaces/default/configmaps"
    for i in range(5):
        rest.post(url, json={"metadata": {"name": f"c{i}"}})
    first = rest.get(url, params={"limit": "2"}).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    names = [i["metadata"]["name"] for i in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = rest.get(url, params={"limit": "2", "continue": token}).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["c0", "c1", "c2", "c3", "c4"]
