# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A/B testing by header or cookie (a Canary's ``analysis.iterations`` and ``analysis.match``).

The weighted TraefikService keeps all of its traffic on the primary. For the iterations, an
IngressRoute of our own (``<service>-canary-match``) sits next to the user's: the same entry
points, TLS and middlewares, the user's rule and the header matchers, and a higher priority, so
the requests that match go to the canary Service and all others keep reaching the primary through
the user's route. The route sends them to a TraefikService of the same name whose one child is the
canary Service: Traefik then labels their metrics with the canary Service, as in a weighted canary
(a route straight to a Service is labelled after the IngressRoute). Promotion and rollback delete
both. The user's rule (with its Host) is read from
the IngressRoute that routes to the TraefikService, never guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import dataclasses
import typing

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.header_match import (
    route_rule,
    syntax_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    create_object,
    delete_object,
    get_object,
    get_resource,
    list_objects,
    object_metadata,
    replace_spec,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    TOTAL_WEIGHT,
    split_weights,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    RoutePlan,
    TraefikWeightedRouter,
    apply_route,
    build_traefik_service,
    plan_route,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    owner_reference,
    read_canary,
)

MATCH_ROUTE_SUFFIX = "-canary-match"
MANAGED_LABEL = "progressive.delivery/canary"
ALL_TO_CANARY = {"primary": 0, "canary": TOTAL_WEIGHT}
ALL_TO_PRIMARY = {"primary": TOTAL_WEIGHT, "canary": 0}


def routes_to(ingress_route, traefik_service, namespace):
    """The routes of an IngressRoute that send traffic to the TraefikService."""
    found = []
    for route in (ingress_route.get("spec") or {}).get("routes") or []:
        for service in route.get("services") or []:
            if (service.get("kind") == "TraefikService" and service.get("name") == traefik_service
                    and service.get("namespace", namespace) == namespace):
                found.append(route)
                break
    return found


def default_priority(route):
    """Traefik's priority of a route without one: the length of its rule."""
    return route.get("priority") or len(route.get("match") or "")


def build_match_service(name, namespace, api_version, canary_service, port, traefik_service,
                        owner=None):
    """The TraefikService our route sends to: the canary Service alone."""
    return build_traefik_service(
        name, namespace, api_version,
        {"weighted": {"services": [{"name": canary_service, "port": port, "weight": 1}]}},
        {MANAGED_LABEL: traefik_service}, None, owner)


def build_match_route(user_route, name, namespace, api_version, match, traefik_service,
                      owner=None):
    """Our IngressRoute: each of the user's routes to the TraefikService, narrowed to the
    matching requests, sent to our TraefikService ``name``, above the user's route in priority."""
    syntax = syntax_for(api_version)
    routes = []
    for route in routes_to(user_route, traefik_service, namespace):
        ours = copy.deepcopy(route)
        ours["match"] = route_rule(route["match"], match, syntax)
        ours["priority"] = max(default_priority(route) + 1, len(ours["match"]))
        ours["services"] = [{"name": name, "kind": "TraefikService"}]
        routes.append(ours)
    spec = {"routes": routes}
    for key in ("entryPoints", "tls"):
        if key in (user_route.get("spec") or {}):
            spec[key] = copy.deepcopy(user_route["spec"][key])
    return {
        "apiVersion": api_version,
        "kind": "IngressRoute",
        "metadata": object_metadata(name, namespace, {MANAGED_LABEL: traefik_service}, None,
                                    owner),
        "spec": spec,
    }


@dataclasses.dataclass(eq=False)
class MatchPlan:
    """The TraefikService's plan (all on the primary) and what becomes of our IngressRoute."""

    weighted: RoutePlan
    resource: object
    current: typing.Optional[dict]
    desired: typing.Optional[dict]
    weights: dict
    # Our TraefikService to the canary Service, as it is and as the plan wants it.
    service_current: typing.Optional[dict] = None
    service_desired: typing.Optional[dict] = None

    def __post_init__(self):
        self.previous = dict(ALL_TO_CANARY) if self.current is not None else self.weighted.previous

    @property
    def exists(self):
        return self.weighted.exists

    @property
    def api_version(self):
        return self.weighted.api_version

    @property
    def desired_spec(self):
        return self.weighted.desired_spec

    @property
    def route_changed(self):
        if self.desired is None:
            return self.current is not None
        return self.current is None or self.current.get("spec") != self.desired["spec"]

    @property
    def service_changed(self):
        if self.service_desired is None:
            return self.service_current is not None
        return (self.service_current is None
                or self.service_current.get("spec") != self.service_desired["spec"])

    @property
    def changed(self):
        return self.weighted.changed or self.route_changed or self.service_changed


