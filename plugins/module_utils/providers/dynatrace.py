# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dynatrace, as Flagger asks it: the metrics API v2 over the last ten metric intervals.

``GET <address>/api/v2/metrics/query?metricSelector=<query>&resolution=Inf&from=<ms>&to=<ms>``
with ``Authorization: Api-Token <dynatrace_token>``; the value is the first value of the last
data entry of the first result, as in Flagger. The address (the environment's URL) is required.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    number,
)

WINDOW_INTERVALS = 10


class DynatraceProvider(MetricProvider):
    type = "dynatrace"
    label = "Dynatrace"
    credential_headers = (("Authorization", "Api-Token {dynatrace_token}"),)
    address_needed = "the environment's URL such as https://abc123.live.dynatrace.com"

    def run_query(self, query):
        now = int(self.now()) * 1000
        params = {"metricSelector": query, "resolution": "Inf",
                  "from": now - WINDOW_INTERVALS * self.interval_seconds() * 1000, "to": now}
        body = self.get_json("/api/v2/metrics/query", **params)
        results = body.get("result") or []
        data = (results[0].get("data") or []) if results else []
        values = (data[-1].get("values") or []) if data else []
        if not values or values[0] is None:
            raise NoData("Dynatrace returned no values for the metric selector")
        return number(values[0], "Dynatrace's value")

    def is_online(self):
        self.get_json("/api/v2/metrics", pageSize=1)
        return True
