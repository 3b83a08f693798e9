"""The sandbox on the real control plane: the Deployment, ReplicaSet, EndpointSlice controllers and
the scheduler are Kubernetes' own; pods are our processes, reported by our kubelet."""
import base64
import ipaddress
import json
import time

import pytest
from _manifests import ingressroute, join, podinfo_deployment, service, weighted_traefikservice

from kubesandbox.fixtures import http
from kubesandbox.runtime.pids import alive
from pdtest.sandbox import wait_until

NS = "real-apps"
HOST = "real-split.example.com"


def get_json(sb, *args):
    return json.loads(sb.kubectl(*args, "-o", "json").stdout)


def pods_of(sb, app):
    return get_json(sb, "-n", NS, "get", "pods", "-l", f"app={app}")["items"]


def ready_slice_ips(sb, svc):
    slices = get_json(sb, "-n", NS, "get", "endpointslices", "-l", f"kubernetes.io/service-name={svc}")["items"]
    ready, unready = set(), set()
    for s in slices:
        for e in s.get("endpoints") or []:
            (ready if (e.get("conditions") or {}).get("ready") else unready).update(e["addresses"])
    return ready, unready


def is_ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


@pytest.fixture(scope="module")
def apps(sandbox):
    sb = sandbox
    sb.kubectl("create", "namespace", NS)
    sb.apply(join(
        podinfo_deployment("blue", image="stefanprodan/podinfo:3.1.0", replicas=2),
        podinfo_deployment("green", image="stefanprodan/podinfo:4.0.6", replicas=1),
        service("blue"), service("green"),
        weighted_traefikservice("split", {"blue": 50, "green": 50}),
        ingressroute("split", HOST, "split"),
    ), namespace=NS)
    try:
        sb.wait_for_rollout(NS, "blue", timeout=90)
        sb.wait_for_rollout(NS, "green", timeout=90)
        yield sb
    finally:
        sb.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_rollout_completes_with_ready_pods_that_are_our_processes(apps):
    sb = apps
    done = sb.kubectl("-n", NS, "rollout", "status", "deployment/blue", "--timeout=5s")
    assert "successfully rolled out" in done.stdout
    pods = pods_of(sb, "blue")
    assert len(pods) == 2 and all(p["spec"]["nodeName"] == "sandbox" for p in pods)
    assert all(p["status"]["phase"] == "Running" and is_ready(p) for p in pods), [p["status"] for p in pods]
    pod_cidr = ipaddress.ip_network(sb.status()["pod_cidr"])
    assert all(ipaddress.ip_address(p["status"]["podIP"]) in pod_cidr for p in pods)
    # Every pod the API shows Running is a live process of ours at that address.
    listed = {p["name"]: p for p in sb.pods(NS)}
    for p in pods:
        mine = listed[p["metadata"]["name"]]
        assert mine["ip"] == p["status"]["podIP"] and mine["pid"] and alive(mine["pid"])


@pytest.mark.parametrize("kind", ["EndpointSlice", "Endpoints"])
def test_the_api_server_refuses_loopback_endpoint_addresses(apps, kind):
    """Why pods are not on 127.0.0.0/8 but in network namespaces of ours:
    endpoint validation refuses loopback addresses, so no Service could get endpoints."""
    sb = apps
    ip = "127.0.0.5"
    if kind == "EndpointSlice":
        doc = f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: loopback-probe
  labels: {{kubernetes.io/service-name: blue, endpointslice.kubernetes.io/managed-by: sandbox}}
addressType: IPv4
endpoints: [{{addresses: ["{ip}"]}}]
ports: [{{name: http, port: 9898}}]
"""
    else:
        doc = f"""apiVersion: v1
kind: Endpoints
metadata:
  name: loopback-probe
