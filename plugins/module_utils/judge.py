# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The statistical judge: canary against primary, as Kayenta judges a canary (private to this
collection).

A comparison takes the same query's samples for both Services over one window and asks two
questions: is the difference real (a two-sided Mann-Whitney U test, from scipy), and is it bigger
than the allowed effect (a ratio of the medians, or an absolute difference)? Only a real
difference that is too big, in the direction that is worse, fails. The score is the share of
comparisons that passed, optionally weighted by group, judged against a pass and a marginal score.

Everything here is pure; scipy is imported when a comparison is made, so the collection loads
without it and the module reports it with ``missing_required_lib("scipy")``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
    MissingLibrary,
)

# Classification of one comparison.
PASS = "pass"
HIGH = "high"
LOW = "low"
NO_DATA = "no_data"

HIGHER_IS_WORSE = "higher-is-worse"
LOWER_IS_WORSE = "lower-is-worse"
EITHER = "either"
DIRECTIONS = (HIGHER_IS_WORSE, LOWER_IS_WORSE, EITHER)

# Outcome of a step's score.
SCORE_PASS = "pass"
SCORE_INCONCLUSIVE = "inconclusive"
SCORE_FAIL = "fail"

DEFAULT_ALPHA = 0.05
DEFAULT_PASS_SCORE = 95.0
DEFAULT_MARGINAL_SCORE = 75.0
# Below this many values on either side the test cannot tell anything apart.
MIN_SAMPLES = 3


def mann_whitney_p(canary, primary):
    """Two-sided Mann-Whitney U test: ``(p_value, share)``.

    ``share`` is U of the canary over n1*n2: the chance that a canary value is above a primary
    value (ties count half), 0.5 when neither side is higher.
    """
    try:
        from scipy.stats import mannwhitneyu  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingLibrary("scipy", "the comparison of canary and primary needs it ({0})".format(
            exc))
    result = mannwhitneyu(canary, primary, alternative="two-sided")
    share = float(result.statistic) / (len(canary) * len(primary))
    p_value = float(result.pvalue)
    if math.isnan(p_value):
        # Every value on both sides is the same: there is no difference to find.
        p_value = 1.0
    return p_value, share


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def finite(values):
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def comparison_problems(direction, max_ratio=None, max_difference=None, alpha=DEFAULT_ALPHA):
    """``[(field, message)]`` for a comparison's settings that cannot be used (field names as in
    the Canary's ``compare``)."""
    problems = []
    if direction not in DIRECTIONS:
        problems.append(("direction", "must be one of {0}; got {1!r}".format(
            ", ".join(DIRECTIONS), direction)))
    if max_ratio is not None and (not _is_number(max_ratio) or max_ratio < 1):
        problems.append(("maxRatio", "must be a number of at least 1 (canary median at most "
                         "this many times the primary's); got {0!r}".format(max_ratio)))
    if max_difference is not None and (not _is_number(max_difference) or max_difference < 0):
        problems.append(("maxDifference", "must be a number of at least 0; got {0!r}".format(
            max_difference)))
    if not _is_number(alpha) or not 0 < alpha < 1:
        problems.append(("alpha", "must be a number between 0 and 1 (exclusive); got "
                         "{0!r}".format(alpha)))
    return problems


