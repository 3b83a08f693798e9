"""Kubernetes' Deployment, ReplicaSet and EndpointSlice controllers together with our kubelet: pods
run, get addresses of the pod network, become ready, restart and stop as on a real node."""
import base64
import ipaddress
import json
import time

from _manifests import join, podinfo_deployment, service

from kubesandbox.fixtures import http
from kubesandbox.runtime.pids import alive


def in_network(ip, cidr):
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def get(sandbox, namespace, kind, name):
    return json.loads(sandbox.kubectl("-n", namespace, "get", kind, name, "-o", "json").stdout)


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_deployment_status_and_ownership_match_kubernetes(sandbox, namespace):
    sandbox.apply(podinfo_deployment("podinfo", replicas=2), namespace=namespace)
    sandbox.wait_for_rollout(namespace, "podinfo")
    d = get(sandbox, namespace, "deployment", "podinfo")
    status = d["status"]
    assert status["observedGeneration"] == d["metadata"]["generation"]
    assert {k: status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} == \
        {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    assert "unavailableReplicas" not in status
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")}
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    rs_list = json.loads(sandbox.kubectl("-n", namespace, "get", "replicasets", "-o", "json").stdout)["items"]
    assert len(rs_list) == 1
    rs = rs_list[0]
    template_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"podinfo-{template_hash}"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    pods = json.loads(sandbox.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert pod["metadata"]["labels"]["pod-template-hash"] == template_hash
        assert pod["status"]["phase"] == "Running"
        assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
        assert in_network(pod["status"]["podIP"], sandbox.status()["pod_cidr"])
    assert len({p["status"]["podIP"] for p in pods}) == 2


def test_scale_to_zero_stops_every_pod_and_back(sandbox, namespace):
    sandbox.apply(podinfo_deployment("podinfo", replicas=2), namespace=namespace)
    sandbox.wait_for_rollout(namespace, "podinfo")
    pids = [p["pid"] for p in sandbox.pods(namespace)]
    sandbox.kubectl("-n", namespace, "scale", "deployment/podinfo", "--replicas=0")
    sandbox.wait_for_rollout(namespace, "podinfo")
    assert wait_for(lambda: sandbox.kubectl("-n", namespace, "get", "pods", "-o", "name").stdout == "")
    assert wait_for(lambda: not any(alive(pid) for pid in pids))
    status = get(sandbox, namespace, "deployment", "podinfo")["status"]
    assert "replicas" not in status and "readyReplicas" not in status
    sandbox.kubectl("-n", namespace, "scale", "deployment/podinfo", "--replicas=1")
    sandbox.wait_for_rollout(namespace, "podinfo")
    assert get(sandbox, namespace, "deployment", "podinfo")["status"]["readyReplicas"] == 1


def test_rolling_update_keeps_serving_and_removes_the_old_replicaset_pods(sandbox, namespace):
    sandbox.apply(join(podinfo_deployment("podinfo", replicas=2), service("podinfo")), namespace=namespace)
    sandbox.wait_for_rollout(namespace, "podinfo")
    sandbox.kubectl("-n", namespace, "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:4.0.6")
    sandbox.wait_for_rollout(namespace, "podinfo")
    rs_list = json.loads(sandbox.kubectl("-n", namespace, "get", "replicasets", "-o", "json").stdout)["items"]
    by_revision = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in rs_list}
    assert by_revision["1"]["spec"]["replicas"] == 0 and by_revision["2"]["spec"]["replicas"] == 2

    def images():
        pods = json.loads(sandbox.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
        return {c["image"] for p in pods for c in p["spec"]["containers"]}

    # The old pods terminate gracefully: the kubelet removes them once their processes are gone.
    assert wait_for(lambda: images() == {"stefanprodan/podinfo:4.0.6"}), images()
    events = sandbox.kubectl("-n", namespace, "get", "events", "-o", "json").stdout
    assert "ScalingReplicaSet" in events


def test_never_ready_pods_are_not_endpoints_and_the_rollout_times_out(sandbox, namespace):
    sandbox.apply(join(podinfo_deployment("podinfo", replicas=1, env={"SANDBOX_NEVER_READY": "true"}, progress_deadline=2),
                       service("podinfo")), namespace=namespace)
    done = sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/podinfo", "--timeout=30s", check=False)
    assert done.returncode != 0
    assert "exceeded its progress deadline" in done.stderr
    progressing = [c for c in get(sandbox, namespace, "deployment", "podinfo")["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["reason"] == "ProgressDeadlineExceeded" and progressing[0]["status"] == "False"
    ep = get(sandbox, namespace, "endpoints", "podinfo")
    assert ep["subsets"][0].get("addresses") is None and len(ep["subsets"][0]["notReadyAddresses"]) == 1
    slices = json.loads(sandbox.kubectl("-n", namespace, "get", "endpointslices", "-l",
                                        "kubernetes.io/service-name=podinfo", "-o", "json").stdout)["items"]
    assert [e["conditions"]["ready"] for s in slices for e in s["endpoints"]] == [False]


def test_crashing_pods_restart_with_a_growing_restart_count(sandbox, namespace):
    sandbox.apply(podinfo_deployment("podinfo", replicas=1, env={"SANDBOX_CRASH": "true"}), namespace=namespace)

    def crash_looping():
        pods = json.loads(sandbox.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
        if not pods:
            return None
        cs = pods[0]["status"].get("containerStatuses", [{}])[0]
        return cs.get("restartCount", 0) >= 2 and cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"

    assert wait_for(crash_looping, timeout=20)
    assert get(sandbox, namespace, "deployment", "podinfo")["status"].get("readyReplicas") is None


def test_endpoints_resolve_named_and_numbered_target_ports(sandbox, namespace):
    sandbox.apply(join(podinfo_deployment("podinfo", replicas=1), service("by-name", app="podinfo", target="http"),
                       service("by-number", app="podinfo", port=8080, target="9898")), namespace=namespace)
    sandbox.wait_for_rollout(namespace, "podinfo")
    for name in ("by-name", "by-number"):
        ep = wait_for(lambda: get(sandbox, namespace, "endpoints", name).get("subsets"))
        assert ep[0]["ports"] == [{"name": "http", "port": 9898, "protocol": "TCP"}]
        slices = json.loads(sandbox.kubectl("-n", namespace, "get", "endpointslices", "-l",
                                            f"kubernetes.io/service-name={name}", "-o", "json").stdout)["items"]
        assert slices[0]["ports"] == [{"name": "http", "port": 9898, "protocol": "TCP"}]
        assert slices[0]["endpoints"][0]["conditions"]["ready"] is True
    svc = get(sandbox, namespace, "service", "by-number")
    out = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/services/by-number:8080/proxy/version").stdout
    assert json.loads(out)["version"] == "3.1.0"
    assert in_network(svc["spec"]["clusterIP"], sandbox.status()["service_cidr"])


def test_pod_environment_comes_from_configmaps_and_secrets(sandbox, namespace):
    secret_value = base64.b64encode(b"s3cret").decode()
    sandbox.apply(f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  COLOUR: blue
  SANDBOX_LATENCY: "0"
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  token: {secret_value}
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
        name: settings
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
""", namespace=namespace)
    pod = wait_for(lambda: (p := get(sandbox, namespace, "pod", "envcheck"))["status"].get("containerStatuses", [{}])[0].get("ready") and p)
    _, body = http("GET", f"http://{pod['status']['podIP']}:9898/env")
    env = dict(line.split("=", 1) for line in json.loads(body))
    assert (env["COLOUR"], env["TOKEN"], env["MY_POD"]) == ("blue", "s3cret", "envcheck")
