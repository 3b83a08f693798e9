# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary status and Kubernetes Events in Flagger's words.

Status is a small explicit record kept where Flagger keeps it (the Canary's status
subresource), so ``kubectl get canaries`` and ``kubectl describe canary/X`` read as users of
Flagger expect. Event wording lives in EVENT_TEMPLATES and nowhere else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import hashlib
import json
import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    ConflictError,
    DynamicApiError,
    api_error_message,
    get_object,
    get_resource,
    read_once,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    primary_name,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    CONFLICT,
    call_with_retry,
    is_transient,
    status_of,
    update_guarded,
)

CANARY_API_VERSION = "flagger.app/v1beta1"
EVENT_SOURCE = "progressive-delivery"
EVENT_REASON = "Synced"

PHASES = (
    "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting",
    "Finalising", "Succeeded", "Failed", "Terminating",
)
# lastCheck marks the analysis check last counted in failedChecks, so that a repeated write
# (after a lost answer) does not count it twice.
STATUS_FIELDS = ("phase", "canaryWeight", "failedChecks", "iterations", "lastAppliedSpec",
                 "lastPromotedSpec", "trackedConfigs", "lastCheck")

# The words Flagger uses, keyed by what happened. ``{canary}`` is ``name.namespace`` of the
# Canary, ``{target}`` of the target Deployment, ``{primary}`` of its primary copy.
EVENT_TEMPLATES = {
    "initialized": ("Normal", "Initialization done! {canary}"),
    "suspended": ("Normal", "skipping canary run as object is suspended"),
    "new_revision": ("Normal", "New revision detected! Scaling up {target}"),
    "restart_analysis": ("Normal", "New revision detected! Restarting analysis for {target}"),
    "canary_not_ready": ("Normal", "Waiting for {target} rollout to finish: {detail}"),
    "starting_analysis": ("Normal", "Starting canary analysis for {target}"),
    "pre_rollout_passed": ("Normal", "Pre-rollout check {hook} passed"),
    "pre_rollout_failed": ("Warning", "Halt {canary} advancement pre-rollout check {hook} failed "
                                      "{detail}"),
    "confirm_rollout_passed": ("Normal", "Confirm-rollout check {hook} passed"),
    "waiting_approval": ("Warning", "Halt {canary} advancement waiting for approval {hook}"),
    "waiting_traffic_increase": ("Warning", "Halt {canary} advancement waiting for traffic "
                                            "increase approval {hook}"),
    "waiting_promotion": ("Warning", "Halt {canary} advancement waiting for promotion approval "
                                     "{hook}"),
    "advance": ("Normal", "Advance {canary} canary weight {weight}"),
    "advance_primary": ("Normal", "Advance {canary} primary weight {weight}"),
    "halt": ("Warning", "Halt {canary} advancement {detail}"),
    "halt_webhook": ("Warning", "Halt {canary} advancement external check {hook} failed "
                                "{detail}"),
    "copying": ("Normal", "Copying {target} template spec to {primary}"),
    "primary_not_ready": ("Normal", "Waiting for {primary} rollout to finish: {detail}"),
    "routing_to_primary": ("Normal", "Routing all traffic to primary"),
    "promoted": ("Normal", "Promotion completed! Scaling down {target}"),
    "promoted_skipped": ("Normal", "Promotion completed! Canary analysis was skipped for "
                                   "{target}"),
    "post_rollout_passed": ("Normal", "Post-rollout check {hook} passed"),
    "post_rollout_failed": ("Warning", "Post-rollout hook {hook} failed {detail}"),
    "rollback_threshold": ("Warning", "Rolling back {canary} failed checks threshold reached "
                                      "{failed_checks}"),
    "rollback_deadline": ("Warning", "Rolling back {canary} progress deadline exceeded {detail}"),
    "rollback_manual": ("Warning", "Rolling back {canary} manual webhook invoked"),
    "rollback_check_passed": ("Warning", "Rollback check {hook} passed"),
    "failed": ("Warning", "Canary failed! Scaling down {canary}"),
    "aborted": ("Warning", "Canary failed! Scaling down {canary} (aborted by an operator)"),
    "promoted_by_operator": ("Normal", "Promotion completed! Scaling down {target} (promoted by an "
                                       "operator)"),
}