def validate_comparison(direction, max_ratio=None, max_difference=None, alpha=DEFAULT_ALPHA,
                        field="compare"):
    """Raise InvalidInput naming the field when a comparison's settings cannot be used."""
    for name, message in comparison_problems(direction, max_ratio, max_difference, alpha):
        raise InvalidInput("{0}.{1} {2}".format(field, name, message))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(canary, primary, direction=HIGHER_IS_WORSE, max_ratio=None, max_difference=None,
            alpha=DEFAULT_ALPHA):
    """Classify the canary's samples against the primary's.

    Returns a dict: ``verdict`` (pass, high, low, no_data), ``p_value``, ``effect_size`` (canary
    median over primary median, None when the primary's is 0), ``difference`` (canary median minus
    primary median), both medians and both sample counts, and ``msg``.
    """
    validate_comparison(direction, max_ratio, max_difference, alpha)
    canary, primary = finite(canary), finite(primary)
    result = {"verdict": NO_DATA, "p_value": None, "effect_size": None, "difference": None,
              "canary_median": None, "primary_median": None,
              "canary_samples": len(canary), "primary_samples": len(primary)}
    if len(canary) < MIN_SAMPLES or len(primary) < MIN_SAMPLES:
        result["msg"] = "no data: {0} canary and {1} primary values, at least {2} each are " \
            "needed".format(len(canary), len(primary), MIN_SAMPLES)
        return result
    p_value, share = mann_whitney_p(canary, primary)
    canary_median, primary_median = median(canary), median(primary)
    result.update(p_value=p_value, canary_median=canary_median, primary_median=primary_median,
                  difference=canary_median - primary_median,
                  effect_size=(canary_median / primary_median) if primary_median else None)
    side = HIGH if share > 0.5 else LOW
    if p_value >= alpha or share == 0.5:
        result.update(verdict=PASS, msg="no significant difference")
    elif (side == HIGH and direction == LOWER_IS_WORSE) or (
            side == LOW and direction == HIGHER_IS_WORSE):
        result.update(verdict=PASS, msg="canary {0}er, which is better".format(
            "high" if side == HIGH else "low"))
    elif _within_allowance(side, canary_median, primary_median, max_ratio, max_difference):
        result.update(verdict=PASS, msg="canary {0}er within the allowed effect".format(
            "high" if side == HIGH else "low"))
    else:
        result.update(verdict=side, msg="canary {0}er than the primary".format(
            "high" if side == HIGH else "low"))
    return result


def _within_allowance(side, canary_median, primary_median, max_ratio, max_difference):
    """Whether a real difference is small enough to pass: the larger median is at most
    ``max_ratio`` times the smaller, or at most ``max_difference`` above it."""
    larger, smaller = ((canary_median, primary_median) if side == HIGH
                       else (primary_median, canary_median))
    if max_ratio is not None and smaller > 0 and larger <= max_ratio * smaller:
        return True
    return max_difference is not None and larger - smaller <= max_difference


def score(comparisons, group_weights=None):
    """The step's score from 0 to 100, or None without comparisons.

    ``comparisons`` are ``(group, passed)`` pairs. Without ``group_weights`` the score is the
    share of comparisons that passed; with them, each group's share weighs as much as its
    weight (every group used must have one).
    """
    if not comparisons:
        return None
    if not group_weights:
        return 100.0 * sum(1 for _group, passed in comparisons if passed) / len(comparisons)
    groups = {}
    for group, passed in comparisons:
        if group not in group_weights:
            raise InvalidInput("group {0!r} has no weight in groupWeights (known: {1})".format(
                group, ", ".join(sorted(str(g) for g in group_weights)) or "none"))
        groups.setdefault(group, []).append(passed)
    total = sum(float(group_weights[g]) for g in groups)
    if total <= 0:
        raise InvalidInput("groupWeights of the groups used must add up to more than 0")
    return 100.0 * sum(float(group_weights[g]) * sum(p) / len(p)
                       for g, p in groups.items()) / total


def judge_score(value, pass_score=DEFAULT_PASS_SCORE, marginal_score=DEFAULT_MARGINAL_SCORE):
    """pass at or above ``pass_score``, fail below ``marginal_score``, inconclusive between."""
    if value >= pass_score:
        return SCORE_PASS
    if value < marginal_score:
        return SCORE_FAIL
    return SCORE_INCONCLUSIVE


def describe(name, result):
    """One line for results and events: name, verdict, p-value and effect size."""
    if result["verdict"] == NO_DATA:
        return "comparison {0}: {1}".format(name, result["msg"])
    effect = ("effect {0:.2f}x".format(result["effect_size"])
              if result["effect_size"] is not None
              else "difference {0:.4g}".format(result["difference"]))
    return "comparison {0}: {1} (p-value {2:.3g}, {3}, canary median {4:.4g}, primary median " \
        "{5:.4g})".format(name, result["verdict"], result["p_value"], effect,
                          result["canary_median"], result["primary_median"])
