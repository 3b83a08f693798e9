"""Alert payloads per provider, delivered to a real HTTP server on 127.0.0.1."""

import base64

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils import notifiers
from pdtest.http_recorder import RecordingServer

MESSAGE = "Canary analysis failed, rollback finished."
FIELDS = [{"name": "Target", "value": "Deployment/podinfo.test"},
          {"name": "Failed checks threshold", "value": "3"}]


@pytest.fixture
def server():
    recorder = RecordingServer(status=200, reply=b"ok")
    yield recorder
    recorder.stop()


def send(provider, server, severity="error", path="/hook", **kwargs):
    payload = notifiers.build_alert(provider, "podinfo", "test", MESSAGE, FIELDS, severity,
                                    username=kwargs.pop("username", None),
                                    channel=kwargs.pop("channel", None))
    status = notifiers.post_alert(provider, server.url + path, payload, **kwargs)
    [received] = server.requests
    return status, received


def test_slack_gets_one_attachment_with_the_fields(server):
    status, received = send("slack", server, channel="deploys", token="xoxb-1")
    assert status == 200
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Authorization"] == "Bearer xoxb-1"
    body = received.json()
    assert body["channel"] == "deploys"
    assert body["username"] == "flagger"
    assert body["icon_emoji"] == ":rocket:"
    [attachment] = body["attachments"]
    assert attachment == {
        "color": "danger",
        "author_name": "podinfo.test",
        "text": MESSAGE,
        "mrkdwn_in": ["text"],
        "fields": [
            {"title": "Target", "value": "Deployment/podinfo.test", "short": False},
            {"title": "Failed checks threshold", "value": "3", "short": False},
        ],
    }


@pytest.mark.parametrize("severity, color", [("info", "good"), ("warn", "warning"),
                                             ("error", "danger")])
def test_slack_colour_follows_severity(server, severity, color):
    _status, received = send("slack", server, severity=severity)
    assert received.json()["attachments"][0]["color"] == color


def test_discord_uses_its_slack_compatible_endpoint(server):
    _status, received = send("discord", server, path="/api/webhooks/1/abc", username="release-bot")
    assert received.path == "/api/webhooks/1/abc/slack"
    body = received.json()
    assert body["username"] == "release-bot"
    assert body["attachments"][0]["author_name"] == "podinfo.test"
    assert "Authorization" not in received.headers


def test_discord_url_already_ending_in_slack_is_kept():
    assert notifiers.discord_url("https://d.example/api/webhooks/1/x/slack") == \
        "https://d.example/api/webhooks/1/x/slack"


def test_rocket_gets_slack_attachments_with_hex_colours(server):
    _status, received = send("rocket", server, severity="info", channel="ops")
    body = received.json()
    assert body["channel"] == "ops"
    assert body["attachments"][0]["color"] == "#0076D7"
    assert body["attachments"][0]["fields"][1]["value"] == "3"


def test_msteams_gets_a_message_card(server):
    _status, received = send("msteams", server, severity="error")
    assert received.json() == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "FF0000",
        "summary": "podinfo.test",
        "sections": [{
            "activityTitle": MESSAGE,
            "activitySubtitle": "podinfo.test",
            "facts": FIELDS,
        }],
    }


def test_gchat_gets_a_card_with_one_section_per_field(server):
    _status, received = send("gchat", server, severity="warn")
    [card] = received.json()["cards"]
    assert card["header"]["subtitle"] == "podinfo.test"
    texts = [s["widgets"][0]["textParagraph"]["text"] for s in card["sections"]]
    assert MESSAGE in texts[0]
    assert texts[1].startswith("Target<br>")
    assert "Deployment/podinfo.test" in texts[1]
    assert len(texts) == 3


def test_fields_may_be_given_as_a_mapping():
    assert notifiers.normalize_fields({"Cluster": "prod", "Weight": 10}) == [
        {"name": "Cluster", "value": "prod"}, {"name": "Weight", "value": "10"}]


def test_a_malformed_field_is_named():
    with pytest.raises(ValueError) as err:
        notifiers.normalize_fields([{"name": "x"}])
    assert "fields[0]" in str(err.value)


