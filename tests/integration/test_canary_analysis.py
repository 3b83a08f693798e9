"""canary_analysis on the sandbox: real traffic through Traefik, real Prometheus, the Canary's
status and events in the cluster."""
import threading

import pytest
import yaml

from pdtest.http_recorder import RecordingServer
from pdtest.load import Load
from pdtest.sandbox import canary_events, get_json, prometheus_query_count, wait_for_series

from canary_world import (build_world, canary_manifest, canary_service_series, canary_status,
                          describe_canary, run_task)
from traffic_world import scratch_namespace

MODULE = "progressive.delivery.canary_analysis"


@pytest.fixture(scope="module")
def healthy(sandbox):
    """One healthy canary under steady load, shared by the tests that only read it; each test
    starts from an empty status (see ``fresh``)."""
    name, delete_namespace = scratch_namespace(sandbox, "analysis")
    running = None
    try:
        build_world(sandbox, name, canary_manifest(name), loadtester=False)
        running = Load(sandbox, name, rps=30, seconds=600)
        wait_for_series(sandbox, canary_service_series(name), samples=5)
        yield name
    finally:
        if running is not None:
            running.stop()
        delete_namespace()


@pytest.fixture
def fresh(sandbox, healthy):
    sandbox.kubectl("-n", healthy, "patch", "canary/podinfo", "--subresource=status",
                    "--type=merge", "-p",
                    '{"status": {"failedChecks": 0, "iterations": 0, "canaryWeight": 0}}')
    return healthy


def tick(namespace, **extra):
    args = {"name": "podinfo", "namespace": namespace, "weight": 50}
    args.update(extra)
    return args


def test_a_healthy_canary_passes_and_records_the_weight(sandbox, fresh, tmp_path):
    namespace = fresh

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))

    assert rc == 0, result
    assert result["passed"] is True, result["msg"]
    assert result["failed_checks"] == 0
    by_name = {m["name"]: m for m in result["metrics"]}
    assert by_name["request-success-rate"]["verdict"] == "pass"
    assert by_name["request-success-rate"]["value"] >= 99
    assert by_name["request-duration"]["verdict"] == "pass"
    assert "weight 50" in result["msg"] and "success rate" in result["msg"]
    status = canary_status(sandbox, namespace)
    assert status["canaryWeight"] == 50
    assert status["iterations"] == 1
    assert status.get("failedChecks", 0) == 0


def test_a_failing_canary_counts_failed_checks_until_the_threshold(sandbox, namespace, tmp_path,
                                                                   load):
    build_world(sandbox, namespace, canary_manifest(namespace, threshold=2), loadtester=False,
                canary_env={"SANDBOX_FAIL_RATE": "0.5"})
    load()

    # The documented loop: retry until passed, threshold reached, or the revision changed.
    rc, result = run_task(
        sandbox, tmp_path, MODULE, tick(namespace, weight=10, wait=1),
        loop={"until": "result.passed or result.threshold_reached or "
                       "result.revision_changed",
              "retries": 2, "delay": 0})

    assert rc == 0, result
    assert result["passed"] is False
    assert result["threshold_reached"] is True
    assert result["failed_checks"] == 2
    assert result["attempts"] == 2
    rate = [m for m in result["metrics"] if m["name"] == "request-success-rate"][0]
    assert rate["verdict"] == "fail"
    assert 30 < rate["value"] < 80
    status = canary_status(sandbox, namespace)
    assert status["failedChecks"] == 2
    assert status.get("canaryWeight", 0) == 0  # a failed tick never records the weight
    described = describe_canary(sandbox, namespace)
    assert f"Halt podinfo.{namespace} advancement success rate" in described
    assert "% < 99%" in described
    halts = [e for e in canary_events(sandbox, namespace) if e.startswith("Halt ")]
    assert halts and all(e.startswith(f"Halt podinfo.{namespace} advancement success rate")
                         for e in halts)


def test_each_metric_is_queried_exactly_once_per_tick(sandbox, fresh, tmp_path):
    namespace = fresh
    before = prometheus_query_count(sandbox)

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))

    assert rc == 0, result
    assert prometheus_query_count(sandbox) - before == len(result["metrics"]) == 2


def test_after_the_threshold_the_next_tick_measures_nothing(sandbox, fresh, tmp_path):
    namespace = fresh
    sandbox.kubectl("-n", namespace, "patch", "canary/podinfo", "--subresource=status",
                    "--type=merge", "-p", '{"status": {"failedChecks": 2}}')
    before = prometheus_query_count(sandbox)

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))

    assert rc == 0, result
    assert result["threshold_reached"] is True
    assert result["metrics"] == []
    assert prometheus_query_count(sandbox) == before
    assert canary_status(sandbox, namespace)["failedChecks"] == 2


