"""A DaemonSet as canary target on the real control plane, as Flagger handles one: the role creates
the primary DaemonSet and stops the target's pods with a node selector no node carries, promotes a
new revision with real traffic through Traefik, and rolls a failing one back."""
import json
import uuid

import pytest
import yaml

from pdtest.apps import install_crds
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, podinfo_docs, write_canary
from pdtest.playbooks import recap, run_playbook
from pdtest.sandbox import canary_events, get_json, wait_until

STOP = {"flagger.app/scale-to-zero": "true"}


def daemonset_docs(namespace):
    """The example app as a DaemonSet (one pod per node), with its IngressRoute."""
    docs = podinfo_docs(namespace, hpa=False)
    app = docs[0]
    app["kind"] = "DaemonSet"
    spec = app["spec"]
    for field in ("replicas", "strategy", "progressDeadlineSeconds"):
        spec.pop(field, None)
    spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    return docs


def daemonset_canary(namespace):
    doc = fast_canary(namespace, threshold=2, max_weight=20, step_weight=10)
    doc["spec"]["targetRef"]["kind"] = "DaemonSet"
    doc["spec"].pop("autoscalerRef", None)
    return doc


def app_pods(sandbox, namespace, app):
    """The names of the pods labelled ``app``, Terminating ones included."""
    done = sandbox.kubectl("-n", namespace, "get", "pods", "-l", f"app={app}", "-o", "json")
    return [p["metadata"]["name"] for p in json.loads(done.stdout)["items"]]


def image_of(sandbox, namespace, name):
    return get_json(sandbox, namespace, "daemonset", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def new_revision(sandbox, namespace, tag, env=None):
    sandbox.kubectl("-n", namespace, "set", "image", "daemonset/podinfo", f"podinfod=stefanprodan/podinfo:{tag}")
    if env:
        sandbox.kubectl("-n", namespace, "set", "env", "daemonset/podinfo", *[f"{k}={v}" for k, v in env.items()])


@pytest.fixture(scope="module")
def initialised(sandbox, tmp_path_factory):
    """One namespace for the file: the DaemonSet app, its Canary initialised by the role, and
    steady load through Traefik; the namespace is deleted and the load stopped by PID after."""
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", namespace)
    load = None
    try:
        install_crds(sandbox)
        sandbox.apply(yaml.safe_dump_all(daemonset_docs(namespace)), namespace=namespace)
        sandbox.kubectl("-n", namespace, "rollout", "status", "daemonset/podinfo", "--timeout=90s", timeout=100)
        canary_file = write_canary(tmp_path_factory.mktemp("daemonset"), daemonset_canary(namespace))
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        load = Load(sandbox, namespace, rps=30, seconds=240)
        yield namespace, canary_file
    finally:
        if load is not None:
            load.stop()
        sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_initialising_runs_a_primary_daemonset_and_stops_the_targets_pods(sandbox, initialised):
    namespace, _canary_file = initialised
    primary = get_json(sandbox, namespace, "daemonset", "podinfo-primary")
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["status"]["numberAvailable"] == primary["status"]["desiredNumberScheduled"] == 1
    assert "nodeSelector" not in primary["spec"]["template"]["spec"]
    assert len(app_pods(sandbox, namespace, "podinfo-primary")) == 1

    target = get_json(sandbox, namespace, "daemonset", "podinfo")
    assert target["spec"]["template"]["spec"]["nodeSelector"] == STOP
    # The node selector matches the sandbox's node no more: the controller schedules no pod.
    wait_until(lambda: not app_pods(sandbox, namespace, "podinfo"), timeout=30, what="the target's pods gone")
    assert get_json(sandbox, namespace, "daemonset", "podinfo")["status"]["desiredNumberScheduled"] == 0
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Initialized"
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}


def test_a_new_revision_is_promoted_to_the_primary_daemonset_with_traffic_through_traefik(sandbox, initialised):
    namespace, canary_file = initialised
    new_revision(sandbox, namespace, "4.0.6")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})

    assert result.returncode == 0, result.stdout[-4000:]
    events = canary_events(sandbox, namespace)
    assert f"Advance podinfo.{namespace} canary weight 10" in events, events
    assert "Promotion completed! Scaling down podinfo.{0}".format(namespace) in events, events
    assert image_of(sandbox, namespace, "podinfo-primary") == "stefanprodan/podinfo:4.0.6"
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    assert get_json(sandbox, namespace, "daemonset", "podinfo")["spec"]["template"]["spec"]["nodeSelector"] == STOP
    wait_until(lambda: not app_pods(sandbox, namespace, "podinfo"), timeout=30, what="the canary's pods gone")
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}

    # The stopped target is the promoted revision: the next run finds nothing new and writes nothing.
    again = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})

    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-4000:]


def test_a_failing_revision_is_rolled_back_to_the_primary_daemonset(sandbox, initialised):
    namespace, canary_file = initialised
    serving = image_of(sandbox, namespace, "podinfo-primary").rsplit(":", 1)[1]
    new_revision(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.6"})

    result = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})

    assert result.returncode != 0, "the play must fail after a rollback"
    events = canary_events(sandbox, namespace)
    assert f"Rolling back podinfo.{namespace} failed checks threshold reached 2" in events, events
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"
    assert image_of(sandbox, namespace, "podinfo-primary") == f"stefanprodan/podinfo:{serving}"
    assert get_json(sandbox, namespace, "daemonset", "podinfo")["spec"]["template"]["spec"]["nodeSelector"] == STOP
    wait_until(lambda: not app_pods(sandbox, namespace, "podinfo"), timeout=30, what="the canary's pods gone")
    assert versions_through_traefik(sandbox, namespace, 200) == {serving: 200}
