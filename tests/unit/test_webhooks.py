"""Webhook calls with Flagger's semantics, against a real HTTP server on 127.0.0.1."""

import json

import pytest
from kubernetes import client as k8s

from ansible_collections.progressive.delivery.plugins.module_utils import webhooks
from pdtest.http_recorder import RecordingServer


@pytest.fixture
def recorder():
    servers = []

    def start(**kwargs):
        server = RecordingServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def direct():
    return webhooks.WebhookSender(access="direct", sleep=lambda seconds: None)


def hook(url, name="check", type_="pre-rollout", **extra):
    h = {"name": name, "type": type_, "url": url, "timeout_seconds": 5, "metadata": {}}
    h.update(extra)
    return h


PAYLOAD = webhooks.build_payload("podinfo", "test", "Progressing", "abc123")


def test_payload_is_posted_as_json_with_flagger_fields(recorder):
    server = recorder()
    summary = webhooks.run_webhooks(
        [hook(server.url + "/gate", metadata={"cmd": "true"})], "pre-rollout", PAYLOAD, direct()
    )
    assert summary["passed"] is True
    [received] = server.requests
    assert received.path == "/gate"
    assert received.headers["Content-Type"] == "application/json"
    assert received.json() == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "abc123",
        "metadata": {"cmd": "true"},
    }


def test_each_hook_receives_its_own_metadata(recorder):
    server = recorder()
    webhooks.run_webhooks(
        [hook(server.url + "/a", name="a", metadata={"type": "bash", "cmd": "true"}),
         hook(server.url + "/b", name="b", metadata={"type": "cmd", "cmd": "hey"})],
        "pre-rollout", PAYLOAD, direct(),
    )
    assert [r.json()["metadata"] for r in server.requests] == [
        {"type": "bash", "cmd": "true"}, {"type": "cmd", "cmd": "hey"}]


@pytest.mark.parametrize("status", [200, 201, 202])
def test_statuses_up_to_202_pass(recorder, status):
    server = recorder(status=status)
    result = webhooks.call_hook(direct(), hook(server.url), PAYLOAD)
    assert result["passed"] is True
    assert result["status"] == status


@pytest.mark.parametrize("status", [203, 204, 400, 500])
def test_statuses_above_202_fail_with_the_answer_in_the_message(recorder, status):
    server = recorder(status=status, reply=b"token not found")
    result = webhooks.call_hook(direct(), hook(server.url, name="acceptance-test"), PAYLOAD)
    assert result["passed"] is False
    assert result["status"] == status
    assert "acceptance-test" in result["msg"]
    assert "HTTP {0}".format(status) in result["msg"]
    if status != 204:  # a 204 carries no body by definition
        assert "token not found" in result["msg"]


def test_hook_timeout_fails_the_hook(recorder):
    server = recorder(delay=2.0)
    result = webhooks.call_hook(direct(), hook(server.url, timeout_seconds=0.3), PAYLOAD)
    assert result["passed"] is False
    assert result["status"] is None
    assert "no answer within 0.3s" in result["msg"]


def test_hook_without_timeout_uses_flaggers_default_of_ten_seconds():
    assert webhooks.DEFAULT_TIMEOUT_SECONDS == 10


def test_unreachable_hook_fails_and_says_why(recorder):
    server = recorder()
    url = server.url
    server.stop()
    result = webhooks.call_hook(direct(), hook(url, name="gone"), PAYLOAD)
    assert result["passed"] is False
    assert "gone webhook could not be called" in result["msg"]
    assert "refused" in result["msg"].lower()


def test_output_is_kept_only_when_log_cmd_output_is_true(recorder):
    server = recorder(reply=b"Summary: 200 requests")
    logged = webhooks.call_hook(
        direct(), hook(server.url, metadata={"logCmdOutput": "true"}), PAYLOAD
    )
    quiet = webhooks.call_hook(direct(), hook(server.url), PAYLOAD)
    assert logged["output"] == "Summary: 200 requests"
    assert quiet["output"] == ""


def test_first_failing_check_stops_the_remaining_hooks(recorder):
    failing = recorder(status=500)
    never = recorder()
    summary = webhooks.run_webhooks(
        [hook(failing.url, name="first"), hook(never.url, name="second")],
        "pre-rollout", PAYLOAD, direct(),
    )
    assert summary["passed"] is False
    assert summary["failed"]["name"] == "first"
    assert summary["not_called"] == ["second"]
    assert never.requests == []


