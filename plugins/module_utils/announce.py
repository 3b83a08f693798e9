# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything Flagger does with an event about a Canary (private to this collection).

Flagger records each event as a Kubernetes Event and hands it to the Canary's ``event`` webhooks,
or, when the Canary has none, to the controller's global event webhook (``-event-webhook``). At
some moments of a release it also alerts: a new revision, a gate waiting for approval, a rollback,
a promotion. Those moments and their words are ALERT_POINTS, keyed by the Event template of the
same moment, so an alert never goes out without its Event and is worded in one place.

Delivery problems are reported in the result and never stop a release, as in Flagger, which
logs them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    emit_event,
    parse_event,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
)
from ansible_collections.progressive.delivery.plugins.module_utils.notifiers import (
    NotifierError,
    build_alert,
    post_alert,
    resolve_alert_target,
    severity_matches,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    build_event_payload,
    run_webhooks,
    select_hooks,
)

# Event template: (alert text, severity, whether the Canary's settings go along as fields).
ALERT_POINTS = {
    "initialized": ("New {kind} detected, initialization completed.", "info", True),
    "new_revision": ("New revision detected, progressing canary analysis.", "info", True),
    "waiting_approval": ("Canary is waiting for approval.", "warn", False),
    "waiting_traffic_increase": ("Canary traffic increase is waiting for approval.", "warn", False),
    "waiting_promotion": ("Canary promotion is waiting for approval.", "warn", False),
    "rollback_manual": ("Rolling back manual webhook invoked", "warn", False),
    "rollback_threshold": ("Failed checks threshold reached {failed_checks}", "error", False),
    "rollback_deadline": ("Progress deadline exceeded {detail}", "error", False),
    "promoted": ("Canary analysis completed successfully, promotion finished.", "info", False),
    "promoted_skipped": ("Canary analysis was skipped, promotion finished.", "info", False),
}
# A gate's alert is left out when the hook that holds the release sets muteAlert.
GATE_HOOK_TYPES = {
    "waiting_approval": "confirm-rollout",
    "waiting_traffic_increase": "confirm-traffic-increase",
    "waiting_promotion": "confirm-promotion",
}
GLOBAL_EVENT_HOOK_NAME = "events"


class Signals(object):
    """The controller-wide settings Flagger takes as flags: a global event webhook, the alert
    providers used for a Canary without ``analysis.alerts`` and the cluster's name."""

    def __init__(self, event_webhook=None, alert_providers=None, cluster_name=None):
        self.event_webhook = event_webhook or None
        self.alert_providers = list(alert_providers or [])
        self.cluster_name = cluster_name or None

    @classmethod
    def from_params(cls, params):
        return cls(params.get("event_webhook"), params.get("alert_providers"),
                   params.get("cluster_name"))


def alert_for(canary, template=None, values=None, message=None, rolling_back=False):
    """``(text, severity, with_metadata)`` of the alert Flagger sends with this Event, or None.

    Without ``template`` the message is matched against the alerting Events' wordings. A
    rollback's reason (``rolling_back``) in words of our own (a gate that timed out, an
    interrupted run) alerts as an error with the reason as its text.
    """
    values = dict(values or {})
    if template is None:
        template, values = recognise(canary, message)
        if template is None and rolling_back:
            return message, "error", False
    if template not in ALERT_POINTS:
        return None
    if template in GATE_HOOK_TYPES and _muted(canary, GATE_HOOK_TYPES[template], values.get("hook")):
        return None
    text, severity, metadata = ALERT_POINTS[template]
    values.setdefault("kind", canary["target"].get("kind") or "Deployment")
    return text.format(**values), severity, metadata


def recognise(canary, message):
    """``(template, values)`` of the alerting Event ``message`` is worded by, or ``(None, {})``."""
    for template in ALERT_POINTS:
        found = parse_event(template, canary, message)
        if found is not None:
            return template, found
    return None, {}


def _muted(canary, hook_type, hook_name):
    for hook in select_hooks(canary["analysis"].get("webhooks"), hook_type):
        if hook.get("name") == hook_name:
            return bool(hook.get("mute_alert"))
    return False


