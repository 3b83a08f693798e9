"""canary_webhook run by ansible-playbook with a Canary given as data and hooks on 127.0.0.1.

No cluster is involved: hooks with ordinary URLs must work without Kubernetes, and a key in a
hook's query string must not show up in the output, even with -vvv.
"""
import pytest

from pdtest.http_recorder import RecordingServer
from pdtest.playbooks import run_module

KEY = "QUERY-KEY-123456"


@pytest.fixture
def hook_server():
    server = RecordingServer(status=200, reply=b"all good")
    yield server
    server.stop()


def canary(url, hook_type="pre-rollout", metadata=None):
    return {
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 80},
            "analysis": {"interval": "10s", "threshold": 2, "maxWeight": 50, "stepWeight": 10,
                         "webhooks": [{"name": "gate", "type": hook_type, "url": url,
                                       "metadata": metadata or {"logCmdOutput": "true"}}]},
        },
    }


NO_CLUSTER = {"KUBECONFIG": "/nonexistent/kubeconfig", "K8S_AUTH_KUBECONFIG": "/nonexistent/kubeconfig"}


def test_a_hook_runs_without_a_cluster_and_its_key_is_masked(tmp_path,
                                                             hook_server):
    url = f"{hook_server.url}/hook?key={KEY}"
    done, result = run_module(tmp_path, "progressive.delivery.canary_webhook",
                              {"canary": canary(url), "type": "pre-rollout",
                               "checksum": "rev-1"}, extra_env=NO_CLUSTER)

    assert result.get("failed") is not True, done.stdout[-3000:]
    assert result["passed"] is True
    assert result["results"][0]["output"] == "all good"
    assert result["results"][0]["route"] == "direct"
    [received] = hook_server.requests
    assert received.path == f"/hook?key={KEY}"
    assert received.json() == {"name": "podinfo", "namespace": "test", "phase": "Progressing",
                               "checksum": "rev-1", "metadata": {"logCmdOutput": "true"}}
    assert KEY not in done.stdout + done.stderr


def test_an_event_hook_gets_the_event_in_metadata(tmp_path, hook_server):
    done, result = run_module(tmp_path, "progressive.delivery.canary_webhook",
                              {"canary": canary(hook_server.url, "event", {"team": "web"}),
                               "type": "event", "event_message": "Promotion completed!",
                               "event_type": "Normal", "phase": "Succeeded"},
                              extra_env=NO_CLUSTER)

    assert result["passed"] is True, done.stdout[-3000:]
    metadata = hook_server.requests[0].json()["metadata"]
    assert metadata["eventMessage"] == "Promotion completed!"
    assert metadata["eventType"] == "Normal"
    assert metadata["team"] == "web"
    assert metadata["timestamp"].isdigit()


def test_an_event_hook_without_message_is_refused(tmp_path, hook_server):
    done, result = run_module(tmp_path, "progressive.delivery.canary_webhook",
                              {"canary": canary(hook_server.url, "event"), "type": "event"},
                              extra_env=NO_CLUSTER)

    assert result["failed"] is True
    assert result["msg"] == "event_message is required when type is event"
    assert hook_server.requests == []


def test_a_bad_canary_names_the_field(tmp_path, hook_server):
    bad = canary(hook_server.url)
    bad["spec"]["analysis"]["webhooks"][0]["url"] = "flagger-loadtester.test"
    done, result = run_module(tmp_path, "progressive.delivery.canary_webhook",
                              {"canary": bad, "type": "pre-rollout"}, extra_env=NO_CLUSTER)

    assert result["failed"] is True
    assert "spec.analysis.webhooks[0].url" in result["msg"]
    assert hook_server.requests == []
