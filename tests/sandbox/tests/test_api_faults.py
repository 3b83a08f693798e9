"""Fault injection on the API and the request log, at API level."""
from __future__ import annotations

import time

import pytest
import requests

from _api_harness import api_server, rest  # noqa: F401  (api_server is a pytest fixture)
from kubesandbox.faults import Faults, RequestLog


def _cm_url(api):
    return f"{api.url}/api/v1/namespaces/default/configmaps"


def test_error_rate_answers_configured_codes_with_retry_after_and_stops_when_cleared(api_server):
    api_server.call(api_server.faults.configure, error_rate=1.0, error_codes=[429], retry_after=3)
    resp = rest.get(_cm_url(api_server))
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json()["reason"] == "TooManyRequests"
    api_server.call(api_server.faults.clear)
    assert rest.get(_cm_url(api_server)).status_code == 200


def test_each_error_code_is_used(api_server):
    api_server.call(api_server.faults.configure, error_rate=1.0, error_codes=[500, 503])
    codes = {rest.get(_cm_url(api_server)).status_code for _ in range(30)}
    assert codes == {500, 503}


def test_dropped_connection_gets_no_answer(api_server):
    api_server.call(api_server.faults.configure, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        rest.get(_cm_url(api_server), timeout=5)
    api_server.call(api_server.faults.clear)
    assert rest.get(_cm_url(api_server), timeout=5).status_code == 200


def test_latency_is_added_and_removed(api_server):
    api_server.call(api_server.faults.configure, latency=0.3)
    slow = rest.get(_cm_url(api_server))
    assert slow.status_code == 200 and slow.elapsed.total_seconds() >= 0.3
    api_server.call(api_server.faults.clear)
    assert api_server.faults.to_dict()["latency"] == 0


def test_conflicts_hit_writes_only(api_server):
    api_server.call(api_server.faults.configure, conflict_rate=1.0)
    write = rest.post(_cm_url(api_server), json={"metadata": {"name": "c"}})
    assert write.status_code == 409 and write.json()["reason"] == "Conflict"
    assert rest.get(_cm_url(api_server)).status_code == 200
    api_server.call(api_server.faults.clear)
    assert rest.post(_cm_url(api_server), json={"metadata": {"name": "c"}}).status_code == 201


def test_paths_limit_which_requests_get_faults(api_server):
    api_server.call(api_server.faults.configure, error_rate=1.0, error_codes=[503], paths=r"/secrets")
    assert rest.get(_cm_url(api_server)).status_code == 200
    assert rest.get(f"{api_server.url}/api/v1/namespaces/default/secrets").status_code == 503


def test_request_log_records_kubernetes_verbs_in_order(api_server):
    base = _cm_url(api_server)
    start = api_server.request_log.last_index
    rest.post(base, json={"metadata": {"name": "c"}})
    rest.get(f"{base}/c")
    rest.get(base)
    rest.patch(f"{base}/c", data="{}", headers={"Content-Type": "application/merge-patch+json"})
    rest.put(f"{base}/c", json=rest.get(f"{base}/c").json())
    rest.get(base, params={"watch": "true", "timeoutSeconds": "0.2"})
    rest.delete(f"{base}/c", headers={"User-Agent": "probe/1"})
    entries = api_server.call(api_server.request_log.entries, start)
    assert [e["verb"] for e in entries] == ["create", "get", "list", "patch", "get", "update", "watch", "delete"]
    assert [e["status"] for e in entries] == [201, 200, 200, 200, 200, 200, 200, 200]
    assert entries[-1]["user_agent"] == "probe/1" and entries[-1]["path"] == "/api/v1/namespaces/default/configmaps/c"
    indexes = [e["index"] for e in entries]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    assert all(e["duration"] >= 0 for e in entries)


def test_faults_validate_rates_and_report_settings():
    faults = Faults()
    with pytest.raises(ValueError):
        faults.configure(error_rate=1.5)
    faults.configure(error_rate=0.25, retry_after=2, paths="^/apis/")
    assert faults.to_dict() == {"error_rate": 0.25, "error_codes": [500, 503, 429], "latency": 0.0,
                                "drop_rate": 0.0, "conflict_rate": 0.0, "retry_after": 2, "paths": "^/apis/"}
    faults.clear()
    assert not faults.active


def test_request_log_index_keeps_growing_after_clear():
    log = RequestLog()
    log.record("get", "/a", 200, 0.01, "ua")
    log.clear()
    entry = log.record("list", "/b", 200, 0.01, "ua")
    assert entry["index"] == 2
    assert [e["path"] for e in log.entries(since_index=0)] == ["/b"]
    assert log.entries(since_index=2) == []


def test_open_watch_is_logged_while_it_streams(api_server):
    start = api_server.request_log.last_index
    with rest.get(f"{api_server.url}/api/v1/configmaps", params={"watch": "true"}, stream=True, timeout=10):
        entries = []
        for _ in range(50):
            entries = api_server.call(api_server.request_log.entries, start)
            if entries:
                break
            time.sleep(0.05)
        assert [(e["verb"], e["status"]) for e in entries] == [("watch", 200)]
