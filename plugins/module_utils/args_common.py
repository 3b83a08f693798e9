# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules, one per option group (private to the collection).

Each group is documented once, in the doc fragment named beside it, as kubernetes.core pairs
``args_common.py`` with its fragments. A module copies the groups it needs and adds its own.
Older option names stay as aliases, so no playbook breaks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.progressive.delivery.plugins.module_utils.notifiers import (
    DEFAULT_USERNAME,
    PROVIDERS,
    SEVERITIES,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import (
    TRAEFIK_API_VERSIONS,
)

# The object a module works on; each module says in its own words what the name names.
NAME_ARG_SPEC = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
)

# doc fragment: progressive.delivery.canary_data
CANARY_ARG_SPEC = dict(canary=dict(type="dict", required=True))

# doc fragment: progressive.delivery.canary_ref
CANARY_REF_ARG_SPEC = dict(
    canary=dict(type="dict"),
    name=dict(type="str"),
    namespace=dict(type="str"),
)

# doc fragments: progressive.delivery.canary_source and progressive.delivery.canary_ref
CANARY_SOURCE_ARG_SPEC = dict(canary_file=dict(type="path"))
CANARY_SOURCE_ARG_SPEC.update(CANARY_REF_ARG_SPEC)

# doc fragment: progressive.delivery.traefik_api_version
TRAEFIK_API_VERSION_ARG_SPEC = dict(
    traefik_api_version=dict(type="str", choices=list(TRAEFIK_API_VERSIONS),
                             aliases=["api_version"]),
)

# doc fragments: progressive.delivery.traefik_route and progressive.delivery.traefik_api_version
TRAEFIK_ROUTE_ARG_SPEC = dict(
    primary_service=dict(type="str"),
    canary_service=dict(type="str"),
    port=dict(type="raw"),
)
TRAEFIK_ROUTE_ARG_SPEC.update(TRAEFIK_API_VERSION_ARG_SPEC)

# doc fragment: progressive.delivery.target_labels (Flagger's -selector-labels and
# -include-label-prefix controller flags)
TARGET_LABELS_ARG_SPEC = dict(
    selector_labels=dict(type="list", elements="str",
                         default=["app", "name", "app.kubernetes.io/name"]),
    include_label_prefix=dict(type="list", elements="str", default=[]),
)


# One chat alert target, as canary_notify's providers and the signals' alert_providers take it.
ALERT_TARGET_OPTIONS = dict(
    name=dict(type="str"),
    provider=dict(type="str", required=True, choices=list(PROVIDERS)),
    url=dict(type="str", required=True, no_log=True),
    username=dict(type="str", default=DEFAULT_USERNAME),
    channel=dict(type="str"),
    token=dict(type="str", no_log=True),
    proxy=dict(type="str", no_log=True),
    alert_severity=dict(type="str", choices=list(SEVERITIES), default="info"),
)

# doc fragment: progressive.delivery.signals (Flagger's -event-webhook, its global notifier
# flags and -cluster-name)
SIGNALS_ARG_SPEC = dict(
    event_webhook=dict(type="str", no_log=True),
    alert_providers=dict(type="list", elements="dict", default=[],
                         options=ALERT_TARGET_OPTIONS),
    cluster_name=dict(type="str"),
)


# doc fragment: progressive.delivery.pushgateway (Flagger's own metrics, pushed)
PUSHGATEWAY_ARG_SPEC = dict(
    pushgateway=dict(type="dict", options=dict(
        url=dict(type="str"),
        job=dict(type="str", default="flagger"),
        headers=dict(type="dict", no_log=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        bearer_token=dict(type="str", no_log=True),
        ca_cert=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=5),
    )),
)


def target_labels(params):
    """The target options of TARGET_LABELS_ARG_SPEC, as targets.target_for takes them."""
    return dict(selector_labels=params["selector_labels"],
                include_label_prefix=params["include_label_prefix"])


# doc fragment: progressive.delivery.prometheus_provider
PROMETHEUS_PROVIDER_ARG_SPEC = dict(
    provider=dict(
        type="dict",
        default={},
        aliases=["prometheus"],
        options=dict(
            type=dict(type="str", choices=["prometheus"], default="prometheus"),
            address=dict(type="str"),
            bearer_token=dict(type="str", no_log=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            ca_cert=dict(type="path"),
            validate_certs=dict(type="bool"),
            timeout=dict(type="float", default=10),
            headers=dict(type="dict", no_log=True),
        ),
    ),
)


def route_or_canary(*route_options):
    """Module constraints for a module that takes either a Canary (its router and names) or
    the options that name a route (``name``, ``namespace`` and ``route_options``)."""
    exclusive = ("name", "namespace", "primary_service", "canary_service", "port") + route_options
    return dict(
        required_one_of=[("name", "canary")],
        required_together=[("name", "namespace")],
        mutually_exclusive=[("canary", option) for option in exclusive],
    )


def argument_spec(*groups, **own):
    """A module's spec: deep copies of the shared ``groups``, then its ``own`` options."""
    spec = {}
    for group in groups:
        spec.update(copy.deepcopy(group))
    spec.update(own)
    return spec
