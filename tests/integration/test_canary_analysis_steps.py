"""canary_analysis with `weights`: the whole step loop in one module run, on the sandbox with real
Traefik and Prometheus."""
from pdtest.playbooks import run_tasks
from pdtest.sandbox import canary_events, get_json

from canary_world import build_world, canary_manifest, canary_status, HALF, run_task

MODULE = "progressive.delivery.canary_analysis"


def weights_of(sandbox, namespace):
    route = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")
    return {s["name"]: s.get("weight") for s in route["spec"]["weighted"]["services"]}


def test_every_weight_is_advanced_and_checked_in_one_run_with_the_lock_renewed(
        sandbox, namespace, tmp_path, load):
    build_world(sandbox, namespace, canary_manifest(namespace), loadtester=False)
    load()
    lock = {"name": "podinfo", "namespace": namespace, "lease_duration": 30}
    analysis = {"name": "podinfo", "namespace": namespace, "weights": [10, 20, 30], "wait": 1,
                "lock": {"holder": "{{ held.holder }}", "lease_duration": 30}}

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        {"name": "take the lock", "progressive.delivery.canary_lock": lock, "register": "held"},
        {"name": "read the Lease", "kubernetes.core.k8s_info": {
            "api_version": "coordination.k8s.io/v1", "kind": "Lease", "namespace": namespace,
            "name": "podinfo-canary-lock"}, "register": "before"},
        {"name": "analyse", MODULE: analysis, "register": "result"},
        {"name": "read the Lease again", "kubernetes.core.k8s_info": {
            "api_version": "coordination.k8s.io/v1", "kind": "Lease", "namespace": namespace,
            "name": "podinfo-canary-lock"}},
    ])

    assert rc == 0, results
    result = results[2]
    assert result["passed"] is True, result["msg"]
    assert [(s["weight"], s["passed"]) for s in result["steps"]] == [(10, True), (20, True), (30, True)]
    assert all(s["ticks"] >= 1 for s in result["steps"])
    advances = [e for e in canary_events(sandbox, namespace) if e.startswith("Advance ")]
    assert advances == [f"Advance podinfo.{namespace} canary weight {w}" for w in (10, 20, 30)]
    assert weights_of(sandbox, namespace) == {"podinfo-primary": 70, "podinfo-canary": 30}
    status = canary_status(sandbox, namespace)
    assert status["canaryWeight"] == 30
    assert status["iterations"] == sum(1 for s in result["steps"] if s["passed"])
    lease_before = results[1]["resources"][0]["spec"]
    lease_after = results[3]["resources"][0]["spec"]
    assert lease_after["holderIdentity"] == lease_before["holderIdentity"]
    assert lease_after["renewTime"] > lease_before["renewTime"]


def test_a_failing_canary_stops_at_its_weight_with_all_traffic_back_on_the_primary(
        sandbox, namespace, tmp_path, load):
    build_world(sandbox, namespace, canary_manifest(namespace, threshold=2), loadtester=False,
                canary_env={"SANDBOX_FAIL_RATE": "0.5"})
    load()

    rc, result = run_task(sandbox, tmp_path, MODULE, {
        "name": "podinfo", "namespace": namespace, "weights": [10, 20, 30], "wait": 1,
        "route_to_primary_on_failure": True})

    assert rc == 0, result
    assert result["passed"] is False
    assert result["threshold_reached"] is True
    assert result["routed_to_primary"] is True
    assert [s["weight"] for s in result["steps"]] == [10]
    assert result["steps"][0]["ticks"] == 2 and result["failed_checks"] == 2
    assert canary_status(sandbox, namespace)["failedChecks"] == 2
    assert weights_of(sandbox, namespace).get("podinfo-canary", 0) == 0
    events = canary_events(sandbox, namespace)
    assert f"Advance podinfo.{namespace} canary weight 20" not in events
    assert any(e.startswith(f"Halt podinfo.{namespace} advancement success rate") for e in events)


def test_a_closed_traffic_increase_gate_gives_up_without_shifting_any_traffic(sandbox, namespace, tmp_path):
    gate = {"name": "approve", "type": "confirm-traffic-increase",
            "url": f"http://flagger-loadtester.{namespace}/", "timeout": "10s",
            "metadata": {"type": "bash", "cmd": "exit 1"}}
    build_world(sandbox, namespace, canary_manifest(namespace, webhooks=[gate]))

    rc, result = run_task(sandbox, tmp_path, MODULE, {
        "name": "podinfo", "namespace": namespace, "weights": [10, 20], "wait": 1, "confirm_timeout": 2})

    assert rc == 0, result
    assert result["gate_timed_out"] is True
    assert result["passed"] is False
    assert result["steps"] == []
    assert "still closed after 2s" in result["msg"]
    assert weights_of(sandbox, namespace) == HALF  # as build_world left it: nothing shifted
    assert f"Halt podinfo.{namespace} advancement waiting for traffic increase approval approve" \
        in canary_events(sandbox, namespace)


def test_weights_that_fall_or_leave_0_to_100_are_refused_before_any_change(sandbox, namespace, tmp_path):
    build_world(sandbox, namespace, canary_manifest(namespace), loadtester=False)
    before = get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"]

    for weights in ([], [30, 20], [10, 10, 5], [10, 120]):
        rc, result = run_task(sandbox, tmp_path, MODULE,
                              {"name": "podinfo", "namespace": namespace, "weights": weights})

        assert rc != 0, weights
        assert "weights must be a non-empty list of integers from 0 to 100, none below the one before; got " \
            + str(weights) in result["msg"]
    assert get_json(sandbox, namespace, "traefikservices.traefik.io", "podinfo")["metadata"]["resourceVersion"] == before
    assert canary_status(sandbox, namespace).get("iterations", 0) == 0
