# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every kind of canary target offers (Flagger's canary.Controller).

A target ``X`` is the workload the user changes; ``X-primary`` is the copy that serves
production. A kind (Deployment, later DaemonSet) says how its primary is built, when it counts as
ready, and how it is scaled to zero; promotion, revision checksums and config tracking work on
the pod template and are the same for every kind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import abc
import copy

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.config_tracking import (
    CONFIG_CHECKSUM_ANNOTATION,
    ConfigTracker,
    revision_checksum,
    rewrite_config_references,
)

# Flagger's default for primaryReadyThreshold and canaryReadyThreshold: every replica available.
FULLY_READY = 100


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


def container_images(pod_template):
    return dict((c.get("name"), c.get("image")) for c in (pod_template.get("spec") or {}).get("containers") or [])


def match_labels(obj):
    return (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


class Target(abc.ABC):
    """One canary target ``name`` and its primary, in ``namespace``."""

    kind = None
    api_version = None

    def __init__(self, client, namespace, name, primary_ready_threshold=FULLY_READY):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.primary = primary_name(name)
        self.primary_ready_threshold = primary_ready_threshold
        self.configs = ConfigTracker(client, namespace)
        self._resource = None

    @property
    def resource(self):
        if self._resource is None:
            self._resource = get_resource(self.client, self.api_version, self.kind)
        return self._resource

    # -- what a kind defines ----------------------------------------------------------------
    @abc.abstractmethod
    def build_primary(self, target, tracked, owner=None, min_replicas=None):
        """The primary object made from the ``target`` object (Flagger's Initialize)."""

    @abc.abstractmethod
    def rollout_progress(self, obj, ready_threshold=FULLY_READY):
        """``(ready, message)`` for an object of this kind; ``ready_threshold`` is the percentage
        of its updated pods that must be available."""

    @abc.abstractmethod
    def scale_to_zero(self):
        """Stop the target's pods (Flagger's ScaleToZero); a no-op when they are stopped."""

    # -- the same for every kind ------------------------------------------------------------
    def get(self, name):
        return get_object(self.resource, self.namespace, name)

    def require(self, name, role, hint=""):
        """The object ``name``, or an error naming it and its ``role``."""
        obj = self.get(name)
        if obj is None:
            raise DeliveryError("{0} {1}/{2} ({3}) not found{4}".format(
                self.kind, self.namespace, name, role, hint))
        return obj

    def require_primary(self):
        return self.require(self.primary, "primary",
                            "; initialise the canary first so the primary exists")

    @staticmethod
    def pod_template(obj):
        return ((obj or {}).get("spec") or {}).get("template") or {}

    def revision(self, target, configs=None):
        """``(revision, trackedConfigs)`` of the ``target`` object: what lastAppliedSpec and
        lastPromotedSpec compare (Flagger's HasTargetChanged). ``configs`` are the tracked
        configs when the caller has read them already."""
        template = self.pod_template(target)
        if configs is None:
            configs = self.configs.read(template)
        tracked = self.configs.checksums(configs)
        return revision_checksum(template, tracked), tracked

    def is_primary_ready(self, primary=None):
        """``(ready, message)`` for the primary, judged with primaryReadyThreshold."""
        if primary is None:
            primary = self.require_primary()
        return self.rollout_progress(primary, self.primary_ready_threshold)

    def wait_for_primary(self, timeout, clock, sleep, poll_seconds):
        """Poll the primary until it is ready or ``timeout`` seconds passed; the last
        ``(ready, message)``. The caller says what a primary that is not ready means."""
        deadline = clock() + timeout
        while True:
            ready, message = self.is_primary_ready()
            if ready or clock() >= deadline:
                return ready, message
            sleep(poll_seconds)

    def primary_template(self, canary_template, primary, tracked, checksum=None):
        """The pod template ``primary`` should run to run what the canary runs."""
        return primary_pod_template(canary_template, match_labels(primary), tracked, checksum)

    def promote(self, canary_template, tracked, checksum=None):
        """Copy the canary's pod template to the primary (Flagger's Promote)."""

        def set_template(obj):
            wanted = self.primary_template(canary_template, obj, tracked, checksum)
            if obj["spec"].get("template") == wanted:
                return None
            obj["spec"]["template"] = wanted
            return obj

        return replace_with_retry(self.resource, self.namespace, self.primary, set_template)
