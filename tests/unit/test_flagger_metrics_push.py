"""Flagger's metrics in the text exposition format, and what each push sends to a Pushgateway."""

import json

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils import flagger_metrics as fm
from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput


def canary(**analysis):
    base = {"name": "podinfo-release", "namespace": "test", "target": {"name": "podinfo"},
            "skip_analysis": False,
            "analysis": dict({"metrics": [{"name": "request-duration"},
                                          {"name": "error-rate", "template_ref": {"name": "x"}}]},
                             **analysis)}
    return base


class FakeGateway(object):
    """Records the requests; answers /api/v1/metrics with ``groups``."""

    def __init__(self, groups=None, fail=None):
        self.requests = []
        self.groups = groups or []
        self.fail = fail

    def __call__(self, method, url, body=None, headers=None):
        self.requests.append((method, url, body.decode("utf-8") if body else None, headers))
        if self.fail:
            raise fm.PushError(self.fail)
        return json.dumps({"status": "success", "data": self.groups}).encode("utf-8")

    def posted(self):
        return [(request[1], request[2]) for request in self.requests if request[0] == "POST"]


def metrics_for(gateway, cd=None, **settings):
    pushgateway = fm.Pushgateway("http://127.0.0.1:9091/", transport=gateway, **settings)
    return fm.CanaryMetrics(pushgateway, cd or canary())


def test_render_writes_help_type_and_escaped_labels():
    text = fm.render([(fm.STATUS, "gauge", [([("name", 'a"b\\c\nd'), ("namespace", "test")], 2)])])
    assert text == (
        "# HELP flagger_canary_status Last canary analysis result\n"
        "# TYPE flagger_canary_status gauge\n"
        'flagger_canary_status{name="a\\"b\\\\c\\nd",namespace="test"} 2\n')


def test_render_histogram_has_cumulative_buckets_inf_sum_and_count():
    histogram = fm.observe(fm.observe(fm.empty_histogram(), 0.3), 12.0)
    text = fm.render([(fm.DURATION, "histogram", [([("name", "podinfo")],) + tuple(histogram)])])
    lines = text.splitlines()
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",le="0.25"} 0' in lines
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",le="0.5"} 1' in lines
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",le="10"} 1' in lines
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",le="+Inf"} 2' in lines
    assert 'flagger_canary_duration_seconds_sum{name="podinfo"} 12.3' in lines
    assert 'flagger_canary_duration_seconds_count{name="podinfo"} 2' in lines


@pytest.mark.parametrize("value, text", [(1, "1"), (99.5, "99.5"), (0.0, "0"),
                                         (float("inf"), "+Inf"), (float("nan"), "NaN")])
def test_values_are_formatted_as_prometheus_reads_them(value, text):
    assert fm.format_value(value) == text


@pytest.mark.parametrize("phase, value", [("Progressing", 0), ("Failed", 2), ("Succeeded", 1),
                                          ("Initialized", 1), ("WaitingPromotion", 1),
                                          ("Promoting", 1), ("Finalising", 1)])
def test_status_gauge_follows_flaggers_phase_mapping(phase, value):
    assert fm.status_value(phase) == value


@pytest.mark.parametrize("analysis, strategy", [
    ({"step_weight": 10}, "canary"), ({"iterations": 5}, "blue-green"),
    ({"iterations": 5, "match": [{"headers": {}}]}, "ab-testing")])
def test_deployment_strategy_label(analysis, strategy):
    assert fm.deployment_strategy({"analysis": analysis}) == strategy


def test_group_url_has_job_namespace_and_target_name():
    gateway = fm.Pushgateway("http://127.0.0.1:9091/", job="flagger prod")
    assert gateway.group_url([("namespace", "test"), ("name", "podinfo")]) == \
        "http://127.0.0.1:9091/metrics/job/flagger%20prod/namespace/test/name/podinfo"
    assert gateway.group_url([("name", "")]).endswith("/name@base64/=")


def test_status_push_sends_status_and_both_weights():
    gateway = FakeGateway()
    pushed = metrics_for(gateway).record_status("Progressing", 30)
    assert pushed == [fm.STATUS, fm.WEIGHT]
    [(url, body)] = gateway.posted()
    assert url.endswith("/metrics/job/flagger/namespace/test/name/podinfo")
    assert 'flagger_canary_status{name="podinfo",namespace="test"} 0' in body
    assert 'flagger_canary_weight{workload="podinfo-primary",namespace="test"} 70' in body
    assert 'flagger_canary_weight{workload="podinfo",namespace="test"} 30' in body


