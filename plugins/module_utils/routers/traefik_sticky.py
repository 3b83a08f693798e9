# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A sticky canary (a Canary's ``spec.analysis.sessionAffinity``) on a weighted TraefikService.

Traefik's weighted service sets a cookie naming the child Service that answered and sends every
later request carrying it to that child. So a user who once reached the canary stays on it while
the weights move, and a user on the primary stays there. When the canary's entry leaves the
TraefikService (weight 0 after a rollback or a promotion), a cookie naming it matches no child:
Traefik picks by weight again and sets a new cookie, so everyone is back on the primary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    TraefikWeightedRouter,
)


def sticky_cookie(affinity):
    """Traefik's ``weighted.sticky`` for a parsed Flagger ``sessionAffinity``: the attributes
    Flagger puts on its Set-Cookie (Traefik writes ``sameSite`` in lower case). ``httpOnly`` is
    on unless the Canary turns it off: the cookie only routes, no script needs to read it."""
    cookie = {"name": affinity["cookie_name"], "maxAge": affinity["max_age"],
              "httpOnly": affinity.get("http_only", True)}
    # Traefik names these as the parsed sessionAffinity does.
    for key in ("secure", "path", "domain"):
        if affinity.get(key) is not None:
            cookie[key] = affinity[key]
    if affinity.get("same_site"):
        cookie["sameSite"] = affinity["same_site"].lower()
    return {"cookie": cookie}


class TraefikStickyRouter(TraefikWeightedRouter):
    """The weighted TraefikService of Flagger's traefik provider, with a sticky cookie."""

    analysis_key = "session_affinity"

    @classmethod
    def for_canary(cls, client, canary, api_version=None):
        route = Route.for_canary(canary, api_version=api_version)
        route.sticky = sticky_cookie(canary["analysis"]["session_affinity"])
        return cls(client, route)

    def describe(self):
        return "{0} (sticky cookie {1})".format(self.route.describe(),
                                                self.route.sticky["cookie"]["name"])
