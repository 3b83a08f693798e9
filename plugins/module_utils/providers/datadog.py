# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datadog, as Flagger asks it: a metrics query over the last ten metric intervals.

``GET <address>/api/v1/query?query=...&from=<now - 10 x interval>&to=<now>`` with the
``DD-API-KEY`` and ``DD-APPLICATION-KEY`` headers from the Secret keys ``datadog_api_key`` and
``datadog_application_key``; the value is the first point of the first series, as in Flagger.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    number,
)

DEFAULT_ADDRESS = "https://api.datadoghq.com"
WINDOW_INTERVALS = 10


class DatadogProvider(MetricProvider):
    type = "datadog"
    label = "Datadog"
    credential_headers = (("DD-API-KEY", "{datadog_api_key}"),
                          ("DD-APPLICATION-KEY", "{datadog_application_key}"))
    default_address = DEFAULT_ADDRESS

    def run_query(self, query):
        now = int(self.now())
        params = {"query": query, "from": now - WINDOW_INTERVALS * self.interval_seconds(),
                  "to": now}
        body = self.get_json("/api/v1/query", **params)
        if body.get("status") == "error" or body.get("errors"):
            raise self.error("query failed: {0}".format(body.get("error") or body.get("errors")))
        series = body.get("series") or []
        points = (series[0].get("pointlist") or []) if series else []
        if not points or len(points[0]) < 2 or points[0][1] is None:
            raise NoData("Datadog returned no points for the query")
        return number(points[0][1], "Datadog's first point")

    def is_online(self):
        self.get_json("/api/v1/validate")
        return True
