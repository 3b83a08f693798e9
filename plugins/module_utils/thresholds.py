# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a measured value against a threshold range, worded the way Flagger words it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)

PASS = "pass"
FAIL = "fail"
NO_DATA = "no_data"
ERROR = "error"


def validate_range(threshold_range):
    """Return ``(min, max)`` as floats or None; at least one must be set and min <= max."""
    threshold_range = threshold_range or {}
    low, high = threshold_range.get("min"), threshold_range.get("max")
    if low is None and high is None:
        raise InvalidInput("threshold_range needs min, max or both")
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            "threshold_range.min ({0}) must not be greater than threshold_range.max ({1})".format(
                format_number(low), format_number(high)))
    return low, high


def format_number(value):
    """Like Go's %v for a float64: 99.0 -> "99", 99.5 -> "99.5"."""
    as_float = float(value)
    if as_float == int(as_float):
        return str(int(as_float))
    return repr(as_float)


class Display(object):
    """How one metric's value and thresholds are written in messages."""

    def __init__(self, label, value_format, unit=""):
        self.label = label
        self.value_format = value_format
        self.unit = unit

    def value(self, value):
        return self.value_format.format(value) + self.unit

    def threshold(self, value):
        return format_number(value) + self.unit


def display_for(metric_name):
    if metric_name == "request-success-rate":
        return Display("success rate", "{0:.2f}", "%")
    if metric_name == "request-duration":
        return Display("request duration", "{0:.0f}", "ms")
    return Display(metric_name, "{0:.2f}")


def judge(metric_name, value, threshold_range):
    """Return ``(verdict, message)`` for a measured ``value``.

    Messages match Flagger's: ``success rate 53.42% < 99%``, ``request duration 612ms > 500ms``,
    ``404s percentage 6.20 > 5``.
    """
    low, high = validate_range(threshold_range)
    display = display_for(metric_name)
    shown = display.value(value)
    if low is not None and value < low:
        return FAIL, "{0} {1} < {2}".format(display.label, shown, display.threshold(low))
    if high is not None and value > high:
        return FAIL, "{0} {1} > {2}".format(display.label, shown, display.threshold(high))
    bounds = []
    if low is not None:
        bounds.append(">= " + display.threshold(low))
    if high is not None:
        bounds.append("<= " + display.threshold(high))
    return PASS, "{0} {1} {2}".format(display.label, shown, " and ".join(bounds))


def no_data_message(metric_name, reason):
    return "{0}: no values found ({1})".format(display_for(metric_name).label, reason)
