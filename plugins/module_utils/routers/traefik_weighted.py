# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routing by a weighted TraefikService: primary and canary Services, each with its share.

The spec functions are pure; ``Route`` says which TraefikService and Services a release routes
through; ``plan_route``/``apply_route`` read, validate and write it (validated first, written
once, guarded by resourceVersion); ``TraefikWeightedRouter`` offers all of it through the
router interface.
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
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    create_object,
    get_object,
    get_resource,
    object_metadata,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    canary_names,
    require_dns_label,
    service_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    TOTAL_WEIGHT,
    Router,
    split_weights,
    with_flux_reconcile_disabled,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import (
    detect_api_version,
    normalize_port,
    service_matcher,
)


class UnexpectedTraefikService(DeliveryError):
    """The TraefikService is not the weighted primary/canary pair we manage."""


def _entry(service, port, weight, namespace=None):
    """One weighted entry; as Flagger writes them, it names the Services' namespace (Traefik
    would default to the TraefikService's own, which is the same one)."""
    entry = {"name": service}
    if namespace:
        entry["namespace"] = namespace
    entry["weight"] = weight
    if port is not None:
        entry["port"] = port
    return entry


def build_weighted_spec(primary_service, canary_service, port, primary_weight, canary_weight,
                        sticky=None, namespace=None):
    """The ``spec`` of a weighted TraefikService sending traffic to primary and canary, with
    ``sticky`` (Traefik's ``weighted.sticky``) when given, each entry naming ``namespace``.

    At canary weight 0 the canary entry is left out: Traefik drops a whole weighted service when
    one child has no endpoints, and a canary scaled to zero has none.
    """
    services = [_entry(primary_service, port, primary_weight, namespace)]
    if canary_weight > 0:
        services.append(_entry(canary_service, port, canary_weight, namespace))
    weighted = {"services": services}
    if sticky:
        weighted["sticky"] = copy.deepcopy(sticky)
    return {"weighted": weighted}


def build_traefik_service(name, namespace, api_version, spec, labels=None, annotations=None,
                          owner=None):
    """A complete TraefikService object for creation; ``owner`` is an ownerReference (the
    Canary's, so that deleting the Canary deletes it, as Flagger sets it)."""
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": object_metadata(name, namespace, labels, annotations, owner),
        "spec": spec,
    }


def _services(spec):
    weighted = (spec or {}).get("weighted")
    if not isinstance(weighted, dict):
        kinds = sorted(k for k in (spec or {}) if k in ("mirroring", "weighted"))
        raise UnexpectedTraefikService(
            "is not of kind weighted (spec has {0}); refusing to change it".format(
                ", ".join(kinds) or "neither weighted nor mirroring"
            )
        )
    return weighted.get("services") or []


def read_weights(spec, primary_service, canary_service):
    """Current ``{"primary": p, "canary": c}`` of a weighted TraefikService spec.

    A missing canary entry means weight 0 (that is how weight 0 is written). Any entry other than
    the expected primary/canary Services raises UnexpectedTraefikService.
    """
    weights = {"primary": 0, "canary": 0}
    seen = set()
    for entry in _services(spec):
        name = entry.get("name")
        kind = entry.get("kind", "Service")
        if kind != "Service" or name not in (primary_service, canary_service) or name in seen:
            raise UnexpectedTraefikService(
                "has entries {0}, expected Services {1} and {2}; refusing to change it".format(
                    describe_entries(spec), primary_service, canary_service
                )
            )
        seen.add(name)
        weight = entry.get("weight", 1)
        weights["primary" if name == primary_service else "canary"] = int(weight)
    if primary_service not in seen and weights["canary"] == 0:
        raise UnexpectedTraefikService(
            "has no entry for the primary Service {0}; refusing to change it".format(
                primary_service
            )
        )
    return weights


def describe_entries(spec):
    try:
        services = _services(spec)
    except UnexpectedTraefikService:
        return "none"
    return ", ".join(
        "{0}{1}={2}".format(
            "" if e.get("kind", "Service") == "Service" else e.get("kind") + "/",
            e.get("name"),
            e.get("weight", 1),
        )
        for e in services
    ) or "none"


def find_port(spec, primary_service, canary_service):
    """The port used by the existing primary/canary entries, or None."""
    try:
        services = _services(spec)
    except UnexpectedTraefikService:
        return None
    for entry in services:
        if entry.get("name") in (primary_service, canary_service) and "port" in entry:
            return entry["port"]
    return None


