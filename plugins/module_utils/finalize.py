# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting a Canary the way Flagger's finalizer does.

Flagger adds a finalizer to a Canary with ``spec.revertOnDeletion: true`` and, when the Canary is
deleted, gives the app back to its target before letting it go: phase ``Terminating`` with the
event ``Terminating canary <name>.<namespace>``, the target scaled back to the primary's replicas
(from zero when the primary is gone), a wait until the target is ready, and the apex Service
pointed at the target's pods when the Service is not the Canary's own (a Service the Canary owns
is garbage-collected with it, like the primary, the ``-primary``/``-canary`` Services, the HPA
clone and the TraefikService). Without ``revertOnDeletion`` the Canary is simply deleted.

No controller runs between releases, so no finalizer waits on the Canary: the module does the
same work in the same order and then deletes the Canary in the foreground, so that it is gone
only once everything it owns is gone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    emit_event,
    event_message,
)
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import (
    owned_by,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    DynamicApiError,
    api_action,
    get_object,
    get_resource,
    replace_with_retry,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    call_with_retry,
    status_of,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    canary_resource,
    read_canary,
    write_status,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POLL_SECONDS = 0.5


def restored_selector(service, key, value):
    """The selector Flagger gives back to an apex Service the Canary does not own: the one of
    kubectl's last-applied configuration when the Service has it, else ``{key: value}``, the
    target's selector label."""
    annotation = ((service.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if annotation:
        try:
            selector = ((json.loads(annotation) or {}).get("spec") or {}).get("selector")
        except ValueError:
            raise DeliveryError("Service {0}/{1} has an annotation {2} that is not JSON".format(
                service["metadata"].get("namespace"), service["metadata"]["name"], LAST_APPLIED))
        if selector:
            return selector
    return {key: value}


class Finalizer(object):
    """Works out and performs the deletion of one Canary."""

    def __init__(self, client, canary, revert=None, delete=True, timeout=None, check_mode=False,
                 clock=time.monotonic, sleep=time.sleep, target_labels=None, record_event=None):
        self.client = client
        # record_event(canary_obj, event_type, message): the module's, which also sends the Event
        # to the event webhooks; recording it is enough without one.
        self.record_event = record_event or (
            lambda canary_obj, event_type, message: emit_event(client, canary_obj, message,
                                                               event_type))
        self.canary = canary
        self.namespace = canary["namespace"]
        self.revert = canary.get("revert_on_deletion", False) if revert is None else revert
        self.delete = delete
        self.timeout = timeout if timeout is not None else canary["progress_deadline_seconds"]
        self.check_mode = check_mode
        self.clock = clock
        self.sleep = sleep
        self.workload = target_for(client, canary, **(target_labels or {}))
        self.changes = []
        self.diff_before = {}
        self.diff_after = {}

    def _record(self, kind, name, action, before=None, after=None):
        self.changes.append({"kind": kind, "name": name, "action": action})
        key = "{0}/{1}".format(kind, name)
        self.diff_before[key] = before
        self.diff_after[key] = after

    def mark_terminating(self, canary_obj):
        if ((canary_obj.get("status") or {}).get("phase")) == "Terminating":
            return
        changed, before, after = write_status(
            self.client, self.namespace, self.canary["name"], {"phase": "Terminating"},
            target_kind=self.canary["target"]["kind"], check_mode=self.check_mode,
            known=canary_obj)
        if changed:
            self._record("Canary", self.canary["name"], "status", before, after)
        event_type, message = event_message("terminating", self.canary)
        if not self.check_mode:
            self.record_event(canary_obj, event_type, message)

    def _autoscaler_min_replicas(self):
        autoscaler = self.canary.get("autoscaler")
        if not autoscaler:
            return None
        hpa = get_object(get_resource(self.client, "autoscaling/v2", "HorizontalPodAutoscaler"),
                         self.namespace, autoscaler["name"])
        return ((hpa or {}).get("spec") or {}).get("minReplicas")

    def revert_target(self):
        workload = self.workload
        target = workload.require(workload.name, "target")
        primary = workload.get(workload.primary)
        replicas = workload.revert_replicas(
            target, primary, None if primary is not None else self._autoscaler_min_replicas())
        if replicas is not None:
            self._record(workload.kind, workload.name, "scaled back",
                         {"replicas": workload.replicas(target)}, {"replicas": replicas})
            if not self.check_mode:
                workload.scale_up(replicas)
        if self.check_mode:
            return
        threshold = (self.canary.get("analysis") or {}).get("canary_ready_threshold", 100)
        ready, message = workload.wait_until_ready(workload.name, threshold, self.timeout,
                                                   self.clock, self.sleep, POLL_SECONDS)
        if not ready:
            raise DeliveryError(
                "{0} {1}/{2} was not ready within {3}s after it was scaled back: {4}; the Canary "
                "was not deleted, run again to finish".format(
                    workload.kind, self.namespace, workload.name, self.timeout, message))

    def revert_apex_service(self):
        """Point an apex Service the Canary does not own at the target's pods."""
        resource = get_resource(self.client, "v1", "Service")
        name = self.canary["names"]["apex_service"]
        service = get_object(resource, self.namespace, name)
        if service is None or owned_by(service, self.canary["name"]):
            return
        target = self.workload.require(self.workload.name, "target")
        key, value = self.workload.selector_label(target)
        selector = restored_selector(service, key, value)
        if (service.get("spec") or {}).get("selector") == selector:
            return
        self._record("Service", name, "selector restored",
                     {"selector": service["spec"].get("selector")}, {"selector": selector})
        if self.check_mode:
            return

        def point_at_target(obj):
            if obj["spec"].get("selector") == selector:
                return None
            wanted = copy.deepcopy(obj)
            wanted["spec"]["selector"] = selector
            return wanted

        replace_with_retry(resource, self.namespace, name, point_at_target)

    def delete_canary(self):
        """Delete the Canary in the foreground and wait until it, and so what it owns, is gone."""
        self._record("Canary", self.canary["name"], "deleted", {"exists": True}, {"exists": False})
        if self.check_mode:
            return
        resource = canary_resource(self.client)
        action = "delete Canary {0}/{1}".format(self.namespace, self.canary["name"])

        def delete():
            try:
                resource.delete(name=self.canary["name"], namespace=self.namespace,
                                body={"propagationPolicy": "Foreground"})
            except DynamicApiError as exc:
                if status_of(exc) != 404:
                    raise

        with api_action(action):
            call_with_retry(delete, action)
        deadline = self.clock() + self.timeout
        while read_canary(self.client, self.namespace, self.canary["name"]) is not None:
            if self.clock() >= deadline:
                raise DeliveryError(
                    "Canary {0}/{1} was deleted but is still there after {2}s: the garbage "
                    "collector has not removed the objects it owns yet".format(
                        self.namespace, self.canary["name"], self.timeout))
            self.sleep(POLL_SECONDS)

    def run(self):
        canary_obj = read_canary(self.client, self.namespace, self.canary["name"])
        if self.revert:
            if canary_obj is not None:
                self.mark_terminating(canary_obj)
            self.revert_target()
            self.revert_apex_service()
        if self.delete and canary_obj is not None:
            self.delete_canary()
        return {
            "changed": bool(self.changes),
            "reverted": bool(self.revert),
            "deleted": bool(self.delete and canary_obj is not None),
            "objects": self.changes,
            "diff": {"before": self.diff_before, "after": self.diff_after},
        }


def finalize(client, canary, revert=None, delete=True, timeout=None, check_mode=False,
             target_labels=None, record_event=None):
    """Delete a Canary as Flagger's finalizer does; see the module docs of canary_finalize."""
    return Finalizer(client, canary, revert=revert, delete=delete, timeout=timeout,
                     check_mode=check_mode, target_labels=target_labels,
                     record_event=record_event).run()