def test_a_finished_release_continues_the_counter_the_pushgateway_holds():
    held = {"labels": {"job": "flagger", "namespace": "test", "name": "podinfo"},
            fm.FAILURES: {"type": "COUNTER", "metrics": [{
                "labels": {"name": "podinfo", "namespace": "test", "deployment_strategy": "canary",
                           "analysis_status": "completed", "job": "flagger", "instance": ""},
                "value": "2"}]}}
    gateway = FakeGateway(groups=[held])
    metrics_for(gateway).record_status("Failed", 0, finished="failed")
    [(_url, body)] = gateway.posted()
    assert "# TYPE flagger_canary_failures_total counter" in body
    assert ('flagger_canary_failures_total{name="podinfo",namespace="test",'
            'deployment_strategy="canary",analysis_status="completed"} 3') in body
    assert 'flagger_canary_status{name="podinfo",namespace="test"} 2' in body


def test_a_skipped_analysis_counts_as_a_skipped_success():
    gateway = FakeGateway()
    cd = dict(canary(iterations=3), skip_analysis=True)
    metrics_for(gateway, cd).record_status("Succeeded", 0, finished="succeeded")
    [(_url, body)] = gateway.posted()
    assert ('flagger_canary_successes_total{name="podinfo",namespace="test",'
            'deployment_strategy="blue-green",analysis_status="skipped"} 1') in body


def test_tick_pushes_measured_values_builtin_duration_in_seconds_and_observes_time():
    held = {"labels": {"job": "flagger", "namespace": "test", "name": "podinfo"},
            fm.DURATION: {"type": "HISTOGRAM", "metrics": [{
                "labels": {"name": "podinfo", "namespace": "test", "job": "flagger"},
                "buckets": dict((fm.format_value(b), "1") for b in fm.DURATION_BUCKETS),
                "count": "1", "sum": "0.002"}]}}
    gateway = FakeGateway(groups=[held])
    metrics_for(gateway).record_tick([
        {"name": "request-duration", "value": 250.0},
        {"name": "error-rate", "value": 1.5},
        {"name": "no-data", "value": None}], seconds=0.3)
    [(_url, body)] = gateway.posted()
    assert 'flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="request-duration"} 0.25' in body
    assert 'flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="error-rate"} 1.5' in body
    assert "no-data" not in body
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",namespace="test",le="0.25"} 1' in body
    assert 'flagger_canary_duration_seconds_bucket{name="podinfo",namespace="test",le="0.5"} 2' in body
    assert 'flagger_canary_duration_seconds_count{name="podinfo",namespace="test"} 2' in body


def test_total_is_a_group_per_namespace():
    gateway = FakeGateway()
    metrics_for(gateway).record_total(4)
    [(url, body)] = gateway.posted()
    assert url.endswith("/metrics/job/flagger/namespace/test")
    assert 'flagger_canary_total{namespace="test"} 4' in body


def test_credentials_go_in_the_headers():
    gateway = FakeGateway()
    metrics_for(gateway, bearer_token="s3cret", headers={"X-Scope-OrgID": "team"}).record_weight(0)
    headers = gateway.requests[0][3]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["X-Scope-OrgID"] == "team"
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")


class Warnings(object):
    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def test_a_failed_push_is_a_warning_not_an_error():
    module, result = Warnings(), {}
    metrics = metrics_for(FakeGateway(fail="POST http://127.0.0.1:9091/metrics/... failed: HTTP 503"))
    fm.push_safely(module, result, lambda: metrics.record_weight(10))
    assert result["pushgateway"]["pushed"] == []
    assert "HTTP 503" in result["pushgateway"]["problems"][0]
    assert module.warnings == result["pushgateway"]["problems"]


def test_not_configured_pushes_nothing_and_a_bad_url_is_refused():
    assert fm.canary_metrics({"pushgateway": None}, canary()) is None
    assert fm.canary_metrics({"pushgateway": {"url": ""}}, canary()) is None
    with pytest.raises(InvalidInput, match="pushgateway.url"):
        fm.canary_metrics({"pushgateway": {"url": "pushgateway:9091"}}, canary())
    with pytest.raises(InvalidInput, match="no query string"):
        fm.canary_metrics({"pushgateway": {"url": "http://pushgateway:9091/?key=1"}}, canary())


def test_a_failure_message_shows_no_credentials_of_the_url():
    gateway = fm.Pushgateway("http://ops:s3cret@127.0.0.1:1/", timeout=1)
    with pytest.raises(fm.PushError) as failed:
        gateway.post([("namespace", "test")], [(fm.TOTAL, "gauge", [([("namespace", "test")], 1)])])
    assert "s3cret" not in str(failed.value) and "ops" not in str(failed.value)
    assert "http://127.0.0.1:1/metrics/job/flagger/namespace/test" in str(failed.value)
