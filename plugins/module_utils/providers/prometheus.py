# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Prometheus is queried: one instant query over the HTTP API.

Thanos, Mimir, Cortex and VictoriaMetrics serve the same ``/api/v1/query`` endpoint, so they work
through this provider too. A secretRef Secret gives ``token`` (a bearer token) or ``username`` and
``password``, as in Flagger; ours may also give ``address``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    DEFAULT_TIMEOUT,
    MetricProvider,
    NoData,
    ProviderError,
    json_or_none,
    snippet,
)

# Older name of the provider error, kept for the code and tests that use it.
PrometheusError = ProviderError


class PrometheusProvider(MetricProvider):
    type = "prometheus"
    label = "Prometheus"
    required_credentials = (("token",), ("username", "password"), ("address",))

    def __init__(self, address, credentials=None, insecure_skip_verify=False,
                 timeout=DEFAULT_TIMEOUT, headers=None, bearer_token=None, username=None,
                 password=None, ca_cert=None, validate_certs=True):
        credentials = credentials or {}
        if not (bearer_token or username or password):
            bearer_token = credentials.get("token")
            if not bearer_token:
                username, password = credentials.get("username"), credentials.get("password")
        if not address:
            raise InvalidInput(
                "provider.address is required: set it, or the PROMETHEUS_URL environment "
                "variable, or use a MetricTemplate whose spec.provider.address is set")
        if not (address.startswith("http://") or address.startswith("https://")):
            raise InvalidInput(
                "provider.address must be an http:// or https:// URL; got {0!r}".format(address))
        if bearer_token and (username or password):
            raise InvalidInput(
                "provider.bearer_token and provider.username/password are mutually exclusive")
        super(PrometheusProvider, self).__init__(
            address, credentials, insecure_skip_verify=insecure_skip_verify or not validate_certs,
            timeout=timeout, headers=headers)
        if bearer_token:
            self.session.headers["Authorization"] = "Bearer {0}".format(bearer_token)
        elif username or password:
            self.session.auth = (username or "", password or "")
        if ca_cert and self.session.verify:
            self.session.verify = ca_cert

    def run_query(self, query):
        """Run an instant query; return a float, or raise NoData / ProviderError."""
        response = self.request("POST", self.address + "/api/v1/query", data={"query": query})
        return parse_query_response(response.status_code, json_or_none(response), response.text,
                                    self.address)

    # The name this method had before the provider interface.
    query = run_query

    def is_online(self):
        value = self.run_query("vector(1)")
        if value != 1:
            raise ProviderError("{0} answered vector(1) with {1}".format(self.name, value))
        return True


def parse_query_response(status_code, body, text, address="Prometheus"):
    """Turn an ``/api/v1/query`` answer into a float (pure, for tests)."""
    if not isinstance(body, dict):
        raise ProviderError(
            "{0} answered HTTP {1} without a Prometheus API response{2}".format(
                address, status_code, snippet(text)))
    if body.get("status") != "success":
        raise ProviderError("Prometheus query failed ({0}): {1}".format(
            body.get("errorType", "HTTP {0}".format(status_code)), body.get("error", "no message")))
    data = body.get("data") or {}
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar":
        raw = result[1]
    elif result_type == "vector":
        if not result:
            raise NoData("the query returned no series")
        if len(result) > 1:
            raise ProviderError(
                "the query returned {0} series, expected one; aggregate it, for example with "
                "sum(...)".format(len(result)))
        raw = result[0]["value"][1]
    else:
        raise ProviderError(
            "the query returned a {0}, expected an instant vector or scalar".format(result_type))
    value = float(raw)
    if math.isnan(value) or math.isinf(value):
        raise NoData("the query returned {0}".format(raw))
    return value
