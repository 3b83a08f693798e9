# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events about a Canary, in Flagger's words.

Event wording lives in EVENT_TEMPLATES and nowhere else, so ``kubectl describe canary/X`` reads as
users of Flagger expect; a repeated Event is counted rather than duplicated.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re
import string

from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError, InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import ConflictError, api_action, get_object, get_resource, read_once
from ansible_collections.progressive.delivery.plugins.module_utils.names import primary_name
from ansible_collections.progressive.delivery.plugins.module_utils.retry import call_with_retry, update_guarded
from ansible_collections.progressive.delivery.plugins.module_utils.status import CANARY_API_VERSION, now_rfc3339

EVENT_SOURCE = "progressive-delivery"
EVENT_REASON = "Synced"

# The words Flagger uses, keyed by what happened. ``{canary}`` is ``name.namespace`` of the
# Canary, ``{target}`` of the target Deployment, ``{primary}`` of its primary copy.
EVENT_TEMPLATES = {
    "initialized": ("Normal", "Initialization done! {canary}"),
    "suspended": ("Normal", "skipping canary run as object is suspended"),
    "new_revision": ("Normal", "New revision detected! Scaling up {target}"),
    "restart_analysis": ("Normal", "New revision detected! Restarting analysis for {target}"),
    "canary_not_ready": ("Normal", "Waiting for {target} rollout to finish: {detail}"),
    # Flagger's IsCanaryReady error, recorded on each tick that halts for it.
    "canary_unready": ("Warning", "canary {kind} {target} not ready: {detail}"),
    "starting_analysis": ("Normal", "Starting canary analysis for {target}"),
    "pre_rollout_passed": ("Normal", "Pre-rollout check {hook} passed"),
    "pre_rollout_failed": ("Warning", "Halt {canary} advancement pre-rollout check {hook} failed {detail}"),
    "confirm_rollout_passed": ("Normal", "Confirm-rollout check {hook} passed"),
    "waiting_approval": ("Warning", "Halt {canary} advancement waiting for approval {hook}"),
    "waiting_traffic_increase": ("Warning", "Halt {canary} advancement waiting for traffic increase approval {hook}"),
    "waiting_promotion": ("Warning", "Halt {canary} advancement waiting for promotion approval {hook}"),
    "advance": ("Normal", "Advance {canary} canary weight {weight}"),
    "advance_primary": ("Normal", "Advance {canary} primary weight {weight}"),
    "halt": ("Warning", "Halt {canary} advancement {detail}"),
    # A check without data, in the three forms of Flagger's scheduler_metrics.go: a built-in
    # check (its provider is the mesh provider, traefik; {error} is what its query said), an
    # inline spec.analysis.metrics[].query, and a MetricTemplate.
    "halt_no_values_builtin": ("Warning", "Halt advancement no values found for {provider} metric {metric} probably {target} is not receiving traffic{error}"),
    "halt_no_values_query": ("Warning", "Halt advancement no values found for metric: {metric}"),
    "halt_no_values_template": ("Warning", "Halt advancement no values found for custom metric: {metric}: {error}"),
    # The primary not ready yet while a Canary is initialised (Flagger's IsPrimaryReady error).
    "initialising_primary_not_ready": ("Warning", "{primary} not ready: {detail}"),
    # Ours: an inconclusive judge that pauses (spec.analysis.judge.inconclusive: pause).
    "paused_inconclusive": ("Warning", "Halt {canary} advancement {detail}; paused for a decision: promote or abort"),
    "halt_webhook": ("Warning", "Halt {canary} advancement external check {hook} failed {detail}"),
    "copying": ("Normal", "Copying {target} template spec to {primary}"),
    "primary_not_ready": ("Normal", "Waiting for {primary} rollout to finish: {detail}"),
    "routing_to_primary": ("Normal", "Routing all traffic to primary"),
    "promoted": ("Normal", "Promotion completed! Scaling down {target}"),
    "promoted_skipped": ("Normal", "Promotion completed! Canary analysis was skipped for {target}"),
    "post_rollout_passed": ("Normal", "Post-rollout check {hook} passed"),
    "post_rollout_failed": ("Warning", "Post-rollout hook {hook} failed {detail}"),
    "rollback_threshold": ("Warning", "Rolling back {canary} failed checks threshold reached {failed_checks}"),
    "rollback_deadline": ("Warning", "Rolling back {canary} progress deadline exceeded {detail}"),
    "rollback_manual": ("Warning", "Rolling back {canary} manual webhook invoked"),
    "rollback_check_passed": ("Warning", "Rollback check {hook} passed"),
    "failed": ("Warning", "Canary failed! Scaling down {canary}"),
    "aborted": ("Warning", "Canary failed! Scaling down {canary} (aborted by an operator)"),
    "terminating": ("Normal", "Terminating canary {canary}"),
    "promoted_by_operator": ("Normal", "Promotion completed! Scaling down {target} (promoted by an operator)"),
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
    names = _names(canary)
    names.update(values)
    try:
        return event_type, text.format(**names)
    except KeyError as exc:
        raise InvalidInput("event template {0} needs the value {1}".format(template, exc))


# What a built-in check's error reads in Flagger when its query found nothing: the observer's
# wrapping of the provider's "no values found". Flagger's request-duration event leaves it out.
_BUILTIN_NO_VALUES_ERROR = {
    "request-success-rate": ": running query failed: no values found",
    "request-duration": "",
}
NO_DATA_VERDICT = "no_data"


def metric_halt_event(canary, result, provider="traefik"):
    """``(type, message)`` of the Halt event for a metric ``result`` of the analysis that did not
    pass (``name``, ``verdict`` and ``msg`` as the analysis reports them), in Flagger's words.

    Without data the words depend on the kind of the metric in the Canary (built-in, inline
    query, MetricTemplate); with a value they are ``Halt <canary> advancement <msg>``.
    """
    if result.get("verdict") != NO_DATA_VERDICT:
        return event_message("halt", canary, detail=result["msg"])
    metric = result["name"]
    spec = next((m for m in (canary.get("analysis") or {}).get("metrics") or []
                 if m.get("name") == metric), {})
    if spec.get("template_ref"):
        # The provider's own error follows the metric's name in Flagger; ours says why too.
        reason = result.get("msg") or ""
        marker = "no values found"
        error = reason[reason.index(marker):] if marker in reason else marker
        return event_message("halt_no_values_template", canary, metric=metric, error=error)
    if spec.get("query"):
        return event_message("halt_no_values_query", canary, metric=metric)
    return event_message("halt_no_values_builtin", canary, provider=provider, metric=metric,
                         error=_BUILTIN_NO_VALUES_ERROR.get(metric, ": no values found"))


def primary_not_ready_detail(detail, primary):
    """A readiness message of the primary as Flagger words it after ``<primary> not ready:``,
    which names the Deployment once, before it: ``waiting for rollout to finish: ...``."""
    return (detail or "").replace("waiting for {0} rollout".format(primary), "waiting for rollout", 1)


def _names(canary):
    target = canary["target"]["name"]
    return {
        "canary": _dotted(canary["name"], canary["namespace"]),
        "target": _dotted(target, canary["namespace"]),
        "primary": _dotted(primary_name(target), canary["namespace"]),
    }


def parse_event(template, canary, message):
    """The values ``message`` fills into ``template`` for this Canary, or None when it is not
    worded by that template: the inverse of event_message, so a reason the role words (a
    rollback's) is recognised by the same table that words it."""
    names = _names(canary)
    pattern = []
    for literal, field, _spec, _conversion in string.Formatter().parse(EVENT_TEMPLATES[template][1]):
        pattern.append(re.escape(literal))
        if field is None:
            continue
        if field in names:
            pattern.append(re.escape(names[field]))
        else:
            pattern.append("(?P<{0}>.*)".format(field))
    found = re.match("".join(pattern) + r"\Z", (message or "").strip(), re.S)
    return found.groupdict() if found else None


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
    with api_action(action):
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
