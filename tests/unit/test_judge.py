"""The statistical judge: Mann-Whitney comparisons of canary and primary, and the Kayenta-style
score. Expected p-values are the exact ones from the U distribution, worked out by hand."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.judge import (
    compare,
    describe,
    judge_score,
    score,
)

LOW_FIVE = [1.0, 2.0, 3.0, 4.0, 5.0]
HIGH_FIVE = [6.0, 7.0, 8.0, 9.0, 10.0]
# Two samples of five with no overlap: U is 25 or 0, the most extreme of C(10, 5) = 252 equally
# likely orderings on each side, so the two-sided exact p-value is 2/252.
SEPARATED_P = 2.0 / 252


def test_a_canary_above_every_primary_value_is_high_with_the_exact_p_value():
    result = compare(HIGH_FIVE, LOW_FIVE, direction="higher-is-worse", max_ratio=1.1)

    assert result["verdict"] == "high"
    assert result["p_value"] == pytest.approx(SEPARATED_P)
    assert result["canary_median"] == 8.0 and result["primary_median"] == 3.0
    assert result["effect_size"] == pytest.approx(8.0 / 3.0)
    assert result["difference"] == 5.0
    assert (result["canary_samples"], result["primary_samples"]) == (5, 5)


def test_a_canary_below_every_primary_value_is_low_when_lower_is_worse_or_either():
    assert compare(LOW_FIVE, HIGH_FIVE, direction="lower-is-worse")["verdict"] == "low"
    assert compare(LOW_FIVE, HIGH_FIVE, direction="either")["verdict"] == "low"


def test_a_real_difference_in_the_better_direction_passes():
    assert compare(LOW_FIVE, HIGH_FIVE, direction="higher-is-worse")["verdict"] == "pass"
    assert compare(HIGH_FIVE, LOW_FIVE, direction="lower-is-worse")["verdict"] == "pass"


def test_a_real_difference_within_the_allowed_ratio_or_floor_passes():
    # Medians 8 and 3: 8 <= 3 x 3, and 8 - 3 <= 5.
    assert compare(HIGH_FIVE, LOW_FIVE, max_ratio=3.0)["verdict"] == "pass"
    assert compare(HIGH_FIVE, LOW_FIVE, max_difference=5.0)["verdict"] == "pass"
    assert compare(HIGH_FIVE, LOW_FIVE, max_ratio=2.5, max_difference=4.9)["verdict"] == "high"


def test_a_lower_canary_is_allowed_by_the_same_ratio_of_the_medians():
    # Primary median 8 is at most 3 x the canary's 3.
    assert compare(LOW_FIVE, HIGH_FIVE, direction="either", max_ratio=3.0)["verdict"] == "pass"
    assert compare(LOW_FIVE, HIGH_FIVE, direction="either", max_ratio=2.5)["verdict"] == "low"


def test_three_values_each_cannot_be_significant_at_five_percent():
    # With 3 and 3 the most extreme ordering has probability 2/C(6, 3) = 0.1 two-sided.
    result = compare([10.0, 11.0, 12.0], [1.0, 2.0, 3.0])

    assert result["p_value"] == pytest.approx(0.1)
    assert result["verdict"] == "pass"


def test_a_stricter_alpha_lets_the_separated_samples_pass():
    assert compare(HIGH_FIVE, LOW_FIVE, alpha=0.005)["verdict"] == "pass"


def test_identical_samples_pass_with_p_value_one():
    flat = [100.0] * 8
    result = compare(flat, list(flat))

    assert result["verdict"] == "pass"
    assert result["p_value"] == 1.0
    assert result["effect_size"] == 1.0


def test_too_few_values_on_either_side_is_no_data_not_a_pass():
    result = compare([1.0, 2.0], LOW_FIVE)

    assert result["verdict"] == "no_data"
    assert result["p_value"] is None
    assert "2 canary and 5 primary values" in result["msg"]
    assert compare(LOW_FIVE, [float("nan")] * 5)["verdict"] == "no_data"


def test_the_effect_size_is_none_against_a_zero_primary_median_and_the_difference_decides():
    result = compare([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5, max_ratio=2.0, max_difference=0.5)

    assert result["effect_size"] is None
    assert result["difference"] == 3.0
    assert result["verdict"] == "high"
    assert "difference 3" in describe("errors", result)


def test_the_description_names_the_comparison_its_p_value_and_effect():
    text = describe("latency", compare(HIGH_FIVE, LOW_FIVE))

    assert text.startswith("comparison latency: high (p-value 0.00794, effect 2.67x")


@pytest.mark.parametrize("kwargs, field", [
    ({"direction": "up"}, "compare.direction"),
    ({"max_ratio": 0.9}, "compare.maxRatio"),
    ({"max_difference": -1}, "compare.maxDifference"),
    ({"alpha": 1.5}, "compare.alpha"),
])
def test_bad_settings_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(InvalidInput, match=field.replace(".", r"\.")):
        compare(HIGH_FIVE, LOW_FIVE, **kwargs)


def test_the_score_is_the_share_of_passing_comparisons():
    assert score([("a", True), ("a", True), ("b", True), ("b", False)]) == 75.0
    assert score([]) is None


def test_group_weights_weigh_each_groups_share():
    # latency: 1 of 1 passed (weight 3); errors: 0 of 2 passed (weight 1): (3 x 100 + 0) / 4.
    comparisons = [("latency", True), ("errors", False), ("errors", False)]

    assert score(comparisons, {"latency": 3, "errors": 1}) == 75.0
    with pytest.raises(InvalidInput, match="group 'errors' has no weight"):
        score(comparisons, {"latency": 1})


def test_the_score_is_judged_against_the_pass_and_marginal_scores():
    assert judge_score(100.0, 95, 75) == "pass"
    assert judge_score(95.0, 95, 75) == "pass"
    assert judge_score(80.0, 95, 75) == "inconclusive"
    assert judge_score(75.0, 95, 75) == "inconclusive"
    assert judge_score(74.9, 95, 75) == "fail"
