# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names: validation of the Kubernetes object names a user gives, before any API call, and the one
place that derives the names of the Services a Canary routes through.

Flagger names the apex Service, the TraefikService and the ``-primary``/``-canary`` Services after
``spec.service.name`` (which defaults to the target's name), and the primary Deployment, HPA and
config copies after the target. Every module and task takes the Service names from
``service_names`` so that a Canary whose Service is named apart from its target routes, measures
and promotes the Services that exist.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63


def is_dns_label(value):
    return (
        isinstance(value, str)
        and len(value) <= DNS_LABEL_MAX
        and DNS_LABEL.match(value) is not None
    )


def require_dns_label(field, value):
    """Return ``value`` if it is a DNS-1123 label, else raise InvalidInput naming ``field``."""
    if not is_dns_label(value):
        raise InvalidInput(
            "{0} must be a DNS label (lowercase letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters); got {1!r}".format(field, value)
        )
    return value


PRIMARY_SUFFIX = "-primary"
CANARY_SUFFIX = "-canary"


def primary_name(name):
    """The primary's copy of a target object (Deployment, HPA, ConfigMap, Secret, Service)."""
    return name + PRIMARY_SUFFIX


def service_names(apex):
    """The Services (and the TraefikService) a release routes through, from the apex name."""
    return {
        "apex": apex,
        "primary": primary_name(apex),
        "canary": apex + CANARY_SUFFIX,
        "traefik_service": apex,
    }


def canary_names(canary):
    """Every name a release of a parsed Canary works with, each derived from the field Flagger
    derives it from: the workloads from the target, the routing from the Service name."""
    services = service_names(canary["service"]["name"])
    target = canary["target"]["name"]
    return {
        "target": target,
        "primary": primary_name(target),
        "apex_service": services["apex"],
        "primary_service": services["primary"],
        "canary_service": services["canary"],
        "traefik_service": services["traefik_service"],
    }
