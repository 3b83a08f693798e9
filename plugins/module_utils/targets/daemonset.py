# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DaemonSet as canary target, handled as Flagger handles one.

A DaemonSet has no replica count, so it is "scaled to zero" by a node selector that no node
carries (``flagger.app/scale-to-zero: "true"``, the label Flagger uses): the DaemonSet controller
then schedules its pods nowhere and removes the running ones. Scaling up removes that key again.
The key is never part of a revision and never reaches the primary. It is ready when every pod it
should run is updated and the ready threshold of them is available. A DaemonSet takes no
autoscaler (the Canary's ``autoscalerRef`` is refused for it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    FULLY_READY,
    SELECTOR_LABELS,
    Target,
    build_primary_object,
    needed_for,
    primary_pod_template,
)

# The node selector that matches no node (Flagger's, so a DaemonSet stopped by either tool reads
# the same).
SCALE_TO_ZERO_SELECTOR = {"flagger.app/scale-to-zero": "true"}
# The spec fields Flagger's DaemonSet primary takes from the target, at creation and promotion.
DAEMONSET_SPEC_FIELDS = ("updateStrategy", "minReadySeconds", "revisionHistoryLimit")
ROLLING_UPDATE = "RollingUpdate"


def without_scale_to_zero(pod_template):
    """``pod_template`` without the scale-to-zero node selector (an empty selector dropped)."""
    template = copy.deepcopy(pod_template or {})
    spec = template.get("spec")
    if spec and spec.get("nodeSelector") is not None:
        selector = dict((k, v) for k, v in spec["nodeSelector"].items()
                        if k not in SCALE_TO_ZERO_SELECTOR)
        if selector:
            spec["nodeSelector"] = selector
        else:
            del spec["nodeSelector"]
    return template


def is_stopped(daemonset):
    """Whether the scale-to-zero node selector is on the DaemonSet's pod template."""
    selector = ((((daemonset or {}).get("spec") or {}).get("template") or {}).get("spec") or {}) \
        .get("nodeSelector") or {}
    return all(selector.get(k) == v for k, v in SCALE_TO_ZERO_SELECTOR.items())


def with_scale_to_zero(daemonset, stopped):
    """A copy of ``daemonset`` with the scale-to-zero node selector set or removed; None when it
    already is as asked."""
    if is_stopped(daemonset) == stopped:
        return None
    obj = copy.deepcopy(daemonset)
    template = obj.setdefault("spec", {}).setdefault("template", {})
    if stopped:
        pod_spec = template.setdefault("spec", {})
        selector = dict(pod_spec.get("nodeSelector") or {})
        selector.update(SCALE_TO_ZERO_SELECTOR)
        pod_spec["nodeSelector"] = selector
    else:
        obj["spec"]["template"] = without_scale_to_zero(template)
    return obj


def check_update_strategy(daemonset):
    """Flagger refuses a DaemonSet that does not roll its pods (``OnDelete``): its primary would
    never pick up a promotion."""
    strategy = ((daemonset.get("spec") or {}).get("updateStrategy") or {}).get("type")
    if strategy and strategy != ROLLING_UPDATE:
        raise DeliveryError(
            "DaemonSet {0}/{1} spec.updateStrategy.type must be {2}; got {3!r}".format(
                (daemonset.get("metadata") or {}).get("namespace"),
                (daemonset.get("metadata") or {}).get("name"), ROLLING_UPDATE, strategy))


def build_primary_daemonset(target, tracked, owner=None, selector_labels=SELECTOR_LABELS,
                            include_label_prefix=()):
    """The primary DaemonSet: the target's spec under ``<label>: <value>-primary``.

    As Flagger does for a DaemonSet, the pod template's config references point at the
    ``-primary`` copies, and its affinity and topology spread selectors are left as they are.
    """
    check_update_strategy(target)
    return build_primary_object(
        "DaemonSet", target, tracked, DAEMONSET_SPEC_FIELDS, owner, selector_labels, include_label_prefix,
        pod_template=without_scale_to_zero((target.get("spec") or {}).get("template")), rewrite_selectors=False)


def rollout_progress(daemonset, ready_threshold=FULLY_READY):
    """``(ready, message)`` for a DaemonSet, judged as Flagger and ``kubectl rollout status`` do:
    the new spec observed, a pod of the new template on every node that should run one, and
    ``ready_threshold`` percent of those available."""
    metadata = daemonset.get("metadata") or {}
    status = daemonset.get("status") or {}
    name = metadata.get("name")
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return False, "waiting for {0} rollout to start: the new spec has not been observed".format(name)
    desired = status.get("desiredNumberScheduled", 0) or 0
    updated = status.get("updatedNumberScheduled", 0) or 0
    available = status.get("numberAvailable", 0) or 0
    if updated < desired:
        return False, "waiting for {0} rollout to finish: {1} out of {2} new pods have been updated".format(
            name, updated, desired)
    needed = needed_for(desired, ready_threshold)
    if available < needed:
        return False, "waiting for {0} rollout to finish: {1} of {2} updated pods are available{3}".format(
            name, available, desired,
            "" if ready_threshold >= FULLY_READY else " (ready threshold {0}%)".format(ready_threshold))
    return True, "{0} rolled out: {1} of {2} updated pods are available".format(name, available, desired)


class DaemonSetTarget(Target):
    kind = "DaemonSet"
    api_version = "apps/v1"
    copied_spec_fields = DAEMONSET_SPEC_FIELDS

    def build_primary(self, target, tracked, owner=None, min_replicas=None):
        return build_primary_daemonset(target, tracked, owner, self.selector_labels,
                                       self.include_label_prefix)

    def rollout_progress(self, obj, ready_threshold=FULLY_READY):
        return rollout_progress(obj, ready_threshold)

    @staticmethod
    def pod_template(obj):
        return without_scale_to_zero(Target.pod_template(obj))

    def primary_template(self, canary_template, primary, tracked, checksum=None, instance_id=None):
        # Flagger rewrites no affinity for a DaemonSet's primary.
        return primary_pod_template(canary_template, (primary.get("spec") or {}).get(
            "selector", {}).get("matchLabels"), tracked, checksum, instance_id=instance_id)

    def is_scaled_to_zero(self, obj):
        return is_stopped(obj)

    def replicas(self, obj):
        if is_stopped(obj):
            return 0
        # The pods it runs: one per node it is scheduled on, and at least one while it is not
        # stopped, since its controller may not have counted the nodes yet.
        return ((obj or {}).get("status") or {}).get("desiredNumberScheduled") or 1

    def revert_replicas(self, target, primary, autoscaler_min_replicas=None):
        # Flagger's Finalize of a DaemonSet only lifts the scale-to-zero node selector.
        return 1 if is_stopped(target) else None

    def _set_stopped(self, stopped):
        return replace_with_retry(self.resource, self.namespace, self.name,
                                  lambda obj: with_scale_to_zero(obj, stopped))

    def scale_to_zero(self):
        return self._set_stopped(True)

    def scale_up(self, replicas=None):
        return self._set_stopped(False)
