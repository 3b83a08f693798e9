"""The role pushes Flagger's own metrics to the sandbox's Pushgateway; what a Flagger user's
dashboards and alert rules ask Prometheus (which scrapes the Pushgateway with honor_labels) shows
a promoted and then a rolled-back release. A Pushgateway that cannot be reached never stops a
release; a malformed one is refused before anything is written."""
import socket
import time

import yaml
from canary_world import canary_status, run_task

from pdtest.apps import deploy_podinfo, install_crds, set_image
from pdtest.load import Load
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook

# A guard against a hung run only, generous for a machine shared by several sandboxes.
RUN_TIMEOUT = 900
# Prometheus scrapes every second; this only bounds the wait for a scrape on a busy machine.
SCRAPE_WAIT = 60


def scraped(sandbox, query, wanted):
    """The value of ``query`` once Prometheus's answer is ``wanted`` (a scrape brings the last
    push in), or the last answer after SCRAPE_WAIT seconds, for the assertion to report."""
    deadline = time.monotonic() + SCRAPE_WAIT
    while True:
        result = sandbox.prometheus_query(query)
        values = sorted(float(series["value"][1]) for series in result)
        if values == wanted or time.monotonic() > deadline:
            return values
        time.sleep(0.5)


def series(family, namespace, **labels):
    selector = dict(labels, namespace=namespace, job="flagger")
    return "{0}{{{1}}}".format(family, ",".join(f'{k}="{v}"' for k, v in sorted(selector.items())))


def test_promoted_then_rolled_back_release_as_prometheus_sees_flaggers_metrics(
        sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    path = write_canary(tmp_path, fast_canary(namespace))
    extra_vars = {"canary_file": str(path),
                  "canary_pushgateway": {"url": sandbox.pushgateway_url}}
    first = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
    assert first.returncode == 0, first.stdout[-4000:]
    status = series("flagger_canary_status", namespace, name="podinfo")
    canary_weight = series("flagger_canary_weight", namespace, workload="podinfo")
    primary_weight = series("flagger_canary_weight", namespace, workload="podinfo-primary")
    successes = series("flagger_canary_successes_total", namespace, name="podinfo",
                       deployment_strategy="canary", analysis_status="completed")
    failures = series("flagger_canary_failures_total", namespace, name="podinfo",
                      deployment_strategy="canary", analysis_status="completed")
    success_rate = series("flagger_canary_metric_analysis", namespace, name="podinfo",
                          metric="request-success-rate")
    duration = series("flagger_canary_metric_analysis", namespace, name="podinfo",
                      metric="request-duration")
    ticks = series("flagger_canary_duration_seconds_count", namespace, name="podinfo")

    load = Load(sandbox, namespace, rps=30)
    try:
        set_image(sandbox, namespace, "4.0.6")
        promoted = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
        assert promoted.returncode == 0, promoted.stdout[-4000:]

        # Promoted: Flagger's status 1, all traffic on the primary, one success.
        assert scraped(sandbox, successes, [1.0]) == [1.0]
        assert scraped(sandbox, status, [1.0]) == [1.0]
        assert scraped(sandbox, canary_weight, [0.0]) == [0.0]
        assert scraped(sandbox, primary_weight, [100.0]) == [100.0]
        assert scraped(sandbox, series("flagger_canary_total", namespace), [1.0]) == [1.0]
        # On the way: Progressing (0) and the steps up to maxWeight 30 were pushed as they happened.
        assert [float(s["value"][1]) for s in sandbox.prometheus_query(
            f"min_over_time({status}[10m])")] == [0.0]
        assert [float(s["value"][1]) for s in sandbox.prometheus_query(
            f"max_over_time({canary_weight}[10m])")] == [30.0]
        # Each metric's last value, the success rate in percent and the duration in seconds, as
        # Flagger records them; one duration observation per analysis tick (3 steps at least).
        [rate] = [float(s["value"][1]) for s in sandbox.prometheus_query(success_rate)]
        assert 99.0 <= rate <= 100.0
        [p99] = [float(s["value"][1]) for s in sandbox.prometheus_query(duration)]
        assert 0.0 < p99 < 5.0
        [count] = [float(s["value"][1]) for s in sandbox.prometheus_query(ticks)]
        assert count >= 3
        every_tick = series("flagger_canary_duration_seconds_bucket", namespace, name="podinfo",
                            le="+Inf")
        assert [float(s["value"][1]) for s in sandbox.prometheus_query(every_tick)] == [count]

        set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.6"})
        rolled_back = run_playbook(sandbox, extra_vars=extra_vars, timeout=RUN_TIMEOUT)
        assert rolled_back.returncode != 0, "the play fails after a rollback"
    finally:
        load.stop()

    # Rolled back: status 2 (failed), one failure beside the earlier success, traffic on the primary.
    assert scraped(sandbox, failures, [1.0]) == [1.0]
    assert scraped(sandbox, status, [2.0]) == [2.0]
    assert scraped(sandbox, successes, [1.0]) == [1.0]
    assert scraped(sandbox, canary_weight, [0.0]) == [0.0]
    # The failing ticks were timed too: the histogram went on from the promotion's count.
    [after_rollback] = [float(s["value"][1]) for s in sandbox.prometheus_query(ticks)]
    assert after_rollback > count


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_pushgateway_is_a_warning_and_a_malformed_one_is_refused(
        sandbox, namespace, tmp_path):
    install_crds(sandbox)
    sandbox.apply(yaml.safe_dump(fast_canary(namespace)), namespace=namespace)
    unreachable = {"url": f"http://127.0.0.1:{closed_port()}", "timeout": 2}
    code, result = run_task(sandbox, tmp_path, "progressive.delivery.canary_status", {
        "name": "podinfo", "namespace": namespace, "phase": "Progressing", "canary_weight": 10,
        "pushgateway": unreachable})
    assert code == 0, result
    assert canary_status(sandbox, namespace)["phase"] == "Progressing"
    assert result["pushgateway"]["pushed"] == []
    problems = result["pushgateway"]["problems"]
    assert len(problems) == 2 and all(unreachable["url"] in p for p in problems), problems
    assert [w for w in result["warnings"] if "Flagger metrics not pushed" in w] == problems

    code, result = run_task(sandbox, tmp_path, "progressive.delivery.canary_status", {
        "name": "podinfo", "namespace": namespace, "phase": "Failed",
        "pushgateway": {"url": "pushgateway.monitoring:9091"}})
    assert code != 0
    assert "pushgateway.url must be an http:// or https:// URL" in result["msg"]
    assert canary_status(sandbox, namespace)["phase"] == "Progressing"
