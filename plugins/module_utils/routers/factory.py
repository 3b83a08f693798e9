# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routers, one file per way of routing, and the factory that picks one for a Canary.

``base.py`` holds the interface; ``traefik.py`` what all Traefik routers share;
``traefik_weighted.py`` the weighted TraefikService that Flagger's traefik provider uses;
``traefik_sticky.py`` the same with a sticky cookie (``analysis.sessionAffinity``);
``traefik_header_match.py`` A/B testing by header or cookie (``analysis.match``);
``traefik_mirror.py`` mirroring to the canary (``analysis.mirror``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_header_match import (
    TraefikHeaderMatchRouter,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_mirror import (
    TraefikMirrorRouter,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_sticky import (
    TraefikStickyRouter,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    TraefikWeightedRouter,
)

# A Canary without spec.provider is routed as Flagger's traefik provider routes it.
DEFAULT_PROVIDER = "traefik"
ROUTERS = {
    TraefikWeightedRouter.provider: TraefikWeightedRouter,
}


def router_class(provider=None):
    """The router class for a value of a Canary's ``spec.provider``."""
    provider = provider or DEFAULT_PROVIDER
    if provider not in ROUTERS:
        raise InvalidInput("spec.provider must be one of {0} (or omitted); got {1!r}".format(
            ", ".join(sorted(ROUTERS)), provider))
    return ROUTERS[provider]


def router_for(client, canary, api_version=None):
    """The router of a parsed Canary, chosen by its ``provider``.

    ``api_version`` pins the group/version of the routing objects; unset, it is detected.
    """
    cls = router_class(canary.get("provider"))
    # A strategy within a provider is chosen by what the Canary's analysis asks for.
    if cls is TraefikWeightedRouter:
        for strategy in (TraefikHeaderMatchRouter, TraefikMirrorRouter, TraefikStickyRouter):
            if strategy.wants(canary):
                cls = strategy
                break
    return cls.for_canary(client, canary, api_version=api_version)
