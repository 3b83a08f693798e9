# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirroring (a Canary's ``analysis.mirror`` with ``analysis.iterations``) on Traefik.

For the iterations the TraefikService the user's IngressRoute points to changes kind, from
weighted to mirroring: its service is the primary Service, which answers every request, and
Traefik copies ``mirrorWeight`` percent of the requests to the canary Service and drops the
canary's answers. Promotion and rollback turn it back into the weighted TraefikService with all
traffic on the primary. The weights the release code asks for are the canary's share of copies:
``mirrorWeight`` while mirroring, 0 otherwise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    split_weights,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    RoutePlan,
    TraefikWeightedRouter,
    UnexpectedTraefikService,
    apply_route,
    build_weighted_spec,
    plan_route,
    read_weights,
    routing_result,
)


def build_mirroring_spec(primary_service, canary_service, port, percent):
    """The ``spec`` of a mirroring TraefikService: the primary answers, ``percent`` percent of the
    requests are copied to the canary."""
    return {"mirroring": {
        "name": primary_service, "port": port,
        "mirrors": [{"name": canary_service, "port": port, "percent": percent}],
    }}


def mirrored_percent(spec, primary_service, canary_service):
    """The percent a mirroring spec copies to the canary, or None for a spec of another kind.

    A mirroring spec other than the primary with the canary as its one mirror raises
    UnexpectedTraefikService.
    """
    mirroring = (spec or {}).get("mirroring")
    if not isinstance(mirroring, dict):
        return None
    mirrors = mirroring.get("mirrors") or []
    if (mirroring.get("name") != primary_service or mirroring.get("kind", "Service") != "Service"
            or len(mirrors) != 1 or mirrors[0].get("name") != canary_service
            or mirrors[0].get("kind", "Service") != "Service"):
        raise UnexpectedTraefikService(
            "is a mirroring TraefikService that is not {0} mirrored to {1}; refusing to change "
            "it".format(primary_service, canary_service))
    return int(mirrors[0].get("percent", 0))


def _port_of(spec):
    mirroring = (spec or {}).get("mirroring") or {}
    return mirroring.get("port")


class TraefikMirrorRouter(TraefikWeightedRouter):
    """Mirroring: the primary answers, a share of copies goes to the canary."""

    analysis_key = "mirror"

    def __init__(self, client, route, percent):
        super(TraefikMirrorRouter, self).__init__(client, route)
        self.percent = percent

    @classmethod
    def for_canary(cls, client, canary, api_version=None):
        return cls(client, Route.for_canary(canary, api_version=api_version),
                   canary["analysis"]["mirror"]["weight"])

    def describe(self):
        return "{0} (mirroring {1}% to {2})".format(self.route.describe(), self.percent,
                                                    self.route.canary_service)

    def _percent(self, spec):
        route = self.route
        try:
            return mirrored_percent(spec, route.primary_service, route.canary_service)
        except UnexpectedTraefikService as exc:
            raise DeliveryError("{0} {1}".format(route.describe(), exc))

    def plan(self, canary_weight, create=False, takeover=False):
        weights = split_weights(canary_weight)
        if weights["canary"] not in (0, self.percent):
            raise InvalidInput(
                "with spec.analysis.mirror the canary weight is {0} (spec.analysis.mirrorWeight, "
                "the share of requests copied to the canary) or 0 (none are); got {1}".format(
                    self.percent, weights["canary"]))
        route = self.route
        api_version = self.api_version()
        weighted = None
        current = get_object(self._resource(), route.namespace, route.name)
        current_percent = None if current is None else self._percent(current.get("spec"))
        if current_percent is None:
            # Missing or weighted: everything a weighted canary checks is checked here too.
            weighted = plan_route(self.client, route, 0, create=create, takeover=takeover)
            if not weights["canary"]:
                return weighted
            previous = weighted.previous
            port = route.port if route.port is not None else _weighted_port(weighted)
        else:
            previous = {"primary": 100 - current_percent, "canary": current_percent}
            port = route.port if route.port is not None else _port_of(current["spec"])
        if port is None:
            raise InvalidInput("port is required: {0} has no entry to take the port from".format(
                route.describe()))
        if weights["canary"]:
            desired = build_mirroring_spec(route.primary_service, route.canary_service, port,
                                           self.percent)
        else:
            desired = build_weighted_spec(route.primary_service, route.canary_service, port,
                                          weights["primary"], 0, route.sticky, route.namespace)
        return RoutePlan(route, api_version, self._resource(), current, desired, previous, weights)

    def _resource(self):
        return get_resource(self.client, self.api_version(), "TraefikService")

    def apply(self, plan, check_mode=False):
        if check_mode or not plan.changed:
            return plan.current
        current_kind = None if plan.current is None else (
            "mirroring" if "mirroring" in (plan.current.get("spec") or {}) else "weighted")
        if plan.current is None or (current_kind == "weighted" and "weighted" in plan.desired_spec):
            return apply_route(plan)
        route = self.route

        def mutate(obj):
            spec = obj.get("spec") or {}
            # Someone may have changed it since we planned; it must still be ours.
            try:
                if mirrored_percent(spec, route.primary_service, route.canary_service) is None:
                    read_weights(spec, route.primary_service, route.canary_service)
            except UnexpectedTraefikService as exc:
                raise DeliveryError("{0} {1}".format(route.describe(), exc))
            if spec == plan.desired_spec:
                return None
            obj["spec"] = plan.desired_spec
            return obj

        _before, after = replace_with_retry(plan.resource, route.namespace, route.name, mutate,
                                            known=plan.current)
        return after

    def set_routes(self, primary, canary, create=False, takeover=False, check_mode=False):
        weights = self.weights_for(primary, canary)
        plan = self.plan(weights["canary"], create=create, takeover=takeover)
        self.apply(plan, check_mode=check_mode)
        return routing_result(plan, self.describe())

    def get_routes(self):
        current = get_object(self._resource(), self.route.namespace, self.route.name)
        if current is not None:
            percent = self._percent(current.get("spec"))
            if percent is not None:
                return {"primary": 100 - percent, "canary": percent}
        return super(TraefikMirrorRouter, self).get_routes()


def _weighted_port(plan):
    for entry in ((plan.desired_spec or {}).get("weighted") or {}).get("services") or []:
        if "port" in entry:
            return entry["port"]
    return None
