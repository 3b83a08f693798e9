"""The seed article's kubectl sequence, one step per test, run by real kubectl against the sandbox.

The steps build on each other in file order, as the article's commands do.
"""
import queue
import subprocess
import threading
import time

import pytest
from _manifests import hpa, ingressroute, join, podinfo_deployment, service, weighted_traefikservice

from kubesandbox.fixtures import KUBECTL
from kubesandbox.runtime.pids import alive

NS = "test"
HOST = "app.example.com"


def poll(predicate, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="module", autouse=True)
def _namespace_cleanup(sandbox):
    yield
    sandbox.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_kubectl_create_namespace(sandbox):
    out = sandbox.kubectl("create", "ns", NS).stdout
    assert "namespace/test created" in out
    assert sandbox.kubectl("get", "ns", NS, "-o", "jsonpath={.status.phase}").stdout == "Active"


def test_apply_podinfo_deployment_hpa_and_service(sandbox):
    out = sandbox.apply(join(podinfo_deployment(), hpa(), service("podinfo")), namespace=NS).stdout
    assert "deployment.apps/podinfo created" in out
    assert "horizontalpodautoscaler.autoscaling/podinfo created" in out
    assert "service/podinfo created" in out
    sandbox.wait_for_rollout(NS, "podinfo")
    ready = sandbox.kubectl("-n", NS, "get", "deployment", "podinfo", "-o", "jsonpath={.status.readyReplicas}").stdout
    assert ready == "2"
    pods = sandbox.pods(NS)
    assert len(pods) == 2 and all(p["pid"] and alive(p["pid"]) for p in pods)


def test_ingressroute_to_weighted_traefikservice_serves_podinfo(sandbox):
    sandbox.apply(join(weighted_traefikservice("podinfo", {"podinfo": 100}), ingressroute("podinfo", HOST, "podinfo")),
                  namespace=NS)
    sandbox.wait_for_weights(NS, "podinfo", {"podinfo": 100})
    assert sandbox.wait_for_versions(HOST, ["3.1.0"]) == {"3.1.0": 10}


def test_set_image_then_rollout_status_completes_and_traefik_serves_new_version(sandbox):
    out = sandbox.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:4.0.6").stdout
    assert "image updated" in out
    done = sandbox.wait_for_rollout(NS, "podinfo")
    assert 'deployment "podinfo" successfully rolled out' in done.stdout
    # Old pods keep serving for a short grace period while Traefik drops them, as terminating pods do.
    assert sandbox.wait_for_versions(HOST, ["4.0.6"], n=20) == {"4.0.6": 20}
    revision = sandbox.kubectl("-n", NS, "get", "deployment", "podinfo", "-o",
                               "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}").stdout
    assert revision == "2"


def test_get_traefikservices_all_namespaces(sandbox):
    # The short name is ambiguous (Traefik v2's group has the kind too); kubectl would pick that one.
    out = sandbox.kubectl("get", "traefikservices.traefik.io", "-A").stdout
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "NAME"]
    assert [NS, "podinfo"] in [r[:2] for r in rows[1:]]


def test_get_watch_streams_a_change(sandbox):
    proc = subprocess.Popen([KUBECTL, "-n", NS, "get", "deployment", "podinfo", "-w", "-o",
                             "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas", "--no-headers"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sandbox.process_env())
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def next_row():
        try:
            return lines.get(timeout=30).split()
        except queue.Empty:
            raise AssertionError("kubectl get -w printed nothing for 30s") from None

    try:
        assert next_row() == ["podinfo", "2"]
        sandbox.kubectl("-n", NS, "scale", "deployment/podinfo", "--replicas=3")
        while next_row() != ["podinfo", "3"]:
            pass
    finally:
        proc.kill()
        proc.wait()
    sandbox.wait_for_rollout(NS, "podinfo")


def test_delete_deployment_removes_pods_and_processes(sandbox):
    pids = [p["pid"] for p in sandbox.pods(NS)]
    assert len(pids) == 3 and all(alive(pid) for pid in pids)
    sandbox.kubectl("-n", NS, "delete", "deployment", "podinfo")
    assert poll(lambda: sandbox.kubectl("-n", NS, "get", "pods", "-o", "name").stdout.strip() == "")
    assert poll(lambda: not any(alive(pid) for pid in pids)), [pid for pid in pids if alive(pid)]
    assert sandbox.pods(NS) == []
    assert sandbox.kubectl("-n", NS, "get", "replicasets", "-o", "name").stdout.strip() == ""
