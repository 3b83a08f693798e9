# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""New Relic, as Flagger asks it: an NRQL query on the Insights query API.

``GET <address>/v1/accounts/<newrelic_account_id>/query?nrql=<query> SINCE <interval> seconds ago``
with the ``X-Query-Key`` header from the Secret key ``newrelic_query_key``; the answer's single
``results[0].result`` is the value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    number,
)

DEFAULT_ADDRESS = "https://insights-api.newrelic.com"


class NewRelicProvider(MetricProvider):
    type = "newrelic"
    label = "New Relic"
    required_credentials = (("newrelic_account_id", "newrelic_query_key"),)
    credential_headers = (("X-Query-Key", "{newrelic_query_key}"),)
    default_address = DEFAULT_ADDRESS

    def _ask(self, nrql):
        return self.get_json(
            "/v1/accounts/{0}/query".format(self.credentials.get("newrelic_account_id", "")),
            nrql="{0} SINCE {1} seconds ago".format(nrql, self.interval_seconds()))

    def run_query(self, query):
        body = self._ask(query)
        results = body.get("results") or []
        if len(results) != 1 or not isinstance(results[0], dict) or \
                results[0].get("result") is None:
            raise NoData("New Relic returned {0} results, expected one with a result".format(
                len(results)))
        return number(results[0]["result"], "New Relic's result")

    def is_online(self):
        self._ask("SELECT * FROM Metric")
        return True
