"""canary_notify with the alert configuration a Flagger user already has: the Canary's
spec.analysis.alerts pointing at AlertProvider objects whose Secret holds the webhook URL."""
import base64

import pytest
import yaml

from pdtest.http_recorder import RecordingServer

from canary_world import build_world, canary_manifest, run_task

SECRET = "T0-SECRET-PATH"


@pytest.fixture
def chat():
    server = RecordingServer()
    yield server
    server.stop()


def alerting_world(sandbox, namespace, chat):
    canary = canary_manifest(namespace)
    canary["spec"]["analysis"]["alerts"] = [
        {"name": "on-call", "severity": "error", "providerRef": {"name": "on-call-slack"}}]
    build_world(sandbox, namespace, canary, loadtester=False)
    address = f"{chat.url}/services/{SECRET}"
    sandbox.apply(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "on-call-url", "namespace": namespace},
         "data": {"address": base64.b64encode(address.encode()).decode()}},
        {"apiVersion": "flagger.app/v1beta1", "kind": "AlertProvider",
         "metadata": {"name": "on-call-slack", "namespace": namespace},
         "spec": {"type": "slack", "channel": "on-call", "secretRef": {"name": "on-call-url"}}},
    ]), namespace=namespace)


def test_the_canarys_alert_providers_receive_errors(sandbox, namespace, tmp_path, chat):
    alerting_world(sandbox, namespace, chat)

    rc, result = run_task(sandbox, tmp_path, "progressive.delivery.canary_notify", {
        "name": "podinfo", "namespace": namespace, "severity": "error",
        "text": "Canary analysis failed, rollback finished."})

    assert rc == 0, result
    assert result["sent"] == 1
    [received] = chat.requests
    assert received.path == f"/services/{SECRET}"
    body = received.json()
    assert body["channel"] == "on-call"
    assert body["attachments"][0]["author_name"] == f"podinfo.{namespace}"
    assert SECRET not in result["msg"]


def test_an_info_alert_is_filtered_by_the_canarys_error_severity(sandbox, namespace, tmp_path,
                                                                 chat):
    alerting_world(sandbox, namespace, chat)

    rc, result = run_task(sandbox, tmp_path, "progressive.delivery.canary_notify", {
        "name": "podinfo", "namespace": namespace, "severity": "info",
        "text": "New revision detected!"})

    assert rc == 0, result
    assert result["sent"] == 0
    assert result["results"][0]["name"] == "on-call"
    assert chat.requests == []
