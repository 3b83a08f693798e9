"""Cluster networking for what runs inside: Service names resolve in pods, ClusterIPs forward to
ready endpoints, and the API server's services/proxy reaches in from outside."""
import json
import time
from pathlib import Path

import pytest
from _manifests import ingressroute, join, loadtester, podinfo_deployment, service, weighted_traefikservice

from kubesandbox.fixtures import http, processes_of

NS = "net"
HOST = "app.example.com"


@pytest.fixture(scope="module")
def cluster_apps(sandbox):
    sandbox.kubectl("create", "namespace", NS)
    sandbox.apply(join(
        podinfo_deployment("podinfo-canary", image="stefanprodan/podinfo:4.0.6", replicas=2),
        service("podinfo-canary"),
        loadtester(),
        weighted_traefikservice("podinfo", {"podinfo-canary": 100}),
        ingressroute("podinfo", HOST, "podinfo"),
    ), namespace=NS)
    sandbox.wait_for_rollout(NS, "podinfo-canary")
    sandbox.wait_for_rollout(NS, "flagger-loadtester")
    sandbox.wait_for_weights(NS, "podinfo", {"podinfo-canary": 100})
    sandbox.wait_for_versions(HOST, ["4.0.6"])
    try:
        yield
    finally:
        sandbox.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def webhook(sandbox, metadata, phase="pre-rollout", path=""):
    """A Flagger-style webhook call to Flagger's loadtester, sent through the API server's services/proxy."""
    url = f"{sandbox.api_url}/api/v1/namespaces/{NS}/services/flagger-loadtester:80/proxy/{path}"
    payload = {"name": "podinfo", "namespace": NS, "phase": phase, "metadata": metadata}
    return http("POST", url, payload, headers={"Authorization": "Bearer sandbox"})


def bash(sandbox, cmd):
    """`bash -c cmd` inside the loadtester, answering with the command's output."""
    return webhook(sandbox, {"type": "bash", "cmd": cmd, "returnCmdOutput": "true"})


def test_acceptance_test_from_the_article_runs_unchanged_inside_the_loadtester(sandbox, cluster_apps):
    status, body = bash(sandbox, f"curl -sd 'test' http://podinfo-canary.{NS}/token | grep token")
    assert status == 200, body
    assert json.loads(body)["token"]


@pytest.mark.parametrize("suffix", ["", ".svc", ".svc.cluster.local"])
def test_service_names_resolve_to_the_cluster_ip_inside_pods(sandbox, cluster_apps, suffix):
    cluster_ip = sandbox.kubectl("-n", NS, "get", "svc", "podinfo-canary", "-o", "jsonpath={.spec.clusterIP}").stdout
    status, body = bash(sandbox, f"getent hosts podinfo-canary.{NS}{suffix}")
    assert status == 200, body
    assert body.decode().split()[0] == cluster_ip


def test_short_service_names_resolve_within_the_pods_namespace_only(sandbox, cluster_apps):
    status, body = bash(sandbox, "curl -s http://podinfo-canary/version")
    assert status == 200 and json.loads(body)["version"] == "4.0.6", body
    status, body = bash(sandbox, "getent hosts traefik")
    assert status >= 400, body


def test_a_failing_webhook_command_answers_an_error(sandbox, cluster_apps):
    status, body = bash(sandbox, f"curl -sf http://podinfo-canary.{NS}/status/500")
    assert status >= 400, body


def canary_requests_seen_by_traefik(sandbox):
    status, body = http("GET", sandbox.env["TRAEFIK_METRICS_URL"])
    assert status == 200
    prefix = f'traefik_service_requests_total{{code="200",method="GET",protocol="http",service="{NS}-podinfo-canary-80@kubernetescrd"}}'
    return sum(float(line.split()[-1]) for line in body.decode().splitlines() if line.startswith(prefix))


def test_article_load_test_runs_in_the_background_once(sandbox, cluster_apps):
    cmd = f"hey -z 10m -q 10 -c 2 -host {HOST} http://traefik.traefik"
    before = canary_requests_seen_by_traefik(sandbox)
    for _ in range(2):
        # Accepted at once; the same command is not started again while it runs.
        assert webhook(sandbox, {"type": "cmd", "cmd": cmd, "logCmdOutput": "true"}, phase="rollout") == (202, b"")
    deadline = time.monotonic() + 10
    while canary_requests_seen_by_traefik(sandbox) < before + 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert canary_requests_seen_by_traefik(sandbox) >= before + 10
    assert len(processes_running(sandbox, cmd.split())) == 1