def _dotted(name, namespace):
    return "{0}.{1}".format(name, namespace)


def event_message(template, canary, **values):
    """Return ``(type, message)`` for ``template`` about the normalized ``canary``.

    ``values`` supply the template's own fields (weight, detail, hook, failed_checks).
    """
    if template not in EVENT_TEMPLATES:
        raise InvalidInput("event template must be one of {0}; got {1!r}".format(
            ", ".join(sorted(EVENT_TEMPLATES)), template))
    event_type, text = EVENT_TEMPLATES[template]
    target = canary["target"]["name"]
    names = {
        "canary": _dotted(canary["name"], canary["namespace"]),
        "target": _dotted(target, canary["namespace"]),
        "primary": _dotted(primary_name(target), canary["namespace"]),
    }
    names.update(values)
    try:
        return event_type, text.format(**names)
    except KeyError as exc:
        raise InvalidInput("event template {0} needs the value {1}".format(template, exc))


def now_rfc3339(now=None):
    moment = now if now is not None else time.time()
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# --- status ------------------------------------------------------------------------------

def promoted_condition(phase, target_kind="Deployment"):
    """The ``Promoted`` condition Flagger derives from the phase: ``(status, message)``."""
    table = {
        "Initializing": ("Unknown", "New {0} detected, starting initialization.".format(
            target_kind)),
        "Initialized": ("True", "{0} initialization completed.".format(target_kind)),
        "Waiting": ("Unknown", "Waiting for approval."),
        "WaitingPromotion": ("Unknown", "Waiting for approval."),
        "Progressing": ("Unknown", "New revision detected, progressing canary analysis."),
        "Promoting": ("Unknown", "Canary analysis completed, starting primary rolling update."),
        "Finalising": ("Unknown", "Canary analysis completed, routing all traffic to primary."),
        "Succeeded": ("True", "Canary analysis completed successfully, promotion finished."),
        "Failed": ("False", "Canary analysis failed, {0} scaled to zero.".format(target_kind)),
        "Terminating": ("Unknown", "Canary is being deleted."),
    }
    return table.get(phase, ("Unknown", ""))


def _merge_condition(conditions, condition, now):
    conditions = copy.deepcopy(conditions or [])
    for index, current in enumerate(conditions):
        if current.get("type") != condition["type"]:
            continue
        same = all(current.get(k) == condition.get(k) for k in ("status", "reason", "message"))
        if same:
            return conditions
        merged = dict(current)
        merged.update(condition)
        merged["lastUpdateTime"] = now
        if current.get("status") != condition["status"]:
            merged["lastTransitionTime"] = now
        else:
            merged.setdefault("lastTransitionTime", current.get("lastTransitionTime") or now)
        conditions[index] = merged
        return conditions
    added = dict(condition)
    added["lastUpdateTime"] = now
    added["lastTransitionTime"] = now
    conditions.append(added)
    return conditions


def validate_status_changes(changes):
    """Refuse bad status input before anything is written; names the field."""
    phase = changes.get("phase")
    if phase is not None and phase not in PHASES:
        raise InvalidInput("phase must be one of {0}; got {1!r}".format(", ".join(PHASES), phase))
    for key, low, high in (("canaryWeight", 0, 100), ("failedChecks", 0, None),
                           ("iterations", 0, None)):
        value = changes.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            raise InvalidInput("{0} must be an integer {1}; got {2!r}".format(
                key, "between {0} and {1}".format(low, high) if high is not None
                else ">= {0}".format(low), value))
    tracked = changes.get("trackedConfigs")
    if tracked is not None and not (isinstance(tracked, dict) and all(
            isinstance(v, str) for v in tracked.values())):
        raise InvalidInput("trackedConfigs must be a mapping of \"kind/name\" to checksum")


