"""Each kind of fault the control API injects happens while set and stops once cleared.

API faults are scoped to the test's namespace (the `paths` regex) so that Traefik's own watches of
the shared sandbox stay healthy.
"""
import json
import os
import signal
import subprocess
import time
import urllib.error
from http.client import HTTPException

import pytest
from _manifests import ingressroute, join, podinfo_deployment, service, weighted_traefikservice

from kubesandbox.fixtures import KUBECTL, http


def configmaps_url(sandbox, ns):
    return f"{sandbox.api_url}/api/v1/namespaces/{ns}/configmaps"


def new_configmap(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


@pytest.fixture
def faults(sandbox):
    try:
        yield sandbox
    finally:
        sandbox.clear_faults()


@pytest.mark.parametrize("code,reason", [(500, "InternalError"), (503, "ServiceUnavailable"), (429, "TooManyRequests")])
def test_api_errors_happen_and_stop_when_cleared(faults, namespace, code, reason):
    sandbox = faults
    sandbox.set_faults(error_rate=1.0, error_codes=[code], retry_after=1 if code == 429 else None, paths=f"/namespaces/{namespace}/")
    status, body = http("GET", configmaps_url(sandbox, namespace))
    assert status == code
    assert json.loads(body)["reason"] == reason
    # Requests outside the fault's paths are untouched.
    assert http("GET", f"{sandbox.api_url}/api/v1/namespaces")[0] == 200
    sandbox.clear_faults()
    assert http("GET", configmaps_url(sandbox, namespace))[0] == 200


def test_each_configured_error_code_is_used(faults, namespace):
    sandbox = faults
    sandbox.set_faults(error_rate=1.0, error_codes=[500, 503], paths=f"/namespaces/{namespace}/")
    codes = {http("GET", configmaps_url(sandbox, namespace))[0] for _ in range(30)}
    assert codes == {500, 503}


def test_cli_fault_set_makes_kubectl_fail_and_clear_heals_it(sandbox, namespace):
    try:
        sandbox.cli("fault", "set", "--error-rate", "1", "--error-codes", "500", "--paths", f"/namespaces/{namespace}/")
        failed = sandbox.kubectl("-n", namespace, "get", "configmaps", check=False)
        assert failed.returncode != 0
        assert "InternalError" in failed.stderr or "injected fault" in failed.stderr, failed.stderr
    finally:
        sandbox.cli("fault", "clear")
    assert sandbox.kubectl("-n", namespace, "get", "configmaps").returncode == 0
    assert json.loads(sandbox.cli("fault", "show").stdout)["error_rate"] == 0


def test_latency_is_added_and_removed(faults, namespace):
    sandbox = faults
    sandbox.set_faults(latency=1.0, paths=f"/namespaces/{namespace}/")
    started = time.monotonic()
    assert http("GET", configmaps_url(sandbox, namespace))[0] == 200
    assert time.monotonic() - started >= 1.0
    sandbox.clear_faults()
    started = time.monotonic()
    assert http("GET", configmaps_url(sandbox, namespace))[0] == 200
    # Generous: only shows the second of added latency is gone.
    assert time.monotonic() - started < 0.9


def test_dropped_connections_happen_and_stop(faults, namespace):
    sandbox = faults
    sandbox.set_faults(drop_rate=1.0, paths=f"/namespaces/{namespace}/")
    with pytest.raises((urllib.error.URLError, HTTPException, ConnectionError)):
        http("GET", configmaps_url(sandbox, namespace), timeout=5)
    sandbox.clear_faults()
    assert http("GET", configmaps_url(sandbox, namespace))[0] == 200


def test_conflicts_on_writes_happen_and_stop(faults, namespace):
    sandbox = faults
    sandbox.set_faults(conflict_rate=1.0, paths=f"/namespaces/{namespace}/")
    status, body = http("POST", configmaps_url(sandbox, namespace), new_configmap("one"))
    assert status == 409 and json.loads(body)["reason"] == "Conflict"
    assert http("GET", configmaps_url(sandbox, namespace))[0] == 200  # reads are never conflicts
    sandbox.clear_faults()
    assert http("POST", configmaps_url(sandbox, namespace), new_configmap("one"))[0] == 201


def test_invalid_fault_settings_are_refused(sandbox):
    status, body = sandbox.control("PUT", "/faults", {"error_rate": 2})
    assert status == 400 and "error_rate" in body["error"]


def test_request_log_records_client_requests(sandbox, namespace):
    since = sandbox.last_request_index()
    http("GET", configmaps_url(sandbox, namespace) + "/missing")
    entries = [e for e in sandbox.requests(since) if e["path"].endswith(f"/namespaces/{namespace}/configmaps/missing")]
    assert len(entries) == 1
    assert entries[0]["verb"] == "get" and entries[0]["status"] == 404


def test_request_log_index_keeps_growing_after_clear(sandbox, namespace):
    http("GET", configmaps_url(sandbox, namespace))
    before = sandbox.last_request_index()
    assert sandbox.control("DELETE", "/requests")[0] == 200
    http("GET", configmaps_url(sandbox, namespace) + "/after-clear")
    entries = sandbox.requests(0)
    assert [e["path"] for e in entries if "/after-clear" in e["path"]]
    assert all(e["index"] > before for e in entries)


def test_an_open_watch_is_logged_while_it_streams(sandbox, namespace):
    since = sandbox.last_request_index()
    watch = subprocess.Popen([KUBECTL, "-n", namespace, "get", "configmaps", "--watch", "-o", "name"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=sandbox.process_env())
    try:
        deadline = time.monotonic() + 15
        watches = []
        while not watches and time.monotonic() < deadline:
            watches = [e for e in sandbox.requests(since)
                       if e["verb"] == "watch" and f"/namespaces/{namespace}/configmaps" in e["path"]]
            time.sleep(0.1)
        assert watch.poll() is None, "the watch ended"
        assert [e["status"] for e in watches] == [200]
    finally:
        watch.kill()
        watch.wait()


@pytest.fixture
def routed_app(sandbox, namespace):
    host = f"{namespace}.example.com"
    sandbox.apply(join(podinfo_deployment("podinfo", replicas=1), service("podinfo"),
                       weighted_traefikservice("podinfo", {"podinfo": 100}), ingressroute("podinfo", host, "podinfo")),
                  namespace=namespace)
    sandbox.wait_for_rollout(namespace, "podinfo")
    sandbox.wait_for_weights(namespace, "podinfo", {"podinfo": 100})
    sandbox.wait_for_versions(host, ["3.1.0"])
    return host


def test_traefik_stop_and_start(sandbox, routed_app):
    assert sandbox.traffic_split(routed_app, 1) == {"3.1.0": 1}
    try:
        assert sandbox.component("traefik", "stop")["running"] is False
        with pytest.raises(urllib.error.URLError):
            http("GET", sandbox.traefik_url + "/", headers={"Host": routed_app}, timeout=5)
    finally:
        assert sandbox.component("traefik", "start")["running"] is True
    # Restarted Traefik reads its configuration from the API again.
    deadline = time.monotonic() + 10
    while sandbox.traffic_split(routed_app, 1) != {"3.1.0": 1} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox.traffic_split(routed_app, 1) == {"3.1.0": 1}


def test_prometheus_stop_and_start(sandbox):
    try:
        assert sandbox.component("prometheus", "stop")["running"] is False
        with pytest.raises(urllib.error.URLError):
            http("GET", sandbox.prometheus_url + "/-/ready", timeout=5)
    finally:
        assert sandbox.component("prometheus", "start")["running"] is True
    assert http("GET", sandbox.prometheus_url + "/-/ready")[0] == 200
    up = sandbox.prometheus_query('up{job="traefik"}')
    assert up and up[0]["value"][1] == "1"


def test_a_crashed_traefik_is_restarted_unlike_a_stopped_one(sandbox, routed_app):
    before = sandbox.status()["components"]["traefik"]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = sandbox.status()["components"]["traefik"]
        try:
            if now["running"] and now["pid"] != before["pid"] and sandbox.traffic_split(routed_app, 1) == {"3.1.0": 1}:
                break
        except urllib.error.URLError:
            pass  # not listening yet
        time.sleep(0.2)
    now = sandbox.status()["components"]["traefik"]
    assert now["restarts"] == before["restarts"] + 1
    assert sandbox.traffic_split(routed_app, 1) == {"3.1.0": 1}
