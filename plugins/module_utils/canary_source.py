# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Canary comes from: a file, a dict in the playbook, or an object in the cluster.

The modules that take a Canary (canary_info, canary_init, canary_status) share these options
and this resolution, so the three ways of giving a Canary behave the same everywhere.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    CANARY_API_VERSION,
    CANARY_KIND,
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)

try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False

NORMALIZED_KEYS = ("target", "service", "analysis", "steps")


def is_normalized(value):
    return isinstance(value, dict) and all(key in value for key in NORMALIZED_KEYS)


def load_yaml_documents(path, what="canary_file"):
    if not HAS_YAML:
        raise DeliveryError("PyYAML is required to read {0}".format(what))
    if not os.path.isfile(path):
        raise InvalidInput("{0} {1} does not exist or is not a file".format(what, path))
    try:
        with open(path) as handle:
            return [doc for doc in yaml.safe_load_all(handle) if doc]
    except yaml.YAMLError as exc:
        raise InvalidInput("{0} {1} is not valid YAML: {2}".format(what, path, exc))


def canary_from_option(canary, namespace=None):
    """The normalized Canary of a module's ``canary`` option: canary_info's normalized form, or a
    Canary manifest (validated here with messages that name the field)."""
    if not isinstance(canary, dict):
        raise InvalidInput("canary must be a Canary manifest or the canary returned by "
                           "canary_info; got {0}".format(type(canary).__name__))
    if is_normalized(canary):
        return canary
    return parse_canary(canary, default_namespace=namespace or "default")


def load_canary_file(path):
    """The Canary document of a YAML file (which may hold other documents too)."""
    found = load_yaml_documents(path)
    docs = [d for d in found if isinstance(d, dict) and d.get("kind") == CANARY_KIND]
    if not docs:
        # Saying what the file does hold catches the usual mistake: the Deployment's file
        # given instead of the Canary's.
        held = ", ".join(_describe_document(d) for d in found) or "no YAML documents"
        raise InvalidInput("canary_file {0} holds {1}, not a {2} Canary (a document with kind: "
                           "{3})".format(path, held, CANARY_API_VERSION, CANARY_KIND))
    if len(docs) > 1:
        raise InvalidInput("canary_file {0} must contain exactly one Canary document; found "
                           "{1}".format(path, len(docs)))
    return docs[0]


def _describe_document(doc):
    """``apps/v1 Deployment 'podinfo'`` for a manifest, its type for anything else."""
    if not isinstance(doc, dict):
        return "a YAML {0}".format(type(doc).__name__)
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
    parts = [str(doc.get("apiVersion") or "(no apiVersion)"),
             str(doc.get("kind") or "(no kind)")]
    if name:
        parts.append("'{0}'".format(name))
    return " ".join(parts)


def resolve_canary(params, read_cluster_canary):
    """Return ``(normalized, manifest, source, cluster_object)``.

    ``read_cluster_canary(namespace, name)`` reads the Canary from the cluster (or returns
    None); it is called for name/namespace input and to find the registered copy of a file
    or dict Canary, whose status lives in the cluster.
    """
    given = [key for key in ("canary_file", "canary") if params.get(key)]
    if len(given) > 1:
        raise InvalidInput("canary_file and canary are mutually exclusive; give one")
    namespace = params.get("namespace")
    if given == ["canary_file"]:
        manifest = load_canary_file(params["canary_file"])
        source = "file"
    elif given == ["canary"] and not is_normalized(params["canary"]):
        manifest = params["canary"]
        source = "dict"
    elif given == ["canary"]:
        normalized = params["canary"]
        obj = read_cluster_canary(normalized["namespace"], normalized["name"])
        return normalized, None, "dict", obj
    else:
        if not params.get("name") or not namespace:
            raise InvalidInput("give the Canary as canary_file, as canary (a dict), or by name "
                               "and namespace of an object in the cluster")
        obj = read_cluster_canary(namespace, params["name"])
        if obj is None:
            raise DeliveryError("Canary {0}/{1} not found in the cluster".format(
                namespace, params["name"]))
        return parse_canary(obj), obj, "cluster", obj
    if namespace and not (manifest.get("metadata") or {}).get("namespace"):
        manifest = dict(manifest)
        manifest["metadata"] = dict(manifest.get("metadata") or {}, namespace=namespace)
    normalized = parse_canary(manifest, default_namespace=namespace or "default")
    obj = read_cluster_canary(normalized["namespace"], normalized["name"])
    return normalized, manifest, source, obj