def test_only_hooks_of_the_requested_type_run_and_untyped_hooks_are_rollout(recorder):
    server = recorder()
    hooks = [
        hook(server.url + "/pre", type_="pre-rollout"),
        {"name": "load", "url": server.url + "/load"},
        hook(server.url + "/post", type_="post-rollout"),
    ]
    summary = webhooks.run_webhooks(hooks, "rollout", PAYLOAD, direct())
    assert [r["name"] for r in summary["results"]] == ["load"]
    assert [r.path for r in server.requests] == ["/load"]


def test_no_hooks_of_a_type_is_a_pass(recorder):
    summary = webhooks.run_webhooks([], "confirm-promotion", PAYLOAD, direct())
    assert summary["passed"] is True
    assert summary["results"] == []


def test_a_passing_rollback_hook_requests_a_rollback_and_stops(recorder):
    says_no = recorder(status=403)
    says_yes = recorder(status=200)
    not_asked = recorder(status=200)
    summary = webhooks.run_webhooks(
        [hook(says_no.url, "a", "rollback"), hook(says_yes.url, "b", "rollback"),
         hook(not_asked.url, "c", "rollback")],
        "rollback", PAYLOAD, direct(),
    )
    assert summary["rollback_requested"] is True
    assert summary["not_called"] == ["c"]
    assert not_asked.requests == []


def test_failing_rollback_hooks_do_not_request_a_rollback(recorder):
    server = recorder(status=404)
    summary = webhooks.run_webhooks([hook(server.url, "gate", "rollback")], "rollback",
                                    PAYLOAD, direct())
    assert summary["rollback_requested"] is False


def test_event_hooks_all_run_and_carry_the_event_in_metadata(recorder):
    failing = recorder(status=500)
    second = recorder()
    payload = webhooks.build_event_payload(
        "podinfo", "test", "Progressing", "abc", "Advance podinfo.test canary weight 10",
        "Normal", now=1700000000.123,
    )
    summary = webhooks.run_webhooks(
        [hook(failing.url, "one", "event"),
         hook(second.url, "two", "event", metadata={"eventType": "spoofed", "team": "web"})],
        "event", payload, direct(),
    )
    assert len(summary["results"]) == 2
    body = second.requests[0].json()
    assert body["metadata"] == {
        "eventMessage": "Advance podinfo.test canary weight 10",
        "eventType": "Normal",
        "timestamp": "1700000000123",
        "team": "web",
    }


def test_retries_repeat_server_errors_until_one_passes(recorder):
    server = recorder(statuses=[503, 500, 200])
    result = webhooks.call_hook(direct(), hook(server.url, retries=2), PAYLOAD)
    assert result["passed"] is True
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(recorder):
    server = recorder(status=400)
    result = webhooks.call_hook(direct(), hook(server.url, retries=3), PAYLOAD)
    assert result["passed"] is False
    assert len(server.requests) == 1


def test_a_retried_status_that_never_passes_is_described_as_flaggers_client_gives_up(recorder):
    # Flagger's retrying HTTP client retries 429 and 5xx (not 501); when the retries run out it
    # says "giving up" and the body is lost, so that is the detail of its Halt Event.
    server = recorder(status=503, reply=b"overloaded")
    result = webhooks.call_hook(direct(), hook(server.url + "/check?key=s3cret", retries=2), PAYLOAD)
    assert result["passed"] is False
    assert len(server.requests) == 3
    assert result["error"] == "POST {0}/check?*** giving up after 3 attempt(s)".format(server.url)


def test_a_status_flagger_does_not_retry_is_described_by_the_answer(recorder):
    server = recorder(status=403, reply=b"  approval pending\n")
    result = webhooks.call_hook(direct(), hook(server.url, retries=3), PAYLOAD)
    assert result["error"] == "approval pending"
    assert "error" not in webhooks.call_hook(direct(), hook(recorder(status=200).url), PAYLOAD)


def test_an_unreachable_hook_is_described_as_flaggers_client_gives_up_with_the_reason(recorder):
    server = recorder()
    url = server.url
    server.stop()
    result = webhooks.call_hook(direct(), hook(url, retries=1), PAYLOAD)
    assert result["error"].startswith("POST {0} giving up after 2 attempt(s): ".format(url))
    assert "refused" in result["error"].lower()


def test_unknown_hook_type_names_the_allowed_values():
    with pytest.raises(ValueError) as err:
        webhooks.run_webhooks([], "pre-release", PAYLOAD, direct())
    assert "type must be one of" in str(err.value)
    assert "confirm-traffic-increase" in str(err.value)


