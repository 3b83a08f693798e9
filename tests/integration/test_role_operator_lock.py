"""The operators' entry points (tasks_from: abort / promote) take the release lock first.

A release run that is alive keeps its lock, so an operator's abort or promotion fails naming it
and leaves the app as it is; once the run gives the lock back, the operator's run goes through.
"""
from pdtest.apps import deploy_podinfo, set_image
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook, run_tasks
from pdtest.sandbox import canary_events, get_json

HOLDER = "release-job-42"


def lock(sandbox, tmp_path, namespace, state):
    returncode, results, _stats = run_tasks(sandbox, tmp_path, [{
        "name": "lock", "progressive.delivery.canary_lock": {
            "name": "podinfo", "namespace": namespace, "holder": HOLDER, "state": state,
            "lease_duration": 300}}], name=f"lock-{state}.yml")
    assert returncode == 0, results


def app_state(sandbox, namespace):
    canary = get_json(sandbox, namespace, "canary", "podinfo")
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    traefik = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")
    return {
        "phase": canary.get("status", {}).get("phase"),
        "primary_image": primary["spec"]["template"]["spec"]["containers"][0]["image"],
        "weights": traefik["spec"]["weighted"]["services"],
        "canary_replicas": get_json(sandbox, namespace, "deployment", "podinfo")["spec"].get("replicas"),
    }


def operate(sandbox, namespace, playbook, **extra):
    return run_playbook(sandbox, playbook, extra_vars=dict(
        {"canary_name": "podinfo", "canary_namespace": namespace}, **extra))


def test_an_operator_waits_for_a_live_release_and_acts_once_it_is_done(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, fast_canary(namespace))
    first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    assert first.returncode == 0, first.stdout[-4000:]
    set_image(sandbox, namespace, "4.0.6")

    # A release run holds the lock (as one does while it analyses).
    lock(sandbox, tmp_path, namespace, "acquired")
    before = app_state(sandbox, namespace)
    for playbook in ("promote.yml", "abort.yml"):
        refused = operate(sandbox, namespace, playbook, canary_operator_lock_wait=0)
        assert refused.returncode != 0, refused.stdout[-4000:]
        assert f"held by run '{HOLDER}'" in refused.stdout, refused.stdout[-4000:]
        assert app_state(sandbox, namespace) == before

    # The run gives the lock back: the operator promotes the new image by hand.
    lock(sandbox, tmp_path, namespace, "released")
    promoted = operate(sandbox, namespace, "promote.yml", canary_operator_lock_wait=0)
    assert promoted.returncode == 0, promoted.stdout[-4000:]
    after = app_state(sandbox, namespace)
    assert after["phase"] == "Succeeded"
    assert after["primary_image"] == "stefanprodan/podinfo:4.0.6"
    assert after["canary_replicas"] == 0
    assert "Promotion completed! Scaling down podinfo.{0} (promoted by an operator)".format(namespace) in \
        canary_events(sandbox, namespace)
    # The operator's run gave its own lock back: the next run takes it at once.
    lock(sandbox, tmp_path, namespace, "acquired")
    lock(sandbox, tmp_path, namespace, "released")
