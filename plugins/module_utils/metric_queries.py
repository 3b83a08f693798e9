# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Built-in Traefik metric checks, keyed by the canary Service's name.

Keying the query by the Service (not by the target Deployment, as Flagger does) means a renamed
canary Service is still measured. Which series belong to a Service is the router's knowledge:
the label matcher comes from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    validate_interval,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_class,
)

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
BUILTIN_METRICS = (REQUEST_SUCCESS_RATE, REQUEST_DURATION)


def builtin_query(metric, namespace, service, interval, port=None):
    """PromQL for a built-in check: success rate in percent, or p99 duration in milliseconds."""
    validate_interval(interval)
    matcher = router_class().service_matcher(namespace, service, port)
    if metric == REQUEST_SUCCESS_RATE:
        # Share of non-5xx responses; 0/0 (no requests in the window) gives NaN, i.e. no data.
        return (
            "sum(rate(traefik_service_requests_total{{{m},code!~\"5..\"}}[{i}])) / "
            "sum(rate(traefik_service_requests_total{{{m}}}[{i}])) * 100"
        ).format(m=matcher, i=interval)
    if metric == REQUEST_DURATION:
        return (
            "histogram_quantile(0.99, sum by (le) ("
            "rate(traefik_service_request_duration_seconds_bucket{{{m}}}[{i}]))) * 1000"
        ).format(m=matcher, i=interval)
    raise InvalidInput("metric must be one of {0}; got {1!r}".format(
        ", ".join(BUILTIN_METRICS), metric))