def alert_fields(canary, with_metadata, cluster_name=None):
    """The fields of an alert: the cluster's name, then (for the alerts Flagger sends them with)
    the target, the threshold, the deadline and how traffic is routed."""
    fields = []
    if cluster_name:
        fields.append({"name": "Cluster", "value": cluster_name})
    if not with_metadata:
        return fields
    analysis = canary["analysis"]
    target = canary["target"]
    fields += [
        {"name": "Target", "value": "{0}/{1}.{2}".format(
            target.get("kind") or "Deployment", target["name"], canary["namespace"])},
        {"name": "Failed checks threshold", "value": str(analysis["threshold"])},
        {"name": "Progress deadline", "value": "{0}s".format(canary["progress_deadline_seconds"])},
    ]
    if analysis.get("match"):
        fields.append({"name": "Traffic routing", "value": "A/B Testing"})
    elif analysis.get("iterations"):
        fields.append({"name": "Traffic routing", "value": "Blue/Green"})
    elif analysis.get("step_weight"):
        fields.append({"name": "Traffic routing", "value": "Weight step: {0} max: {1}".format(
            analysis["step_weight"], analysis["max_weight"])})
    elif analysis.get("step_weights"):
        fields.append({"name": "Traffic routing", "value": "Weight steps: {0} max: {1}".format(
            ",".join(str(w) for w in analysis["step_weights"]), analysis["max_weight"])})
    return fields


def alert_targets(client, canary, signals):
    """``(targets, problems)``: the Canary's AlertProviders, or the global providers when it
    lists none, as Flagger chooses. An AlertProvider that cannot be read is a problem for that
    one target only."""
    alerts = canary["analysis"].get("alerts") or []
    if not alerts:
        return [dict(entry, name=entry.get("name") or entry["provider"])
                for entry in signals.alert_providers], []

    def get(api_version, kind, namespace, name):
        obj = get_object(get_resource(client, api_version, kind), namespace, name)
        if obj is None:
            raise ValueError("{0} {1}/{2} not found".format(kind, namespace, name))
        return obj

    targets, problems = [], []
    for alert in alerts:
        try:
            targets.append(resolve_alert_target(alert, get))
        except (ValueError, DeliveryError) as exc:
            problems.append({"name": alert.get("name") or alert["provider_ref"]["name"],
                             "sent": False, "msg": str(exc)})
    return targets, problems


def send_alert(client, canary, signals, text, severity, with_metadata):
    """Post one alert to every target whose severity filter lets it through; one result each."""
    targets, results = alert_targets(client, canary, signals)
    fields = alert_fields(canary, with_metadata, signals.cluster_name)
    for target in targets:
        entry = {"name": target["name"], "provider": target["provider"], "sent": False,
                 "text": text, "severity": severity}
        results.append(entry)
        if not severity_matches(target.get("alert_severity") or "info", severity):
            entry["msg"] = "not sent: severity {0} is below this target's {1}".format(
                severity, target.get("alert_severity"))
            continue
        payload = build_alert(target["provider"], canary["name"], canary["namespace"], text,
                              fields, severity, username=target.get("username"),
                              channel=target.get("channel"))
        try:
            post_alert(target["provider"], target["url"], payload, token=target.get("token"),
                       proxy=target.get("proxy"))
        except (NotifierError, ValueError) as exc:
            entry["msg"] = str(exc)
            continue
        entry.update(sent=True, msg="{0} alert sent".format(target["provider"]))
    return results


def send_to_event_hooks(canary, canary_obj, event_type, message, sender, signals, phase=None):
    """Hand the event to the Canary's ``event`` webhooks, or to the global event webhook when
    the Canary has none; the results of the calls."""
    hooks = select_hooks(canary["analysis"].get("webhooks"), "event")
    if not hooks and signals.event_webhook:
        hooks = [{"name": GLOBAL_EVENT_HOOK_NAME, "type": "event", "url": signals.event_webhook}]
    if not hooks:
        return []
    status = (canary_obj or {}).get("status") or {}
    payload = build_event_payload(canary["name"], canary["namespace"],
                                  phase or status.get("phase") or "",
                                  status.get("lastAppliedSpec"), message, event_type)
    return run_webhooks(hooks, "event", payload, sender)["results"]


def announce(client, canary, canary_obj, event_type, message, sender, signals=None,
             template=None, values=None, rolling_back=False, phase=None, reason=None):
    """Record the Event, send it to the event webhooks and send the alert of this moment.

    Returns ``{"event": the Event written, "event_hooks": [...], "alerts": [...]}``.
    """
    signals = signals or Signals()
    kwargs = {"event_type": event_type}
    if reason:
        kwargs["reason"] = reason
    written = emit_event(client, canary_obj, message, **kwargs)
    outcome = {"event": written, "event_hooks": [], "alerts": []}
    outcome["event_hooks"] = send_to_event_hooks(canary, canary_obj, event_type, message, sender,
                                                 signals, phase)
    alert = alert_for(canary, template, values, message, rolling_back)
    if alert is not None:
        outcome["alerts"] = send_alert(client, canary, signals, *alert)
    return outcome