def new_status(current, changes, target_kind="Deployment", condition=None, now=None):
    """The status after applying ``changes`` (Flagger field names) to ``current``.

    A phase change moves lastTransitionTime and, unless ``condition`` is given explicitly,
    sets the Promoted condition as Flagger derives it from the phase.
    """
    validate_status_changes(changes)
    stamp = now_rfc3339(now)
    status = copy.deepcopy(current or {})
    for key in STATUS_FIELDS:
        if changes.get(key) is not None:
            status[key] = copy.deepcopy(changes[key])
    for key in ("canaryWeight", "failedChecks", "iterations"):
        status.setdefault(key, 0)
    phase = changes.get("phase")
    phase_changed = phase is not None and phase != (current or {}).get("phase")
    if phase_changed:
        status["lastTransitionTime"] = stamp
    # Only a phase change re-derives the condition, so an explicit one set earlier in the same
    # phase (for example the reason of a rollback) is kept.
    if condition is None and phase_changed:
        cond_status, message = promoted_condition(phase, target_kind)
        condition = {"type": "Promoted", "status": cond_status, "reason": phase,
                     "message": message}
    if condition is not None:
        condition = dict(condition)
        condition.setdefault("type", "Promoted")
        if condition.get("status") not in ("True", "False", "Unknown"):
            raise InvalidInput("condition.status must be one of True, False, Unknown; got "
                               "{0!r}".format(condition.get("status")))
        status["conditions"] = _merge_condition(status.get("conditions"), condition, stamp)
    return status


def canary_resource(client):
    return get_resource(client, CANARY_API_VERSION, "Canary")


def read_canary(client, namespace, name):
    """The Canary object in the cluster, or None."""
    return get_object(canary_resource(client), namespace, name)


def read_status(client, namespace, name):
    obj = read_canary(client, namespace, name)
    return (obj or {}).get("status") or {}


def _replace_status(client, resource, body, namespace, name):
    status_resource = (getattr(resource, "subresources", None) or {}).get("status")
    if status_resource is not None:
        return client.replace(status_resource, body=body, name=name, namespace=namespace)
    # Some discovery documents omit subresources; the path is fixed by the API conventions.
    path = "/apis/{0}/namespaces/{1}/canaries/{2}/status".format(
        CANARY_API_VERSION, namespace, name)
    return client.request("put", path, body=body)


def write_status(client, namespace, name, changes, condition=None, target_kind="Deployment",
                 check_mode=False, now=None, known=None):
    """Write ``changes`` to the Canary's status subresource.

    The write carries the resourceVersion that was read; on 409 Conflict or a transient fault
    the Canary is read again and the changes re-applied to the fresh status, so concurrent
    writers never lose each other's fields. ``changes`` may also be a function of the current
    status returning the changes (for increments such as failedChecks + 1, computed on the
    freshest count; such a function must recognise its own change, see update_guarded).
    Returns ``(changed, before, after)`` statuses.

    ``known`` is the Canary as the caller just read it: the first attempt writes on top of it
    without reading again (a stale one costs a 409 and a re-read, never a lost change).
    """
    if not callable(changes):
        validate_status_changes(changes)
    resource = canary_resource(client)
    action = "update the status of Canary {0}/{1}".format(namespace, name)
    seen = {}
    first = [copy.deepcopy(known)] if known and not check_mode else []

    def read():
        if first:
            return first.pop()
        obj = get_object(resource, namespace, name)
        if obj is None:
            raise DeliveryError("Canary {0}/{1} not found; register it first (canary_init does "
                                "this for a Canary given as a file)".format(namespace, name))
        return obj

    def mutate(obj):
        before = obj.get("status") or {}
        seen.setdefault("before", before)
        wanted = changes(copy.deepcopy(before)) if callable(changes) else changes
        after = new_status(before, wanted, target_kind=target_kind, condition=condition, now=now)
        seen["after"] = after
        if after == before:
            return None
        obj["status"] = after
        return obj

    def write(body):
        try:
            result = _replace_status(client, resource, body, namespace, name)
        except ConflictError as exc:
            # A ConflictError is a 409 whatever wrapper raised it; the guard decides on status.
            if status_of(exc) is None:
                exc.status = CONFLICT
            raise
        except Exception as exc:  # classified by update_guarded, re-raised unchanged
            # Without an answer the write may have landed; the re-read then finds nothing to
            # do, and the change must still be reported.
            if is_transient(exc):
                seen["maybe_written"] = True
            raise
        written = result.to_dict() if hasattr(result, "to_dict") else result
        seen["written"] = (written or {}).get("status", seen["after"])
        return written

    if check_mode:
        obj = read()
        changed = mutate(obj) is not None
        return changed, seen["before"], seen["after"]
    try:
        update_guarded(read, mutate, write, action)
    except DeliveryError:
        raise
    except DynamicApiError as exc:
        raise DeliveryError(api_error_message(exc, action))
    if "written" in seen:
        return True, seen["before"], seen["written"]
    return bool(seen.get("maybe_written")), seen["before"], seen["after"]


