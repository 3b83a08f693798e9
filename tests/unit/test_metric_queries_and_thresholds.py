"""Built-in Traefik queries and Flagger-worded threshold verdicts."""
import re

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.metric_queries import builtin_query
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import service_matcher
from ansible_collections.progressive.delivery.plugins.module_utils.thresholds import (
    format_number,
    judge,
    validate_range,
)


def _label_regex(matcher):
    return re.compile("^" + matcher.split('"')[1] + "$")


def test_known_port_matches_the_traefik_label_exactly():
    assert service_matcher("test", "podinfo-canary", 80) == 'service="test-podinfo-canary-80@kubernetescrd"'


def test_unknown_port_matches_only_numeric_ports_so_longer_service_names_do_not_match():
    pattern = _label_regex(service_matcher("test", "podinfo-canary"))
    assert pattern.match("test-podinfo-canary-80@kubernetescrd")
    assert pattern.match("test-podinfo-canary-9898@kubernetescrd")
    assert not pattern.match("test-podinfo-canary-extra-80@kubernetescrd")
    assert not pattern.match("test-podinfo-canary-80@file")


def test_success_rate_query_is_the_non_5xx_share_in_percent():
    query = builtin_query("request-success-rate", "test", "podinfo-canary", "1m", 80)
    assert query == (
        'sum(rate(traefik_service_requests_total{service="test-podinfo-canary-80@kubernetescrd",code!~"5.."}[1m])) / '
        'sum(rate(traefik_service_requests_total{service="test-podinfo-canary-80@kubernetescrd"}[1m])) * 100')


def test_duration_query_is_p99_in_milliseconds():
    query = builtin_query("request-duration", "test", "podinfo-canary", "30s", 80)
    assert query.startswith("histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{")
    assert query.endswith("[30s]))) * 1000")


def test_unknown_builtin_is_refused_with_the_choices():
    with pytest.raises(InvalidInput, match="metric must be one of request-success-rate, request-duration"):
        builtin_query("error-rate", "test", "podinfo-canary", "1m")


@pytest.mark.parametrize("metric, value, bounds, verdict, message", [
    ("request-success-rate", 53.4213, {"min": 99}, "fail", "success rate 53.42% < 99%"),
    ("request-success-rate", 99.5, {"min": 99}, "pass", "success rate 99.50% >= 99%"),
    ("request-duration", 612.4, {"max": 500}, "fail", "request duration 612ms > 500ms"),
    ("request-duration", 120, {"max": 500}, "pass", "request duration 120ms <= 500ms"),
    ("404s percentage", 6.2, {"max": 5}, "fail", "404s percentage 6.20 > 5"),
    ("latency ratio", 1.5, {"min": 0.5, "max": 2}, "pass", "latency ratio 1.50 >= 0.5 and <= 2"),
    ("latency ratio", 0.25, {"min": 0.5, "max": 2}, "fail", "latency ratio 0.25 < 0.5"),
])
def test_verdicts_use_flaggers_wording(metric, value, bounds, verdict, message):
    assert judge(metric, value, bounds) == (verdict, message)


def test_boundaries_pass():
    assert judge("x", 99.0, {"min": 99})[0] == "pass"
    assert judge("x", 5.0, {"max": 5})[0] == "pass"


def test_min_above_max_is_refused_with_both_values():
    with pytest.raises(InvalidInput, match=r"threshold_range.min \(99\) must not be greater than threshold_range.max \(50\)"):
        validate_range({"min": 99, "max": 50})


def test_empty_range_is_refused():
    with pytest.raises(InvalidInput, match="threshold_range needs min, max or both"):
        validate_range({"min": None, "max": None})


@pytest.mark.parametrize("number, text", [(99.0, "99"), (99.5, "99.5"), (0.25, "0.25")])
def test_thresholds_print_like_go(number, text):
    assert format_number(number) == text
