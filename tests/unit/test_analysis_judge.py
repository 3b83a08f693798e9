"""How a tick turns its comparisons into a judgement and a failed check."""
from ansible_collections.progressive.delivery.plugins.module_utils import analysis
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.dry_run import describe_check


def canary(judge=None):
    body = {"stepWeight": 10, "maxWeight": 50, "metrics": [
        {"name": "request-duration", "compare": {"group": "latency"}}]}
    if judge:
        body["judge"] = judge
    return parse_canary({
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                 "service": {"port": 80}, "analysis": body}})


def comparison(name, passed, group="latency"):
    return {"name": name, "passed": passed, "group": group,
            "msg": "comparison {0}: {1}".format(name, "pass" if passed else "high")}


def test_no_comparisons_no_judgement():
    assert analysis.judge_comparisons(canary(), []) is None


def test_one_failing_comparison_of_one_scores_0_and_fails_naming_it():
    judgement = analysis.judge_comparisons(canary(), [comparison("latency", False)])

    assert judgement["score"] == 0 and judgement["outcome"] == "fail"
    assert judgement["passed"] is False
    assert judgement["msg"] == "judge score 0 < 75; comparison latency: high"


def test_three_of_four_is_inconclusive_and_by_default_does_not_pass():
    judgement = analysis.judge_comparisons(canary(), [
        comparison("a", True), comparison("b", True), comparison("c", True), comparison("d", False)])

    assert (judgement["score"], judgement["outcome"], judgement["passed"]) == (75, "inconclusive", False)
    assert judgement["msg"].startswith("judge score 75 inconclusive (between 75 and 95)")


def test_the_canarys_scores_and_group_weights_are_used():
    judged = canary({"passScore": 70, "marginalScore": 50, "groupWeights": {"latency": 3, "errors": 1}})

    judgement = analysis.judge_comparisons(judged, [comparison("a", True), comparison("b", False, "errors")])

    assert judgement["score"] == 75 and judgement["outcome"] == "pass" and judgement["passed"] is True


def test_a_judgement_that_did_not_pass_is_one_failed_check_with_its_message():
    judgement = analysis.judge_comparisons(canary(), [comparison("latency", False)])

    outcome, failure = analysis.judge_tick(None, [], None, judgement)

    assert outcome == analysis.FAILED
    assert analysis.halt_event(canary(), failure)[1] == \
        "Halt app.ns advancement judge score 0 < 75; comparison latency: high"


def test_an_inconclusive_judgement_of_a_pausing_judge_pauses_naming_comparison_and_score():
    pausing = canary({"passScore": 95, "marginalScore": 40, "inconclusive": "pause"})
    judgement = analysis.judge_comparisons(pausing, [comparison("a", True), comparison("b", False)])

    outcome, failure = analysis.judge_tick(None, [], None, judgement)

    assert outcome == analysis.PAUSED
    assert analysis.halt_event(pausing, failure) == (
        "Warning", "Halt app.ns advancement judge score 50 inconclusive (between 40 and 95); "
        "comparison b: high; paused for a decision: promote or abort")


def test_a_pausing_judge_still_fails_a_score_below_marginal_and_a_failed_metric():
    pausing = canary({"passScore": 95, "marginalScore": 40, "inconclusive": "pause"})
    below = analysis.judge_comparisons(pausing, [comparison("a", False), comparison("b", False)])
    inconclusive = analysis.judge_comparisons(pausing, [comparison("a", True), comparison("b", False)])
    bad_metric = {"name": "request-success-rate", "passed": False, "msg": "success rate 50% < 99%"}

    assert analysis.judge_tick(None, [], None, below)[0] == analysis.FAILED
    assert analysis.judge_tick(None, [bad_metric], None, inconclusive)[0] == analysis.FAILED
    assert analysis.judge_tick({"passed": False, "failed": {"name": "load"}}, [], None,
                               inconclusive)[0] == analysis.FAILED


def test_an_inconclusive_judgement_of_the_default_judge_is_a_failed_check():
    judgement = analysis.judge_comparisons(canary({"marginalScore": 40}),
                                           [comparison("a", True), comparison("b", False)])

    assert judgement["outcome"] == "inconclusive"
    assert analysis.judge_tick(None, [], None, judgement)[0] == analysis.FAILED


def test_a_passing_judgement_lets_the_tick_pass():
    judgement = analysis.judge_comparisons(canary(), [comparison("latency", True)])

    assert analysis.judge_tick(None, [], None, judgement) == (analysis.PASSED, None)


def test_the_check_mode_plan_describes_a_comparison_without_a_threshold():
    [metric] = canary()["analysis"]["metrics"]

    assert describe_check(metric) == \
        "request-duration compared with the primary (higher-is-worse) over 1m"
    metric["compare"]["max_ratio"] = 1.1
    metric["threshold_range"] = {"min": None, "max": 500.0}
    assert describe_check(metric) == \
        "request-duration <= 500ms; compared with the primary (higher-is-worse, up to 1.1x) over 1m"
