"""canary_notify run by ansible-playbook against a real HTTP server on 127.0.0.1.

The webhook URL is a secret: it must never show up in the output, even with -vvv.
"""
import pytest

from pdtest.http_recorder import RecordingServer
from pdtest.playbooks import run_module

SECRET = "T000-SECRET-PATH"


@pytest.fixture
def chat():
    servers = []

    def start(**kwargs):
        server = RecordingServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def notify(tmp_path, args, check=False):
    return run_module(tmp_path, "progressive.delivery.canary_notify", args,
                      check=check)


def test_slack_alert_is_delivered_and_the_url_never_shown(tmp_path, chat):
    server = chat()
    done, result = notify(tmp_path, {
        "provider": "slack", "url": f"{server.url}/services/{SECRET}", "channel": "deploys",
        "name": "podinfo", "namespace": "test", "severity": "error",
        "text": "Canary analysis failed, rollback finished.",
        "fields": {"Failed checks": 3}, "token": "xoxb-TOKEN-VALUE",
    })
    assert result.get("failed") is not True, done.stdout[-3000:]
    assert result["sent"] == 1
    [received] = server.requests
    assert received.path == f"/services/{SECRET}"
    body = received.json()
    assert body["attachments"][0]["color"] == "danger"
    assert body["attachments"][0]["fields"] == [
        {"title": "Failed checks", "value": "3", "short": False}]
    assert SECRET not in done.stdout + done.stderr
    assert "xoxb-TOKEN-VALUE" not in done.stdout + done.stderr


def test_each_target_has_its_own_severity_filter(tmp_path, chat):
    errors_only = chat()
    everything = chat()
    done, result = notify(tmp_path, {
        "name": "podinfo", "namespace": "test", "severity": "warn",
        "text": "Canary is waiting for approval.",
        "providers": [
            {"name": "pager", "provider": "msteams", "url": errors_only.url + "/a",
             "alert_severity": "error"},
            {"name": "chat", "provider": "gchat", "url": everything.url + "/b"},
        ],
    })
    assert result["sent"] == 1, done.stdout[-3000:]
    assert errors_only.requests == []
    assert everything.requests[0].json()["cards"][0]["header"]["subtitle"] == "podinfo.test"
    assert [r["sent"] for r in result["results"]] == [False, True]


def test_check_mode_sends_nothing(tmp_path, chat):
    server = chat()
    done, result = notify(tmp_path, {
        "provider": "discord", "url": server.url + "/api/webhooks/1/x", "name": "podinfo",
        "namespace": "test", "text": "Promotion completed!"}, check=True)
    assert result["sent"] == 0, done.stdout[-3000:]
    assert result["results"][0]["msg"] == "check mode: not sent"
    assert server.requests == []


def test_a_rejected_alert_fails_naming_the_target_not_the_url(tmp_path, chat):
    server = chat(status=404, reply=b"no_service")
    done, result = notify(tmp_path, {
        "provider": "rocket", "url": f"{server.url}/hooks/{SECRET}", "name": "podinfo",
        "namespace": "test", "text": "Canary failed!"})
    assert result["failed"] is True
    assert "1 of 1 alert targets failed: rocket: rocket rejected the alert with HTTP 404" in \
        result["msg"]
    assert SECRET not in done.stdout + done.stderr


def test_a_target_without_url_is_refused(tmp_path):
    done, result = notify(tmp_path, {
        "provider": "slack", "name": "podinfo", "namespace": "test", "text": "x"})
    assert result["failed"] is True
    assert "url" in result["msg"]
