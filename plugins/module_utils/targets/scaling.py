# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale a Canary's target up or to zero, whatever its kind, and wait for it to be ready.

The role calls this where it used to scale a Deployment by name, so the kind comes from the
Canary's ``targetRef`` and the target decides what scaling means (replicas for a Deployment, a
node selector for a DaemonSet).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)

SCALE_STATES = ("up", "zero")
POLL_SECONDS = 1.0


def scale_target(workload, state, replicas=None, wait=False, timeout=600, ready_threshold=100,
                 check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """Scale ``workload`` (a targets.base.Target) up or to zero; with ``wait``, wait until the
    target is ready by ``ready_threshold`` percent (scaling up) for at most ``timeout`` seconds.

    A target that does not become ready in time is an error with ``timed_out`` in its details.
    """
    if state not in SCALE_STATES:
        raise DeliveryError("state must be one of {0}; got {1!r}".format(
            ", ".join(SCALE_STATES), state))
    target = workload.require(workload.name, "spec.targetRef")
    stopped = workload.is_scaled_to_zero(target)
    before = workload.replicas(target)
    changed = stopped if state == "up" else not stopped
    result = {"changed": changed, "kind": workload.kind, "name": workload.name,
              "scaled_to_zero": state == "zero",
              "diff": {"before": {"scaled_to_zero": stopped, "replicas": before},
                       "after": {"scaled_to_zero": state == "zero"}}}
    if check_mode:
        return result
    if state == "zero":
        workload.scale_to_zero()
        return result
    workload.scale_up(replicas)
    if not wait:
        return result
    ready, message = workload.wait_until_ready(workload.name, ready_threshold, timeout, clock,
                                               sleep, POLL_SECONDS)
    result["message"] = message
    if not ready:
        raise DeliveryError(
            "{0} {1}/{2} not ready within {3}s (ready threshold {4}%): {5}".format(
                workload.kind, workload.namespace, workload.name, timeout, ready_threshold,
                message), timed_out=True, changed=changed)
    return result
