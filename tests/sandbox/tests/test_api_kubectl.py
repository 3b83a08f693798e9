"""Real kubectl against the emulated API (no controllers running)."""
from __future__ import annotations

import json
import subprocess
import time

from _api_harness import KUBECTL, api_server  # noqa: F401  (pytest fixture)

APP = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels: {app: podinfo}
spec:
  replicas: 2
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: stefanprodan/podinfo:4.0.5
        ports:
        - {containerPort: 9898, name: http}
        env:
        - {name: MODE, value: "%s"}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo, namespace: test}
spec:
  selector: {app: podinfo}
  ports:
  - {port: 9898, targetPort: http}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: test, labels: {tier: config}}
data: {level: "1"}
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: canaries.flagger.app}
spec:
  group: flagger.app
  scope: Namespaced
  names: {kind: Canary, listKind: CanaryList, plural: canaries, singular: canary, shortNames: [cnry]}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    additionalPrinterColumns:
    - {name: Status, type: string, jsonPath: .status.phase}
    - {name: Weight, type: integer, jsonPath: .status.canaryWeight}
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
"""


def _get(api, *args):
    return json.loads(api.kubectl("get", "-o", "json", *args).stdout)


def test_create_namespace_then_apply_is_idempotent_and_detects_changes(api_server):
    api = api_server
    assert "namespace/test created" in api.kubectl("create", "ns", "test").stdout
    out = api.kubectl("apply", "-f", "-", input=APP % "one").stdout
    assert "deployment.apps/podinfo created" in out and "service/podinfo created" in out
    rv = _get(api, "-n", "test", "deployment", "podinfo")["metadata"]["resourceVersion"]

    again = api.kubectl("apply", "-f", "-", input=APP % "one").stdout
    assert again.count("unchanged") == 3
    assert _get(api, "-n", "test", "deployment", "podinfo")["metadata"]["resourceVersion"] == rv

    changed = api.kubectl("apply", "-f", "-", input=APP % "two").stdout
    assert "deployment.apps/podinfo configured" in changed
    dep = _get(api, "-n", "test", "deployment", "podinfo")
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "two"}]
    assert dep["metadata"]["generation"] == 2
    assert int(dep["metadata"]["resourceVersion"]) > int(rv)


def test_set_image_scale_and_patches(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    api.kubectl("-n", "test", "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:4.0.6")
    dep = _get(api, "-n", "test", "deployment", "podinfo")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "stefanprodan/podinfo:4.0.6"
    assert container["env"] == [{"name": "MODE", "value": "one"}]  # merged by name, not replaced
    assert container["ports"][0]["containerPort"] == 9898

    api.kubectl("-n", "test", "scale", "deployment/podinfo", "--replicas=4")
    assert _get(api, "-n", "test", "deployment", "podinfo")["spec"]["replicas"] == 4

    api.kubectl("-n", "test", "patch", "configmap", "settings", "--type", "merge", "-p", '{"data":{"extra":"x"}}')
    api.kubectl("-n", "test", "patch", "configmap", "settings", "--type", "json",
                "-p", '[{"op":"test","path":"/data/level","value":"1"},'
                      '{"op":"replace","path":"/data/level","value":"2"}]')
    assert _get(api, "-n", "test", "configmap", "settings")["data"] == {"level": "2", "extra": "x"}
    failed = api.kubectl("-n", "test", "patch", "configmap", "settings", "--type", "json",
                         "-p", '[{"op":"test","path":"/data/level","value":"9"}]', check=False)
    assert failed.returncode != 0 and "test operation failed" in failed.stderr


def test_server_side_apply_creates_then_updates(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    out = api.kubectl("apply", "--server-side", "-f", "-", input=APP % "one").stdout
    assert out.count("serverside-applied") == 3
    api.kubectl("apply", "--server-side", "-f", "-", input=APP % "three")
    dep = _get(api, "-n", "test", "deployment", "podinfo")
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "three"
    # A label the manifest no longer sets is removed, as field ownership would do.
    api.kubectl("apply", "--server-side", "-f", "-", input=(APP % "three").replace("labels: {tier: config}", ""))
    assert "labels" not in _get(api, "-n", "test", "configmap", "settings")["metadata"]


def test_get_variants_list_across_namespaces_and_by_label(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    api.kubectl("-n", "default", "create", "configmap", "other", "--from-literal=a=b")
    everywhere = api.kubectl("get", "configmaps", "-A").stdout
    assert "test" in everywhere and "settings" in everywhere and "other" in everywhere
    labelled = _get(api, "configmaps", "-A", "-l", "tier=config")
    assert [i["metadata"]["name"] for i in labelled["items"]] == ["settings"]
    table = api.kubectl("-n", "test", "get", "deployments").stdout
    assert table.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "podinfo" in table and "0/2" in table


def test_get_watch_streams_a_change(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    proc = subprocess.Popen([str(KUBECTL), "-n", "test", "get", "deployment", "podinfo", "-w", "-o",
                             "jsonpath={.spec.replicas}{\"\\n\"}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=api.kubectl_env())
    try:
        assert proc.stdout.readline().strip() == "2"  # the initial state
        api.kubectl("-n", "test", "scale", "deployment/podinfo", "--replicas=7")
        assert proc.stdout.readline().strip() == "7"
    finally:
        proc.kill()
        proc.wait(10)


def test_get_watch_prints_table_rows(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    proc = subprocess.Popen([str(KUBECTL), "-n", "test", "get", "configmaps", "-w"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=api.kubectl_env())
    try:
        assert proc.stdout.readline().split() == ["NAME", "DATA", "AGE"]
        assert proc.stdout.readline().split()[:2] == ["settings", "1"]
        api.kubectl("-n", "test", "patch", "configmap", "settings", "--type", "merge", "-p", '{"data":{"b":"2"}}')
        assert proc.stdout.readline().split()[:2] == ["settings", "2"]
    finally:
        proc.kill()
        proc.wait(10)


def test_delete_cascades_to_dependents(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    dep = _get(api, "-n", "test", "deployment", "podinfo")
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "uid": dep["metadata"]["uid"],
             "controller": True}
    rs = api.call(api.store.create, ("apps", "v1", "replicasets"), {
        "metadata": {"name": "podinfo-abc", "namespace": "test", "ownerReferences": [owner]},
        "spec": {"selector": {"matchLabels": {"app": "podinfo"}}, "template": {"spec": {"containers": []}}}})
    rs_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "podinfo-abc", "uid": rs["metadata"]["uid"]}
    api.call(api.store.create, ("", "v1", "pods"), {
        "metadata": {"name": "podinfo-abc-1", "namespace": "test", "labels": {"app": "podinfo"},
                     "ownerReferences": [rs_owner]}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    assert "pod/podinfo-abc-1" in api.kubectl("-n", "test", "get", "pods", "-o", "name").stdout

    api.kubectl("-n", "test", "delete", "deployment", "podinfo")
    assert api.kubectl("-n", "test", "get", "pods,replicasets", "-o", "name").stdout.strip() == ""


def test_crd_makes_resource_served_with_printer_columns(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=CRD)
    api.kubectl("apply", "-f", "-", input=CANARY)
    api.kubectl("-n", "test", "patch", "canary", "podinfo", "--subresource", "status", "--type", "merge",
                "-p", '{"status":{"phase":"Progressing","canaryWeight":20}}')
    lines = api.kubectl("get", "canaries", "-A").stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATUS", "WEIGHT"]
    assert lines[1].split() == ["test", "podinfo", "Progressing", "20"]
    assert "podinfo" in api.kubectl("-n", "test", "get", "cnry").stdout  # short name from the CRD
    smp = api.kubectl("-n", "test", "patch", "canary", "podinfo", "-p", '{"spec":{"x":1}}', check=False)
    assert smp.returncode != 0 and "not supported" in smp.stderr


def test_describe_builtin_and_custom_resource(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    api.kubectl("apply", "-f", "-", input=CRD)
    api.kubectl("apply", "-f", "-", input=CANARY)
    dep = _get(api, "-n", "test", "deployment", "podinfo")
    api.call(api.store.create, ("", "v1", "events"), {
        "metadata": {"name": "podinfo.1", "namespace": "test"}, "type": "Normal", "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set podinfo-abc to 2", "count": 1,
        "lastTimestamp": dep["metadata"]["creationTimestamp"],
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "test",
                           "uid": dep["metadata"]["uid"]}})
    described = api.kubectl("-n", "test", "describe", "deployment", "podinfo").stdout
    assert "stefanprodan/podinfo:4.0.5" in described and "Selector:" in described
    assert "Scaled up replica set podinfo-abc to 2" in described  # events found by involvedObject fields
    custom = api.kubectl("-n", "test", "describe", "canary", "podinfo").stdout
    assert "Kind:         Canary" in custom and "Target Ref:" in custom


def test_kubectl_delete_namespace_removes_its_objects(api_server):
    api = api_server
    api.kubectl("create", "ns", "test")
    api.kubectl("apply", "-f", "-", input=APP % "one")
    api.kubectl("delete", "ns", "test")
    deadline = time.monotonic() + 10
    while api.kubectl("get", "ns", "test", check=False).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.kubectl("get", "configmaps", "-A", "-o", "name").stdout.strip() == ""


def test_version_is_within_kubectl_skew(api_server):
    proc = api_server.kubectl("version")
    assert "Server Version: v1." in proc.stdout
    assert "skew" not in proc.stderr
