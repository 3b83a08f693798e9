# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary targets: one interface (targets.base.Target) and one file per kind.

A new kind is a new file with a Target subclass and an entry in TARGETS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    FULLY_READY,
    SELECTOR_LABELS,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.daemonset import (
    DaemonSetTarget,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    DeploymentTarget,
)

TARGETS = {
    "DaemonSet": DaemonSetTarget,
    "Deployment": DeploymentTarget,
}


def target_class(kind):
    """The Target subclass for ``spec.targetRef.kind``."""
    if kind not in TARGETS:
        raise InvalidInput("spec.targetRef.kind must be one of {0}; got {1!r}".format(
            ", ".join(sorted(TARGETS)), kind))
    return TARGETS[kind]


def target_for(client, canary, selector_labels=None, include_label_prefix=None):
    """The target of a Canary normalized by canary_spec.parse_canary.

    ``selector_labels`` and ``include_label_prefix`` are Flagger's controller flags of the same
    names (the modules' and the role's options); None means Flagger's defaults.
    """
    target = canary["target"]
    threshold = (canary.get("analysis") or {}).get("primary_ready_threshold", FULLY_READY)
    return target_class(target["kind"])(
        client, canary["namespace"], target["name"], primary_ready_threshold=threshold,
        selector_labels=selector_labels or SELECTOR_LABELS,
        include_label_prefix=include_label_prefix or (),
        autoscaled=bool(canary.get("autoscaler")))
