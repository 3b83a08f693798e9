# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every way of routing through Traefik shares: the API groups of its CRDs and which one a
cluster serves, the form of a Service port in its objects, and the label its metrics carry."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    is_served,
    serves_now,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    require_dns_label,
)

# Traefik v3 serves its CRDs in traefik.io; Traefik v2 (and the seed article) in traefik.containo.us.
TRAEFIK_API_VERSIONS = ("traefik.io/v1alpha1", "traefik.containo.us/v1alpha1")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


def detect_api_version(client, requested=None, kind="TraefikService", required=True):
    """Choose the Traefik CRD group/version to use.

    With ``requested`` set, validate it and make sure the cluster serves it. Otherwise prefer
    ``traefik.io/v1alpha1`` (Traefik v3) and fall back to ``traefik.containo.us/v1alpha1`` (v2);
    when the cluster serves neither, fail, or give None when not ``required``.
    """
    allowed = ", ".join(TRAEFIK_API_VERSIONS)
    # The modules call the option api_version or traefik_api_version; the role passes its own
    # variable through, so name both to point the user at what they actually set.
    role_variable = "canary_traefik_api_version in the canary role"
    if requested:
        if requested not in TRAEFIK_API_VERSIONS:
            raise InvalidInput(
                "api_version must be one of {0}; got '{1}' ({2})".format(
                    allowed, requested, role_variable)
            )
        if not serves_now(client, requested, kind):
            installed = [v for v in TRAEFIK_API_VERSIONS
                         if v != requested and serves_now(client, v, kind)]
            if installed:
                found = "{0} {1} installed".format(
                    " and ".join(installed), "is" if len(installed) == 1 else "are")
            else:
                found = "no Traefik CRDs are installed"
            raise DeliveryError(
                "api_version {0} was requested ({1}), but the API server does not serve "
                "{2} in it: {3}. Allowed values are {4}; use one the cluster serves, "
                "or leave it unset to detect it".format(requested, role_variable, kind, found,
                                                        allowed)
            )
        return requested
    for candidate in TRAEFIK_API_VERSIONS:
        if is_served(client, candidate, kind):
            return candidate
    if not required:
        return None
    raise DeliveryError(
        "The API server serves {0} in none of {1}; are Traefik's CRDs "
        "installed?".format(kind, allowed)
    )


def normalize_port(port):
    """A Service port as Traefik refers to it: a number (given as int or digits) or a port name."""
    if port is None:
        return None
    if isinstance(port, bool):
        raise InvalidInput("port must be a port number (1-65535) or a port name; got {0!r}".format(port))
    if isinstance(port, int) or (isinstance(port, str) and port.strip().isdigit()):
        number = int(port)
        if 1 <= number <= 65535:
            return number
        raise InvalidInput("port must be a port number between 1 and 65535 or a port name; got {0}".format(number))
    if isinstance(port, str) and PORT_NAME.match(port):
        return port
    raise InvalidInput(
        "port must be a port number (1-65535) or a port name (lowercase letters, digits and '-', "
        "at most 15 characters); got {0!r}".format(port)
    )


def service_matcher(namespace, service, port=None):
    """The PromQL label matcher selecting one Service's series in Traefik's metrics.

    Traefik labels them ``service="<namespace>-<service>-<port>@kubernetescrd"``. With a known
    port the label is matched exactly; without one the port part may only be digits, so a Service
    ``podinfo-canary`` is never confused with ``podinfo-canary-extra``.
    """
    require_dns_label("namespace", namespace)
    require_dns_label("service", service)
    port = normalize_port(port)
    if port is not None:
        return 'service="{0}-{1}-{2}@kubernetescrd"'.format(namespace, service, port)
    return 'service=~"{0}-{1}-[0-9]+@kubernetescrd"'.format(namespace, service)
