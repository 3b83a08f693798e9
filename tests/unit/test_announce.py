"""Which Events alert, in Flagger's words and severities, and where Events and alerts go."""

from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
    alert_fields,
    alert_for,
    send_alert,
    send_to_event_hooks,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    event_message,
    parse_event,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import WebhookSender

from pdtest.manifests import fast_canary


def canary(webhooks=None, alerts=None, **spec):
    doc = fast_canary("test", webhooks=webhooks, **spec)
    if alerts is not None:
        doc["spec"]["analysis"]["alerts"] = alerts
    return parse_canary(doc)


def alert_of(message, **kwargs):
    return alert_for(canary(kwargs.pop("webhooks", None)), message=message, **kwargs)


def test_flagger_moments_alert_with_its_texts_and_severities():
    assert alert_of("New revision detected! Scaling up podinfo.test") == (
        "New revision detected, progressing canary analysis.", "info", True)
    assert alert_of("Initialization done! podinfo.test") == (
        "New Deployment detected, initialization completed.", "info", True)
    assert alert_of("Promotion completed! Scaling down podinfo.test") == (
        "Canary analysis completed successfully, promotion finished.", "info", False)
    assert alert_of("Promotion completed! Canary analysis was skipped for podinfo.test") == (
        "Canary analysis was skipped, promotion finished.", "info", False)
    assert alert_of("Halt podinfo.test advancement waiting for approval gate") == (
        "Canary is waiting for approval.", "warn", False)
    assert alert_of("Halt podinfo.test advancement waiting for traffic increase approval gate") == (
        "Canary traffic increase is waiting for approval.", "warn", False)
    assert alert_of("Halt podinfo.test advancement waiting for promotion approval gate") == (
        "Canary promotion is waiting for approval.", "warn", False)


def test_events_flagger_does_not_alert_on_send_nothing():
    for message in ("Advance podinfo.test canary weight 10",
                    "Halt podinfo.test advancement success rate 53.42% < 99%",
                    "Canary failed! Scaling down podinfo.test",
                    "Promotion completed! Scaling down podinfo.test (promoted by an operator)",
                    "Starting canary analysis for podinfo.test"):
        assert alert_of(message) is None, message


def test_rollback_reasons_alert_as_flagger_words_them():
    assert alert_of("Rolling back podinfo.test failed checks threshold reached 3",
                    rolling_back=True) == ("Failed checks threshold reached 3", "error", False)
    assert alert_of("Rolling back podinfo.test manual webhook invoked", rolling_back=True) == (
        "Rolling back manual webhook invoked", "warn", False)
    assert alert_of("Rolling back podinfo.test progress deadline exceeded canary deployment "
                    "podinfo.test not ready", rolling_back=True) == (
        "Progress deadline exceeded canary deployment podinfo.test not ready", "error", False)


def test_a_rollback_reason_of_our_own_alerts_as_an_error_with_the_reason():
    reason = "Rolling back podinfo.test: confirm-promotion gate stayed closed for 600s"
    assert alert_of(reason, rolling_back=True) == (reason, "error", False)
    assert alert_of(reason) is None


def test_mute_alert_silences_only_the_gate_whose_hook_sets_it():
    hooks = [{"name": "quiet", "type": "confirm-rollout", "url": "http://gate.test/",
              "muteAlert": True},
             {"name": "loud", "type": "confirm-rollout", "url": "http://gate.test/"}]
    assert alert_of("Halt podinfo.test advancement waiting for approval quiet",
                    webhooks=hooks) is None
    assert alert_of("Halt podinfo.test advancement waiting for approval loud",
                    webhooks=hooks) == ("Canary is waiting for approval.", "warn", False)


def test_parse_event_is_the_inverse_of_event_message():
    subject = canary()
    _type, message = event_message("rollback_threshold", subject, failed_checks=5)
    assert parse_event("rollback_threshold", subject, message) == {"failed_checks": "5"}
    assert parse_event("rollback_threshold", subject,
                       "Rolling back other.test failed checks threshold reached 5") is None
    assert parse_event("promoted", subject, "Promotion completed! Scaling down other.test") is None


def test_the_metadata_fields_describe_the_canary_as_flagger_does():
    assert alert_fields(canary(), True, "prod-eu") == [
        {"name": "Cluster", "value": "prod-eu"},
        {"name": "Target", "value": "Deployment/podinfo.test"},
        {"name": "Failed checks threshold", "value": "2"},
        {"name": "Progress deadline", "value": "90s"},
        {"name": "Traffic routing", "value": "Weight step: 10 max: 30"},
    ]
    assert alert_fields(canary(), False) == []


def test_the_global_event_webhook_is_used_only_without_event_hooks_of_the_canary(server):
    own, glob = server(), server()
    sender = WebhookSender(access="direct")
    signals = Signals(event_webhook=glob.url + "/global")
    status = {"status": {"phase": "Progressing", "lastAppliedSpec": "abc"}}

    send_to_event_hooks(canary(), status, "Normal", "Advance podinfo.test canary weight 10",
                        sender, signals)
    hooked = canary([{"name": "mine", "type": "event", "url": own.url + "/own",
                      "metadata": {"team": "a", "eventType": "not this"}}])
    send_to_event_hooks(hooked, status, "Warning", "Halt podinfo.test advancement x", sender,
                        signals)

    [global_call] = glob.requests
    body = global_call.json()
    assert body["name"] == "podinfo" and body["namespace"] == "test"
    assert body["phase"] == "Progressing" and body["checksum"] == "abc"
    assert body["metadata"]["eventMessage"] == "Advance podinfo.test canary weight 10"
    assert body["metadata"]["eventType"] == "Normal"
    assert body["metadata"]["timestamp"].isdigit()
    [own_call] = own.requests
    assert own_call.json()["metadata"]["eventType"] == "Warning"
    assert own_call.json()["metadata"]["team"] == "a"


def test_global_alert_providers_filter_by_severity(server):
    chat = server()
    signals = Signals(alert_providers=[
        {"name": "all", "provider": "slack", "url": chat.url + "/all", "alert_severity": "info"},
        {"name": "errors", "provider": "slack", "url": chat.url + "/errors",
         "alert_severity": "error"}])

    info = send_alert(None, canary(), signals, "Canary is waiting for approval.", "warn", False)
    error = send_alert(None, canary(), signals, "Failed checks threshold reached 2", "error", False)

    assert [(r["name"], r["sent"]) for r in info] == [("all", True), ("errors", False)]
    assert [(r["name"], r["sent"]) for r in error] == [("all", True), ("errors", True)]
    assert [(r.path, r.json()["attachments"][0]["text"]) for r in chat.requests] == [
        ("/all", "Canary is waiting for approval."),
        ("/all", "Failed checks threshold reached 2"),
        ("/errors", "Failed checks threshold reached 2")]


def test_a_failed_delivery_is_reported_not_raised(server):
    chat = server(status=500, reply=b"boom")
    signals = Signals(alert_providers=[{"provider": "slack", "url": chat.url + "/x"}])

    [result] = send_alert(None, canary(), signals, "text", "info", False)

    assert result["sent"] is False
    assert "HTTP 500" in result["msg"]
