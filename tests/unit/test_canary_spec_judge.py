"""Our own Canary fields for the statistical judge: a metric's ``compare`` and the analysis's
``judge``, validated with messages that name the field."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    SpecError,
    parse_canary,
)

from test_canary_spec import minimal


def manifest(metrics, judge=None):
    analysis = {"metrics": metrics}
    if judge is not None:
        analysis["judge"] = judge
    return minimal(**analysis)


def refusal(metrics, judge=None):
    with pytest.raises(SpecError) as info:
        parse_canary(manifest(metrics, judge))
    return info.value.problems


def test_a_built_in_metric_may_compare_without_a_threshold_and_gets_the_defaults():
    canary = parse_canary(manifest([{"name": "request-duration", "interval": "30s",
                                     "compare": {"maxRatio": 1.1}}]))

    metric = canary["analysis"]["metrics"][0]
    assert metric["threshold_range"] is None
    assert metric["compare"] == {"direction": "higher-is-worse", "max_ratio": 1.1,
                                 "max_difference": None, "alpha": 0.05, "group": None,
                                 "resolution": "10s", "resolution_seconds": 10}
    assert canary["analysis"]["judge"] == {"pass_score": 95.0, "marginal_score": 75.0,
                                           "group_weights": {}, "inconclusive": "fail"}


def test_an_inconclusive_step_may_pause_for_a_person_to_decide():
    canary = parse_canary(manifest([{"name": "request-duration", "compare": {"maxRatio": 1.1}}],
                                   {"inconclusive": "pause"}))

    assert canary["analysis"]["judge"]["inconclusive"] == "pause"


def test_a_comparison_beside_a_threshold_keeps_both():
    canary = parse_canary(manifest([{"name": "request-success-rate", "thresholdRange": {"min": 99},
                                     "compare": {"direction": "lower-is-worse",
                                                 "maxDifference": 0.5, "resolution": "2s"}}]))

    metric = canary["analysis"]["metrics"][0]
    assert metric["threshold_range"]["min"] == 99.0
    assert metric["compare"]["direction"] == "lower-is-worse"
    assert metric["compare"]["resolution_seconds"] == 2


def test_a_metric_without_threshold_or_compare_is_still_refused():
    problems = refusal([{"name": "request-duration"}])

    assert problems[0][0] == "spec.analysis.metrics[0].thresholdRange"
    assert "unless the metric uses a templateRef or compare" in problems[0][1]


@pytest.mark.parametrize("compare, field, words", [
    ({"direction": "up"}, "direction", "must be one of higher-is-worse, lower-is-worse, either"),
    ({"maxRatio": 0.5}, "maxRatio", "must be a number of at least 1"),
    ({"maxDifference": -2}, "maxDifference", "must be a number of at least 0"),
    ({"alpha": 0}, "alpha", "between 0 and 1"),
    ({"resolution": "500ms"}, "resolution", "whole number of seconds, at least 1s"),
    ({"resolution": "soon"}, "resolution", "must be a duration such as 30s"),
    ({"resolution": "1.5m"}, "resolution", "must be a Prometheus duration such as 10s"),
    ({"group": ""}, "group", "must be a non-empty string"),
    ({"maxratio": 2}, "maxratio", "is not a compare field; allowed: direction, maxRatio"),
])
def test_bad_compare_fields_are_refused_by_name(compare, field, words):
    problems = refusal([{"name": "request-duration", "compare": compare}])

    assert problems[0][0] == "spec.analysis.metrics[0].compare." + field
    assert words in problems[0][1]


@pytest.mark.parametrize("judge, field, words", [
    ({"passScore": 101}, "passScore", "must be a number from 0 to 100"),
    ({"passScore": 70, "marginalScore": 80}, "marginalScore", "must not be greater than passScore"),
    ({"inconclusive": "retry"}, "inconclusive", "must be one of fail, pause (fail counts"),
    ({"groupWeights": {"latency": -1}}, "groupWeights.latency", "at least 0"),
    ({"verdict": "x"}, "verdict", "is not a judge field"),
])
def test_bad_judge_fields_are_refused_by_name(judge, field, words):
    problems = refusal([{"name": "request-duration", "compare": {"group": "latency"}}], judge)

    assert problems[0][0] == "spec.analysis.judge." + field
    assert words in problems[0][1]


def test_with_group_weights_every_comparison_must_name_a_weighted_group():
    problems = refusal([{"name": "request-duration", "compare": {"group": "speed"}}],
                       {"groupWeights": {"latency": 1}})

    assert problems[0] == ("spec.analysis.metrics[0].compare.group",
                           "must name a group of spec.analysis.judge.groupWeights (latency); got "
                           "'speed'")
