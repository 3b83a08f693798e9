# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keptn, as Flagger asks it: the value of a ``KeptnMetric`` read from the Kubernetes API.

The query is Flagger's ``keptnmetric/<namespace>/<name>``; the value is the object's
``status.value`` (a number written as a string by Keptn's metrics operator). Flagger also accepts
``analysis/<namespace>/<definition>/<duration>/<args>``, which creates a Keptn ``Analysis`` and
waits for its verdict; that form is refused here. The object is read with the module's own
Kubernetes connection (the collection's RBAC grants ``get`` on ``keptnmetrics.metrics.keptn.sh``);
no address or Secret is used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    is_dns_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    MetricProvider,
    NoData,
    ProviderError,
    number,
)

KEPTN_METRIC_API_VERSION = "metrics.keptn.sh/v1beta1"


def parse_keptn_query(query):
    """``(namespace, name)`` of a ``keptnmetric/<namespace>/<name>`` query (pure, for tests)."""
    parts = (query or "").strip().lower().split("/")
    if parts[0] in ("analysis", "analyses"):
        raise InvalidInput("keptn analysis queries ({0}) are not supported; use "
                           "keptnmetric/<namespace>/<name>".format(query.strip()))
    if len(parts) != 3 or parts[0] not in ("keptnmetric", "keptnmetrics"):
        raise InvalidInput("a keptn query must be keptnmetric/<namespace>/<name>; got {0!r}".format(
            query))
    namespace, name = parts[1], parts[2]
    if not (is_dns_label(namespace) and name):
        raise InvalidInput("a keptn query must name a namespace and a KeptnMetric; got {0!r}".format(
            query))
    return namespace, name


class KeptnProvider(MetricProvider):
    type = "keptn"
    label = "Keptn"

    def run_query(self, query):
        namespace, name = parse_keptn_query(query)
        if self.read_object is None:
            raise InvalidInput("the keptn provider reads KeptnMetrics from the cluster, and no "
                               "cluster connection was given")
        try:
            obj = self.read_object(KEPTN_METRIC_API_VERSION, "KeptnMetric", namespace, name)
        except ProviderError:
            raise
        except DeliveryError as exc:
            raise self.error("cannot read KeptnMetric {0}/{1}: {2}".format(namespace, name, exc))
        if obj is None:
            raise self.error("has no KeptnMetric {0}/{1}".format(namespace, name))
        value = ((obj.get("status") or {}).get("value"))
        if value in (None, ""):
            raise NoData("KeptnMetric {0}/{1} has no status.value yet".format(namespace, name))
        return number(value, "KeptnMetric {0}/{1} status.value".format(namespace, name))

    def is_online(self):
        return True
