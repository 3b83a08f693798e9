# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Primary and canary Deployments: deriving the primary's pod template from the canary's, the
ConfigMap/Secret copies it uses, and reading rollout progress (pure functions)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
)

# Changing a ConfigMap does not restart the pods that read it; a checksum of the tracked configs in
# the primary's pod template does, so refreshed copies reach the primary's pods.
CONFIG_CHECKSUM_ANNOTATION = "progressive.delivery/config-checksum"
CONFIG_KINDS = ("ConfigMap", "Secret")


def _containers(pod_spec):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod_spec.get(key) or []


def _config_ref_slots(pod_spec):
    """Yield ``(kind, holder, key, optional)`` for every ConfigMap/Secret reference.

    ``holder[key]`` is the referenced name, so callers can both read and rewrite it.
    """
    for container in _containers(pod_spec):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if source.get("configMapKeyRef"):
                ref = source["configMapKeyRef"]
                yield "ConfigMap", ref, "name", bool(ref.get("optional"))
            if source.get("secretKeyRef"):
                ref = source["secretKeyRef"]
                yield "Secret", ref, "name", bool(ref.get("optional"))
        for env_from in container.get("envFrom") or []:
            if env_from.get("configMapRef"):
                ref = env_from["configMapRef"]
                yield "ConfigMap", ref, "name", bool(ref.get("optional"))
            if env_from.get("secretRef"):
                ref = env_from["secretRef"]
                yield "Secret", ref, "name", bool(ref.get("optional"))
    for volume in pod_spec.get("volumes") or []:
        if volume.get("configMap"):
            ref = volume["configMap"]
            yield "ConfigMap", ref, "name", bool(ref.get("optional"))
        if volume.get("secret"):
            ref = volume["secret"]
            yield "Secret", ref, "secretName", bool(ref.get("optional"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("configMap"):
                ref = source["configMap"]
                yield "ConfigMap", ref, "name", bool(ref.get("optional"))
            if source.get("secret"):
                ref = source["secret"]
                yield "Secret", ref, "name", bool(ref.get("optional"))


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


def config_checksum(configs):
    """A stable digest of the content of ``{(kind, name): object}``."""
    digest = hashlib.sha256()
    for (kind, name) in sorted(configs):
        digest.update(json.dumps([kind, name, config_content(configs[(kind, name)])], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def primary_pod_template(canary_template, primary_selector, tracked, checksum=None):
    """The pod template the primary should run.

    It is the canary's template with config references rewritten, and with the primary's own
    selector labels laid over the canary's labels, so the primary's selector keeps matching its
    pods (Flagger labels them ``app: <name>-primary``).
    """
    template = copy.deepcopy(canary_template)
    metadata = template.setdefault("metadata", {})
    labels = dict(metadata.get("labels") or {})
    labels.update(primary_selector or {})
    metadata["labels"] = labels
    if checksum:
        annotations = dict(metadata.get("annotations") or {})
        annotations[CONFIG_CHECKSUM_ANNOTATION] = checksum
        metadata["annotations"] = annotations
    template["spec"] = rewrite_config_references(template.get("spec") or {}, tracked)
    return template


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


def config_content(obj):
    """The part of a ConfigMap/Secret that matters to the pods using it."""
    return dict((key, obj.get(key)) for key in ("data", "binaryData", "type"))


def rollout_progress(deployment):
    """``(done, message)`` for a Deployment, judged like ``kubectl rollout status``."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = metadata.get("name")
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False, "waiting for {0} rollout to start: the new spec has not been observed".format(name)
    updated = status.get("updatedReplicas", 0) or 0
    total = status.get("replicas", 0) or 0
    available = status.get("availableReplicas", 0) or 0
    if updated < wanted:
        return False, "waiting for {0} rollout to finish: {1} of {2} updated replicas are available".format(
            name, min(updated, available), wanted)
    if total > updated:
        return False, "waiting for {0} rollout to finish: {1} old replicas are pending termination".format(
            name, total - updated)
    if available < updated:
        return False, "waiting for {0} rollout to finish: {1} of {2} updated replicas are available".format(
            name, available, updated)
    return True, "{0} rolled out: {1} of {1} updated replicas are available".format(name, wanted)


def container_images(pod_template):
    return dict((c.get("name"), c.get("image")) for c in (pod_template.get("spec") or {}).get("containers") or [])
