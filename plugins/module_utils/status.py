# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary status, a small explicit record kept where Flagger keeps it.

The Canary's status subresource, so ``kubectl get canaries`` reads as users of Flagger expect.
Events about the Canary are in events.py, the revision checksum in targets/config_tracking.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import ConflictError, api_action, get_object, get_resource
from ansible_collections.progressive.delivery.plugins.module_utils.retry import CONFLICT, is_transient, status_of, update_guarded

CANARY_API_VERSION = "flagger.app/v1beta1"

PHASES = (
    "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting",
    "Finalising", "Succeeded", "Failed", "Terminating",
)
# lastCheck marks the analysis check last counted in failedChecks, so that a repeated write
# (after a lost answer) does not count it twice.
STATUS_FIELDS = ("phase", "canaryWeight", "failedChecks", "iterations", "lastAppliedSpec",
                 "lastPromotedSpec", "trackedConfigs", "lastCheck")
# The phases in which Flagger's setStatusPhase keeps canaryWeight and iterations; moving to any
# other sets both to 0. The role also keeps them in WaitingPromotion (see phase_resets).
KEEPS_PROGRESS = ("Progressing", "Waiting", "Promoting", "WaitingPromotion")
# Phases in which no analysis check can still be counted: lastCheck is dropped there.
AT_REST = ("Initializing", "Initialized", "Finalising", "Succeeded", "Failed", "Terminating")


def phase_resets(phase):
    """The status fields writing ``phase`` resets, as Flagger's scheduler resets them.

    Every phase but Progressing, Waiting and Promoting sets canaryWeight and iterations to 0
    (setStatusPhase), so a finished release shows ``iterations: 0``; a rollback to Failed also
    sets failedChecks to 0 (its SyncStatus writes a fresh status). Flagger's WaitingPromotion
    sets the weight to 0 and iterations to the analysis' iterations - 1 while the traffic is
    still split; the role keeps both there. Values given with the phase win over these.
    """
    if phase is None or phase in KEEPS_PROGRESS:
        return {}
    resets = {"canaryWeight": 0, "iterations": 0}
    if phase == "Failed":
        resets["failedChecks"] = 0
    return resets


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
    status.update(phase_resets(changes.get("phase")))
    if changes.get("phase") in AT_REST:
        # The analysis is over; the marker of its last counted check has nothing left to guard.
        status.pop("lastCheck", None)
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


def owner_reference(canary_obj):
    """Ties generated objects to the Canary, so deleting it cleans them up as in Flagger."""
    metadata = (canary_obj or {}).get("metadata") or {}
    if not metadata.get("uid"):
        return None
    return {"apiVersion": CANARY_API_VERSION, "kind": "Canary", "name": metadata["name"],
            "uid": metadata["uid"], "controller": True, "blockOwnerDeletion": True}


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
                 check_mode=False, now=None, known=None, on_written=None):
    """Write ``changes`` to the Canary's status subresource.

    The write carries the resourceVersion that was read; on 409 Conflict or a transient fault
    the Canary is read again and the changes re-applied to the fresh status, so concurrent
    writers never lose each other's fields. ``changes`` may also be a function of the current
    status returning the changes (for increments such as failedChecks + 1, computed on the
    freshest count; such a function must recognise its own change, see update_guarded).
    Returns ``(changed, before, after)`` statuses.

    ``known`` is the Canary as the caller just read it: the first attempt writes on top of it
    without reading again (a stale one costs a 409 and a re-read, never a lost change).
    ``on_written(canary)`` (optional) is given the Canary as the server answered the write, the
    ``known`` of a caller's next write.
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
        if on_written is not None and written:
            on_written(copy.deepcopy(written))
        return written

    if check_mode:
        obj = read()
        changed = mutate(obj) is not None
        return changed, seen["before"], seen["after"]
    with api_action(action):
        update_guarded(read, mutate, write, action)
    if "written" in seen:
        return True, seen["before"], seen["written"]
    return bool(seen.get("maybe_written")), seen["before"], seen["after"]
