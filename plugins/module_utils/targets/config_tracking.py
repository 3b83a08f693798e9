# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ConfigMaps and Secrets a target's pods use: which are tracked, their ``-primary`` copies,
and the checksums that make a revision (Flagger's ConfigTracker).

The same tracking serves every target kind, because it only looks at a pod template. Initialise,
promotion and revision detection all go through ConfigTracker.read, so they agree on what is
tracked: referenced configs that exist (an optional one may be absent) and are not annotated
``flagger.app/config-tracking: disabled``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    create_object,
    get_object,
    get_resource,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
)

# Changing a ConfigMap does not restart the pods that read it; a checksum of the tracked configs in
# the primary's pod template does, so refreshed copies reach the primary's pods.
CONFIG_CHECKSUM_ANNOTATION = "progressive.delivery/config-checksum"
CONFIG_KINDS = ("ConfigMap", "Secret")
# Flagger's opt-out annotation: a ConfigMap/Secret carrying it is neither tracked nor copied.
TRACKING_ANNOTATION = "flagger.app/config-tracking"


def _containers(pod_spec):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(key) or []


# Where a pod spec names a config: the field holding the reference, its kind, and the key of the
# name in it.
_ENV_REFS = (("configMapKeyRef", "ConfigMap", "name"), ("secretKeyRef", "Secret", "name"))
_ENV_FROM_REFS = (("configMapRef", "ConfigMap", "name"), ("secretRef", "Secret", "name"))
_VOLUME_REFS = (("configMap", "ConfigMap", "name"), ("secret", "Secret", "secretName"))
_PROJECTED_REFS = (("configMap", "ConfigMap", "name"), ("secret", "Secret", "name"))


def _refs_in(holder, fields):
    for field, kind, key in fields:
        ref = holder.get(field)
        if ref:
            yield kind, ref, key, bool(ref.get("optional"))


def _config_ref_slots(pod_spec):
    """Yield ``(kind, holder, key, optional)`` for every ConfigMap/Secret reference.

    ``holder[key]`` is the referenced name, so callers can both read and rewrite it.
    """
    for container in _containers(pod_spec):
        for env in container.get("env") or []:
            yield from _refs_in(env.get("valueFrom") or {}, _ENV_REFS)
        for env_from in container.get("envFrom") or []:
            yield from _refs_in(env_from, _ENV_FROM_REFS)
    for volume in pod_spec.get("volumes") or []:
        yield from _refs_in(volume, _VOLUME_REFS)
        for source in (volume.get("projected") or {}).get("sources") or []:
            yield from _refs_in(source, _PROJECTED_REFS)


def config_references(pod_spec):
    """``{(kind, name): optional}`` for every ConfigMap/Secret the pod spec uses.

    A name referenced both optionally and not is treated as required.
    """
    refs = {}
    for kind, holder, key, optional in _config_ref_slots(pod_spec):
        name = holder.get(key)
        if not name:
            continue
        refs[(kind, name)] = refs.get((kind, name), True) and optional
    return refs


def rewrite_config_references(pod_spec, tracked):
    """A copy of ``pod_spec`` whose references to the ``tracked`` (kind, name) pairs point at
    their ``-primary`` copies, so the primary keeps its configuration when the canary's changes."""
    rewritten = copy.deepcopy(pod_spec)
    for kind, holder, key, _optional in _config_ref_slots(rewritten):
        if (kind, holder.get(key)) in tracked:
            holder[key] = primary_name(holder[key])
    return rewritten


def config_content(obj):
    """The part of a ConfigMap/Secret that matters to the pods using it."""
    return dict((key, obj.get(key)) for key in ("data", "binaryData", "type"))


def config_copy(source, kind):
    """The ``-primary`` copy of a ConfigMap or Secret, with the same data."""
    metadata = source.get("metadata") or {}
    copied = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": primary_name(metadata["name"]),
            "namespace": metadata.get("namespace"),
            "labels": dict(metadata.get("labels") or {}),
        },
    }
    for key in ("data", "binaryData", "type", "immutable"):
        if source.get(key) is not None:
            copied[key] = copy.deepcopy(source[key])
    return copied


def tracking_disabled(obj):
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(TRACKING_ANNOTATION) == "disabled"


# --- checksums -----------------------------------------------------------------------------

