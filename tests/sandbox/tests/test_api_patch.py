"""Patch formats: RFC 7386, RFC 6902, strategic merge with its directives."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubesandbox.patch import json_patch, merge_patch, server_side_apply, strategic_merge  # noqa: E402
from kubesandbox.store import ApiError  # noqa: E402

POD_SPEC = {"spec": {"template": {"spec": {"containers": [
    {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
     "ports": [{"containerPort": 80, "name": "http"}]},
    {"name": "sidecar", "image": "s:1"}]}}}}


def test_merge_patch_sets_replaces_and_deletes():
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [3]}) == \
        {"a": {"c": 2, "d": 3}, "l": [3]}


def test_json_patch_operations_and_failed_test():
    doc = {"a": [1, 2], "b": {"c": "x"}}
    out = json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "replace", "path": "/b/c", "value": "y"},
                           {"op": "move", "from": "/b/c", "path": "/d"}, {"op": "copy", "from": "/d", "path": "/e"},
                           {"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/e", "value": "y"},
                           {"op": "add", "path": "/b/k~1v", "value": 1}])
    assert out == {"a": [2, 3], "b": {"k/v": 1}, "d": "y", "e": "y"}
    assert doc == {"a": [1, 2], "b": {"c": "x"}}
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/b/c", "value": "nope"}])
    assert err.value.code == 422


def test_strategic_merge_merges_containers_by_name_and_keeps_order():
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "a:2", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                        "env": [{"name": "B", "value": "3"}]}]}}}}
    out = strategic_merge(POD_SPEC, patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "app"]
    assert containers[1]["image"] == "a:2"
    assert containers[1]["env"] == [{"name": "B", "value": "3"}, {"name": "A", "value": "1"}]
    assert containers[1]["ports"] == [{"containerPort": 80, "name": "http"}]


def test_strategic_merge_directives():
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    out = strategic_merge(POD_SPEC, delete)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app"]
    only = [{"name": "only", "image": "o:1"}, {"$patch": "replace"}]
    replace = {"spec": {"template": {"spec": {"containers": only}}}}
    out = strategic_merge(POD_SPEC, replace)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "o:1"}]
    out = strategic_merge({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
                          {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out == {"spec": {"strategy": {"type": "Recreate"}}}
    out = strategic_merge({"metadata": {"finalizers": ["a", "b"]}},
                          {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out == {"metadata": {"finalizers": ["b"]}}
    out = strategic_merge({"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81}]}},
                          {"spec": {"ports": [{"port": 81, "name": "b"}]}})
    assert out["spec"]["ports"] == [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}]


def test_server_side_apply_drops_fields_the_manager_stopped_applying():
    live = {"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v", "other": "keep"}}
    previous = {"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    applied = {"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "w"}}
    out = server_side_apply(live, applied, custom=False, previous=previous)
    assert out["metadata"]["labels"] == {"a": "1"}
    assert out["data"] == {"k": "w", "other": "keep"}