@pytest.mark.parametrize("url, expected", [
    ("http://flagger-loadtester.test/", ("flagger-loadtester", "test", 80, "/", "")),
    ("http://flagger-loadtester.test", ("flagger-loadtester", "test", 80, "/", "")),
    ("http://gate.ops.svc:8080/approve?x=1", ("gate", "ops", 8080, "/approve", "x=1")),
    ("https://gate.ops.svc.cluster.local/a/b", ("gate", "ops", 443, "/a/b", "")),
])
def test_cluster_service_urls_are_recognised(url, expected):
    target = webhooks.parse_cluster_url(url)
    assert (target.service, target.namespace, target.port, target.path, target.query) == expected


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/",
    "http://localhost/",
    "https://hooks.slack.com/services/x",
    "http://a.b.cluster.local/",
    "http://Under_Score.ns/",
    "ftp://gate.ops/",
])
def test_other_hosts_are_not_cluster_services(url):
    assert webhooks.parse_cluster_url(url) is None


def test_proxy_path_addresses_the_service_port():
    target = webhooks.parse_cluster_url("http://flagger-loadtester.test/")
    assert target.proxy_path() == (
        "/api/v1/namespaces/test/services/flagger-loadtester:80/proxy/"
    )
    tls = webhooks.parse_cluster_url("https://gate.ops.svc:8443/approve")
    assert tls.proxy_path() == "/api/v1/namespaces/ops/services/https:gate:8443/proxy/approve"


def test_auto_proxies_only_cluster_names_that_do_not_resolve():
    def nothing_resolves(host):
        return False

    def everything_resolves(host):
        return True

    url = "http://flagger-loadtester.test/"
    assert webhooks.choose_route(url, "auto", nothing_resolves)[0] == "api_proxy"
    assert webhooks.choose_route(url, "auto", everything_resolves)[0] == "direct"
    assert webhooks.choose_route(url, "direct", nothing_resolves)[0] == "direct"
    assert webhooks.choose_route(url, "api_proxy", everything_resolves)[0] == "api_proxy"
    assert webhooks.choose_route("http://127.0.0.1/", "api_proxy", nothing_resolves)[0] == "direct"


def test_unknown_access_mode_names_the_allowed_values():
    with pytest.raises(ValueError) as err:
        webhooks.WebhookSender(access="tunnel")
    assert "cluster_url_access must be one of auto, api_proxy, direct" in str(err.value)


def test_proxied_hook_goes_to_the_api_server_with_the_clients_credentials(recorder):
    # A recorder standing in for the API server: the proxy request must carry our token and
    # the original payload, at the service proxy path.
    apiserver = recorder(status=202, reply=b"command started")
    configuration = k8s.Configuration()
    configuration.host = apiserver.url
    configuration.api_key = {"authorization": "Bearer s3cr3t"}
    sender = webhooks.WebhookSender(
        api_client=lambda: k8s.ApiClient(configuration),
        access="auto",
        resolves=lambda host: False,
    )
    result = webhooks.call_hook(
        sender, hook("http://flagger-loadtester.test/?key=k", name="load-test"), PAYLOAD
    )
    assert result["passed"] is True, result
    assert result["route"] == "api_proxy"
    assert result["url"] == "http://flagger-loadtester.test/?***"
    [received] = apiserver.requests
    assert received.path == "/api/v1/namespaces/test/services/flagger-loadtester:80/proxy/?key=k"
    assert received.headers["authorization"] == "Bearer s3cr3t"
    assert received.json() == PAYLOAD


def test_cluster_url_without_kubernetes_connection_fails_clearly():
    sender = webhooks.WebhookSender(access="api_proxy")
    result = webhooks.call_hook(sender, hook("http://gate.ops/"), PAYLOAD)
    assert result["passed"] is False
    assert "no Kubernetes connection" in result["msg"]


@pytest.mark.parametrize("url, shown", [
    ("https://hooks.example.com/x?token=abc", "https://hooks.example.com/x?***"),
    ("https://user:pw@hooks.example.com/x", "https://***@hooks.example.com/x"),
    ("http://flagger-loadtester.test/", "http://flagger-loadtester.test/"),
])
def test_urls_are_shown_without_credentials_or_query(url, shown):
    assert webhooks.redact_url(url) == shown


def test_check_mode_plan_calls_nothing(recorder):
    server = recorder()
    plan = webhooks.plan_webhooks([hook(server.url + "/x?k=1")], "pre-rollout", direct())
    assert plan[0]["route"] == "direct"
    assert plan[0]["passed"] is None
    assert "?***" in plan[0]["msg"]
    assert server.requests == []
    assert json.dumps(plan)  # results must be JSON-serialisable for Ansible
