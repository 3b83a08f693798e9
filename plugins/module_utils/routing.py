# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying primary/canary weights to a TraefikService in the cluster.

canary_weight and canary_promote both route through ``route_traffic`` so that weights always
reach Traefik the same way: validated first, written once, guarded by resourceVersion.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    create_object,
    get_object,
    get_resource,
    replace_with_retry,
    traefik_api_version,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    canary_names,
    require_dns_label,
    service_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.traefik import (
    UnexpectedTraefikService,
    build_traefik_service,
    build_weighted_spec,
    find_port,
    normalize_port,
    read_weights,
    set_weights,
    split_weights,
)


class Route(object):
    """Which TraefikService carries the traffic and which Services it splits between."""

    def __init__(self, namespace, name, primary_service=None, canary_service=None, port=None,
                 api_version=None, metadata=None):
        self.namespace = require_dns_label("namespace", namespace)
        self.name = require_dns_label("name", name)
        # The TraefikService shares the apex Service's name (spec.service.name), so the two
        # Services it splits between are named after it, never after the target Deployment.
        derived = service_names(self.name)
        self.primary_service = require_dns_label(
            "primary_service", primary_service or derived["primary"])
        self.canary_service = require_dns_label(
            "canary_service", canary_service or derived["canary"])
        if self.primary_service == self.canary_service:
            raise InvalidInput(
                "primary_service and canary_service must differ; both are {0}".format(
                    self.primary_service))
        self.port = normalize_port(port)
        # Labels and annotations a TraefikService created here carries (a Canary's
        # spec.service.apex, as Flagger puts them on the TraefikService too).
        metadata = metadata or {}
        self.labels = dict(metadata.get("labels") or {})
        self.annotations = dict(metadata.get("annotations") or {})
        self.requested_api_version = api_version
        # The group/version found served by the first plan; a loop that routes the same
        # TraefikService again does not ask discovery on every write.
        self.resolved_api_version = None

    @classmethod
    def for_canary(cls, canary, api_version=None):
        """The route of a parsed Canary: its TraefikService, Services and port."""
        names = canary_names(canary)
        return cls(canary["namespace"], names["traefik_service"],
                   primary_service=names["primary_service"],
                   canary_service=names["canary_service"],
                   port=canary["service"].get("port"), api_version=api_version,
                   metadata=(canary["service"].get("metadata") or {}).get("apex"))

    def describe(self):
        return "TraefikService {0}/{1}".format(self.namespace, self.name)


class RoutePlan(object):
    """What route_traffic found and what it would write."""

    def __init__(self, route, api_version, resource, current, desired_spec, previous, weights):
        self.route = route
        self.api_version = api_version
        self.resource = resource
        self.current = current
        self.desired_spec = desired_spec
        self.previous = previous
        self.weights = weights

    @property
    def exists(self):
        return self.current is not None

    @property
    def changed(self):
        return self.current is None or self.current.get("spec") != self.desired_spec


def plan_route(client, route, canary_weight, create=False, takeover=False):
    """Read the TraefikService and work out the change, without writing anything.

    Every refusal (bad weight, missing or foreign TraefikService, unknown api_version) happens
    here, so callers can validate everything before their first write.
    """
    weights = split_weights(canary_weight)
    api_version = route.resolved_api_version or traefik_api_version(client, route.requested_api_version)
    route.resolved_api_version = api_version
    resource = get_resource(client, api_version, "TraefikService")
    current = get_object(resource, route.namespace, route.name)
    if current is None:
        if not create:
            raise DeliveryError(
                "{0} ({1}) not found; create it first or set create: true".format(
                    route.describe(), api_version))
        if route.port is None:
            raise InvalidInput("port is required to create {0}".format(route.describe()))
        spec = build_weighted_spec(route.primary_service, route.canary_service, route.port,
                                   weights["primary"], weights["canary"])
        return RoutePlan(route, api_version, resource, None, spec, None, weights)

    spec = current.get("spec") or {}
    try:
        previous = read_weights(spec, route.primary_service, route.canary_service)
    except UnexpectedTraefikService as exc:
        if not takeover:
            raise DeliveryError(
                "{0} {1}; set takeover: true to replace its services with {2} and {3}".format(
                    route.describe(), exc, route.primary_service, route.canary_service))
        previous = None
    port = route.port if route.port is not None else find_port(
        spec, route.primary_service, route.canary_service)
    if port is None and (previous is None or weights["canary"] > 0):
        raise InvalidInput(
            "port is required: {0} has no entry to take the port from".format(route.describe()))
    desired = set_weights(spec, route.primary_service, route.canary_service, port,
                          weights["primary"], weights["canary"])
    return RoutePlan(route, api_version, resource, current, desired, previous, weights)


def apply_route(plan, check_mode=False):
    """Write the plan (unless check mode). Returns the TraefikService as it is afterwards."""
    route = plan.route
    if not plan.changed or check_mode:
        return plan.current
    if plan.current is None:
        body = build_traefik_service(route.name, route.namespace, plan.api_version,
                                     plan.desired_spec, route.labels, route.annotations)
        return create_object(plan.resource, route.namespace, body)

    def mutate(obj):
        spec = obj.get("spec") or {}
        if plan.previous is not None:
            # Someone may have changed it since we planned; re-check it is still ours.
            try:
                read_weights(spec, route.primary_service, route.canary_service)
            except UnexpectedTraefikService as exc:
                raise DeliveryError("{0} {1}".format(route.describe(), exc))
        port = route.port
        for source in (spec, plan.desired_spec):
            if port is None:
                port = find_port(source, route.primary_service, route.canary_service)
        desired = set_weights(spec, route.primary_service, route.canary_service, port,
                              plan.weights["primary"], plan.weights["canary"])
        if desired == spec:
            return None
        obj["spec"] = desired
        return obj

    _before, after = replace_with_retry(plan.resource, route.namespace, route.name, mutate,
                                        known=plan.current)
    return after


def route_traffic(client, route, canary_weight, create=False, takeover=False, check_mode=False):
    """Set the canary's share of traffic; returns a result dict for the module."""
    plan = plan_route(client, route, canary_weight, create=create, takeover=takeover)
    apply_route(plan, check_mode=check_mode)
    return {
        "changed": plan.changed,
        "created": plan.current is None,
        "api_version": plan.api_version,
        "weights": plan.weights,
        "previous": plan.previous,
        "diff": {
            "before": {"weights": plan.previous} if plan.current is not None else {},
            "after": {"weights": plan.weights},
            "before_header": route.describe(),
            "after_header": route.describe(),
        },
    }
