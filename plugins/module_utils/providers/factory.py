# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics providers by MetricTemplate ``spec.provider.type`` (private to this collection).

The registry is written out with static imports: Ansible ships a module's module_utils by
following its imports, so a provider loaded by name at run time would be missing on the target.
It lives here, not in the package's ``__init__.py``, which ansible-core 2.17's sanity tests
require to be empty.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.base import (
    DEFAULT_METRIC_INTERVAL,
    DEFAULT_TIMEOUT,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.cloudwatch import (
    CloudWatchProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.datadog import (
    DatadogProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.dynatrace import (
    DynatraceProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.graphite import (
    GraphiteProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.influxdb import (
    InfluxDBProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.json_web import (
    JsonWebProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.keptn import (
    KeptnProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.newrelic import (
    NewRelicProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.prometheus import (
    PrometheusProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.splunk import (
    SplunkProvider,
)
from ansible_collections.progressive.delivery.plugins.module_utils.providers.stackdriver import (
    StackdriverProvider,
)

PROVIDERS = dict((cls.type, cls) for cls in (
    GraphiteProvider,
    InfluxDBProvider,
    PrometheusProvider,
    JsonWebProvider,
    DatadogProvider,
    NewRelicProvider,
    StackdriverProvider,
    DynatraceProvider,
    SplunkProvider,
    KeptnProvider,
    CloudWatchProvider,
))
SUPPORTED_TYPES = tuple(sorted(PROVIDERS))


def provider_class(provider_type, source="provider"):
    """The class for ``provider_type``; an unknown type is refused naming the supported ones."""
    try:
        return PROVIDERS[provider_type]
    except (KeyError, TypeError):
        raise InvalidInput("{0} uses spec.provider.type {1!r}; supported: {2}".format(
            source, provider_type, ", ".join(SUPPORTED_TYPES)))


def provider_for(provider_type, address, credentials=None, insecure_skip_verify=False,
                 timeout=DEFAULT_TIMEOUT, headers=None, metric_interval=None, ca_cert=None,
                 region=None, read_object=None):
    """A ready provider of ``provider_type`` (Flagger's ``Factory.Provider``).

    A provider that always needs a Secret is refused here, naming the keys, when they are absent.
    """
    cls = provider_class(provider_type)
    missing = cls.missing_credentials(credentials or {}) if cls.needs_secret() else None
    if missing:
        raise InvalidInput("the {0} provider's credentials are incomplete: {1}".format(
            provider_type, missing))
    provider = cls(address, credentials=credentials, insecure_skip_verify=insecure_skip_verify,
                   timeout=timeout, headers=headers)
    provider.metric_interval = metric_interval or DEFAULT_METRIC_INTERVAL
    provider.region = region
    provider.read_object = read_object
    if ca_cert and provider.session.verify is True:
        provider.session.verify = ca_cert
    return provider
