#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_status
short_description: Record a Canary's status and a Flagger-worded event
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Writes the given fields of a C(Canary)'s status (Flagger's field names) through the status
    subresource, so C(kubectl get canaries) shows STATUS and WEIGHT as with Flagger. Fields not
    given are kept.
  - A phase change moves C(lastTransitionTime) and the C(Promoted) condition the way Flagger
    derives it from the phase, unless O(condition) is given.
  - O(transition) names a step of a release instead; the phase, the status fields and the Event
    that step writes come from one table, the release's state machine, so every playbook records
    a step the same way.
  - Records a Kubernetes Event about the Canary (reason C(Synced)), worded as Flagger words it when
    the C(template) key of O(event) is used; an identical event repeated is counted rather than duplicated, so
    C(kubectl describe canary/NAME) reads like Flagger's.
  - Every Event is also sent, as in Flagger, to the Canary's C(event) webhooks (or, when it has
    none, to O(event_webhook)), and the Events of the moments Flagger alerts at (initialization, a
    new revision, a gate waiting for approval, a rollback, a promotion) send Flagger's alert to
    the Canary's C(analysis.alerts) AlertProviders (or, when it lists none, to O(alert_providers)).
    Delivery problems are returned, never fatal.
  - The status write carries the resourceVersion it read; on a conflict the Canary is read again
    and the fields re-applied, so concurrent writers do not lose each other's changes.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.attributes
  - progressive.delivery.signals
  - progressive.delivery.pushgateway
