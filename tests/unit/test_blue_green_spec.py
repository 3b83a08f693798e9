"""Blue/green (analysis.iterations without match): one step at weight 0 per iteration, the
weights of a canary analysis ignored with a warning, bad iterations refused naming the field."""
import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import SpecError, parse_canary

from pdtest.manifests import SEED_CANARY


def blue_green(**analysis):
    doc = yaml.safe_load(SEED_CANARY)
    doc["spec"]["analysis"].update(analysis)
    return doc


def test_iterations_without_match_make_one_step_at_weight_0_per_iteration():
    parsed = parse_canary(blue_green(iterations=4))
    assert parsed["steps"] == [0, 0, 0, 0]
    assert parsed["analysis"]["iterations"] == 4
    assert parsed["analysis"]["match"] is None
    # The seed's stepWeight and maxWeight do not apply; stepWeightPromotion neither.
    assert parsed["promotion_steps"] == []
    warned = [w for w in parsed["warnings"] if w.startswith("spec.analysis.stepWeight is ignored")]
    assert warned and "blue/green" in warned[0]


def test_a_seed_without_iterations_is_still_a_weighted_canary():
    parsed = parse_canary(blue_green())
    assert parsed["analysis"]["iterations"] is None
    assert parsed["steps"][-1] > 0 and 0 not in parsed["steps"]


@pytest.mark.parametrize("iterations", [0.5, -1, 1001, "3", True])
def test_iterations_that_are_no_count_are_refused_naming_the_field(iterations):
    with pytest.raises(SpecError) as caught:
        parse_canary(blue_green(iterations=iterations))
    assert caught.value.field == "spec.analysis.iterations", str(caught.value)
    assert "integer between 1 and 1000" in str(caught.value)
