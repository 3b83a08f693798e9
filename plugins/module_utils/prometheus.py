# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How Prometheus is queried: an instant query, or a range query for the comparison check.

Thanos, Mimir, Cortex and VictoriaMetrics serve the same ``/api/v1/query`` and
``/api/v1/query_range`` endpoints, so they work through this provider too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)

from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    requests,
)

DEFAULT_TIMEOUT = 10


class PrometheusError(DeliveryError):
    """Prometheus could not answer the query; the message is Prometheus's own where it gave one."""


class NoData(Exception):
    """The query ran but returned no series, or NaN/Inf."""

    def __init__(self, reason):
        super(NoData, self).__init__(reason)
        self.reason = reason


class PrometheusProvider(object):
    def __init__(self, address, bearer_token=None, username=None, password=None, ca_cert=None,
                 validate_certs=True, timeout=DEFAULT_TIMEOUT, headers=None):
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
        self.address = address.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        if bearer_token:
            self.session.headers["Authorization"] = "Bearer {0}".format(bearer_token)
        elif username or password:
            self.session.auth = (username or "", password or "")
        self.session.verify = ca_cert if (ca_cert and validate_certs) else validate_certs

    def query(self, promql):
        """Run an instant query; return a float, or raise NoData / PrometheusError."""
        response = self._post("/api/v1/query", {"query": promql})
        return parse_query_response(response.status_code, _json_or_none(response), response.text,
                                    self.address)

    def query_range(self, promql, start, end, step):
        """Run a range query from ``start`` to ``end`` (Unix seconds) every ``step`` seconds;
        return the values of its one series in time order, or raise NoData / PrometheusError."""
        response = self._post("/api/v1/query_range", {
            "query": promql, "start": "{0:.3f}".format(start), "end": "{0:.3f}".format(end),
            "step": "{0:g}".format(step)})
        return parse_range_response(response.status_code, _json_or_none(response), response.text,
                                    self.address)

    def _post(self, path, data):
        try:
            return self.session.post(self.address + path, data=data, timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise PrometheusError(
                "Prometheus at {0} did not answer within {1}s".format(self.address, self.timeout))
        except requests.exceptions.RequestException as exc:
            raise PrometheusError(
                "Cannot reach Prometheus at {0}: {1}".format(self.address, _root_cause(exc)))


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _root_cause(exc):
    # requests wraps urllib3 errors several levels deep; the innermost one says what happened.
    while True:
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else None
        inner = getattr(inner, "reason", inner)
        if not isinstance(inner, Exception) or inner is exc:
            return str(exc)
        exc = inner


def _api_data(status_code, body, text, address):
    """The ``data`` of a successful Prometheus API answer, or PrometheusError."""
    if not isinstance(body, dict):
        snippet = (text or "").strip().splitlines()[0][:200] if (text or "").strip() else ""
        raise PrometheusError(
            "{0} answered HTTP {1} without a Prometheus API response{2}".format(
                address, status_code, (": " + snippet) if snippet else ""))
    if body.get("status") != "success":
        raise PrometheusError("Prometheus query failed ({0}): {1}".format(
            body.get("errorType", "HTTP {0}".format(status_code)), body.get("error", "no message")))
    return body.get("data") or {}


def parse_query_response(status_code, body, text, address="Prometheus"):
    """Turn an ``/api/v1/query`` answer into a float (pure, for tests)."""
    data = _api_data(status_code, body, text, address)
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar":
        raw = result[1]
    elif result_type == "vector":
        raw = _one_series(result)["value"][1]
    else:
        raise PrometheusError(
            "the query returned a {0}, expected an instant vector or scalar".format(result_type))
    value = float(raw)
    if math.isnan(value) or math.isinf(value):
        raise NoData("the query returned {0}".format(raw))
    return value


def _one_series(result):
    if not result:
        raise NoData("the query returned no series")
    if len(result) > 1:
        raise PrometheusError(
            "the query returned {0} series, expected one; aggregate it, for example with "
            "sum(...)".format(len(result)))
    return result[0]


def parse_range_response(status_code, body, text, address="Prometheus"):
    """Turn an ``/api/v1/query_range`` answer into the finite values of its one series, in time
    order (pure, for tests). Steps where the query had no value (NaN, Inf, e.g. no requests) are
    left out; a series with none left is NoData."""
    data = _api_data(status_code, body, text, address)
    if data.get("resultType") != "matrix":
        raise PrometheusError(
            "the range query returned a {0}, expected a range vector".format(data.get("resultType")))
    values = []
    for _timestamp, raw in _one_series(data.get("result")).get("values") or []:
        value = float(raw)
        if not (math.isnan(value) or math.isinf(value)):
            values.append(value)
    if not values:
        raise NoData("the query returned no finite values")
    return values
