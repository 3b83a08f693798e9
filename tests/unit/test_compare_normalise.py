"""The pure part of `make compare`: server fields removed, namespaces normalised, field-by-field diff,
event messages made comparable, the doc section replaced between its markers."""
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "compare" / "normalise.py"
_SPEC = importlib.util.spec_from_file_location("compare_normalise", _PATH)
nm = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(nm)


def service(namespace, cluster_ip, selector, uid):
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": namespace, "uid": uid, "resourceVersion": "812",
                     "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}],
                     "labels": {"app": "podinfo"},
                     "ownerReferences": [{"kind": "Canary", "name": "podinfo", "uid": uid, "controller": True}]},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "selector": selector,
                 "ports": [{"name": "http", "port": 80, "targetPort": 9898}]},
        "status": {"loadBalancer": {}},
    }


def test_server_fields_and_namespace_leave_no_difference():
    a = nm.normalise_object(service("side-a", "198.19.1.4", {"app": "podinfo-primary"}, "u1"), "side-a")
    b = nm.normalise_object(service("side-b", "198.19.1.9", {"app": "podinfo-primary"}, "u2"), "side-b")
    assert nm.diff(a, b) == []
    assert a["metadata"] == {"name": "podinfo", "namespace": "{ns}", "labels": {"app": "podinfo"},
                             "ownerReferences": [{"kind": "Canary", "name": "podinfo", "controller": True}]}
    assert "status" not in a and "clusterIP" not in a["spec"]


def test_diff_names_each_differing_field_and_absent_ones():
    a = nm.normalise_object(service("side-a", "198.19.1.4", {"app": "podinfo-primary"}, "u1"), "side-a")
    b = nm.normalise_object(service("side-b", "198.19.1.9", {"app": "podinfo"}, "u2"), "side-b")
    b["metadata"]["annotations"] = {"x": "1"}
    del b["spec"]["ports"][0]["name"]
    assert nm.diff(a, b) == [
        ("metadata.annotations.x", nm.MISSING, "1"),
        ("spec.ports[0].name", "http", nm.MISSING),
        ("spec.selector.app", "podinfo-primary", "podinfo"),
    ]


def test_namespace_replaced_only_as_a_whole_name_and_host_first():
    obj = {"kind": "TraefikService", "metadata": {"name": "podinfo", "namespace": "cmp"},
           "spec": {"note": "cmp-podinfo-canary-80 cmpx cmp.app.example.com podinfo.cmp"}}
    out = nm.normalise_object(obj, "cmp", host="cmp.app.example.com")
    assert out["spec"]["note"] == "{ns}-podinfo-canary-80 cmpx {host} podinfo.{ns}"


@pytest.mark.parametrize("message, expected", [
    ("Advance podinfo.ns-a canary weight 10", "Advance podinfo.{ns} canary weight 10"),
    ("Halt podinfo.ns-a advancement success rate 53.42% < 99%", "Halt podinfo.{ns} advancement success rate N% < N%"),
    ("Halt advancement request duration 1.2s > 500ms", "Halt advancement request duration Ns > Nms"),
    ("(combined from similar events): Promotion completed! Scaling down podinfo.ns-a",
     "Promotion completed! Scaling down podinfo.{ns}"),
])
def test_event_messages_keep_decisions_and_drop_measurements(message, expected):
    assert nm.normalise_event(message, "ns-a") == expected


def test_repeats_collapse_with_their_count():
    assert nm.collapse_repeats(["a", "a", "b", "a"]) == ["a (×2)", "b", "a"]


def test_status_fields_reduce_times_and_hashes():
    status = {"phase": "Succeeded", "canaryWeight": 0, "lastTransitionTime": "2026-01-01T00:00:00Z",
              "lastAppliedSpec": "5f7d", "trackedConfigs": {"podinfo-config": "abc"},
              "conditions": [{"type": "Promoted", "status": "True", "reason": "Succeeded",
                              "lastUpdateTime": "t", "lastTransitionTime": "t", "message": "done"}]}
    assert nm.status_fields({"status": status}) == {
        "phase": "Succeeded", "canaryWeight": 0, "lastTransitionTime": "(set)", "lastAppliedSpec": "(set)",
        "trackedConfigs": {"podinfo-config": "(hash)"},
        "conditions": [{"type": "Promoted", "status": "True", "reason": "Succeeded", "message": "done"}]}


def test_ratio_is_missing_without_a_reference():
    assert nm.ratio(3.0, 2.0) == 1.5
    assert nm.ratio(None, 2.0) is None
    assert nm.ratio(1.0, 0) is None


def test_markers_replace_their_section_and_append_it_once():
    begin, end = "<!-- b -->", "<!-- e -->"
    first = nm.replace_between_markers("# Doc\n\ntext\n", begin, end, "table 1")
    assert first == "# Doc\n\ntext\n\n<!-- b -->\ntable 1\n<!-- e -->\n"
    second = nm.replace_between_markers(first + "after\n", begin, end, "table 2\n")
    assert second == "# Doc\n\ntext\n\n<!-- b -->\ntable 2\n<!-- e -->\nafter\n"