def processes_running(sandbox, argv):
    found = []
    for pid in processes_of(sandbox.dir):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]:
                found.append(pid)
        except OSError:
            continue
    return found


def test_loadtester_gates_open_and_close_per_canary(sandbox, cluster_apps):
    assert webhook(sandbox, {}, path="gate/approve") == (200, b"OK")
    assert webhook(sandbox, {}, path="gate/halt") == (403, b"Forbidden")
    for kind in ("gate", "rollback"):
        assert webhook(sandbox, {}, path=f"{kind}/check") == (403, b"Forbidden")
        assert webhook(sandbox, {}, path=f"{kind}/open")[0] == 202
        assert webhook(sandbox, {}, path=f"{kind}/check") == (200, b"Approved")
        assert webhook(sandbox, {}, path=f"{kind}/close")[0] == 202
        assert webhook(sandbox, {}, path=f"{kind}/check") == (403, b"Forbidden")


def test_a_webhook_without_metadata_or_of_an_unknown_type_fails(sandbox, cluster_apps):
    url = f"{sandbox.api_url}/api/v1/namespaces/{NS}/services/flagger-loadtester:80/proxy/"
    assert http("POST", url, {"name": "podinfo", "namespace": NS}) == (400, b"metadata not found in payload")
    # Flagger's handler panics on a type it has no task for (v1.44.0): the connection drops, the
    # API server's proxy answers 503, and the load tester serves on.
    status, body = webhook(sandbox, {"type": "nothing-like-it", "cmd": "true"})
    assert status == 503, body
    assert http("GET", url + "healthz") == (200, b"OK")


def test_blocking_load_test_reports_its_result(sandbox, cluster_apps):
    status, body = bash(sandbox, f"hey -n 20 -c 2 -host {HOST} http://traefik.traefik/")
    assert status == 200, body
    assert "[200]\t20 responses" in body.decode()


def test_cluster_ip_round_robins_over_ready_endpoints(sandbox, cluster_apps):
    hostnames = set()
    for _ in range(6):
        status, body = bash(sandbox, f"curl -s http://podinfo-canary.{NS}/")
        assert status == 200, body
        hostnames.add(json.loads(body)["hostname"])
    pods = {p["name"] for p in sandbox.pods(NS) if p["name"].startswith("podinfo-canary-")}
    assert hostnames == pods


def test_services_proxy_reaches_a_service_from_outside(sandbox, cluster_apps):
    out = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/services/podinfo-canary:http/proxy/version").stdout
    assert json.loads(out)["version"] == "4.0.6"


def test_cli_exec_runs_a_command_inside_a_pod(sandbox, cluster_apps):
    done = sandbox.cli("exec", "-n", NS, "deploy/flagger-loadtester", "--",
                       "curl", "-s", f"http://podinfo-canary.{NS}.svc.cluster.local/version")
    assert json.loads(done.stdout)["version"] == "4.0.6"


def test_traefik_service_leads_to_the_web_entrypoint(sandbox, cluster_apps):
    done = sandbox.cli("exec", "-n", NS, "deploy/flagger-loadtester", "--",
                       "curl", "-s", "-H", f"Host: {HOST}", "http://traefik.traefik/version")
    assert json.loads(done.stdout)["version"] == "4.0.6"


def test_a_background_command_stops_with_its_load_tester_pod(sandbox, namespace):
    """The load tester runs its commands in its own process group, which the kubelet ends with the pod."""
    sandbox.apply(loadtester(), namespace=namespace)
    sandbox.wait_for_rollout(namespace, "flagger-loadtester")
    url = f"{sandbox.api_url}/api/v1/namespaces/{namespace}/services/flagger-loadtester:80/proxy/"
    cmd = f"sleep 600; echo {namespace}"
    assert http("POST", url, {"name": "podinfo", "namespace": namespace,
                              "metadata": {"type": "cmd", "cmd": cmd}}) == (202, b"")
    deadline = time.monotonic() + 10
    while not processes_running(sandbox, ["sh", "-c", cmd]) and time.monotonic() < deadline:
        time.sleep(0.1)
    [shell] = processes_running(sandbox, ["sh", "-c", cmd])
    sleeper = int(Path(f"/proc/{shell}/task/{shell}/children").read_text().split()[0])
    sandbox.kubectl("-n", namespace, "delete", "pod", "-l", "app=flagger-loadtester", "--timeout=60s")
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in (shell, sleeper)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in (shell, sleeper) if Path(f"/proc/{pid}").exists()]