class TraefikHeaderMatchRouter(TraefikWeightedRouter):
    """A/B testing: requests matching the Canary's ``analysis.match`` go to the canary."""

    analysis_key = "match"

    def __init__(self, client, route, match, canary_name):
        super(TraefikHeaderMatchRouter, self).__init__(client, route)
        self.match = match
        self.canary_name = canary_name
        self.match_route_name = route.name + MATCH_ROUTE_SUFFIX

    @classmethod
    def for_canary(cls, client, canary, api_version=None):
        return cls(client, Route.for_canary(canary, api_version=api_version),
                   canary["analysis"]["match"], canary["name"])

    def describe(self):
        return "{0} and IngressRoute {1}/{2}".format(
            self.route.describe(), self.route.namespace, self.match_route_name)

    def _ingress_routes(self):
        return get_resource(self.client, self.api_version(), "IngressRoute")

    def user_route(self):
        """The user's IngressRoute to the TraefikService, whose rule the canary's route narrows."""
        route = self.route
        found = [ir for ir in list_objects(self._ingress_routes(), route.namespace)
                 if ir["metadata"]["name"] != self.match_route_name
                 and routes_to(ir, route.name, route.namespace)]
        if not found:
            raise DeliveryError(
                "spec.analysis.match needs the IngressRoute that routes to TraefikService {0}/{1} "
                "(its rule gives the Host of the canary's route); none in namespace {0} "
                "does".format(route.namespace, route.name))
        if len(found) > 1:
            raise DeliveryError(
                "spec.analysis.match needs one IngressRoute routing to TraefikService {0}/{1}; "
                "found {2}".format(route.namespace, route.name,
                                   ", ".join(sorted(ir["metadata"]["name"] for ir in found))))
        return found[0]

    def plan_reconcile(self):
        # The user's route is looked for before initialisation writes anything; initialisation
        # itself only makes the TraefikService, as for a weighted canary.
        self.user_route()
        return plan_route(self.client, self.route, 0, create=True)

    def plan(self, canary_weight, create=False, takeover=False):
        weights = split_weights(canary_weight)
        if weights not in (ALL_TO_CANARY, ALL_TO_PRIMARY):
            raise InvalidInput(
                "with spec.analysis.match the canary weight is 100 (matching requests go to the "
                "canary) or 0 (none do); got {0}".format(weights["canary"]))
        weighted = plan_route(self.client, self.route, 0, create=create, takeover=takeover)
        resource = self._ingress_routes()
        namespace = self.route.namespace
        current = get_object(resource, namespace, self.match_route_name)
        service_current = get_object(weighted.resource, namespace, self.match_route_name)
        desired = service_desired = None
        if weights["canary"]:
            owner = None
            if current is None or service_current is None:
                owner = owner_reference(read_canary(self.client, namespace, self.canary_name))
            desired = build_match_route(
                self.user_route(), self.match_route_name, namespace, weighted.api_version,
                self.match, self.route.name, owner=owner)
            service_desired = build_match_service(
                self.match_route_name, namespace, weighted.api_version,
                self.route.canary_service, self.route.port, self.route.name, owner=owner)
        return MatchPlan(weighted, resource, current, desired, weights, service_current,
                         service_desired)

    def apply(self, plan, check_mode=False):
        if check_mode:
            return
        apply_route(plan.weighted)
        services = plan.weighted.resource
        # On the way in the TraefikService comes first, on the way out the route goes first:
        # Traefik never sees a route to a service that is not there.
        if plan.service_desired is not None and plan.service_changed:
            self._write(services, plan.service_current, plan.service_desired)
        if plan.route_changed:
            if plan.desired is None:
                delete_object(plan.resource, self.route.namespace, self.match_route_name)
            else:
                self._write(plan.resource, plan.current, plan.desired)
        if plan.service_desired is None and plan.service_changed:
            delete_object(services, self.route.namespace, self.match_route_name)

    def _write(self, resource, current, desired):
        if current is None:
            create_object(resource, self.route.namespace, desired)
        else:
            replace_spec(resource, self.route.namespace, self.match_route_name, desired["spec"])

    def set_routes(self, primary, canary, create=False, takeover=False, check_mode=False):
        weights = self.weights_for(primary, canary)
        plan = self.plan(weights["canary"], create=create, takeover=takeover)
        self.apply(plan, check_mode=check_mode)
        return {
            "changed": plan.changed,
            "created": not plan.exists,
            "api_version": plan.api_version,
            "weights": plan.weights,
            "previous": plan.previous,
            "diff": {
                "before": {"weights": plan.previous} if plan.exists else {},
                "after": {"weights": plan.weights},
                "before_header": self.describe(),
                "after_header": self.describe(),
            },
        }

    def get_routes(self):
        if get_object(self._ingress_routes(), self.route.namespace,
                      self.match_route_name) is not None:
            return dict(ALL_TO_CANARY)
        return super(TraefikHeaderMatchRouter, self).get_routes()
