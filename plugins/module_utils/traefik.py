# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How weights reach Traefik: the weighted TraefikService (pure functions, no API access)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)

# Traefik v3 serves its CRDs in traefik.io; Traefik v2 (and the seed article) in traefik.containo.us.
TRAEFIK_API_VERSIONS = ("traefik.io/v1alpha1", "traefik.containo.us/v1alpha1")
TOTAL_WEIGHT = 100
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


class UnexpectedTraefikService(DeliveryError):
    """The TraefikService is not the weighted primary/canary pair we manage."""


def split_weights(canary_weight):
    """Return ``{"primary": 100 - w, "canary": w}`` for a canary share ``w`` in percent."""
    if isinstance(canary_weight, str) and canary_weight.strip().isdigit():
        canary_weight = int(canary_weight.strip())
    if isinstance(canary_weight, bool) or not isinstance(canary_weight, int):
        raise InvalidInput(
            "weight must be an integer between 0 and 100 (the canary's share in percent); "
            "got {0!r}".format(canary_weight)
        )
    if canary_weight < 0 or canary_weight > TOTAL_WEIGHT:
        raise InvalidInput(
            "weight must be an integer between 0 and 100 (the canary's share in percent); got {0}".format(
                canary_weight
            )
        )
    return {"primary": TOTAL_WEIGHT - canary_weight, "canary": canary_weight}


def _entry(service, port, weight):
    entry = {"name": service, "weight": weight}
    if port is not None:
        entry["port"] = port
    return entry


def build_weighted_spec(primary_service, canary_service, port, primary_weight, canary_weight):
    """The ``spec`` of a weighted TraefikService sending traffic to primary and canary.

    At canary weight 0 the canary entry is left out: Traefik drops a whole weighted service when
    one child has no endpoints, and a canary scaled to zero has none.
    """
    services = [_entry(primary_service, port, primary_weight)]
    if canary_weight > 0:
        services.append(_entry(canary_service, port, canary_weight))
    return {"weighted": {"services": services}}


def build_traefik_service(name, namespace, api_version, spec, labels=None, annotations=None):
    """A complete TraefikService object for creation."""
    metadata = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": api_version,
        "kind": "TraefikService",
        "metadata": metadata,
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


def set_weights(spec, primary_service, canary_service, port, primary_weight, canary_weight):
    """A copy of ``spec`` with new weights, keeping everything else it holds (sticky, etc.).

    Extra keys on the existing entries (for example ``namespace`` or ``responseForwarding``) are
    preserved; ``port`` falls back to the port the entries already use.
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
        entry.update(_entry(service, port, weight))
        services.append(entry)
    weighted["services"] = services
    # Mirroring and weighted are exclusive kinds; a takeover replaces whatever was there.
    new_spec.pop("mirroring", None)
    new_spec["weighted"] = weighted
    return new_spec


def normalize_port(port):
    """A TraefikService entry port: a number (given as int or digits) or a Service port name."""
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