def _stable_hash(value, length=16):
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def config_checksum(obj):
    """Checksum of a ConfigMap's or Secret's payload (what the pods actually see)."""
    return _stable_hash(config_content(obj))


def configs_checksum(configs):
    """A stable digest of the content of ``{(kind, name): object}``, for the primary's template."""
    digest = hashlib.sha256()
    for (kind, name) in sorted(configs):
        digest.update(json.dumps([kind, name, config_content(configs[(kind, name)])], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def config_key(kind, name):
    """Flagger's trackedConfigs key: ``configmap/NAME`` or ``secret/NAME``."""
    return "{0}/{1}".format(kind.lower(), name)


def tracked_pairs(tracked):
    """``{"configmap/a": ...}`` -> ``{("ConfigMap", "a")}``, the form the pod template rewrite uses."""
    kinds = {"configmap": "ConfigMap", "secret": "Secret"}
    pairs = set()
    for key in tracked or {}:
        kind, _sep, name = key.partition("/")
        pairs.add((kinds[kind], name))
    return pairs


def template_for_hash(pod_template):
    """The parts of a pod template that make a revision.

    ``metadata.creationTimestamp: null`` is noise some clients add to templates.
    """
    template = copy.deepcopy(pod_template or {})
    metadata = template.get("metadata") or {}
    metadata.pop("creationTimestamp", None)
    return template


def revision_checksum(pod_template, tracked):
    """One checksum for the target's pod template and the configs it uses.

    A change to either is a new revision; this is what lastAppliedSpec and lastPromotedSpec
    hold.
    """
    return _stable_hash({"template": template_for_hash(pod_template),
                         "configs": dict(tracked or {})})


# --- cluster access ------------------------------------------------------------------------

class ConfigTracker(object):
    """Reads the configs a pod template uses and keeps their ``-primary`` copies."""

    def __init__(self, client, namespace):
        self.client = client
        self.namespace = namespace
        self._resources = {}

    def resource(self, kind):
        if kind not in self._resources:
            self._resources[kind] = get_resource(self.client, "v1", kind)
        return self._resources[kind]

    def read(self, pod_template):
        """``{(kind, name): object}`` of the tracked configs ``pod_template`` uses.

        Optional references to configs that do not exist are skipped (the pods start without
        them); a missing mandatory one is an error, because those pods cannot start either.
        """
        spec = (pod_template or {}).get("spec") or {}
        configs = {}
        for (kind, name), optional in sorted(config_references(spec).items()):
            obj = get_object(self.resource(kind), self.namespace, name)
            if obj is None:
                if optional:
                    continue
                raise DeliveryError(
                    "{0} {1}/{2}, referenced by the canary's pod template, not found".format(
                        kind, self.namespace, name))
            if tracking_disabled(obj):
                continue
            configs[(kind, name)] = obj
        return configs

    @staticmethod
    def checksums(configs):
        """Flagger's trackedConfigs, ``{"configmap/NAME": checksum, "secret/NAME": checksum}``."""
        return dict((config_key(kind, name), config_checksum(obj))
                    for (kind, name), obj in configs.items())

    def copies(self, configs, owner=None):
        """``(kind, wanted, current)`` for the ``-primary`` copy of each of ``configs``;
        ``current`` is None when the copy does not exist yet."""
        plan = []
        for (kind, _name), source in sorted(configs.items()):
            wanted = config_copy(source, kind)
            if owner:
                wanted["metadata"]["ownerReferences"] = [owner]
            current = get_object(self.resource(kind), self.namespace, wanted["metadata"]["name"])
            plan.append((kind, wanted, current))
        return plan

    @staticmethod
    def copy_is_current(current, wanted):
        return current is not None and config_content(current) == config_content(wanted)

    def write_copy(self, kind, wanted, current):
        """Create the copy, or refresh its data when it differs."""
        resource = self.resource(kind)
        if current is None:
            return create_object(resource, self.namespace, wanted)

        def mutate(obj):
            if config_content(obj) == config_content(wanted):
                return None
            for key in ("data", "binaryData"):
                obj.pop(key, None)
                if wanted.get(key) is not None:
                    obj[key] = wanted[key]
            return obj

        return replace_with_retry(resource, self.namespace, wanted["metadata"]["name"], mutate)