def set_weights(spec, primary_service, canary_service, port, primary_weight, canary_weight,
                sticky=None, namespace=None):
    """A copy of ``spec`` with new weights, keeping everything else it holds (sticky, etc.).

    Extra keys on the existing entries (for example ``responseForwarding``) are preserved;
    ``port`` falls back to the port the entries already use, and ``namespace``, when given, is
    written into each entry. ``sticky``, when given, replaces the ``weighted.sticky`` there is.
    """
    new_spec = copy.deepcopy(spec or {})
    if port is None:
        port = find_port(spec, primary_service, canary_service)
    old_entries = {}
    weighted = new_spec.get("weighted")
    if isinstance(weighted, dict):
        for entry in weighted.get("services") or []:
            old_entries[entry.get("name")] = entry
    else:
        weighted = {}
    services = []
    for service, weight in ((primary_service, primary_weight), (canary_service, canary_weight)):
        if service == canary_service and weight == 0:
            continue
        entry = copy.deepcopy(old_entries.get(service, {}))
        entry.update(_entry(service, port, weight, namespace))
        services.append(entry)
    weighted["services"] = services
    if sticky:
        weighted["sticky"] = copy.deepcopy(sticky)
    # Mirroring and weighted are exclusive kinds; a takeover replaces whatever was there.
    new_spec.pop("mirroring", None)
    new_spec["weighted"] = weighted
    return new_spec


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
        # spec.service.apex and Flux's keys, as Flagger puts them on the TraefikService too).
        metadata = metadata or {}
        # Set by the router's reconcile: the ownerReference a TraefikService is created with.
        self.owner = None
        self.labels = dict(metadata.get("labels") or {})
        self.annotations = dict(metadata.get("annotations") or {})
        self.requested_api_version = api_version
        # Traefik's weighted.sticky a router wants on the TraefikService; None keeps what is there.
        self.sticky = None
        # The group/version found served by the first plan; a loop that routes the same
        # TraefikService again does not ask discovery on every write.
        self.resolved_api_version = None
        # The TraefikService as this process last wrote it: the next plan that changes the
        # weights writes on top of it instead of reading it again (see plan_route).
        self.last_written = None

    @classmethod
    def for_canary(cls, canary, api_version=None):
        """The route of a parsed Canary: its TraefikService, Services and port."""
        names = canary_names(canary)
        apex = dict((canary["service"].get("metadata") or {}).get("apex") or {})
        apex["annotations"] = with_flux_reconcile_disabled(apex.get("annotations"))
        return cls(canary["namespace"], names["traefik_service"],
                   primary_service=names["primary_service"],
                   canary_service=names["canary_service"],
                   port=canary["service"].get("port"), api_version=api_version,
                   metadata=apex)

    def describe(self):
        return "TraefikService {0}/{1}".format(self.namespace, self.name)


@dataclasses.dataclass(eq=False)
class RoutePlan:
    """What route_traffic found and what it would write."""

    route: object
    api_version: str
    resource: object
    current: typing.Optional[dict]
    desired_spec: dict
    previous: typing.Optional[dict]
    weights: dict

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
    api_version = route.resolved_api_version or detect_api_version(client, route.requested_api_version)
    route.resolved_api_version = api_version
    resource = get_resource(client, api_version, "TraefikService")
    # A step loop moves the weights of the TraefikService it wrote a step ago: a plan made on
    # that copy saves a read per step. It is used only for a plan that writes, and the write
    # carries the copy's resourceVersion, so a change made since by anyone else costs a 409 and a
    # fresh read, never a lost change; a plan that would write nothing reads the object anew.
    written, route.last_written = route.last_written, None
    if written is not None and not takeover:
        plan = _plan_on(route, written, weights, api_version, resource, takeover)
        if plan.changed:
            return plan
    current = get_object(resource, route.namespace, route.name)
    if current is None:
        if not create:
            raise DeliveryError(
                "{0} ({1}) not found; create it first or set create: true".format(
                    route.describe(), api_version))
        if route.port is None:
            raise InvalidInput("port is required to create {0}".format(route.describe()))
        spec = build_weighted_spec(route.primary_service, route.canary_service, route.port,
                                   weights["primary"], weights["canary"], route.sticky,
                                   route.namespace)
        return RoutePlan(route, api_version, resource, None, spec, None, weights)
    return _plan_on(route, current, weights, api_version, resource, takeover)


def _plan_on(route, current, weights, api_version, resource, takeover):
    """The plan for an existing TraefikService as ``current`` shows it."""
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
                          weights["primary"], weights["canary"], route.sticky, route.namespace)
    return RoutePlan(route, api_version, resource, current, desired, previous, weights)


def apply_route(plan, check_mode=False):
    """Write the plan (unless check mode). Returns the TraefikService as it is afterwards."""
    route = plan.route
    if not plan.changed or check_mode:
        return plan.current
    if plan.current is None:
        body = build_traefik_service(route.name, route.namespace, plan.api_version,
                                     plan.desired_spec, route.labels, route.annotations,
                                     route.owner)
        return _remembered(route, create_object(plan.resource, route.namespace, body))

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
                              plan.weights["primary"], plan.weights["canary"], route.sticky,
                              route.namespace)
        if desired == spec:
            return None
        obj["spec"] = desired
        return obj

    _before, after = replace_with_retry(plan.resource, route.namespace, route.name, mutate,
                                        known=plan.current)
    return _remembered(route, after)


