"""canary_status on the sandbox: what `kubectl get canaries` and `kubectl describe` show."""
import pytest

from pdtest.apps import install_crds
from pdtest.playbooks import run_tasks
from pdtest.sandbox import canary_events, get_json
from test_canary_init import seed_canary_file


@pytest.fixture(scope="module", autouse=True)
def crds(sandbox):
    install_crds(sandbox)


def status_task(namespace, **options):
    options.update(name="podinfo", namespace=namespace)
    return {"progressive.delivery.canary_status": options}


def test_status_and_events_read_like_flagger(sandbox, namespace, tmp_path):
    sandbox.apply(seed_canary_file(tmp_path, namespace).read_text(), namespace=namespace)
    halt = {"template": "halt", "values": {"detail": "success rate 53.42% < 99%"}}
    tasks = [
        status_task(namespace, phase="Progressing", canary_weight=0, failed_checks=0,
                    event={"template": "new_revision"}),
        status_task(namespace, canary_weight=5, event={"template": "advance",
                                                       "values": {"weight": 5}}),
        status_task(namespace, canary_weight=10, event={"template": "advance",
                                                        "values": {"weight": 10}}),
        status_task(namespace, failed_checks=1, event=halt),
        status_task(namespace, failed_checks=2, event=halt),
        status_task(namespace, failed_checks=3, event=halt),
    ]
    rc, results, _stats = run_tasks(sandbox, tmp_path, tasks)
    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["status"]["phase"] == "Progressing"
    assert [r["event"]["count"] for r in results[3:]] == [1, 2, 3]
    assert results[5]["event"]["type"] == "Warning"

    listing = sandbox.kubectl("get", "canaries", "-A").stdout.splitlines()
    assert listing[0].split() == ["NAMESPACE", "NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    row = [line.split() for line in listing if line.startswith(namespace)][0]
    assert row[1:4] == ["podinfo", "Progressing", "10"]
    wide = sandbox.kubectl("get", "canaries", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert "FAILEDCHECKS" in wide[0].split() and "MAXWEIGHT" in wide[0].split()
    assert wide[1].split()[3] == "3"  # failed checks column

    messages = canary_events(sandbox, namespace)
    assert messages == [
        "New revision detected! Scaling up podinfo.{0}".format(namespace),
        "Advance podinfo.{0} canary weight 5".format(namespace),
        "Advance podinfo.{0} canary weight 10".format(namespace),
    ] + ["Halt podinfo.{0} advancement success rate 53.42% < 99%".format(namespace)] * 3
    described = sandbox.kubectl("-n", namespace, "describe", "canary/podinfo").stdout
    assert "Advance podinfo.{0} canary weight 10".format(namespace) in described
    halt_line = [line for line in described.splitlines() if "Halt podinfo" in line][0]
    assert "Warning" in halt_line and "(x3 over" in halt_line

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        status_task(namespace, phase="Failed", canary_weight=0,
                    condition={"status": "False", "reason": "Failed",
                               "message": "failed checks threshold reached 3"},
                    event={"template": "rollback_threshold", "values": {"failed_checks": 3}}),
        status_task(namespace, event={"message": "Canary failed! Scaling down podinfo." +
                                      namespace, "type": "Warning"}),
        status_task(namespace, phase="Failed", canary_weight=0),
    ], name="fail.yml")
    assert rc == 0
    assert results[2]["changed"] is False
    canary = get_json(sandbox, namespace, "canary/podinfo")
    assert canary["status"]["phase"] == "Failed"
    promoted = [c for c in canary["status"]["conditions"] if c["type"] == "Promoted"][0]
    assert promoted["status"] == "False" and promoted["reason"] == "Failed"
    assert promoted["message"] == "failed checks threshold reached 3"
    assert canary_events(sandbox, namespace)[-2:] == [
        "Rolling back podinfo.{0} failed checks threshold reached 3".format(namespace),
        "Canary failed! Scaling down podinfo.{0}".format(namespace),
    ]


def test_check_mode_and_bad_input_write_nothing(sandbox, namespace, tmp_path):
    sandbox.apply(seed_canary_file(tmp_path, namespace).read_text(), namespace=namespace)
    rc, (predicted,), _stats = run_tasks(sandbox, tmp_path, [
        status_task(namespace, phase="Progressing", canary_weight=20,
                    event={"template": "advance", "values": {"weight": 20}})], check=True)
    assert rc == 0 and predicted["changed"] is True
    assert predicted["status"]["canaryWeight"] == 20
    assert "status" not in get_json(sandbox, namespace, "canary/podinfo") or \
        get_json(sandbox, namespace, "canary/podinfo")["status"] == {}
    assert canary_events(sandbox, namespace) == []

    for options, words in (
            ({"canary_weight": 101}, "canaryWeight must be an integer between 0 and 100"),
            ({"phase": "Done"}, "phase"),
            ({"event": {"template": "celebrate"}}, "event template must be one of"),
            ({"event": {"template": "advance"}}, "needs the value 'weight'"),
            ({"event": {"template": "advance", "message": "x"}}, "exactly one of"),
            ({"condition": {"status": "maybe"}}, "condition.status must be one of True"),
            ({"event": {"text": "x"}}, "event has unknown keys text")):
        rc, (failed,), _stats = run_tasks(sandbox, tmp_path, [status_task(namespace, **options)],
                                          name="bad.yml")
        assert rc != 0 and words in failed["msg"], failed["msg"]
    assert get_json(sandbox, namespace, "canary/podinfo").get("status") in (None, {})
    assert canary_events(sandbox, namespace) == []
