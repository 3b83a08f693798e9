"""A healthy revision is promoted step by step; a run with nothing new changes nothing."""
import re

import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import recap, run_playbook
from pdtest.sandbox import canary_events, get_json
from test_reliability_lock import lease_of, put_lease


@pytest.fixture
def podinfo(sandbox, namespace, tmp_path):
    """podinfo 4.0.5 initialised as a canary target, with steady load through Traefik."""
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, fast_canary(namespace, max_weight=50, step_weight=10))
    first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    assert first.returncode == 0, first.stdout[-4000:]
    load = Load(sandbox, namespace, rps=30)
    try:
        yield canary_file
    finally:
        load.stop()


def test_healthy_revision_is_promoted_step_by_step(sandbox, namespace, podinfo):
    first_id = get_json(sandbox, namespace, "deployment", "podinfo-primary")[
        "spec"]["template"]["metadata"]["annotations"]["flagger-id"]
    set_image(sandbox, namespace, "4.0.6")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert result.returncode == 0, result.stdout[-4000:]
    events = canary_events(sandbox, namespace)
    advances = [int(m.rsplit(" ", 1)[1]) for m in events if m.startswith(f"Advance podinfo.{namespace} canary weight")]
    assert advances == [10, 20, 30, 40, 50]
    assert f"New revision detected! Scaling up podinfo.{namespace}" in events
    assert events.index(f"Copying podinfo.{namespace} template spec to podinfo-primary.{namespace}") \
        < events.index("Routing all traffic to primary") \
        < events.index(f"Promotion completed! Scaling down podinfo.{namespace}")
    canary = get_json(sandbox, namespace, "canary", "podinfo")
    assert canary["status"]["phase"] == "Succeeded"
    # As Flagger leaves them after a promotion; no check can be counted any more.
    assert canary["status"]["canaryWeight"] == 0 and canary["status"]["iterations"] == 0
    assert "lastCheck" not in canary["status"]
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    # The promotion wrote a new flagger-id, as Flagger does.
    assert primary["spec"]["template"]["metadata"]["annotations"]["flagger-id"] not in ("", first_id)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.6"
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert versions_through_traefik(sandbox, namespace, 500) == {"4.0.6": 500}


def test_a_run_with_nothing_new_changes_nothing(sandbox, namespace, podinfo):
    before = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"]

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result.stdout)["changed"] == 0
    assert get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"] == before
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}


def test_service_metadata_from_the_canary_is_applied_again_on_every_run(
        sandbox, namespace, podinfo, tmp_path):
    # Something else labels the apex Service and annotates it; the Canary then gains metadata for it.
    sandbox.kubectl("-n", namespace, "label", "service", "podinfo", "stray=yes")
    sandbox.kubectl("-n", namespace, "annotate", "service", "podinfo", "example.com/dns=podinfo.test",
                    "example.com/other=drop-me")
    canary = fast_canary(namespace, max_weight=50, step_weight=10)
    canary["spec"]["service"]["apex"] = {
        "labels": {"team": "web", "app": "not-the-selector"},
        "annotations": {"example.com/owner": "web", "kustomize.toolkit.fluxcd.io/name": "apps"},
    }
    canary["spec"]["service"]["canary"] = {"labels": {"track": "canary"}}
    canary["spec"]["service"]["unmanagedMetadata"] = {"annotations": ["example.com/dns"]}
    path = write_canary(tmp_path, canary, "metadata.yaml")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode == 0, result.stdout[-4000:]
    assert "Nothing to release for podinfo." + namespace in result.stdout, result.stdout[-3000:]
    apex = get_json(sandbox, namespace, "service", "podinfo")["metadata"]
    # The selector label names the Service whatever spec.service.apex says, as in Flagger; the
    # stray label and annotation are gone; the unmanaged annotation keeps its value; Flux's key is
    # never copied, and Flagger's two keys that keep Flux away are set.
    assert apex["labels"] == {"app": "podinfo", "team": "web"}
    assert apex["annotations"] == {"example.com/owner": "web", "example.com/dns": "podinfo.test",
                                   "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
                                   "helm.toolkit.fluxcd.io/driftDetection": "disabled"}
    assert get_json(sandbox, namespace, "service", "podinfo-canary")["metadata"]["labels"] == {
        "app": "podinfo-canary", "track": "canary"}
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}

    again = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout)["changed"] == 0


def test_step_weights_list_and_step_weight_promotion(sandbox, namespace, podinfo, tmp_path):
    # A first step of 5% (not 1%): at 30 rps a 1% canary gets a request every few seconds, too few
    # for Prometheus to have a rate after one 3 s interval, and "no data" is a failed check.
    canary = fast_canary(namespace, threshold=4)
    canary["spec"]["analysis"].pop("stepWeight")
    canary["spec"]["analysis"].pop("maxWeight")
    canary["spec"]["analysis"]["stepWeights"] = [5, 20, 60]
    canary["spec"]["analysis"]["stepWeightPromotion"] = 50
    path = write_canary(tmp_path, canary, "steps.yaml")
    set_image(sandbox, namespace, "4.0.6")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode == 0, result.stdout[-4000:]
    events = canary_events(sandbox, namespace)
    advances = [int(m.rsplit(" ", 1)[1]) for m in events if re.match(rf"Advance podinfo\.{namespace} canary weight", m)]
    assert advances == [5, 20, 60]
    # Flagger's stepWeightPromotion: from the last canary weight (60 -> primary 40) up by 50 to 100.
    primary_steps = [int(m.rsplit(" ", 1)[1]) for m in events
                     if re.match(rf"Advance podinfo\.{namespace} primary weight", m)]
    assert primary_steps == [90, 100]
    assert "Routing all traffic to primary" not in events
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}


def test_skip_analysis_promotes_without_steps(sandbox, namespace, podinfo, tmp_path):
    canary = fast_canary(namespace, skipAnalysis=True)
    path = write_canary(tmp_path, canary, "skip.yaml")
    set_image(sandbox, namespace, "4.0.7")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode == 0, result.stdout[-4000:]
    assert not [m for m in canary_events(sandbox, namespace) if "canary weight" in m]
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.7": 200}


def test_a_lock_left_by_a_killed_run_is_taken_over_and_released_even_with_nothing_new(sandbox, namespace, podinfo):
    # A run killed after its promotion but before releasing the lock: the app is settled, the Lease is not.
    put_lease(sandbox, namespace, "killed-run", renewed_seconds_ago=120, duration=30)
    route_before = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"]

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert result.returncode == 0, result.stdout[-4000:]
    lease = lease_of(sandbox, namespace)
    assert lease is None or not lease["spec"].get("holderIdentity"), lease
    assert get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"] == route_before
    assert versions_through_traefik(sandbox, namespace, 50) == {"4.0.5": 50}


def test_a_live_lock_of_another_run_fails_a_run_with_nothing_new_naming_the_holder(sandbox, namespace, podinfo):
    put_lease(sandbox, namespace, "awx-job-42", renewed_seconds_ago=1, duration=300)
    lease_before = lease_of(sandbox, namespace)["metadata"]["resourceVersion"]

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert result.returncode != 0
    assert "held by run 'awx-job-42'" in result.stdout
    assert lease_of(sandbox, namespace)["metadata"]["resourceVersion"] == lease_before