def test_a_changed_revision_stops_the_tick_without_counting(sandbox, fresh, tmp_path):
    namespace = fresh

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace, revision="0123456789abcdef"))

    assert rc == 0, result
    assert result["revision_changed"] is True
    assert result["passed"] is False
    assert result["metrics"] == []
    assert canary_status(sandbox, namespace).get("failedChecks", 0) == 0


def test_the_current_revision_is_analysed(sandbox, fresh, tmp_path):
    namespace = fresh
    info_rc, info = run_task(sandbox, tmp_path, "progressive.delivery.canary_info",
                             {"name": "podinfo", "namespace": namespace})
    assert info_rc == 0, info

    rc, result = run_task(sandbox, tmp_path, MODULE,
                          {"canary": info["canary"], "weight": 50, "revision": info["revision"]})

    assert rc == 0, result
    assert result["revision_changed"] is False
    assert result["passed"] is True, result["msg"]


def test_a_failing_rollout_webhook_is_a_failed_check(sandbox, namespace, tmp_path, load):
    hook = {"name": "smoke", "type": "rollout", "url": f"http://flagger-loadtester.{namespace}/",
            "timeout": "10s", "metadata": {"type": "bash", "cmd": "exit 3"}}
    events = RecordingServer()
    try:
        # The controller runs on this host, so an event hook on 127.0.0.1 is reached directly.
        event_hook = {"name": "events", "type": "event", "url": events.url + "/events"}
        build_world(sandbox, namespace, canary_manifest(namespace, webhooks=[hook, event_hook]))
        load()
        rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))
    finally:
        events.stop()

    assert rc == 0, result
    assert result["passed"] is False
    assert result["failed_checks"] == 1
    assert result["webhooks"][0]["status"] == 500
    # the metrics were still measured once, for the task line
    assert all(m["verdict"] == "pass" for m in result["metrics"])
    assert f"Halt podinfo.{namespace} advancement external check smoke failed" in \
        describe_canary(sandbox, namespace)
    # Flagger hands every event to the Canary's event hooks
    [forwarded] = [r.json() for r in events.requests]
    assert forwarded["metadata"]["eventType"] == "Warning"
    assert forwarded["metadata"]["eventMessage"].startswith(
        f"Halt podinfo.{namespace} advancement external check smoke failed")


def test_a_404_metric_template_from_the_cluster_is_evaluated(sandbox, namespace, tmp_path, load):
    template = {
        "apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
        "metadata": {"name": "not-found-percentage", "namespace": namespace},
        "spec": {"provider": {"type": "prometheus", "address": sandbox.prometheus_url},
                 "query": ('sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-'
                           '{{ target }}-canary-[0-9]+@kubernetescrd",code="404"}[{{ interval }}]'
                           ')) or vector(0)')},
    }
    metrics = [{"name": "404s percentage", "templateRef": {"name": "not-found-percentage"},
                "thresholdRange": {"max": 5}, "interval": "10s"}]
    build_world(sandbox, namespace, canary_manifest(namespace, metrics=metrics), loadtester=False)
    sandbox.apply(yaml.safe_dump(template), namespace=namespace)
    load()

    rc, result = run_task(sandbox, tmp_path, MODULE,
                          tick(namespace, prometheus={"address": "http://127.0.0.1:9"}))

    assert rc == 0, result
    [metric] = result["metrics"]
    # the template's own provider address was used, not the (unreachable) module default
    assert metric["verdict"] == "pass", metric
    assert metric["value"] == 0
    assert result["passed"] is True


def test_check_mode_plans_the_steps_instead_of_judging_and_writes_nothing(sandbox, namespace, tmp_path, load):
    # A failing canary under load: a judgement would fail, a dry run only plans.
    build_world(sandbox, namespace, canary_manifest(namespace), loadtester=False,
                canary_env={"SANDBOX_FAIL_RATE": "0.5"})
    load()
    queries_before = prometheus_query_count(sandbox)

    args = {"name": "podinfo", "namespace": namespace, "weights": [10, 20], "wait": 7}
    rc, result = run_task(sandbox, tmp_path, MODULE, args, check=True)

    assert rc == 0, result.get("msg")
    assert "passed" not in result and "failed_checks" not in result
    steps = result["plan"]["steps"]
    assert [s["weight"] for s in steps] == [10, 20]
    assert all(s["wait_seconds"] == 7 for s in steps)
    assert steps[0]["checks"] == ["request-success-rate >= 99% over 10s", "request-duration <= 500ms over 10s"]
    assert result["plan"]["estimated_seconds"] == 14
    assert canary_status(sandbox, namespace).get("failedChecks", 0) == 0
    assert canary_events(sandbox, namespace) == []
    # Nothing was measured.
    assert prometheus_query_count(sandbox) == queries_before


