"""The role alerts and sends events where Flagger does: a chat receiver and an event receiver on
127.0.0.1 collect what a promoted and a rolled-back release send, through real Traefik traffic."""
import base64
from collections import Counter

import pytest
import yaml

from pdtest.apps import deploy_podinfo, set_image
from pdtest.http_recorder import RecordingServer
from pdtest.load import Load
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import canary_events, get_json

NEW_REVISION = ("New revision detected, progressing canary analysis.", "good")
# A guard against a hung run only, generous for a machine shared by several sandboxes.
RUN_TIMEOUT = 900
METADATA_FIELDS = ["Target", "Failed checks threshold", "Progress deadline", "Traffic routing"]


@pytest.fixture
def receivers():
    """Chat (AlertProviders and global alert providers), the Canary's event webhook and the
    global event webhook: one recording server each, stopped when the test ends."""
    servers = {name: RecordingServer() for name in ("chat", "events", "global_events")}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def alert_providers(sandbox, namespace, chat):
    """Two AlertProviders on the chat receiver: one named by a Secret's address, one inline."""
    address = f"{chat.url}/services/everything"
    sandbox.apply(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "chat-url", "namespace": namespace},
         "data": {"address": base64.b64encode(address.encode()).decode()}},
        {"apiVersion": "flagger.app/v1beta1", "kind": "AlertProvider",
         "metadata": {"name": "everything", "namespace": namespace},
         "spec": {"type": "slack", "channel": "releases", "secretRef": {"name": "chat-url"}}},
        {"apiVersion": "flagger.app/v1beta1", "kind": "AlertProvider",
         "metadata": {"name": "errors", "namespace": namespace},
         "spec": {"type": "slack", "channel": "on-call", "address": f"{chat.url}/services/errors"}},
    ]), namespace=namespace)


def alerts_at(chat, path):
    """``(text, colour)`` of each Slack alert posted to ``path``, in order."""
    return [(r.json()["attachments"][0]["text"], r.json()["attachments"][0]["color"])
            for r in chat.requests if r.path == path]


def test_a_promoted_and_a_rolled_back_release_alert_and_send_every_event(sandbox, namespace,
                                                                         tmp_path, receivers):
    chat, events = receivers["chat"], receivers["events"]
    deploy_podinfo(sandbox, namespace)
    alert_providers(sandbox, namespace, chat)
    canary = fast_canary(namespace, webhooks=[{
        "name": "event-log", "type": "event", "url": f"{events.url}/events",
        "metadata": {"team": "web"}}])
    canary["spec"]["analysis"]["alerts"] = [
        {"name": "all", "severity": "info", "providerRef": {"name": "everything"}},
        {"name": "on-call", "severity": "error", "providerRef": {"name": "errors"}}]
    path = write_canary(tmp_path, canary)
    # The Canary's own event webhook replaces the global one, as in Flagger.
    extra_vars = {"canary_file": str(path),
                  "canary_event_webhook": f"{receivers['global_events'].url}/global"}
    first = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
    assert first.returncode == 0, first.stdout[-4000:]
    load = Load(sandbox, namespace, rps=30)
    try:
        set_image(sandbox, namespace, "4.0.6")
        promoted = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
        assert promoted.returncode == 0, promoted.stdout[-4000:]
        set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.6"})
        rolled_back = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
        assert rolled_back.returncode != 0, "the play fails after a rollback"
    finally:
        load.stop()
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"

    assert alerts_at(chat, "/services/everything") == [
        ("New Deployment detected, initialization completed.", "good"),
        NEW_REVISION,
        ("Canary analysis completed successfully, promotion finished.", "good"),
        NEW_REVISION,
        ("Failed checks threshold reached 2", "danger"),
    ]
    assert alerts_at(chat, "/services/errors") == [("Failed checks threshold reached 2", "danger")]
    new_revision = [r.json() for r in chat.requests
                    if r.json()["attachments"][0]["text"] == NEW_REVISION[0]][0]
    assert new_revision["channel"] == "releases"
    assert [f["title"] for f in new_revision["attachments"][0]["fields"]] == METADATA_FIELDS

    # Every Event about the Canary went to its event webhook, as many times as it happened.
    sent = [r.json() for r in events.requests]
    assert Counter(p["metadata"]["eventMessage"] for p in sent) == Counter(
        canary_events(sandbox, namespace))
    assert receivers["global_events"].requests == []
    by_message = {p["metadata"]["eventMessage"]: p for p in sent}
    ref = f"podinfo.{namespace}"
    assert by_message[f"Promotion completed! Scaling down {ref}"]["phase"] == "Succeeded"
    assert by_message[f"Canary failed! Scaling down {ref}"]["phase"] == "Failed"
    rollback = by_message[f"Rolling back {ref} failed checks threshold reached 2"]
    assert rollback["metadata"]["eventType"] == "Warning"
    assert rollback["metadata"]["team"] == "web"
    assert rollback["name"] == "podinfo" and rollback["namespace"] == namespace
    assert rollback["checksum"]


def test_global_event_webhook_and_alert_providers_serve_a_canary_without_its_own(
        sandbox, namespace, tmp_path, receivers):
    chat, global_events = receivers["chat"], receivers["global_events"]
    deploy_podinfo(sandbox, namespace)
    path = write_canary(tmp_path, fast_canary(namespace))

    result = run_playbook(sandbox, extra_vars={
        "canary_file": str(path),
        "canary_event_webhook": f"{global_events.url}/global?key=SECRET-KEY",
        "canary_cluster_name": "sandbox-eu",
        "canary_alerts": [{"name": "ops", "provider": "slack", "url": f"{chat.url}/ops"}],
    })

    assert result.returncode == 0, result.stdout[-4000:]
    sent = [r.json() for r in global_events.requests]
    # Every Event of the initialisation, in order: Flagger's Warning while the new primary is not
    # ready yet (when the first check finds it so), then the one that closes it.
    assert [e["metadata"]["eventMessage"] for e in sent] == canary_events(sandbox, namespace), sent
    event = sent[-1]
    assert event["metadata"]["eventMessage"] == f"Initialization done! podinfo.{namespace}"
    assert event["phase"] == "Initialized"
    assert all(e["metadata"]["eventMessage"].startswith(f"podinfo-primary.{namespace} not ready")
               for e in sent[:-1]), sent
    assert alerts_at(chat, "/ops") == [("New Deployment detected, initialization completed.", "good")]
    fields = chat.requests[0].json()["attachments"][0]["fields"]
    assert [f["title"] for f in fields] == ["Cluster"] + METADATA_FIELDS
    assert fields[0]["value"] == "sandbox-eu"
    assert "SECRET-KEY" not in result.stdout
