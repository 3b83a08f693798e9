# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One comparison check: the same query for the canary and the primary Service over one window,
as a range query each, judged by judge.compare (private to this collection).

The query is planned by metric_check's planning (metrics.plan_check) once per Service: built-in
checks select that Service's series, templates see it as ``{{ compared_service }}``. In a
comparison ``{{ interval }}`` is the resolution, so that each value covers its own stretch of time
and the two samples are made of values that do not overlap.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    parse_duration,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.judge import (
    PASS,
    compare,
    describe,
    validate_comparison,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import (
    build_provider,
    plan_check,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    service_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.prometheus import (
    NoData,
    PrometheusError,
)

SIDES = ("canary", "primary")


def side_services(params):
    """``{"canary": ..., "primary": ...}``: the two Services a comparison measures."""
    service = params.get("service") or params.get("target")
    defaults = service_names(service) if service else {}
    services = {
        "canary": params.get("canary_service") or defaults.get("canary"),
        "primary": params.get("primary_service") or defaults.get("primary"),
    }
    for side in SIDES:
        if not services[side]:
            raise InvalidInput("{0}_service, service or target is required for a "
                               "comparison".format(side))
    return services


def plan_comparison(params, comparison, load_template_ref=None, read_secret=None,
                    load_template_file=None):
    """``{side: PlannedCheck}`` for both Services, validated, without contacting the provider.

    ``comparison`` holds direction, max_ratio, max_difference, alpha and resolution (a
    Prometheus duration).
    """
    validate_comparison(comparison.get("direction"), comparison.get("max_ratio"),
                        comparison.get("max_difference"), comparison.get("alpha"))
    resolution = comparison.get("resolution")
    if not resolution_seconds(resolution):
        raise InvalidInput("compare.resolution must be a whole number of seconds, at least 1s, "
                           "as a duration such as 10s; got {0!r}".format(resolution))
    services = side_services(params)
    plans = {}
    for side in SIDES:
        side_params = dict(params, canary_service=services[side], interval=resolution,
                           compare=True)
        plans[side] = plan_check(side_params, load_template_ref=load_template_ref,
                                 read_secret=read_secret, load_template_file=load_template_file)
    return plans


def resolution_seconds(resolution):
    """Whole seconds of ``resolution``, or 0 when it is not a usable resolution."""
    try:
        seconds = parse_duration(resolution)
    except (DeliveryError, TypeError, ValueError):
        return 0
    return int(seconds) if seconds >= 1 and seconds == int(seconds) else 0


def run_comparison(plans, comparison, window, name, provider_factory=build_provider,
                   clock=time.time):
    """Ask for both samples over the last ``window`` (a duration) and judge them.

    One range query per Service. Returns the result fields metric_check and canary_analysis
    share: ``verdict`` (pass, high, low, no_data), ``passed``, ``p_value``, ``effect_size``,
    ``difference``, the medians and sample counts, ``queries`` and ``msg``. A provider error is
    raised as DeliveryError carrying ``verdict: error``.
    """
    step = resolution_seconds(comparison["resolution"])
    end = clock()
    start = end - parse_duration(window)
    provider = provider_factory(**plans["canary"].provider_settings)
    if not hasattr(provider, "query_range"):
        raise InvalidInput(
            "{0}: compare needs a Prometheus-compatible provider (a range query per Service); "
            "{1} has none".format(name, plans["canary"].source or "the provider"))
    samples = {}
    result = {"changed": False, "metric": name, "compare": dict(comparison),
              "queries": dict((side, plans[side].query) for side in SIDES)}
    for side in SIDES:
        try:
            samples[side] = provider.query_range(plans[side].query, start, end, step)
        except NoData:
            samples[side] = []
        except PrometheusError as exc:
            raise DeliveryError(str(exc), verdict="error", passed=False, metric=name,
                                queries=result["queries"])
    outcome = compare(samples["canary"], samples["primary"],
                      direction=comparison["direction"],
                      max_ratio=comparison.get("max_ratio"),
                      max_difference=comparison.get("max_difference"),
                      alpha=comparison["alpha"])
    result.update(outcome)
    result["passed"] = outcome["verdict"] == PASS
    result["msg"] = describe(name, outcome)
    return result


def comparison_error(name, exc):
    """The result of a comparison that could not be run, as a failed comparison."""
    return {"metric": name, "verdict": "error", "passed": False, "p_value": None,
            "effect_size": None, "msg": "comparison {0} failed: {1}".format(name, exc)}