def test_a_canary_missing_from_the_cluster_is_reported(sandbox, namespace, tmp_path):
    build_world(sandbox, namespace, canary_manifest(namespace), loadtester=False)
    sandbox.kubectl("-n", namespace, "delete", "canary/podinfo")

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))

    assert rc != 0
    assert f"Canary {namespace}/podinfo not found" in result["msg"]


def test_a_weight_out_of_range_is_refused_before_anything_happens(sandbox, fresh, tmp_path):
    namespace = fresh

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace, weight=101))

    assert rc != 0
    assert "weight must be an integer from 0 to 100; got 101" in result["msg"]
    assert get_json(sandbox, namespace, "canary", "podinfo").get("status", {}).get(
        "iterations", 0) == 0


def test_a_closed_traffic_increase_gate_holds_without_counting(sandbox, namespace, tmp_path, load):
    gate = {"name": "approve", "type": "confirm-traffic-increase",
            "url": f"http://flagger-loadtester.{namespace}/", "timeout": "10s",
            "metadata": {"type": "bash", "cmd": "exit 1"}}
    build_world(sandbox, namespace, canary_manifest(namespace, webhooks=[gate]))
    load()

    held_rc, held = run_task(sandbox, tmp_path, MODULE, tick(namespace))
    ungated_rc, ungated = run_task(sandbox, tmp_path, MODULE,
                                   tick(namespace, confirm_traffic_increase=False))

    assert held_rc == 0, held
    assert held["passed"] is False
    assert held["waiting"] is True
    assert held["failed_checks"] == 0
    assert f"Halt podinfo.{namespace} advancement waiting for traffic increase approval approve" \
        in canary_events(sandbox, namespace)
    assert ungated_rc == 0, ungated
    assert ungated["passed"] is True
    assert canary_status(sandbox, namespace).get("failedChecks", 0) == 0


def test_a_passing_rollback_hook_stops_the_tick_at_once(sandbox, namespace, tmp_path):
    abort = {"name": "abort", "type": "rollback", "url": f"http://flagger-loadtester.{namespace}/",
             "timeout": "10s", "metadata": {"type": "bash", "cmd": "true"}}
    build_world(sandbox, namespace, canary_manifest(namespace, webhooks=[abort]))
    before = prometheus_query_count(sandbox)

    rc, result = run_task(sandbox, tmp_path, MODULE, tick(namespace))

    assert rc == 0, result
    assert result["rollback_requested"] is True
    assert result["passed"] is False
    assert result["metrics"] == []
    assert prometheus_query_count(sandbox) == before
    assert canary_status(sandbox, namespace).get("failedChecks", 0) == 0
    assert "Rollback check abort passed" in canary_events(sandbox, namespace)


def test_concurrent_failing_ticks_each_count_once_despite_conflicts(sandbox, namespace, tmp_path,
                                                                    load):
    build_world(sandbox, namespace, canary_manifest(namespace, threshold=5), loadtester=False,
                canary_env={"SANDBOX_FAIL_RATE": "0.5"})
    load()
    # A third of the status writes answer 409 Conflict, and two ticks race for the same count:
    # only a read-modify-write that re-reads on conflict ends at exactly 2. (The rate keeps five
    # conflicts in a row, when the module gives up, improbable.)
    sandbox.set_faults(conflict_rate=0.3, paths=f"/namespaces/{namespace}/canaries/podinfo/status")
    results = {}
    try:
        def one_tick(label):
            workdir = tmp_path / label
            workdir.mkdir()
            results[label] = run_task(sandbox, workdir, MODULE, tick(namespace, weight=10))

        threads = [threading.Thread(target=one_tick, args=(label,)) for label in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    finally:
        sandbox.clear_faults()

    for rc, result in results.values():
        assert rc == 0, result.get("msg")
        assert result["passed"] is False
    assert sorted(result["failed_checks"] for _rc, result in results.values()) == [1, 2]
    assert canary_status(sandbox, namespace)["failedChecks"] == 2