def _remembered(route, obj):
    """``obj``, kept as the route's last written TraefikService when a guarded write can go on
    top of it (it carries a resourceVersion)."""
    if ((obj or {}).get("metadata") or {}).get("resourceVersion"):
        route.last_written = obj
    return obj


def route_traffic(client, route, canary_weight, create=False, takeover=False, check_mode=False):
    """Set the canary's share of traffic; returns a result dict for the module."""
    plan = plan_route(client, route, canary_weight, create=create, takeover=takeover)
    apply_route(plan, check_mode=check_mode)
    return routing_result(plan, route.describe())


def routing_result(plan, header):
    """The module's result dict for a RoutePlan, its diff headed by ``header``."""
    return {
        "changed": plan.changed,
        "created": plan.current is None,
        "api_version": plan.api_version,
        "weights": plan.weights,
        "previous": plan.previous,
        "diff": {
            "before": {"weights": plan.previous} if plan.current is not None else {},
            "after": {"weights": plan.weights},
            "before_header": header,
            "after_header": header,
        },
    }


class TraefikWeightedRouter(Router):
    """Flagger's traefik provider: a TraefikService of kind weighted splits the traffic."""

    provider = "traefik"
    service_matcher = staticmethod(service_matcher)

    def __init__(self, client, route):
        self.client = client
        self.route = route

    @classmethod
    def for_canary(cls, client, canary, api_version=None):
        return cls(client, Route.for_canary(canary, api_version=api_version))

    def describe(self):
        return self.route.describe()

    def api_version(self, required=True):
        route = self.route
        if route.resolved_api_version is None:
            route.resolved_api_version = detect_api_version(
                self.client, route.requested_api_version, required=required)
        return route.resolved_api_version

    def plan(self, canary_weight, create=False, takeover=False):
        return plan_route(self.client, self.route, canary_weight, create=create, takeover=takeover)

    def apply(self, plan, check_mode=False):
        return apply_route(plan, check_mode=check_mode)

    def reconcile(self, plan=None, check_mode=False, owner=None):
        plan = plan or self.plan_reconcile()
        # As in Flagger, the owner is set when the TraefikService is created; one that exists
        # (made by hand or by Flagger) keeps its own.
        self.route.owner = owner
        if plan.exists:
            return self._adopt(plan, check_mode)
        change = self._change("created", None, {"spec": plan.desired_spec})
        apply_route(plan, check_mode=check_mode)
        return [change]

    def _change(self, action, before, after):
        return {"kind": "TraefikService", "name": self.route.name, "action": action,
                "before": before, "after": after}

    def _adopt(self, plan, check_mode):
        """The apex labels and annotations, added to a TraefikService that lacks them (as Flagger
        keeps them on it); its other labels and annotations and its weights stay as they are."""
        route = self.route
        wanted = {"labels": route.labels, "annotations": route.annotations}

        def missing(obj):
            meta = obj.get("metadata") or {}
            return {field: {k: v for k, v in values.items() if (meta.get(field) or {}).get(k) != v}
                    for field, values in wanted.items()}

        if not any(missing(plan.current).values()):
            return []
        before = {field: (plan.current["metadata"].get(field) or {}) for field in wanted}
        change = self._change("updated", {"metadata": before}, {"metadata": wanted})
        if check_mode:
            return [change]

        def mutate(obj):
            todo = missing(obj)
            if not any(todo.values()):
                return None
            for field, values in todo.items():
                if values:
                    obj["metadata"].setdefault(field, {}).update(values)
            return obj

        replace_with_retry(plan.resource, route.namespace, route.name, mutate)
        return [change]

    def set_routes(self, primary, canary, create=False, takeover=False, check_mode=False):
        weights = self.weights_for(primary, canary)
        return route_traffic(self.client, self.route, weights["canary"], create=create,
                             takeover=takeover, check_mode=check_mode)

    def get_routes(self):
        route = self.route
        api_version = self.api_version()
        current = get_object(get_resource(self.client, api_version, "TraefikService"),
                             route.namespace, route.name)
        if current is None:
            raise DeliveryError("{0} ({1}) not found".format(route.describe(), api_version))
        try:
            return read_weights(current.get("spec") or {}, route.primary_service,
                                route.canary_service)
        except UnexpectedTraefikService as exc:
            raise DeliveryError("{0} {1}".format(route.describe(), exc))

    def finalize(self, check_mode=False):
        return self.set_routes(TOTAL_WEIGHT, 0, check_mode=check_mode)