# --- events ------------------------------------------------------------------------------

def _involved_object(canary_obj):
    metadata = canary_obj.get("metadata") or {}
    return {
        "apiVersion": CANARY_API_VERSION,
        "kind": "Canary",
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "uid": metadata.get("uid"),
    }


def event_name(involved, event_type, reason, message):
    """The Event's name: the Canary's name and a digest of what makes two events the same.

    Identical events (same Canary uid, type, reason, message and source) share one name, so a
    repeat is found by its name -- a create that meets AlreadyExists raises the count instead --
    and recording an event costs one request, not a list of the namespace's events first.
    """
    key = json.dumps([involved["uid"], involved["kind"], event_type, reason, message, EVENT_SOURCE])
    return "{0}.{1}".format(involved["name"], hashlib.sha256(key.encode("utf-8")).hexdigest()[:16])


def emit_event(client, canary_obj, message, event_type="Normal", reason=EVENT_REASON,
               check_mode=False, now=None):
    """Record a core/v1 Event about the Canary, aggregating repeats as Kubernetes does.

    An identical event (same Canary, type, reason and message) gets its count raised and
    lastTimestamp moved instead of a new object, so ``kubectl describe`` shows ``(x3 over 1m)``.
    Returns the Event as written (or as it would be, in check mode).
    """
    if event_type not in ("Normal", "Warning"):
        raise InvalidInput("event type must be Normal or Warning; got {0!r}".format(event_type))
    involved = _involved_object(canary_obj)
    namespace = involved["namespace"]
    stamp = now_rfc3339(now)
    resource = get_resource(client, "v1", "Event")
    action = "record an event for Canary {0}/{1}".format(namespace, involved["name"])
    name = event_name(involved, event_type, reason, message)
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": event_type,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": {"component": EVENT_SOURCE},
    }
    try:
        if check_mode:
            existing = get_object(resource, namespace, name)
            if existing is None:
                return event
            existing["count"] = int(existing.get("count") or 1) + 1
            existing["lastTimestamp"] = stamp
            return existing
        for _attempt in range(3):
            created = _create_event(resource, namespace, event, action)
            if created is not None:
                return created
            # AlreadyExists: the same event happened before and is still kept; count this one.
            written = _bump_event(resource, namespace, name, stamp, action)
            if written is not None:
                return written
            # ...unless it expired between the two requests: create it again.
        raise DeliveryError("{0}: the Event {1} kept appearing and disappearing".format(action, name))
    except DeliveryError:
        raise
    except DynamicApiError as exc:
        raise DeliveryError(api_error_message(exc, action))


def _create_event(resource, namespace, event, action):
    """The Event as created, or None when one of its name exists already (409 AlreadyExists).

    A create whose answer was lost is repeated and then meets its own Event; that counts it twice.
    """
    try:
        return call_with_retry(lambda: resource.create(body=event, namespace=namespace).to_dict(), action)
    except ConflictError:
        return None


def _bump_event(resource, namespace, name, stamp, action):
    """Raise an aggregated event's count; None when it expired in the meantime.

    Unlike a status increment this one carries no marker: a lost answer can make a count one too
    high, which costs less than a marker in every Event.
    """
    def mutate(current):
        if current is None:
            return None
        current["count"] = int(current.get("count") or 1) + 1
        current["lastTimestamp"] = stamp
        return current

    def write(body):
        return resource.replace(body=body, namespace=namespace,
                                name=name).to_dict()

    _before, after = update_guarded(lambda: read_once(resource, namespace, name), mutate,
                                    write, action)
    return after