subsets: [{{addresses: [{{ip: "{ip}"}}], ports: [{{name: http, port: 9898}}]}}]
"""
    done = sb.kubectl("-n", NS, "create", "-f", "-", input=doc, check=False)
    assert done.returncode != 0, done.stdout
    assert f'"{ip}": may not be in the loopback range (127.0.0.0/8, ::1/128)' in done.stderr, done.stderr


def test_cluster_ip_comes_from_the_service_range_and_resolves_in_pods(apps):
    sb = apps
    cluster_ip = get_json(sb, "-n", NS, "get", "svc", "green")["spec"]["clusterIP"]
    assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(sb.status()["service_cidr"])
    for name in ("green", f"green.{NS}", f"green.{NS}.svc.cluster.local"):
        resolved = sb.cli("exec", "-n", NS, "deploy/blue", "--", "getent", "hosts", name)
        assert resolved.stdout.split()[0] == cluster_ip, (name, resolved.stdout)


def test_endpointslice_lists_the_ready_pod_ips(apps):
    sb = apps
    pod_ips = {p["status"]["podIP"] for p in pods_of(sb, "blue")}
    ready, _ = wait_until(lambda: ready_slice_ips(sb, "blue") if ready_slice_ips(sb, "blue")[0] == pod_ips else None,
                          timeout=10, what="EndpointSlice with the pod IPs")
    assert ready == pod_ips


def test_cluster_ip_forwards_to_a_ready_pod(apps):
    sb = apps
    body = sb.cli("exec", "-n", NS, "deploy/blue", "--", "curl", "-s", "--max-time", "5", "http://green/version").stdout
    assert json.loads(body)["version"] == "4.0.6"


def test_weighted_traefikservice_routes_real_http_to_both_versions(apps):
    sb = apps
    sb.wait_for_weights(NS, "split", {"blue": 50, "green": 50}, timeout=10)
    sb.wait_for_versions(HOST, ["3.1.0", "4.0.6"], timeout=10)
    counts = sb.traffic_split(HOST, 200)
    assert set(counts) == {"3.1.0", "4.0.6"}, counts
    assert 60 <= counts["3.1.0"] <= 140 and 60 <= counts["4.0.6"] <= 140, counts


def test_deleting_a_pod_stops_its_process_and_the_replicaset_replaces_it(apps):
    sb = apps
    before = {p["name"]: p for p in sb.pods(NS) if p["name"].startswith("blue-")}
    victim, info = sorted(before.items())[0]
    assert info["pid"] and alive(info["pid"])
    # Returns only once the object is gone, which takes our kubelet's final delete.
    sb.kubectl("-n", NS, "delete", "pod", victim, "--timeout=30s")
    wait_until(lambda: not alive(info["pid"]), timeout=10, what=f"process {info['pid']} of {victim} gone")
    sb.wait_for_rollout(NS, "blue", timeout=60)
    pods = pods_of(sb, "blue")
    names = {p["metadata"]["name"] for p in pods}
    assert victim not in names and len(names) == 2
    listed = {p["name"]: p for p in sb.pods(NS)}
    assert victim not in listed
    for name in names:
        assert listed[name]["pid"] and alive(listed[name]["pid"])


def test_a_never_ready_pod_runs_but_stays_unready(apps):
    sb = apps
    sb.apply(podinfo_deployment("stuck", replicas=1, env={"SANDBOX_NEVER_READY": "true"}), namespace=NS)

    def running():
        pods = pods_of(sb, "stuck")
        return pods if pods and pods[0]["status"].get("podIP") and pods[0]["status"]["phase"] == "Running" else None

    pod = wait_until(running, timeout=60, what="stuck pod running")[0]
    listed = {p["name"]: p for p in sb.pods(NS)}[pod["metadata"]["name"]]
    assert listed["pid"] and alive(listed["pid"])
    # Well past the probe's first answers: it keeps failing.
    time.sleep(3)
    pod = pods_of(sb, "stuck")[0]
    assert not is_ready(pod)
    assert pod["status"]["containerStatuses"][0]["ready"] is False
    assert pod["status"]["containerStatuses"][0]["state"].get("running")
    assert not get_json(sb, "-n", NS, "get", "deployment", "stuck")["status"].get("readyReplicas")


def test_a_crashing_pod_reports_crash_loop_back_off(apps):
    sb = apps
    sb.apply(podinfo_deployment("crash", replicas=1, env={"SANDBOX_CRASH": "true"}), namespace=NS)

    def backing_off():
        pods = pods_of(sb, "crash")
        statuses = (pods[0]["status"].get("containerStatuses") or []) if pods else []
        if statuses and (statuses[0]["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            return statuses[0]
        return None

    status = wait_until(backing_off, timeout=60, interval=0.1, what="CrashLoopBackOff")
    assert status["restartCount"] >= 1 and status["ready"] is False
    assert status["lastState"]["terminated"]["exitCode"] == 1


def test_environment_comes_from_config_maps_secrets_and_fields_the_node_may_read(apps):
    """The kubelet reads them with the node's identity: the Node authorizer allows exactly what
    pods bound to it reference, and a missing one holds the container back until it exists."""
    sb = apps
    sb.apply(f"""apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  token: {base64.b64encode(b"s3cret").decode()}
---
apiVersion: v1
kind: Pod
metadata:
  name: envcheck
spec:
  containers:
  - name: app
    image: stefanprodan/podinfo:6.0.0
    ports:
    - containerPort: 9898
    envFrom:
    - configMapRef:
        name: late-settings
    env:
    - name: TOKEN
      valueFrom:
        secretKeyRef:
          name: creds
          key: token
    - name: MY_POD
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
""", namespace=NS)

    def waiting_reason():
        statuses = get_json(sb, "-n", NS, "get", "pod", "envcheck")["status"].get("containerStatuses") or []
        return statuses and (statuses[0]["state"].get("waiting") or {}).get("reason") == "CreateContainerConfigError"

    wait_until(waiting_reason, timeout=30, what="CreateContainerConfigError")
    sb.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late-settings\ndata:\n  COLOUR: blue\n", namespace=NS)
    def ready_pod():
        pod = get_json(sb, "-n", NS, "get", "pod", "envcheck")
        return pod if is_ready(pod) else None

    pod = wait_until(ready_pod, timeout=30, what="envcheck ready")
    _, body = http("GET", f"http://{pod['status']['podIP']}:9898/env")
    env = dict(line.split("=", 1) for line in json.loads(body))
    assert (env["COLOUR"], env["TOKEN"], env["MY_POD"]) == ("blue", "s3cret", "envcheck")
