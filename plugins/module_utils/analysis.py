# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One analysis tick of a canary at a given weight (private to this collection).

A tick is what Flagger's scheduler does once per ``interval``: wait, make sure the target has not
changed, run the rollout webhooks, evaluate every metric, then either record the weight as passed
or count one failed check. The failed-check count lives in the Canary's status in the cluster, so
an interrupted play, a retry loop and a second controller all see the same cumulative number.

Pure decisions (what to query, how a tick is judged, what to say) are separate functions so they
can be tested without a cluster; ``run_tick`` does the I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import uuid

from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    canary_from_option,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import (
    INCONCLUSIVE_PAUSE,
    default_judge,
    parse_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.comparison import (
    comparison_error,
    plan_comparison,
    run_comparison,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
    MissingLibrary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.judge import (
    SCORE_FAIL,
    SCORE_INCONCLUSIVE,
    SCORE_PASS,
    judge_score,
    score,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_object,
    get_resource,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    METRIC_TEMPLATE_API_VERSION,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import (
    build_provider,
    plan_check,
    run_check,
)
from ansible_collections.progressive.delivery.plugins.module_utils.names import (
    canary_names,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    EVENT_TEMPLATES,
    event_message,
    metric_halt_event,
)
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    PAUSED_PHASE,
    paused_condition,
)
from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    announce,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    read_canary,
    write_status,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.base import (
    FULLY_READY,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.deployment import (
    rfc3339_seconds,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.thresholds import (
    ERROR,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    WebhookSender,
    build_event_payload,
    build_payload,
    plan_webhooks,
    run_webhooks,
)

PASSED = "passed"
FAILED = "failed"
WAITING = "waiting"
PAUSED = "paused"
REVISION_CHANGED = "revision_changed"
THRESHOLD_REACHED = "threshold_reached"
PROGRESSING = "Progressing"
WAITING_PROMOTION = "WaitingPromotion"
# Kubernetes' default progressDeadlineSeconds, which Flagger's Canary defaults to as well.
DEFAULT_PROGRESS_DEADLINE = 600


# --- pure decisions ------------------------------------------------------------------------

def metric_check_params(canary, metric, provider, template=None):
    """The parameters metric_check would get for one metric of the Canary.

    Built-in checks are keyed by the canary Service and its port (Traefik's ``service`` label),
    which is right even when ``spec.service.name`` differs from the target's name; templates see
    ``{{ service }}`` as the apex Service and ``{{ target }}`` as the target, as in Flagger.
    """
    names = canary_names(canary)
    params = {
        "name": metric["name"],
        "metric": None,
        "query": None,
        "template": None,
        "template_ref": None,
        "template_variables": metric.get("template_variables") or {},
        "threshold_range": metric["threshold_range"],
        "interval": metric.get("interval") or "1m",
        "namespace": canary["namespace"],
        "target": names["target"],
        "service": names["apex_service"],
        "canary_service": names["canary_service"],
        "primary_service": names["primary_service"],
        "canary_name": canary["name"],
        "port": canary["service"].get("port"),
        "provider": provider,
    }
    if template is not None:
        params["template"] = template
    elif metric.get("query"):
        params["query"] = metric["query"]
    else:
        params["metric"] = metric["name"]
    return params


def provider_for(canary, metric, prometheus, template=None):
    """Where this metric's data comes from.

    A MetricTemplate that names its provider (address or Secret) is asked there; otherwise the
    module's ``prometheus`` option, then the Canary's ``spec.metricsServer`` for built-in and
    inline queries; the PROMETHEUS_URL environment variable is the last resort (applied by
    metric_check's planning).
    """
    provider = dict(prometheus or {})
    if template is not None:
        spec_provider = (template.get("spec") or {}).get("provider") or {}
        if spec_provider.get("address") or spec_provider.get("secretRef"):
            provider.pop("address", None)
        return provider
    if not provider.get("address") and canary.get("metrics_server"):
        provider["address"] = canary["metrics_server"]
    return provider


def judge_tick(hooks_summary, metric_results, gate_summary, judgement=None):
    """Decide a tick from its parts: ``(outcome, first_failure_detail)``.

    Any failing rollout hook or metric, or a judgement of the comparisons that did not pass, is
    one failed check (Flagger counts a tick, not each metric). An inconclusive judgement of a
    judge that pauses, with every hook and metric passed, pauses the release for a person to
    decide. A closed confirm-traffic-increase gate only matters when everything else passed, and
    it holds the weight without counting.
    """
    if hooks_summary and not hooks_summary["passed"]:
        return FAILED, ("webhook", hooks_summary["failed"])
    for result in metric_results:
        if not result["passed"]:
            return FAILED, ("metric", result)
    if judgement and not judgement["passed"]:
        if pauses(judgement):
            return PAUSED, ("judge", judgement)
        return FAILED, ("metric", judgement)
    if gate_summary and not gate_summary["passed"]:
        return WAITING, ("gate", gate_summary["failed"])
    return PASSED, None


def pauses(judgement):
    """Whether this judgement of the comparisons pauses the release for a person."""
    return judgement["outcome"] == SCORE_INCONCLUSIVE and \
        judgement.get("inconclusive") == INCONCLUSIVE_PAUSE


def halt_event(canary, failure):
    """``(type, message)`` of the event for a failed or held tick, in Flagger's words."""
    kind, detail = failure
    if kind == "webhook":
        return event_message(
            "halt_webhook", canary, hook=detail["name"], detail=_hook_detail(detail))
    if kind == "gate":
        return event_message(
            "waiting_traffic_increase", canary, hook=detail["name"])
    if kind == "judge":
        return event_message("paused_inconclusive", canary, detail=detail["msg"])
    return metric_halt_event(canary, detail)


def _hook_detail(result):
    """Flagger's words for a failed hook (webhooks.flagger_error); a result without them (a hook
    that was never called) is described by its message."""
    if "error" in result:
        return result["error"]
    return result["msg"]


def metric_summary(metric_results, judgement=None):
    parts = [r["msg"] for r in metric_results]
    if judgement:
        parts.append(judgement["msg"])
    return ", ".join(parts) or "no metrics"


def judge_comparisons(canary, comparisons):
    """The step's judgement of its comparisons (None without any): the Kayenta-style score and
    whether it passes; the message names the comparisons that did not pass."""
    if not comparisons:
        return None
    settings = canary["analysis"].get("judge") or default_judge()
    value = score([(c.get("group"), c["passed"]) for c in comparisons],
                  settings.get("group_weights"))
    outcome = judge_score(value, settings["pass_score"], settings["marginal_score"])
    failing = [c["msg"] for c in comparisons if not c["passed"]]
    if outcome == SCORE_PASS:
        words = "judge score {0:.0f} >= {1:g}".format(value, settings["pass_score"])
    elif outcome == SCORE_FAIL:
        words = "judge score {0:.0f} < {1:g}".format(value, settings["marginal_score"])
    else:
        words = "judge score {0:.0f} inconclusive (between {1:g} and {2:g})".format(
            value, settings["marginal_score"], settings["pass_score"])
    return {"score": value, "outcome": outcome, "passed": outcome == SCORE_PASS,
            "pass_score": settings["pass_score"], "marginal_score": settings["marginal_score"],
            "inconclusive": settings["inconclusive"],
            "msg": "; ".join([words] + failing)}


def threshold_reached(failed_checks, threshold):
    return failed_checks >= threshold


# --- I/O ---------------------------------------------------------------------------------

def load_canary(canary=None, name=None, namespace=None, client_factory=None):
    """The normalized Canary from the ``canary`` option or, by name, from the cluster.

    ``canary`` may be canary_info's normalized form or a Canary manifest (validated here with
    messages that name the field). Returns ``(normalized, cluster_object_or_None)``.
    """
    if canary is not None:
        return canary_from_option(canary, namespace), None
    if not (name and namespace):
        raise InvalidInput("either canary, or name and namespace, is required")
    client = client_factory()
    obj = read_canary(client, namespace, name)
    if obj is None:
        raise InvalidInput("Canary {0}/{1} not found".format(namespace, name))
    return parse_canary(obj), obj


class ClusterReader(object):
    """Cluster reads a tick needs, on one client."""

    def __init__(self, client):
        self.client = client

    def template(self, namespace, name):
        resource = get_resource(self.client, METRIC_TEMPLATE_API_VERSION, "MetricTemplate")
        obj = get_object(resource, namespace, name)
        if obj is None:
            raise InvalidInput("MetricTemplate {0}/{1} not found".format(namespace, name))
        return obj

    def secret(self, namespace, name):
        obj = get_object(get_resource(self.client, "v1", "Secret"), namespace, name)
        if obj is None:
            raise InvalidInput("Secret {0}/{1} not found".format(namespace, name))
        return obj

    def object(self, api_version, kind, namespace, name):
        """Any object, or None when it does not exist (for the Keptn provider)."""
        return get_object(get_resource(self.client, api_version, kind), namespace, name)

    def target(self, canary):
        """``(workload, object)`` of the Canary's target: one read serves the revision and the
        readiness of a tick."""
        workload = target_for(self.client, canary)
        return workload, workload.require(workload.name, "the Canary's target")

    def target_revision(self, canary):
        workload, obj = self.target(canary)
        revision, _tracked = workload.revision(obj)
        return revision


def evaluate_metrics(canary, prometheus, reader, provider_factory=build_provider):
    """Evaluate every metric of the Canary once, through metric_check's planning and judging.

    Each metric costs exactly one provider query. Errors (a missing template or Secret, a provider down)
    are a failed metric with verdict ``error``, as in Flagger, rather than a failed task.
    """
    results = []
    for metric in canary["analysis"]["metrics"]:
        if metric.get("compare") and metric.get("threshold_range") is None:
            continue
        entry = {"name": metric["name"], "value": None, "passed": False, "verdict": ERROR,
                 "msg": "", "query": None}
        try:
            params = _metric_params(canary, metric, prometheus, reader)
            plan = plan_check(params, load_template_ref=reader.template,
                              read_secret=reader.secret, read_object=reader.object)
            entry["query"] = plan.query
            outcome = run_check(plan, metric["threshold_range"], fail_on_no_data=True,
                                provider_factory=provider_factory)
        except DeliveryError as exc:
            entry["msg"] = "{0} check failed: {1}".format(metric["name"], exc)
            results.append(entry)
            continue
        entry.update(value=outcome["value"], passed=outcome["passed"],
                     verdict=outcome["verdict"], msg=outcome["msg"])
        results.append(entry)
    return results


def _metric_params(canary, metric, prometheus, reader):
    template = None
    if metric.get("template_ref"):
        ref = metric["template_ref"]
        template = reader.template(ref.get("namespace") or canary["namespace"], ref["name"])
    provider = provider_for(canary, metric, prometheus, template)
    return metric_check_params(canary, metric, provider, template)


def evaluate_comparisons(canary, prometheus, reader, provider_factory=build_provider):
    """Run every comparison of the Canary once: one range query per Service each.

    A comparison that cannot be run (a missing template, Prometheus down) does not pass, like a
    metric in error.
    """
    results = []
    for metric in canary["analysis"]["metrics"]:
        comparison = metric.get("compare")
        if not comparison:
            continue
        try:
            params = _metric_params(canary, metric, prometheus, reader)
            plans = plan_comparison(params, comparison, load_template_ref=reader.template,
                                    read_secret=reader.secret)
            outcome = run_comparison(plans, comparison, metric.get("interval") or "1m",
                                     metric["name"], provider_factory=provider_factory)
        except MissingLibrary:
            raise
        except DeliveryError as exc:
            outcome = comparison_error(metric["name"], exc)
        outcome["name"] = metric["name"]
        outcome["group"] = comparison.get("group")
        results.append(outcome)
    return results


def update_status_guarded(client, namespace, name, compute, check_mode=False, known=None,
                          on_written=None):
    """Read-modify-write of the Canary's status, guarded by resourceVersion.

    ``compute(status)`` returns the Flagger-named changes for the freshly read status, so an
    increment is always applied to the latest count: on 409 Conflict we read again and
    recompute. ``known`` (the Canary read earlier in this tick) saves the first read;
    ``on_written`` is given the Canary as written (see write_status).
    Returns ``(changed, before, after)``.
    """
    return write_status(client, namespace, name, compute, check_mode=check_mode,
                        known=known, on_written=on_written)


def new_tick_id():
    """Names one module call's check, so its failed-check increment is recognised if repeated."""
    return uuid.uuid4().hex[:12]


def check_marker(revision, weight, iteration, tick_id):
    return "{0}/{1}/{2}/{3}".format(revision or "-", weight, iteration, tick_id)


def count_failed_check(marker):
    """The status changes that count one failed check, once.

    An increment is not idempotent: when a write landed but its answer was lost, the retry reads
    the raised count and would raise it again. The marker of the check is written with the count,
    so finding it already there means this check was counted.
    """
    def compute(status):
        if status.get("lastCheck") == marker:
            return {}
        return {"failedChecks": int(status.get("failedChecks") or 0) + 1, "lastCheck": marker}
    return compute


def _emit(client, canary, canary_obj, event, sender, check_mode, signals=None):
    """Record the event, hand it to the event webhooks and alert where Flagger alerts."""
    event_type, message = event
    if check_mode or canary_obj is None:
        return
    announce(client, canary, canary_obj, event_type, message, sender, signals,
             phase=(canary_obj.get("status") or {}).get("phase") or PROGRESSING)


def canary_readiness(canary, workload, target_obj, canary_obj, now):
    """``(ready, retriable, message)`` of the canary workload during the analysis, judged with
    canaryReadyThreshold and the progress deadline as Flagger's IsCanaryReady does."""
    analysis = canary.get("analysis") or {}
    since = rfc3339_seconds(((canary_obj or {}).get("status") or {}).get("lastTransitionTime"))
    return workload.canary_readiness(
        target_obj, analysis.get("canary_ready_threshold", FULLY_READY),
        canary.get("progress_deadline_seconds") or DEFAULT_PROGRESS_DEADLINE, now, since)


def run_tick(client, canary, weight, revision=None, wait=0, prometheus=None, sender=None,
             check_mode=False, provider_factory=build_provider, sleep=time.sleep,
             traffic_gate=True, tick_id=None, before_write=None, signals=None,
             phase=PROGRESSING, measure=True, record_pass=True, clock=time.time,
             known=None, on_written=None):
    """Run one analysis tick at ``weight`` and return the module's result dict.

    ``tick_id`` names this call's check (one is made up when not given); see count_failed_check.
    ``before_write()`` (optional) is called after the measurement, before the tick writes the
    status or an Event; it raises to stop the tick there (the run that started it is gone).
    ``phase`` is the Canary's phase the rollback hooks are told (Progressing, or
    WaitingPromotion while a confirm-promotion gate is closed). Without ``measure`` the tick stops
    after the rollback hooks (a gate's wait before any traffic reached the canary); without
    ``record_pass`` a passing tick writes nothing (a wait at a weight already recorded).
    ``known`` is the Canary as this process just wrote it (None: the tick reads it);
    ``on_written(canary)`` is given the Canary as a passing tick's status write left it, so the
    next weight is recorded on top of it without reading it again.
    """
    namespace, name = canary["namespace"], canary["name"]
    threshold = canary["analysis"]["threshold"]
    if sender is None:
        sender = WebhookSender(api_client=lambda: client.client)
    result = {
        "changed": False,
        "weight": weight,
        "passed": False,
        "failed_checks": 0,
        "threshold": threshold,
        "threshold_reached": False,
        "revision_changed": False,
        "rollback_requested": False,
        "halted": False,
        "deadline_exceeded": False,
        "waiting": False,
        "paused": False,
        "metrics": [],
        "comparisons": [],
        "judge": None,
        "webhooks": [],
        "events": [],
        "msg": "",
    }
    canary_obj = known or read_canary(client, namespace, name)
    if canary_obj is None:
        raise DeliveryError(
            "Canary {0}/{1} not found in the cluster; the analysis keeps its failed checks in "
            "the Canary's status (canary_init registers a Canary given as a file)".format(
                namespace, name))
    current = canary_obj.get("status") or {}
    result["failed_checks"] = int(current.get("failedChecks") or 0)

    # Flagger rolls back on the tick after the threshold was reached, before analysing again.
    if threshold_reached(result["failed_checks"], threshold):
        result["threshold_reached"] = True
        result["msg"] = "{0}.{1} failed checks threshold reached {2}".format(
            name, namespace, result["failed_checks"])
        return result

    if wait and not check_mode:
        sleep(wait)

    reader = ClusterReader(client)
    # One read of the target tells whether it changed and whether it is ready.
    workload, target_obj = reader.target(canary)
    if revision:
        current_revision, _tracked = workload.revision(target_obj)
        if current_revision != revision:
            result.update(revision_changed=True, revision=current_revision, msg=(
                "{0}.{1} target changed during the analysis (revision {2}, expected {3}); "
                "the analysis restarts from weight 0".format(
                    canary["target"]["name"], namespace, current_revision, revision)))
            return result

    # As Flagger's IsCanaryReady on every tick: a canary that is not ready halts the tick without
    # a failed check, until its progress deadline is exceeded; then the release rolls back.
    ready, retriable, readiness = canary_readiness(canary, workload, target_obj, canary_obj,
                                                   clock())
    if not ready:
        event = event_message("canary_unready", canary, kind=workload.kind.lower(),
                              detail=readiness)
        if before_write is not None:
            before_write()
        _emit(client, canary, canary_obj, event, sender, check_mode, signals)
        result["events"].append(event[1])
        if retriable:
            result.update(halted=True, msg="weight {0}: {1}".format(weight, event[1]))
        else:
            result.update(deadline_exceeded=True, msg=event[1])
        return result

    hooks = canary["analysis"].get("webhooks") or []
    payload = build_payload(name, namespace, PROGRESSING, current.get("lastAppliedSpec"))
    # Flagger asks the rollback hooks on every tick, in the Canary's phase: a passing one aborts
    # the release at once.
    if not check_mode and any(h.get("type") == "rollback" for h in hooks):
        rollback = run_webhooks(hooks, "rollback",
                                build_payload(name, namespace, phase,
                                              current.get("lastAppliedSpec")), sender)
        result["webhooks"] = list(rollback["results"])
        if rollback["rollback_requested"]:
            asked = [r for r in rollback["results"] if r["passed"]][0]
            event = event_message("rollback_check_passed", canary,
                                  hook=asked["name"])
            if before_write is not None:
                before_write()
            _emit(client, canary, canary_obj, event, sender, check_mode, signals)
            result["events"].append(event[1])
            result.update(rollback_requested=True, msg="weight {0}: {1}: rollback requested".format(
                weight, event[1]))
            return result

    if not measure:
        result.update(passed=True, msg="weight {0}: no rollback requested".format(weight))
        return result

    if check_mode:
        result["webhooks"] = plan_webhooks(hooks, "rollback", sender) + plan_webhooks(
            hooks, "rollout", sender)
        hooks_summary = None
    else:
        hooks_summary = run_webhooks(hooks, "rollout", payload, sender)
        result["webhooks"] += hooks_summary["results"]

    metrics = evaluate_metrics(canary, prometheus, reader, provider_factory)
    result["metrics"] = metrics
    result["comparisons"] = evaluate_comparisons(canary, prometheus, reader, provider_factory)
    judgement = judge_comparisons(canary, result["comparisons"])
    result["judge"] = judgement

    gate_summary = None
    checks_passed = (hooks_summary is None or hooks_summary["passed"]) and all(
        m["passed"] for m in metrics) and (judgement is None or judgement["passed"])
    if traffic_gate and checks_passed:
        if check_mode:
            result["webhooks"] += plan_webhooks(hooks, "confirm-traffic-increase", sender)
        else:
            gate_summary = run_webhooks(hooks, "confirm-traffic-increase", payload, sender)
            result["webhooks"] += gate_summary["results"]

    outcome, failure = judge_tick(hooks_summary, metrics, gate_summary, judgement)
    summary = metric_summary(metrics, judgement)
    if before_write is not None:
        before_write()

    if outcome == PASSED and not record_pass:
        result.update(passed=True, msg="weight {0}: {1}: passed".format(weight, summary))
        return result
    if outcome == PASSED:
        changed, _before, after = update_status_guarded(
            client, namespace, name,
            lambda status: {"canaryWeight": weight,
                            "iterations": int(status.get("iterations") or 0) + 1},
            check_mode=check_mode, known=canary_obj, on_written=on_written)
        result.update(changed=changed, passed=True,
                      failed_checks=int(after.get("failedChecks") or 0),
                      msg="weight {0}: {1}: passed".format(weight, summary))
        return result

    event = halt_event(canary, failure)
    result["events"].append(event[1])
    if outcome == WAITING:
        _emit(client, canary, canary_obj, event, sender, check_mode, signals)
        result.update(waiting=True, msg="weight {0}: {1}".format(weight, event[1]))
        return result
    if outcome == PAUSED:
        # The weight stays where it is and nothing is counted: a person decides.
        changed, _before, _after = write_status(
            client, namespace, name, {"phase": PAUSED_PHASE, "canaryWeight": weight},
            condition=paused_condition(judgement["msg"]), check_mode=check_mode,
            known=canary_obj)
        _emit(client, canary, canary_obj, event, sender, check_mode, signals)
        result.update(changed=changed, paused=True, msg="weight {0}: {1}".format(weight, event[1]))
        return result

    marker = check_marker(revision or current.get("lastAppliedSpec"), weight,
                          int(current.get("iterations") or 0), tick_id or new_tick_id())
    changed, _before, after = update_status_guarded(
        client, namespace, name, count_failed_check(marker), check_mode=check_mode,
        known=canary_obj)
    _emit(client, canary, canary_obj, event, sender, check_mode, signals)
    failed_checks = int(after.get("failedChecks") or 0)
    result.update(
        changed=changed,
        failed_checks=failed_checks,
        threshold_reached=threshold_reached(failed_checks, threshold),
        msg="weight {0}: {1} (failed checks {2}/{3}; {4})".format(
            weight, event[1], failed_checks, threshold, summary),
    )
    return result


# --- webhooks of the other lifecycle stages -------------------------------------------------

# Event templates (status.py) per hook type: (when a hook passes, when it fails).
HOOK_EVENTS = {
    "pre-rollout": ("pre_rollout_passed", "pre_rollout_failed"),
    "rollout": (None, "halt_webhook"),
    "confirm-rollout": ("confirm_rollout_passed", "waiting_approval"),
    "confirm-traffic-increase": (None, "waiting_traffic_increase"),
    "confirm-promotion": (None, "waiting_promotion"),
    "post-rollout": ("post_rollout_passed", "post_rollout_failed"),
    "rollback": ("rollback_check_passed", None),
    "event": (None, None),
}
# Flagger counts a failing pre-rollout or rollout hook as a failed check; gates only hold.
COUNTED_HOOK_TYPES = ("pre-rollout", "rollout")
_PROGRESSING_HOOKS = ("pre-rollout", "rollout", "confirm-traffic-increase", "confirm-promotion")


def default_phase(hook_type, status):
    """The phase Flagger puts in the payload for this hook type."""
    if hook_type in _PROGRESSING_HOOKS:
        return PROGRESSING
    current = (status or {}).get("phase")
    if hook_type == "post-rollout":
        return current if current in ("Succeeded", "Failed") else "Succeeded"
    return current or PROGRESSING


def hook_events(canary, hook_type, results):
    """``[(type, message)]`` for the hooks that were called, in Flagger's words."""
    on_pass, on_fail = HOOK_EVENTS[hook_type]
    events = []
    for result in results:
        template = on_pass if result["passed"] else on_fail
        if template is None:
            continue
        values = {"hook": result["name"]}
        if "{detail}" in EVENT_TEMPLATES[template][1]:
            values["detail"] = _hook_detail(result)
        events.append(event_message(template, canary, **values))
    return events


def _confirm_rollout_transition(client, canary, canary_obj, passed, events):
    """A closed confirm-rollout gate puts the Canary in phase Waiting, and an open one back in
    Progressing, as Flagger does; its events are written only at those changes ("Halt ... waiting
    for approval" once when the wait starts, "Confirm-rollout check ... passed" when it ends), not
    at every question. Returns the events to record."""
    if client is None or canary_obj is None:
        return events
    phase = ((canary_obj.get("status") or {}).get("phase"))
    if passed == (phase != "Waiting"):
        # Still closed while Waiting, or open without having waited: nothing changes.
        return []
    new_phase = "Progressing" if passed else "Waiting"
    write_status(client, canary["namespace"], canary["name"], {"phase": new_phase},
                 known=canary_obj)
    return events


def _waiting_promotion_transition(client, canary, canary_obj, events):
    """A closed confirm-promotion gate puts the Canary in phase WaitingPromotion when it starts
    waiting, as Flagger does, and only then records its event (and alert); a gate asked again
    while the Canary waits records nothing. Returns the events to record."""
    if client is None or canary_obj is None:
        return events
    if (canary_obj.get("status") or {}).get("phase") == "WaitingPromotion":
        return []
    canary_obj["status"] = write_status(client, canary["namespace"], canary["name"],
                                        {"phase": "WaitingPromotion"}, known=canary_obj)[2]
    return events


def run_stage_hooks(client, canary, canary_obj, hook_type, sender, phase=None, checksum=None,
                    check_mode=False, record_events=True, count_failures=True,
                    event_message=None, event_type="Normal", tick_id=None, signals=None):
    """Run the Canary's hooks of one type and record what happened like Flagger does.

    ``client`` and ``canary_obj`` may be None (a Canary that only exists as a file): the hooks
    are still called, but no event is recorded and no failed check counted.
    """
    hooks = canary["analysis"].get("webhooks") or []
    status = (canary_obj or {}).get("status") or {}
    phase = phase or default_phase(hook_type, status)
    checksum = checksum if checksum is not None else status.get("lastAppliedSpec")
    result = {"changed": False, "type": hook_type, "phase": phase, "passed": True,
              "rollback_requested": False, "results": [], "not_called": [], "events": [],
              "failed_checks": int(status.get("failedChecks") or 0),
              "threshold_reached": False, "msg": ""}
    if check_mode:
        result["results"] = plan_webhooks(hooks, hook_type, sender)
        result["msg"] = "check mode: {0} {1} hook(s) would be called".format(
            len(result["results"]), hook_type)
        return result
    if hook_type == "event":
        if not event_message:
            raise InvalidInput("event_message is required when type is event")
        payload = build_event_payload(canary["name"], canary["namespace"], phase, checksum,
                                      event_message, event_type)
    else:
        payload = build_payload(canary["name"], canary["namespace"], phase, checksum)
    summary = run_webhooks(hooks, hook_type, payload, sender)
    result.update(passed=summary["passed"], rollback_requested=summary["rollback_requested"],
                  results=summary["results"], not_called=summary["not_called"],
                  changed=bool(summary["results"]))
    events = hook_events(canary, hook_type, summary["results"])
    if hook_type == "confirm-rollout" and summary["results"]:
        events = _confirm_rollout_transition(client, canary, canary_obj, summary["passed"], events)
        result["changed"] = result["changed"] or bool(events)
    if hook_type == "confirm-promotion" and summary["results"] and not summary["passed"]:
        events = _waiting_promotion_transition(client, canary, canary_obj, events)
    if record_events and client is not None and canary_obj is not None:
        for event in events:
            _emit(client, canary, canary_obj, event, sender, check_mode, signals)
    result["events"] = [message for _type, message in events]
    if (count_failures and not summary["passed"] and hook_type in COUNTED_HOOK_TYPES
            and client is not None and canary_obj is not None):
        marker = check_marker(checksum, status.get("canaryWeight") or 0,
                              int(status.get("iterations") or 0),
                              "{0}-{1}".format(hook_type, tick_id or new_tick_id()))
        _changed, _before, after = update_status_guarded(
            client, canary["namespace"], canary["name"], count_failed_check(marker))
        result["failed_checks"] = int(after.get("failedChecks") or 0)
    result["threshold_reached"] = threshold_reached(
        result["failed_checks"], canary["analysis"]["threshold"])
    called = len(summary["results"])
    if not called:
        result["msg"] = "no {0} hooks".format(hook_type)
    elif summary["failed"]:
        result["msg"] = summary["failed"]["msg"]
    elif hook_type == "rollback":
        result["msg"] = "rollback requested" if summary["rollback_requested"] else \
            "no rollback hook asked for a rollback"
    else:
        result["msg"] = "{0} {1} hook(s) passed".format(called, hook_type)
    return result
