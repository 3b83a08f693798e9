"""A dry run (--check --diff) of a release shows its plan, ends well and changes nothing.

The role in check mode judges no metric (a canary it never scales up gets no traffic to
measure): it prints the revision found, the objects it would create or change with their diffs,
the canary scale-up, the webhooks, each weight step with its interval and checks, the promotion and
the final routing, and how long the release takes at least.
"""
import json
import re

import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.playbooks import recap, run_playbook

from cluster_snapshot import api_kinds, diff, settled_snapshot, snapshot

HOOKS = [
    {"name": "acceptance-test", "type": "pre-rollout", "url": "http://flagger-loadtester.{ns}/",
     "timeout": "30s", "metadata": {"type": "bash", "cmd": "curl -s http://podinfo-canary.{ns}/"}},
    {"name": "load-test", "type": "rollout", "url": "http://flagger-loadtester.{ns}/",
     "timeout": "5s", "metadata": {"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.{ns}/"}},
]


def dry_run_canary(namespace):
    hooks = [dict(h, url=h["url"].format(ns=namespace),
                  metadata={k: v.format(ns=namespace) for k, v in h["metadata"].items()}) for h in HOOKS]
    canary = fast_canary(namespace, interval="20s", threshold=3, max_weight=30, step_weight=10, webhooks=hooks)
    canary["spec"]["analysis"]["stepWeightPromotion"] = 20
    return canary


def hpa_specs(sandbox, namespace):
    items = json.loads(sandbox.kubectl("-n", namespace, "get", "hpa", "-o", "json").stdout)["items"]
    return {item["metadata"]["name"]: item["spec"] for item in items}


def changes(sandbox, namespace, before, kinds):
    """What changed in the namespace since ``before``, with the reason of each new Event.

    The HPA controller keeps writing its HPAs' status and warning that the sandbox has no metrics
    API: those are the cluster's changes (HPA specs are compared by the caller)."""
    found = diff(before.get(namespace, {}), snapshot(sandbox, kinds, True).get(namespace, {}))
    events = {e["metadata"]["name"]: e for e in json.loads(
        sandbox.kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]}
    described = []
    for change in found:
        kind, rest = change.split("/", 1)
        if kind.startswith("HorizontalPodAutoscaler."):
            continue
        if kind.startswith("Event."):
            event = events.get(rest.split()[0])
            if event and event["involvedObject"]["kind"] == "HorizontalPodAutoscaler":
                continue
            if event:
                change += " ({0} {1}: {2})".format(event["involvedObject"]["kind"], event.get("reason"),
                                                   event.get("message"))
        described.append(change)
    return described


def traefik_weights(sandbox, namespace):
    return sandbox.traefik_weights(namespace, "podinfo")


@pytest.fixture
def released_once(sandbox, namespace, tmp_path):
    """The article's app, initialised by a real run of the role."""
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, dry_run_canary(namespace))
    done = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    assert done.returncode == 0, done.stdout[-3000:]
    sandbox.wait_for_versions(host_for(namespace), ["4.0.5"], timeout=30)
    return canary_file


def test_a_dry_run_of_a_new_revision_shows_the_plan_and_changes_nothing(sandbox, namespace, released_once):
    canary_file = released_once
    kinds = api_kinds(sandbox, True)

    # Nothing new: the dry run says so and changes nothing.
    idle = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, check=True, args=["--diff"])
    assert idle.returncode == 0, idle.stdout[-3000:]
    assert "Nothing to release for podinfo." + namespace in idle.stdout, idle.stdout[-3000:]
    assert recap(idle.stdout)["changed"] == 0

    set_image(sandbox, namespace, "4.0.6")
    before = settled_snapshot(sandbox, kinds, {namespace})
    weights_before = traefik_weights(sandbox, namespace)
    hpas_before = hpa_specs(sandbox, namespace)

    done = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, check=True, args=["--diff"])
    out = done.stdout

    assert done.returncode == 0, out[-4000:]
    assert recap(out)["failed"] == 0 and recap(out)["changed"] > 0
    assert "Rolling back" not in out and "no values found" not in out
    # Why the revision counts as new.
    assert re.search(r"New revision \S+ of podinfo: the primary runs \S+; the pod template changed", out), out[-4000:]
    # The plan: scale-up, hooks, each step with its interval and the Canary's checks, promotion.
    assert "Scale up podinfo to" in out
    assert "Pre-rollout hooks: acceptance-test" in out
    for weight in (10, 20, 30):
        step = re.search(rf"weight {weight}: wait 20s, then run rollout hooks load-test, then check (.*?)\"", out)
        assert step, f"no step at weight {weight}:\n" + out[-4000:]
        assert "request-success-rate >= 99% over 15s" in step.group(1)
        assert "request-duration <= 500ms over 15s" in step.group(1)
    assert "weight 40" not in out
    assert "3 failed checks roll back" in out
    # At canary weight 30 the primary has 70: it gets 90, then 100.
    assert "move the traffic back in steps of the primary at 90, 100" in out
    # 3 analysis steps and 2 promotion steps of 20 s each.
    assert "Takes at least 100s" in out
    # --diff shows the primary's new pod template.
    assert re.search(r"^\+.*stefanprodan/podinfo:4\.0\.6", out, re.M), out[-4000:]

    # Nothing changed: objects (Canary status, Deployments, TraefikService, Lease, Events), weights.
    assert changes(sandbox, namespace, before, kinds) == []
    assert hpa_specs(sandbox, namespace) == hpas_before
    assert traefik_weights(sandbox, namespace) == weights_before
    assert sandbox.wait_for_versions(host_for(namespace), ["4.0.5"], n=20)


def test_a_dry_run_of_a_new_app_shows_its_initialisation_and_changes_nothing(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, dry_run_canary(namespace))
    kinds = api_kinds(sandbox, True)
    before = settled_snapshot(sandbox, kinds, {namespace})
    hpas_before = hpa_specs(sandbox, namespace)

    done = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, check=True, args=["--diff"])
    out = done.stdout

    assert done.returncode == 0, out[-4000:]
    assert recap(out)["failed"] == 0 and recap(out)["changed"] > 0
    assert "First run for podinfo." + namespace in out
    assert "No analysis" in out
    # The diff lists the objects the first run would create.
    for created in ("podinfo-primary", "podinfo-canary", "TraefikService"):
        assert created in out, created
    assert changes(sandbox, namespace, before, kinds) == []
    assert hpa_specs(sandbox, namespace) == hpas_before
    assert sandbox.kubectl("-n", namespace, "get", "deployment", "podinfo-primary", check=False).returncode != 0
