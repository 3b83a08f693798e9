"""With the real control plane, API faults and the request log live in the proxy that users'
clients go through; the API server answers everything else, identities included."""
import json
import threading
import time

import pytest
import requests

NS = "proxy-checks"


@pytest.fixture(scope="module")
def sb(sandbox):
    sandbox.kubectl("create", "namespace", NS)
    try:
        yield sandbox
    finally:
        sandbox.clear_faults()
        sandbox.kubectl("delete", "namespace", NS, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def no_faults_after(sb):
    yield
    sb.clear_faults()


def configmaps_url(sb):
    return f"{sb.api_url}/api/v1/namespaces/{NS}/configmaps"


def test_users_reach_the_real_api_server_through_the_proxy(sb):
    assert sb.api_url.startswith("http://127.0.0.1:")
    version = requests.get(f"{sb.api_url}/version", headers={"Authorization": "Bearer sandbox"}, timeout=10).json()
    assert version["gitVersion"] == "v1.37.2"


def test_injected_errors_carry_status_bodies_and_retry_after_and_stop_when_cleared(sb):
    sb.set_faults(error_rate=1.0, error_codes=[429], retry_after=2, paths="/configmaps")
    resp = requests.get(configmaps_url(sb), headers={"Authorization": "Bearer sandbox"}, timeout=10)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert resp.json()["reason"] == "TooManyRequests"
    # Paths outside the pattern are untouched.
    assert requests.get(f"{sb.api_url}/api/v1/namespaces/{NS}/secrets", headers={"Authorization": "Bearer sandbox"},
                        timeout=10).status_code == 200
    sb.clear_faults()
    assert requests.get(configmaps_url(sb), headers={"Authorization": "Bearer sandbox"}, timeout=10).status_code == 200


def test_a_dropped_connection_gets_no_answer(sb):
    sb.set_faults(drop_rate=1.0, paths="/configmaps")
    with pytest.raises(requests.ConnectionError):
        requests.get(configmaps_url(sb), headers={"Authorization": "Bearer sandbox"}, timeout=10)


def test_kubectl_sees_injected_faults_and_the_request_log_records_its_calls(sb):
    since = sb.last_request_index()
    sb.set_faults(error_rate=1.0, error_codes=[503], paths=f"/namespaces/{NS}/configmaps")
    failed = sb.kubectl("-n", NS, "create", "configmap", "flaky", "--from-literal=a=1", check=False)
    assert failed.returncode != 0 and "injected fault" in failed.stderr, failed.stderr
    sb.clear_faults()
    sb.kubectl("-n", NS, "create", "configmap", "steady", "--from-literal=a=1")
    entries = [e for e in sb.requests(since) if e["path"].endswith("/configmaps")]
    assert [(e["verb"], e["status"]) for e in entries][-1] == ("create", 201)
    assert ("create", 503) in [(e["verb"], e["status"]) for e in entries]
    assert all(e["user_agent"].startswith("kubectl") for e in entries)


def test_another_identity_is_judged_by_the_api_server(sb):
    """A ServiceAccount's token passes the proxy untouched: RBAC refuses what it may not do."""
    sb.kubectl("-n", NS, "create", "serviceaccount", "nobody")
    token = sb.kubectl("-n", NS, "create", "token", "nobody").stdout.strip()
    resp = requests.get(configmaps_url(sb), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 403
    assert f"system:serviceaccount:{NS}:nobody" in resp.json()["message"]


def test_watches_stream_through_the_proxy(sb):
    seen = []
    # The API server ends this watch after 120 s; a proxy that buffered it would show nothing sooner.
    url = f"{configmaps_url(sb)}?watch=true&timeoutSeconds=120"

    def watch():
        with requests.get(url, headers={"Authorization": "Bearer sandbox"}, stream=True, timeout=130) as resp:
            for line in resp.iter_lines():
                event = json.loads(line)
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if event["object"]["metadata"]["name"] == "streamed":
                    return

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    time.sleep(1.0)
    sb.kubectl("-n", NS, "create", "configmap", "streamed", "--from-literal=a=1")
    reader.join(30)
    assert ("ADDED", "streamed") in seen, seen
