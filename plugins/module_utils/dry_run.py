# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a release of a Canary would do, step by step, without measuring anything.

A dry run (check mode) cannot judge metrics: nothing is routed to a canary it never scaled up. It
describes instead what the release would do at each weight (the wait, the checks, the webhooks
asked) and how long that takes at least. Pure functions of a parsed Canary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import promotion_steps

# Flagger's built-in metrics and the unit their thresholds are in.
_UNITS = {"request-success-rate": "%", "request-duration": "ms"}


def _number(value):
    return "{0:g}".format(value)


def describe_check(metric):
    """One line for a metric of ``spec.analysis.metrics``: what is measured and what passes."""
    name = metric["name"]
    unit = _UNITS.get(name, "")
    limits = metric.get("threshold_range") or {}
    bounds = []
    if limits.get("min") is not None:
        bounds.append(">= " + _number(limits["min"]) + unit)
    if limits.get("max") is not None:
        bounds.append("<= " + _number(limits["max"]) + unit)
    if metric.get("template_ref"):
        ref = metric["template_ref"]
        source = " (MetricTemplate {0}{1})".format(
            ref.get("name"), "." + ref["namespace"] if ref.get("namespace") else "")
    elif metric.get("query"):
        source = " (query)"
    else:
        source = ""
    judged = " and ".join(bounds)
    comparison = metric.get("compare")
    if comparison:
        allowed = [text.format(comparison[key]) for key, text in (
            ("max_ratio", "up to {0:g}x"), ("max_difference", "up to {0:g} apart"))
            if comparison.get(key) is not None]
        judged = (judged + "; " if judged else "") + "compared with the primary ({0}{1})".format(
            comparison["direction"], ", " + " or ".join(allowed) if allowed else "")
    judged = judged or "as its MetricTemplate says"
    return "{0}{1} {2} over {3}".format(name, source, judged, metric["interval"])


def hooks_of(canary, hook_type):
    return [h["name"] for h in canary["analysis"].get("webhooks") or [] if h["type"] == hook_type]


def planned_steps(canary, weights, interval_seconds):
    """One entry per weight: the interval waited before measuring, the checks and the hooks."""
    checks = [describe_check(m) for m in canary["analysis"].get("metrics") or []]
    gates = hooks_of(canary, "confirm-traffic-increase")
    rollout = hooks_of(canary, "rollout")
    rollback = hooks_of(canary, "rollback")
    steps = []
    for weight in weights:
        step = {"weight": weight, "wait_seconds": interval_seconds, "checks": checks,
                "rollout_webhooks": rollout, "rollback_webhooks": rollback,
                "gates": gates}
        step["msg"] = describe_step(step)
        steps.append(step)
    return steps


def describe_step(step):
    parts = ["weight {0}: wait {1}s".format(step["weight"], _number(step["wait_seconds"]))]
    if step["gates"]:
        parts.insert(0, "ask {0} before raising the weight".format(", ".join(step["gates"])))
    if step["rollback_webhooks"]:
        parts.append("ask rollback hooks " + ", ".join(step["rollback_webhooks"]))
    if step["rollout_webhooks"]:
        parts.append("run rollout hooks " + ", ".join(step["rollout_webhooks"]))
    parts.append("check " + ("; ".join(step["checks"]) if step["checks"] else "nothing (no metrics)"))
    return ", then ".join(parts)


def estimated_seconds(canary, weights, interval_seconds):
    """The least time the analysis and promotion take: one interval per weight and one per
    promotion step (stepWeightPromotion), when every check passes the first time and no gate
    waits. Rollouts of the canary and the primary come on top."""
    analysis = 0 if canary.get("skip_analysis") else len(weights) * interval_seconds
    final = weights[-1] if weights else 0
    promotion = len(promotion_steps(final, canary["analysis"].get("step_weight_promotion"))) * interval_seconds
    return analysis + promotion


def planned_release(canary, weights=None, interval_seconds=None):
    """The dry-run description of a whole analysis: steps, hooks around them and a duration."""
    weights = canary["steps"] if weights is None else weights
    interval = canary["analysis"]["interval_seconds"] if interval_seconds is None else interval_seconds
    steps = [] if canary.get("skip_analysis") else planned_steps(canary, weights, interval)
    final = weights[-1] if weights else 0
    return {
        "steps": steps,
        "before_analysis": {"confirm_rollout": hooks_of(canary, "confirm-rollout"),
                            "pre_rollout": hooks_of(canary, "pre-rollout")},
        "before_promotion": {"confirm_promotion": hooks_of(canary, "confirm-promotion")},
        "after_promotion": {"post_rollout": hooks_of(canary, "post-rollout")},
        "promotion_primary_weights": promotion_steps(final, canary["analysis"].get("step_weight_promotion")),
        "threshold": canary["analysis"]["threshold"],
        "estimated_seconds": estimated_seconds(canary, weights, interval),
    }
