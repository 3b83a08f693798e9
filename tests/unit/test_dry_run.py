"""What a dry run says a release would do: the steps, their checks and hooks, and the least time."""

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.dry_run import describe_check, planned_release


def canary(**analysis):
    spec_analysis = {
        "interval": "30s", "threshold": 4, "maxWeight": 30, "stepWeight": 10,
        "metrics": [
            {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
            {"name": "request-duration", "interval": "2m", "thresholdRange": {"max": 500}},
        ],
        "webhooks": [
            {"name": "gate", "type": "confirm-rollout", "url": "http://loadtester.test/gate/approve"},
            {"name": "smoke", "type": "pre-rollout", "url": "http://loadtester.test/"},
            {"name": "load", "url": "http://loadtester.test/"},
            {"name": "more", "type": "confirm-traffic-increase", "url": "http://loadtester.test/gate/check"},
            {"name": "stop", "type": "rollback", "url": "http://loadtester.test/rollback/check"},
            {"name": "ship", "type": "confirm-promotion", "url": "http://loadtester.test/gate/approve"},
            {"name": "notify", "type": "post-rollout", "url": "http://loadtester.test/"},
        ],
    }
    spec_analysis.update(analysis)
    return parse_canary({
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"provider": "traefik",
                 "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                 "service": {"port": 80}, "analysis": spec_analysis},
    })


def test_each_weight_waits_one_interval_and_runs_the_canarys_checks_and_hooks():
    plan = planned_release(canary())

    assert [s["weight"] for s in plan["steps"]] == [10, 20, 30]
    first = plan["steps"][0]
    assert first["wait_seconds"] == 30
    assert first["checks"] == ["request-success-rate >= 99% over 1m", "request-duration <= 500ms over 2m"]
    assert first["rollout_webhooks"] == ["load"]  # a hook without a type is a rollout hook
    assert first["rollback_webhooks"] == ["stop"]
    assert first["gates"] == ["more"]
    assert first["msg"] == ("ask more before raising the weight, then weight 10: wait 30s, then ask rollback "
                            "hooks stop, then run rollout hooks load, then check request-success-rate >= 99% "
                            "over 1m; request-duration <= 500ms over 2m")
    assert plan["before_analysis"] == {"confirm_rollout": ["gate"], "pre_rollout": ["smoke"]}
    assert plan["before_promotion"] == {"confirm_promotion": ["ship"]}
    assert plan["after_promotion"] == {"post_rollout": ["notify"]}
    assert plan["threshold"] == 4
    # three steps of 30 s; all traffic moves back at once
    assert plan["promotion_primary_weights"] == []
    assert plan["estimated_seconds"] == 90


def test_promotion_in_steps_adds_one_interval_per_step():
    plan = planned_release(canary(stepWeightPromotion=25))

    # the primary has 70 at canary weight 30: 95, then 100
    assert plan["promotion_primary_weights"] == [95, 100]
    assert plan["estimated_seconds"] == 5 * 30


def test_step_weights_and_a_given_interval_are_used_as_given():
    plan = planned_release(canary(stepWeights=[5, 50, 80], maxWeight=None, stepWeight=None), interval_seconds=2)

    assert [(s["weight"], s["wait_seconds"]) for s in plan["steps"]] == [(5, 2), (50, 2), (80, 2)]
    assert plan["estimated_seconds"] == 6


def test_skip_analysis_plans_no_step():
    parsed = canary()
    parsed["skip_analysis"] = True

    plan = planned_release(parsed)

    assert plan["steps"] == [] and plan["estimated_seconds"] == 0


def test_checks_name_their_template_or_query_and_both_bounds():
    assert describe_check({"name": "errors", "threshold_range": {"min": 0, "max": 1.5}, "interval": "1m",
                           "template_ref": {"name": "error-rate", "namespace": "flagger"}}) == \
        "errors (MetricTemplate error-rate.flagger) >= 0 and <= 1.5 over 1m"
    assert describe_check({"name": "latency", "threshold_range": {"min": None, "max": 0.3}, "interval": "30s",
                           "query": "histogram_quantile(0.99, ...)"}) == "latency (query) <= 0.3 over 30s"
    assert describe_check({"name": "from-template", "threshold_range": {"min": None, "max": None}, "interval": "1m",
                           "template_ref": {"name": "t", "namespace": None}}) == \
        "from-template (MetricTemplate t) as its MetricTemplate says over 1m"
