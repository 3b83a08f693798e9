"""The article's own Canary drives a release; a change mid-analysis restarts it; Services named apart work."""
import json
from collections import Counter

from pdtest.apps import deploy_loadtester, deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, seed_canary, write_canary
from pdtest.playbooks import run_playbook, start_playbook
from pdtest.sandbox import canary_events, get_json, wait_until
from pdtest.timeouts import guard


def test_seed_canary_manifest_drives_a_release(sandbox, namespace, tmp_path):
    """The article's manifest with only the namespace changed: its own webhooks (acceptance test through the
    loadtester, `hey` load test through http://traefik.traefik) provide the checks and the traffic."""
    deploy_podinfo(sandbox, namespace)
    deploy_loadtester(sandbox, namespace)
    canary = seed_canary(namespace)
    # The seed's load test addresses Traefik with Host app.example.com; in a shared sandbox every test
    # namespace has its own host name.
    for hook in canary["spec"]["analysis"]["webhooks"]:
        hook["metadata"]["cmd"] = hook["metadata"]["cmd"].replace("-host app.example.com", f"-host {namespace}.app.example.com")
    sandbox.apply(json.dumps(canary), namespace=namespace)
    first = run_playbook(sandbox, extra_vars={"canary_name": "podinfo", "canary_namespace": namespace})
    assert first.returncode == 0, first.stdout[-4000:]
    set_image(sandbox, namespace, "4.0.6")

    proc = start_playbook(sandbox, extra_vars={"canary_name": "podinfo", "canary_namespace": namespace},
                          log_path=tmp_path / "run.log")
    try:
        def progressing_with_weight():
            out = sandbox.kubectl("get", "canaries", "-A").stdout
            row = [line.split() for line in out.splitlines() if line.startswith(namespace)]
            return row and row[0][2] == "Progressing" and int(row[0][3]) > 0 and out
        table = wait_until(progressing_with_weight, timeout=120, what="kubectl get canaries showing Progressing")
        assert "STATUS" in table and "WEIGHT" in table
        assert proc.wait(timeout=guard(400)) == 0, (tmp_path / "run.log").read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = canary_events(sandbox, namespace)
    assert f"Advance podinfo.{namespace} canary weight 50" in events
    assert f"Promotion completed! Scaling down podinfo.{namespace}" in events
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}


def test_new_revision_mid_analysis_restarts_from_zero(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    path = write_canary(tmp_path, fast_canary(namespace, interval="3s", max_weight=40, step_weight=10))
    assert run_playbook(sandbox, extra_vars={"canary_file": str(path)}).returncode == 0
    load = Load(sandbox, namespace, rps=30)
    set_image(sandbox, namespace, "4.0.6")
    proc = start_playbook(sandbox, extra_vars={"canary_file": str(path)}, log_path=tmp_path / "run.log")
    try:
        wait_until(lambda: f"Advance podinfo.{namespace} canary weight 20" in canary_events(sandbox, namespace),
                   timeout=120, what="weight 20")
        set_image(sandbox, namespace, "4.0.7")
        assert proc.wait(timeout=guard(300)) == 0, (tmp_path / "run.log").read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        load.stop()
    events = canary_events(sandbox, namespace)
    assert f"New revision detected! Restarting analysis for podinfo.{namespace}" in events
    # Kubernetes aggregates a repeated identical Event, so the second pass over weights 10 and 20
    # shows as a count of 2 rather than as new lines: every weight was stepped again from 10.
    advances = Counter(int(m.rsplit(" ", 1)[1]) for m in events if "canary weight" in m)
    assert advances[10] == advances[20] == 2, advances
    assert advances[30] == advances[40] == 1, advances
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.7": 200}


def test_service_named_apart_from_deployment_gets_its_own_metrics(sandbox, namespace, tmp_path):
    """Built-in checks are keyed by the Service name: a failing canary behind Service `web` is caught."""
    deploy_podinfo(sandbox, namespace, service_name="web")
    path = write_canary(tmp_path, fast_canary(namespace, service_name="web"))
    assert run_playbook(sandbox, extra_vars={"canary_file": str(path)}).returncode == 0
    assert get_json(sandbox, namespace, "service", "web-canary")["spec"]["selector"]
    load = Load(sandbox, namespace, rps=30)
    try:
        set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_FAIL_RATE": "0.5"})
        result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})
    finally:
        load.stop()
    assert result.returncode != 0
    halts = [m for m in canary_events(sandbox, namespace) if m.startswith(f"Halt podinfo.{namespace}")]
    assert halts and all("success rate" in m for m in halts)
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}