def test_a_rejected_alert_fails_without_showing_the_url():
    rejecting = RecordingServer(status=403, reply=b"invalid_token")
    try:
        payload = notifiers.build_alert("slack", "podinfo", "test", MESSAGE)
        with pytest.raises(notifiers.NotifierError) as err:
            notifiers.post_alert("slack", rejecting.url + "/services/T0/SECRETPATH", payload)
    finally:
        rejecting.stop()
    assert "HTTP 403" in str(err.value)
    assert "invalid_token" in str(err.value)
    assert "SECRETPATH" not in str(err.value)


def test_unreachable_provider_fails_without_showing_the_url():
    closed = RecordingServer()
    url = closed.url + "/services/SECRETPATH"
    closed.stop()
    payload = notifiers.build_alert("msteams", "podinfo", "test", MESSAGE)
    with pytest.raises(notifiers.NotifierError) as err:
        notifiers.post_alert("msteams", url, payload)
    assert "SECRETPATH" not in str(err.value)
    assert "could not send the msteams alert" in str(err.value)


def test_alerts_go_through_the_proxy_when_one_is_set(server):
    # A plain-HTTP proxy receives the absolute URL in the request line; the recorder plays
    # the proxy here, so the request reaching it proves the proxy was used.
    payload = notifiers.build_alert("slack", "podinfo", "test", MESSAGE)
    notifiers.post_alert("slack", "http://chat.invalid/hook", payload, proxy=server.url)
    [received] = server.requests
    assert received.path == "http://chat.invalid/hook"
    assert received.json()["attachments"][0]["text"] == MESSAGE


@pytest.mark.parametrize("provider, severity, field", [
    ("teams", "info", "provider must be one of slack, msteams, discord, rocket, gchat"),
    ("slack", "critical", "severity must be one of info, warn, error"),
])
def test_bad_provider_or_severity_names_the_allowed_values(provider, severity, field):
    with pytest.raises(ValueError) as err:
        notifiers.build_alert(provider, "podinfo", "test", MESSAGE, severity=severity)
    assert field in str(err.value)


def test_non_http_url_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as err:
        notifiers.validate_url("hooks.slack.com/services/SECRET")
    assert "url must be an http:// or https:// URL" in str(err.value)
    assert "SECRET" not in str(err.value)


@pytest.mark.parametrize("alert, event, sent", [
    ("info", "info", True), ("info", "error", True),
    ("warn", "info", False), ("warn", "warn", True), ("warn", "error", True),
    ("error", "warn", False), ("error", "error", True),
])
def test_severity_filter_follows_flagger(alert, event, sent):
    assert notifiers.severity_matches(alert, event) is sent


ALERT = {"name": "on-call", "severity": "warn",
         "provider_ref": {"name": "slack", "namespace": "test"}}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_an_alert_provider_becomes_a_target_with_flaggers_defaults():
    target = notifiers.target_from_alert_provider(
        ALERT, {"spec": {"type": "slack", "address": "https://hooks.example/x"}})
    assert target == {"name": "on-call", "provider": "slack", "url": "https://hooks.example/x",
                      "token": None, "proxy": None, "username": "flagger", "channel": "general",
                      "alert_severity": "warn"}


def test_the_providers_secret_overrides_the_address_and_adds_the_token():
    secret = {"data": {"address": b64("https://hooks.example/from-secret"), "token": b64("t0k")}}
    target = notifiers.target_from_alert_provider(
        ALERT, {"spec": {"type": "msteams", "address": "https://old", "proxy": "http://p:3128",
                         "secretRef": {"name": "s"}}}, secret)
    assert target["url"] == "https://hooks.example/from-secret"
    assert target["token"] == "t0k"
    assert target["proxy"] == "http://p:3128"


@pytest.mark.parametrize("spec, secret, message", [
    ({"type": "pagerduty", "address": "https://x"}, None, "spec.type must be one of slack"),
    ({"type": "slack"}, None, "has no spec.address and no secretRef"),
    ({"type": "slack", "secretRef": {"name": "s"}}, {"data": {}}, "secret does not contain an address"),
])
def test_unusable_alert_providers_are_named(spec, secret, message):
    with pytest.raises(ValueError) as err:
        notifiers.target_from_alert_provider(ALERT, {"spec": spec}, secret)
    assert "AlertProvider test/slack" in str(err.value)
    assert message in str(err.value)
