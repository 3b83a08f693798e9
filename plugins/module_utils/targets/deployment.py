# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Deployment as canary target: its primary Deployment, when a Deployment is ready, and scaling
it to zero."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import time

from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    COPIED_SPEC_FIELDS,
    FULLY_READY,
    SELECTOR_LABELS,
    Target,
    build_primary_object,
    needed_for,
)


def build_primary_deployment(target, tracked, owner=None, min_replicas=None,
                             selector_labels=SELECTOR_LABELS, include_label_prefix=()):
    """The primary Deployment: the target's spec under ``<label>: <value>-primary``.

    With an HPA, the primary starts at the HPA's minimum rather than waiting for the HPA to
    raise it, so it serves production traffic at full strength from the first request.
    """
    replicas = max((target.get("spec") or {}).get("replicas") or 1, min_replicas or 1)
    return build_primary_object(
        "Deployment", target, tracked, COPIED_SPEC_FIELDS, owner, selector_labels, include_label_prefix,
        replicas=replicas)


def _condition(status, kind):
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def rollout_progress(deployment, ready_threshold=FULLY_READY):
    """``(ready, message)`` for a Deployment, judged like ``kubectl rollout status``.

    With a ``ready_threshold`` below 100 the rollout must still be complete (the new spec
    observed, every replica updated, no old replica left), but only that percentage of the updated
    replicas must be available, as Flagger's primaryReadyThreshold and canaryReadyThreshold say.
    """
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = metadata.get("name")
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False, "waiting for {0} rollout to start: the new spec has not been observed".format(name)
    progressing = _condition(status, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, "{0} exceeded its progress deadline: {1}".format(
            name, progressing.get("message") or "no progress")
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
        if available < needed_for(updated, ready_threshold):
            return False, "waiting for {0} rollout to finish: {1} of {2} updated replicas are available{3}".format(
                name, available, updated,
                "" if ready_threshold >= FULLY_READY else " (ready threshold {0}%)".format(ready_threshold))
        return True, "{0} ready: {1} of {2} updated replicas are available (ready threshold {3}%)".format(
            name, available, updated, ready_threshold)
    return True, "{0} rolled out: {1} of {1} updated replicas are available".format(name, wanted)


def rfc3339_seconds(value):
    """Epoch seconds of a Kubernetes timestamp (``2026-01-02T03:04:05Z``), or None."""
    if not value:
        return None
    try:
        return calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def deadline_exceeded(deployment, deadline_seconds, now):
    """Whether a Deployment is stuck, as Flagger's isDeploymentReady judges it: its Progressing
    condition says ProgressDeadlineExceeded, or its Available condition has said
    MinimumReplicasUnavailable for longer than ``deadline_seconds`` (the Canary's
    progressDeadlineSeconds), counted from that condition's lastUpdateTime."""
    status = deployment.get("status") or {}
    if (_condition(status, "Progressing") or {}).get("reason") == "ProgressDeadlineExceeded":
        return True
    available = _condition(status, "Available") or {}
    if available.get("status") == "False" and available.get("reason") == "MinimumReplicasUnavailable":
        since = rfc3339_seconds(available.get("lastUpdateTime") or available.get("lastTransitionTime"))
        return since is not None and since + deadline_seconds < now
    return False


class DeploymentTarget(Target):
    kind = "Deployment"
    api_version = "apps/v1"

    def build_primary(self, target, tracked, owner=None, min_replicas=None):
        return build_primary_deployment(target, tracked, owner, min_replicas,
                                        self.selector_labels, self.include_label_prefix)

    def rollout_progress(self, obj, ready_threshold=FULLY_READY):
        return rollout_progress(obj, ready_threshold)

    def deadline_exceeded(self, obj, deadline_seconds, now, since=None):
        return deadline_exceeded(obj, deadline_seconds, now)

    def is_scaled_to_zero(self, obj):
        return self.replicas(obj) == 0

    def replicas(self, obj):
        return ((obj or {}).get("spec") or {}).get("replicas", 1)

    def _set_replicas(self, replicas):
        def scale(obj):
            if obj["spec"].get("replicas") == replicas:
                return None
            obj["spec"]["replicas"] = replicas
            return obj

        return replace_with_retry(self.resource, self.namespace, self.name, scale)

    def scale_to_zero(self):
        return self._set_replicas(0)

    def scale_up(self, replicas=None):
        return self._set_replicas(max(replicas or 1, 1))