attributes:
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: The status write is idempotent; an event is recorded on every run (repeats raise its count).
options:
  name:
    description: Name of the Canary.
    type: str
    required: true
  namespace:
    description: Namespace of the Canary.
    type: str
    required: true
  transition:
    description:
      - A step of a release, which sets the phase, resets the status fields and records the Event
        Flagger records for it. Fields given next to it (such as O(last_applied_spec)) are written
        with it.
      - C(analysis_started) (Progressing, weight, failed checks and iterations 0);
        C(analysis_restarted) (the same, with Flagger's "Restarting analysis" Event);
        C(scaling_up) and C(checks_started) (Events only); C(rolling_back) (the reason of a
        rollback, given as O(event), which is also sent as Flagger's rollback alert);
        C(waiting_promotion);
        C(promoting); C(finalising) (weight 0); C(succeeded) (weight 0, "Promotion completed!",
        worded for a skipped analysis when C(spec.skipAnalysis) is set); C(failed) (weight 0,
        "Canary failed!"); C(aborted) and C(promoted_by_operator) (the operator playbooks);
        C(suspended) (an Event only).
      - Mutually exclusive with O(phase). O(event) may only be given with a transition that records
        none of its own.
    type: str
    choices:
      - suspended
      - analysis_started
      - analysis_restarted
      - scaling_up
      - checks_started
      - rolling_back
      - waiting_promotion
      - promoting
      - finalising
      - succeeded
      - failed
      - aborted
      - promoted_by_operator
    version_added: 0.3.0
  phase:
    description: The new phase.
    type: str
    choices: [Initializing, Initialized, Waiting, Progressing, WaitingPromotion, Promoting, Finalising, Succeeded, Failed, Terminating]
  canary_weight:
    description: Share of traffic on the canary, 0-100.
    type: int
  failed_checks:
    description: Failed checks so far in this analysis.
    type: int
  iterations:
    description: Iterations so far.
    type: int
  last_applied_spec:
    description: Revision being analysed.
    type: str
  last_promoted_spec:
    description: Revision last promoted.
    type: str
  tracked_configs:
    description: Checksums of the tracked ConfigMaps and Secrets, keyed C(configmap/NAME) or C(secret/NAME).
    type: dict
  condition:
    description:
      - A condition to set instead of the one derived from O(phase), with the keys of a Flagger
        condition, C(type) (default C(Promoted)), C(status) (C(True), C(False) or C(Unknown),
        required), C(reason) and C(message).
    type: dict
  event:
    description:
      - An event to record about the Canary, with the keys C(message) (the text, verbatim) or
        C(template) (one of Flagger's messages, worded for this Canary) with C(values) (what the
        template needs, such as C(weight), C(detail), C(hook), C(failed_checks)); C(type)
        (C(Normal) or C(Warning); defaults to the template's own, Warning for halts, rollbacks
        and failures, else Normal) and C(reason) (default C(Synced)).
      - "Templates include C(advance) (C(Advance podinfo.test canary weight 10)), C(halt),
        C(rollback_threshold), C(failed), C(promoted), C(new_revision), C(copying),
        C(routing_to_primary), C(starting_analysis), C(initialized); an unknown one fails with
        the full list."
    type: dict
seealso:
  - module: progressive.delivery.canary_info
"""

EXAMPLES = r"""
- name: Advance the weight, as Flagger reports it
  progressive.delivery.canary_status:
    name: podinfo
    namespace: test
    phase: Progressing
    canary_weight: 10
    event:
      template: advance
      values:
        weight: 10

- name: Record a failed check
  progressive.delivery.canary_status:
    name: podinfo
    namespace: test
    failed_checks: 2
    event:
      template: halt
      values:
        detail: success rate 53.42% < 99%

- name: Record that the promotion starts (phase Promoting, "Copying ... template spec" Event)
  progressive.delivery.canary_status:
    name: podinfo
    namespace: test
    transition: promoting
"""

RETURN = r"""
status:
  description: The Canary's status after the task (predicted in check mode).
  returned: success
  type: dict
  sample: {"phase": "Progressing", "canaryWeight": 10, "failedChecks": 0, "lastTransitionTime": "2026-11-26T18:30:00Z"}
previous:
  description: The status before the task.
  returned: success
  type: dict
event:
  description: The Event recorded (or that would be), with its C(count).
  returned: when O(event) was given
  type: dict
  sample: {"message": "Advance podinfo.test canary weight 10", "type": "Normal", "count": 1}
event_hooks:
  description: The calls of the event webhooks the Event was sent to, with their HTTP status.
  returned: when an Event was recorded
  type: list
  elements: dict
  sample: [{"name": "events", "type": "event", "status": 200, "passed": true}]
alerts:
  description:
    - One entry per alert target of this Event's alert, with C(sent), C(text), C(severity) and
      C(msg); empty for an Event Flagger sends no alert with.
  returned: when an Event was recorded
  type: list
  elements: dict
  sample: [{"name": "on-call", "provider": "slack", "sent": true, "severity": "info",
            "text": "New revision detected, progressing canary analysis."}]
pushgateway:
  description:
    - The metrics pushed to O(pushgateway) after the status was written (C(pushed)) and why a push
      failed (C(problems), also given as warnings).
    - C(flagger_canary_status) and C(flagger_canary_weight) every time,
      C(flagger_canary_successes_total) or C(flagger_canary_failures_total) when the phase became
      Succeeded or Failed, and C(flagger_canary_total), the namespace's number of Canaries.
  returned: when O(pushgateway) is set and not in check mode
  type: dict
  sample: {"pushed": ["flagger_canary_status", "flagger_canary_weight", "flagger_canary_total"], "problems": []}
"""

from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
    announce,
)
from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    NAME_ARG_SPEC,
    PUSHGATEWAY_ARG_SPEC,
    SIGNALS_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.flagger_metrics import (
    canary_metrics,
    count_canaries,
    push_safely,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    require_dns_label,
)
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    TRANSITIONS,
    transition as release_transition,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    emit_event,
    event_message,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    WebhookSender,
    hide_url_secrets,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    PHASES,
    read_canary,
    validate_status_changes,
    write_status,
)

# The options that set a status field: the option, the field it sets, and its spec.
FIELDS = (
    ("phase", "phase", dict(type="str", choices=list(PHASES))),
    ("canary_weight", "canaryWeight", dict(type="int")),
    ("failed_checks", "failedChecks", dict(type="int")),
    ("iterations", "iterations", dict(type="int")),
    ("last_applied_spec", "lastAppliedSpec", dict(type="str")),
    ("last_promoted_spec", "lastPromotedSpec", dict(type="str")),
    ("tracked_configs", "trackedConfigs", dict(type="dict")),
)


def argument_spec():
    return module_argument_spec(
        NAME_ARG_SPEC, SIGNALS_ARG_SPEC, PUSHGATEWAY_ARG_SPEC,
        dict((option, spec) for option, _field, spec in FIELDS),
        transition=dict(type="str", choices=list(TRANSITIONS)),
        condition=dict(type="dict"),
        event=dict(type="dict"),
    )


EVENT_KEYS = ("message", "template", "values", "type", "reason")
CONDITION_KEYS = ("type", "status", "reason", "message")


def _check_keys(option, value, allowed):
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise InvalidInput("{0} has unknown keys {1}; allowed: {2}".format(
            option, ", ".join(unknown), ", ".join(allowed)))


def validate_event(event):
    """Refuse a malformed event before anything is written."""
    _check_keys("event", event, EVENT_KEYS)
    if bool(event.get("message")) == bool(event.get("template")):
        raise InvalidInput("event needs exactly one of event.message (the text) or "
                           "event.template (one of Flagger's messages)")
    if event.get("type") not in (None, "Normal", "Warning"):
        raise InvalidInput("event.type must be Normal or Warning; got {0!r}".format(
            event.get("type")))
    if event.get("values") is not None and not isinstance(event["values"], dict):
        raise InvalidInput("event.values must be a mapping")


def validate_condition(condition):
    _check_keys("condition", condition, CONDITION_KEYS)
    if condition.get("status") not in ("True", "False", "Unknown"):
        raise InvalidInput("condition.status must be one of True, False, Unknown; got "
                           "{0!r}".format(condition.get("status")))


def _named_canary(canary_obj):
    try:
        return parse_canary(canary_obj)
    except InvalidInput:
        # Events and transitions only need the names; a Canary whose spec we would refuse still
        # has them.
        spec = canary_obj.get("spec") or {}
        meta = canary_obj.get("metadata") or {}
        return {"name": meta.get("name"), "namespace": meta.get("namespace"),
                "target": {"name": (spec.get("targetRef") or {}).get("name"),
                           "kind": (spec.get("targetRef") or {}).get("kind")},
                "skip_analysis": bool(spec.get("skipAnalysis")),
                "analysis": {"webhooks": [], "alerts": []}}


def _event_text(event, canary):
    if event.get("message"):
        return event.get("type") or "Normal", event["message"]
    event_type, message = event_message(event["template"], canary, **(event.get("values") or {}))
    return event.get("type") or event_type, message


def _check_transition(params):
    """Refuse a transition given with what it decides itself, before anything is read."""
    name = params["transition"]
    if name is None:
        return
    phase, _fields, template = TRANSITIONS[name]
    if params["phase"] is not None:
        raise InvalidInput("give either transition or phase: transition {0} sets the phase{1}".format(
            name, " to {0}".format(phase) if phase else " (it keeps the current one)"))
    if template and params["event"] is not None:
        raise InvalidInput("event cannot be given with transition {0}, which records its own event "
                           "(template {1})".format(name, template))


def run(module):
    params = module.params
    namespace = require_dns_label("namespace", params["namespace"])
    changes = dict((field, params[option]) for option, field, _spec in FIELDS if params[option] is not None)
    validate_status_changes(changes)
    if params["event"] is not None:
        validate_event(params["event"])
    if params["condition"] is not None:
        validate_condition(params["condition"])
    _check_transition(params)
    client = get_dynamic_client(module)
    canary_obj = read_canary(client, namespace, params["name"])
    if canary_obj is None:
        raise DeliveryError("Canary {0}/{1} not found; canary_init registers a Canary given as a "
                            "file".format(namespace, params["name"]))
    canary = _named_canary(canary_obj)
    metrics = canary_metrics(params, canary)
    event = params["event"]
    if params["transition"]:
        phase, fields, template = release_transition(params["transition"], canary)
        fields.update(changes)
        changes = fields
        if phase:
            changes["phase"] = phase
        if template:
            event = {"template": template}
    event_type = message = None
    if event:
        event_type, message = _event_text(event, canary)
    target_kind = ((canary_obj.get("spec") or {}).get("targetRef") or {}).get("kind") or \
        "Deployment"
    condition = None
    if params["condition"]:
        condition = dict((key, value) for key, value in params["condition"].items()
                         if value is not None)
        condition.setdefault("type", "Promoted")
    changed, before, after = write_status(client, namespace, params["name"], changes,
                                          condition=condition, target_kind=target_kind,
                                          check_mode=module.check_mode)
    result = {"changed": changed, "status": after, "previous": before,
              "diff": {"before": before, "after": after}}
    if message is not None and module.check_mode:
        event = emit_event(client, canary_obj, message, event_type,
                           reason=event.get("reason") or "Synced", check_mode=True)
    elif message is not None:
        hide_url_secrets(module, canary["analysis"].get("webhooks"))
        canary_obj["status"] = after
        outcome = announce(client, canary, canary_obj, event_type, message,
                           WebhookSender(api_client=lambda: client.client),
                           Signals.from_params(params), template=event.get("template"),
                           values=event.get("values"),
                           rolling_back=params["transition"] == "rolling_back",
                           reason=event.get("reason"))
        event = outcome["event"]
        result["event_hooks"] = outcome["event_hooks"]
        result["alerts"] = outcome["alerts"]
    if metrics is not None and not module.check_mode:
        push_status_metrics(module, result, metrics, client, before, after)
    if message is not None:
        result["event"] = {"name": event["metadata"]["name"], "message": event["message"],
                           "type": event["type"], "reason": event["reason"],
                           "count": event.get("count", 1)}
        result["changed"] = True
    return result


FINISHED = {"Succeeded": "succeeded", "Failed": "failed"}


def push_status_metrics(module, result, metrics, client, before, after):
    """Flagger's status and weight gauges after every status write, its successes or failures
    counter when the phase became Succeeded or Failed, and the namespace's number of Canaries."""
    phase = (after or {}).get("phase")
    finished = FINISHED.get(phase) if phase != (before or {}).get("phase") else None
    push_safely(module, result, lambda: metrics.record_status(
        phase, (after or {}).get("canaryWeight"), finished))
    push_safely(module, result, lambda: metrics.record_total(
        count_canaries(client, metrics.namespace)))


def main():
    run_module(run, argument_spec())


if __name__ == "__main__":
    main()
