#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_analysis
short_description: One analysis tick of a canary at a given weight, as Flagger's scheduler runs it
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - The Canary (O(canary), or O(name) and O(namespace)) must exist in the cluster, because its
    status holds the failed checks.
  - Waits O(wait) seconds (one analysis interval) so the metrics reflect the current weight, then
    checks that the target Deployment is still the revision under analysis, runs the Canary's
    C(rollout) webhooks and evaluates every metric of C(spec.analysis.metrics) exactly once.
  - Metrics are evaluated by the same code as P(progressive.delivery.metric_check#module).
    Built-in C(request-success-rate) and C(request-duration) are keyed by the canary Service
    (C(<service>-canary)) and its port, C(templateRef) MetricTemplates are read from the cluster,
    inline C(query) metrics are rendered the same way.
  - When every check passed, the Canary's C(confirm-traffic-increase) hooks are asked; a closed
    gate holds the weight without counting a failed check (RV(waiting)).
  - Before that, the Canary's C(rollback) hooks are asked, as Flagger does on every tick; when one
    passes, nothing is measured and RV(rollback_requested) is true.
  - Before the hooks, the canary workload's readiness is read (the same read that checks the
    revision), as Flagger's IsCanaryReady does on every tick. A canary with fewer than
    C(canaryReadyThreshold) percent of its updated pods available halts the tick without a failed
    check (RV(halted)) until its progress deadline is exceeded; then RV(deadline_exceeded) is true
    and the release is to be rolled back.
  - Metrics with our own C(compare) field are compared with the primary instead of (or beside)
    their threshold range, by the same code as P(progressive.delivery.metric_check#module)'s
    O(progressive.delivery.metric_check#module:compare); the comparisons are scored as the
    Canary's C(spec.analysis.judge) says (RV(comparisons), RV(judge)). A score below the pass
    score is one failed check, like a metric out of range.
  - An inconclusive score with C(spec.analysis.judge.inconclusive=pause), every hook and metric
    passed, pauses the release instead (RV(paused)) - the weight stays, no failed check is
    counted, the Canary goes to phase C(Waiting) with the C(Promoted) condition's reason
    C(Inconclusive), and a Warning Event names the comparisons and the score.
  - A passing tick records C(canaryWeight) and one more iteration in the Canary's status.
  - A failing tick (a failed rollout hook, a metric out of range, no data, or a provider error)
    adds one to C(status.failedChecks), which is cumulative for the whole analysis as in Flagger,
    and records a Warning Event such as C(Halt podinfo.test advancement success rate 53.42% < 99%).
    The count is read and written back guarded by the Canary's resourceVersion, so the cluster
    stays the source of truth.
  - Designed for C(until)/C(retries) loops; see the examples.
  - With O(weights) instead of O(weight), one call runs the whole step loop. For each weight it
    asks the C(confirm-traffic-increase) hooks (when the Canary has any), shifts the traffic as
    O(set_weight) does and ticks until the checks pass, then goes on to the next weight. It stops
    at the first tick that reaches the threshold, sees the target change or is asked to roll back.
    This saves a module start per step, which on a busy controller costs more than a short
    interval.
  - The role runs one weight per call (O(weights) of one element), so Ansible prints each step as
    it happens; RV(line) is that step in one line and RV(ticks) what each tick measured, for a
    report.
  - A step loop whose ansible-playbook run has died (a killed or cancelled job; ansible-core's
    workers outlive their controller) stops before its next write, within a second when it is
    waiting for an interval to end, and leaves the weight where it is, as any interrupted run
    does, so the next run resumes or rolls back from there and is not held off by a lock the dead
    run would go on renewing (RV(abandoned)).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.canary_data
  - progressive.delivery.canary_ref
  - progressive.delivery.kubernetes_client
  - progressive.delivery.prometheus_provider
  - progressive.delivery.traefik_api_version
  - progressive.delivery.signals
  - progressive.delivery.pushgateway
  - progressive.delivery.attributes
  - progressive.delivery.attributes.acts
attributes:
  check_mode:
    details: Nothing is measured, waited for, called or written. The module returns RV(plan), what
      the analysis would do at each weight, instead of a judgement that a dry run cannot make (a
      canary it never scaled up has no traffic to measure).
  idempotent:
    details: Every tick is a new measurement and counts towards the analysis.
options:
  weight:
    description:
      - The canary weight being analysed, in percent (0-100). Recorded as C(status.canaryWeight)
        when the tick passes.
      - Exactly one of O(weight) and O(weights) is required.
    type: int
  weights:
    description:
      - Run the whole step loop over these canary weights, analysed in turn, each from 0 to 100 and
        none below the one before, for example C([10, 20, 30]); A/B testing repeats C(100), one
        per iteration.
      - The traffic is shifted to each weight (O(set_weight) is implied), then the weight is
        ticked, one O(wait) each, until its checks pass or the loop stops; see RV(steps).
      - A closed C(confirm-traffic-increase) gate is asked again every O(wait) seconds, up to
        O(confirm_timeout); then the call returns with RV(gate_timed_out).
    type: list
    elements: int
  confirm_timeout:
    description:
      - With O(weights), seconds a closed C(confirm-traffic-increase) gate may hold a weight
        before the call gives up (RV(gate_timed_out)).
    type: float
    default: 3600
  lock:
    description:
      - With O(weights), the release lock this run holds (see
        P(progressive.delivery.canary_lock#module)); it is renewed when the call starts and then
        whenever a third of O(lock.lease_duration) has passed, so a long analysis keeps it.
      - When another run took the lock over, the call fails and says so.
    type: dict
    suboptions:
      holder:
        description: The C(holder) returned when the lock was acquired.
        type: str
        required: true
      lease_duration:
        description: Seconds the Lease stays valid after each renewal.
        type: int
        required: true
  wait:
    description:
      - Seconds to wait before measuring, usually the Canary's analysis interval. Not waited in
        check mode.
    type: float
    default: 0
  revision:
    description:
      - The revision under analysis (C(revision) from P(progressive.delivery.canary_info#module)).
      - When given and the target's pod template or tracked configs no longer match it, nothing is
        measured or counted and RV(revision_changed) is true, so the analysis can restart.
    type: str
  confirm_promotion:
    description:
      - With O(weights), once every weight passed, ask the Canary's C(confirm-promotion) hooks
        (when it has any) and wait while they are closed, as Flagger does at the last weight.
      - The first closed answer puts the Canary in phase C(WaitingPromotion) and records
        C(Halt <canary> advancement waiting for promotion approval <hook>). Every O(wait) seconds
        of the wait the canary is watched as on any tick - its readiness, the C(rollback) hooks
        (told phase C(WaitingPromotion)), the rollout hooks and metrics, failed checks counted
        towards the threshold - and the gate is asked again after each tick that passed.
      - After O(confirm_timeout) seconds the call returns with RV(gate_timed_out) and RV(gate)
        C(confirm-promotion).
    type: bool
    default: false
  confirm_traffic_increase:
    description:
      - Ask the Canary's C(confirm-traffic-increase) hooks after the checks passed, so a closed
        gate holds the weight (RV(waiting)) without counting a failed check.
      - Set it to false when the playbook asks that gate itself before it shifts traffic.
      - With O(weights), the gate is asked before each weight is raised instead, as Flagger
        does; while it is closed, every O(wait) seconds the canary is watched at the weight it has
        (its readiness, the C(rollback) hooks and, after the first weight, the rollout hooks and
        metrics, failed checks counted), as Flagger's ticks do before they ask the gate.
    type: bool
    default: true
  set_weight:
    description:
      - Route O(weight) percent of the traffic to the canary before waiting, record it as
        C(status.canaryWeight) and emit Flagger's C(Advance <canary> canary weight N) event,
        once per weight (a retry of the tick writes nothing).
      - Saves the separate P(progressive.delivery.canary_weight#module) and
        P(progressive.delivery.canary_status#module) calls of a step. The TraefikService is
        found as for O(route_to_primary_on_failure).
    type: bool
    default: false
  route_to_primary_on_failure:
    description:
      - When the tick reaches the failed-check threshold or a rollback hook asks for a rollback,
        route all traffic to the primary in the same call (RV(routed_to_primary)), so the canary
        stops serving users as soon as the decision is made.
      - The TraefikService is the Canary's apex Service name, with C(<service>-primary) and
        C(<service>-canary) as in P(progressive.delivery.canary_weight#module).
    type: bool
    default: false
  cluster_url_access:
    description:
      - How webhooks reach URLs that name a cluster Service; see
        O(progressive.delivery.canary_webhook#module:cluster_url_access).
    type: str
    choices: [auto, api_proxy, direct]
    default: auto
notes:
  - When the failed checks already reached the threshold, the tick returns at once with
    RV(threshold_reached) true, as Flagger rolls back on the tick after the threshold.
  - Each metric costs exactly one query per tick, whatever the outcome of the other checks.
  - To stop a retry loop as soon as a rollback hook asks for it, add C(or tick.rollback_requested)
    to its C(until) condition, and C(or tick.deadline_exceeded) to stop it when the canary is
    past its progress deadline.
seealso:
  - module: progressive.delivery.metric_check
  - module: progressive.delivery.canary_webhook
  - module: progressive.delivery.canary_status
requirements:
  - requests
  - scipy >= 1.7 (only for metrics with C(compare))
"""

EXAMPLES = r"""
# The whole step loop in one task: 10, 20, 30 percent, one interval per tick, the lock renewed
# on the way, and all traffic back on the primary in the same call when the analysis fails.
- name: Analyse podinfo.test step by step
  progressive.delivery.canary_analysis:
    canary: "{{ plan.canary }}"
    weights: [10, 20, 30]
    wait: "{{ plan.canary.analysis.interval_seconds }}"
    revision: "{{ plan.revision }}"
    route_to_primary_on_failure: true
    lock:
      holder: "{{ lock.holder }}"
      lease_duration: 120
  register: analysis

- name: Roll back when the analysis failed
  ansible.builtin.fail:
    msg: "{{ analysis.msg }}"
  when: not analysis.passed and not analysis.revision_changed

# One step of the analysis: analyse at weight 10 until it passes, the failed checks reach the
# threshold (then roll back), or the target changes (then restart from weight 0). Each retry
# waits one interval through `wait`, so `delay` stays 0.
- name: Analyse podinfo.test at weight 10
  progressive.delivery.canary_analysis:
    canary: "{{ plan.canary }}"
    weight: 10
    wait: 10
    revision: "{{ plan.revision }}"
  register: tick
  until: tick.passed or tick.threshold_reached or tick.revision_changed
  retries: "{{ plan.canary.analysis.threshold }}"
  delay: 0

- name: Roll back when the analysis failed
  ansible.builtin.fail:
    msg: "{{ tick.msg }}"
  when: tick.threshold_reached

- name: Analyse a Canary read from the cluster, with Prometheus given explicitly
  progressive.delivery.canary_analysis:
    name: podinfo
    namespace: test
    weight: 50
    wait: "{{ plan.canary.analysis.interval_seconds }}"
    provider:
      address: http://prometheus.monitoring:9090
      bearer_token: "{{ prometheus_token }}"
"""

RETURN = r"""
advanced:
  description: Whether this call shifted the weight or recorded it (O(set_weight)).
  returned: unless in check mode
  type: bool
  sample: true
routed_to_primary:
  description: Whether this call routed all traffic to the primary (O(route_to_primary_on_failure)).
  returned: unless in check mode
  type: bool
  sample: false
decided_at:
  description: When the rollback decision was known (seconds since the epoch), just before the
    traffic was routed to the primary.
  returned: when RV(routed_to_primary) is true
  type: float
  sample: 1795730194.12
routed_at:
  description: When the TraefikService sent all traffic to the primary (seconds since the epoch);
    Traefik applies it within a few hundred milliseconds.
  returned: when RV(routed_to_primary) is true
  type: float
  sample: 1795730194.19
passed:
  description: Whether every rollout hook and metric passed and no gate held the weight.
  returned: unless in check mode
  type: bool
  sample: true
failed_checks:
  description: The Canary's cumulative failed checks after this tick.
  returned: unless in check mode
  type: int
  sample: 1
threshold:
  description: The Canary's C(spec.analysis.threshold).
  returned: always
  type: int
  sample: 3
threshold_reached:
  description: Whether RV(failed_checks) reached the threshold; time to roll back.
  returned: unless in check mode
  type: bool
  sample: false
revision_changed:
  description: Whether the target no longer matches O(revision); nothing was measured.
  returned: unless in check mode
  type: bool
  sample: false
revision:
  description: The target's current revision, when it no longer matches O(revision).
  returned: when RV(revision_changed) is true
  type: str
  sample: 9c1d52e07a4b3f60
rollback_requested:
  description: Whether a C(rollback) hook asked to roll back now; nothing was measured.
  returned: unless in check mode
  type: bool
  sample: false
waiting:
  description: Whether a C(confirm-traffic-increase) hook held the weight (not a failed check).
  returned: unless in check mode
  type: bool
  sample: false
halted:
  description:
    - Whether the tick halted because the canary workload is not ready (C(canaryReadyThreshold)
      percent of its updated pods available), within its progress deadline; nothing was measured
      or counted, as in Flagger. A Warning Event (C(canary deployment podinfo.test not ready),
      then the reason) says why.
  returned: unless in check mode
  type: bool
  sample: false
deadline_exceeded:
  description:
    - Whether the canary workload is not ready and past the Canary's C(progressDeadlineSeconds)
      (its Deployment's C(Progressing) condition says C(ProgressDeadlineExceeded), or its
      C(Available) condition has said C(MinimumReplicasUnavailable) for longer than the deadline;
      for a DaemonSet, counted from the Canary's last phase change); time to roll back.
  returned: unless in check mode
  type: bool
  sample: false
paused:
  description:
    - Whether an inconclusive judge paused the release for a person to promote or abort (with
      C(spec.analysis.judge.inconclusive=pause)); the weight stays where it is.
  returned: unless in check mode
  type: bool
  sample: false
weight:
  description: The weight analysed (with O(weights), the weight of the last tick).
  returned: always
  type: int
  sample: 10
steps:
  description: With O(weights), one entry per weight that was reached, in order.
  returned: when O(weights) is given, unless in check mode
  type: list
  elements: dict
  contains:
    weight:
      description: The canary weight.
      type: int
      sample: 20
    ticks:
      description: How many ticks ran at this weight.
      type: int
      sample: 1
    passed:
      description: Whether the weight's checks passed.
      type: bool
    failed_checks:
      description: The Canary's cumulative failed checks after the weight's last tick.
      type: int
    msg:
      description: The last tick's line, as RV(msg).
      type: str
plan:
  description:
    - In check mode, what the analysis would do instead of a judgement (nothing is measured, no
      webhook is called).
    - One entry per weight of O(weights) (or the one O(weight)) with the interval it waits, the
      checks it runs and the webhooks it asks, the hooks around the analysis and the least time it
      takes.
  returned: in check mode
  type: dict
  contains:
    steps:
      description: One entry per weight, in order; empty with C(spec.skipAnalysis).
      type: list
      elements: dict
      sample:
        - weight: 10
          wait_seconds: 30
          checks: ["request-success-rate >= 99% over 1m", "request-duration <= 500ms over 1m"]
          rollout_webhooks: [load-test]
          rollback_webhooks: []
          gates: []
          msg: "weight 10: wait 30s, then run rollout hooks load-test, then check request-success-rate >= 99% over 1m; request-duration <= 500ms over 1m"
    before_analysis:
      description: Names of the C(confirm-rollout) and C(pre-rollout) hooks run before the first weight.
      type: dict
    before_promotion:
      description: Names of the C(confirm-promotion) gates asked before the promotion.
      type: dict
    after_promotion:
      description: Names of the C(post-rollout) hooks run after the promotion.
      type: dict
    promotion_primary_weights:
      description: The primary's weights while traffic moves back in steps (C(stepWeightPromotion)); empty when it moves at once.
      type: list
      elements: int
    threshold:
      description: The failed checks that would roll the release back.
      type: int
    estimated_seconds:
      description: The least time the analysis and promotion take (one interval per weight and per
        promotion step), when every check passes the first time and no gate waits.
      type: float
      sample: 300
gate_timed_out:
  description: With O(weights), whether a C(confirm-traffic-increase) gate, or with
    O(confirm_promotion) the C(confirm-promotion) gate, stayed closed for O(confirm_timeout)
    seconds (RV(gate) says which).
  returned: when O(weights) is given
  type: bool
  sample: false
gate:
  description: With O(weights), the type of the gate whose wait ended the call (it stayed closed,
    or a check during its wait stopped the analysis), or null.
  returned: when O(weights) is given
  type: str
  sample: confirm-promotion
abandoned:
  description: With O(weights), whether the loop stopped because the ansible-playbook run that
    started it is gone (read from the process tree under C(/proc); never true elsewhere).
  returned: when O(weights) is given
  type: bool
  sample: false
line:
  description:
    - With O(weights), the call in one line for a per-step log - the weight, each check's value
      against its range, the failed checks so far against the threshold and the decision
      (C(passed), C(halt), C(roll back), C(restart), C(paused for a decision) or C(stopped)).
  returned: when O(weights) is given, unless in check mode
  type: str
  sample: "weight 10: success rate 100.00% >= 99%, request duration 12ms <= 500ms; failed checks 0/2; passed"
ticks:
  description: With O(weights), one entry per tick, in order, for a report of the analysis.
  returned: when O(weights) is given, unless in check mode
  type: list
  elements: dict
  contains:
    weight:
      description: The canary weight of the tick.
      type: int
    started_at:
      description: When the tick started waiting its interval (seconds since the epoch).
      type: float
    ended_at:
      description: When the tick was decided (seconds since the epoch).
      type: float
    passed:
      description: Whether the tick passed.
      type: bool
    failed_checks:
      description: The Canary's cumulative failed checks after the tick.
      type: int
    metrics:
      description: As RV(metrics), without the queries.
      type: list
      elements: dict
    webhooks:
      description: The hooks the tick called - name, type, HTTP status, whether it passed and
        its message.
      type: list
      elements: dict
    events:
      description: The Event messages the tick recorded.
      type: list
      elements: str
    msg:
      description: The tick's line, as RV(msg).
      type: str
metrics:
  description: One entry per metric of the Canary, in the Canary's order.
  returned: unless in check mode
  type: list
  elements: dict
  contains:
    name:
      description: The metric's name.
      type: str
      sample: request-success-rate
    value:
      description: The measured value; null for no data or an error.
      type: float
      sample: 99.85
    passed:
      description: Whether the value is within the threshold range.
      type: bool
      sample: true
    verdict:
      description: C(pass), C(fail), C(no_data) or C(error).
      type: str
      sample: pass
    msg:
      description: The value against the threshold, in Flagger's words.
      type: str
      sample: success rate 99.85% >= 99%
    query:
      description: The PromQL that was run.
      type: str
comparisons:
  description: One entry per metric of the Canary with C(compare), in the Canary's order, with
    the fields P(progressive.delivery.metric_check#module) returns for a comparison.
  returned: unless in check mode
  type: list
  elements: dict
  contains:
    verdict:
      description: C(pass), C(high), C(low), C(no_data) or C(error).
      type: str
      sample: high
    name:
      description: Name of the metric compared.
      type: str
      sample: request-duration
    passed:
      description: Whether the comparison passed.
      type: bool
      sample: false
    p_value:
      description: Two-sided p-value of the Mann-Whitney U test; null without data.
      type: float
      sample: 0.00016
    effect_size:
      description: The canary's median over the primary's.
      type: float
      sample: 1.27
    group:
      description: The comparison's C(compare.group), or null.
      type: str
    msg:
      description: The comparison with its verdict, p-value and effect size.
      type: str
      sample: "comparison request-duration: high (p-value 0.00016, effect 1.27x, canary median
        49.5, primary median 39)"
judge:
  description: The score of the comparisons; null when the Canary has none.
  returned: unless in check mode
  type: dict
  contains:
    score:
      description: Share of passing comparisons in percent, weighted by group when the Canary
        sets C(judge.groupWeights).
      type: float
      sample: 50.0
    outcome:
      description: C(pass) at or above the pass score, C(fail) below the marginal score,
        C(inconclusive) between.
      type: str
      sample: inconclusive
    passed:
      description: Whether the judgement passed the tick.
      type: bool
      sample: false
    msg:
      description: The score against the thresholds and the comparisons that did not pass.
      type: str
      sample: "judge score 0 < 75; comparison request-duration: high (p-value 0.00016, ...)"
webhooks:
  description: The rollout and confirm-traffic-increase hooks called, as in
    P(progressive.delivery.canary_webhook#module)'s C(results).
  returned: unless in check mode
  type: list
  elements: dict
events:
  description: The Kubernetes Event messages recorded (or that would be, in check mode).
  returned: unless in check mode
  type: list
  elements: str
  sample: ["Halt podinfo.test advancement success rate 53.42% < 99%"]
msg:
  description: One line about the tick, with the weight and each metric's value and verdict.
  returned: always
  type: str
  sample: "weight 10: success rate 99.85% >= 99%, request duration 12ms <= 500ms: passed"
pushgateway:
  description:
    - The names of the metrics pushed to O(pushgateway), one per push (C(pushed)), and why a push
      failed (C(problems), also given as warnings).
    - The analysis pushes C(flagger_canary_weight) when it moves the weight, and after each tick
      C(flagger_canary_metric_analysis) (when a metric had a value) and
      C(flagger_canary_duration_seconds).
  returned: when O(pushgateway) is set
  type: dict
  sample: {"pushed": ["flagger_canary_weight", "flagger_canary_metric_analysis", "flagger_canary_duration_seconds"], "problems": []}
"""

import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_REF_ARG_SPEC,
    PROMETHEUS_PROVIDER_ARG_SPEC,
    PUSHGATEWAY_ARG_SPEC,
    SIGNALS_ARG_SPEC,
    TRAEFIK_API_VERSION_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.analysis import (
    PROGRESSING,
    WAITING_PROMOTION,
    ClusterReader,
    load_canary,
    run_stage_hooks,
    run_tick,
)
from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    ControllerWatch,
)
from ansible_collections.progressive.delivery.plugins.module_utils.dry_run import planned_release
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.flagger_metrics import (
    canary_metrics,
    push_safely,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    split_weights,
)
from ansible_collections.progressive.delivery.plugins.module_utils.lease import (
    LeaseStore,
    acquire,
    lease_name_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import RetryPolicy
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    event_message,
)
from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
    announce,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    read_canary,
    write_status,
)
from ansible_collections.progressive.delivery.plugins.module_utils.steps import (
    Renewal,
    run_steps,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    CLUSTER_URL_ACCESS,
    WebhookSender,
    hide_url_secrets,
)


def advance_weight(client, canary, router, weight, sender, signals, known=None,
                   on_written=None):
    """Shift the canary to ``weight`` and record it as Flagger does, once per weight.

    Doing this in the analysing call saves a module start per step; a retry of the same tick
    finds the weight set and the status at it, and writes nothing. ``known`` is the Canary as the
    tick before this weight wrote it (None: read it); ``on_written`` is given the Canary as this
    weight's status write left it.
    """
    weights = split_weights(weight)
    routed = router.set_routes(weights["primary"], weights["canary"])
    canary_obj = known or read_canary(client, canary["namespace"], canary["name"])
    recorded = ((canary_obj or {}).get("status") or {}).get("canaryWeight")
    if canary_obj is None or (recorded == weight and not routed["changed"]):
        return routed["changed"]
    write_status(client, canary["namespace"], canary["name"], {"canaryWeight": weight},
                 known=canary_obj, on_written=on_written)
    event_type, message = event_message("advance", canary, weight=weight)
    canary_obj.setdefault("status", {})["canaryWeight"] = weight
    announce(client, canary, canary_obj, event_type, message, sender, signals)
    return True


def argument_spec():
    return module_argument_spec(
        CANARY_REF_ARG_SPEC, PROMETHEUS_PROVIDER_ARG_SPEC, TRAEFIK_API_VERSION_ARG_SPEC,
        SIGNALS_ARG_SPEC, PUSHGATEWAY_ARG_SPEC,
        weight=dict(type="int"),
        weights=dict(type="list", elements="int"),
        confirm_timeout=dict(type="float", default=3600),
        lock=dict(type="dict", options=dict(
            holder=dict(type="str", required=True),
            lease_duration=dict(type="int", required=True),
        )),
        wait=dict(type="float", default=0),
        revision=dict(type="str"),
        confirm_traffic_increase=dict(type="bool", default=True),
        confirm_promotion=dict(type="bool", default=False),
        cluster_url_access=dict(type="str", choices=list(CLUSTER_URL_ACCESS), default="auto"),
        set_weight=dict(type="bool", default=False),
        route_to_primary_on_failure=dict(type="bool", default=False),
    )


def validate_weights(params):
    if params["weights"] is None:
        if not 0 <= params["weight"] <= 100:
            raise InvalidInput("weight must be an integer from 0 to 100; got {0}".format(
                params["weight"]))
        return
    weights = params["weights"]
    # A weight repeats in A/B testing: each iteration is a step at weight 100.
    if not weights or any(not 0 <= w <= 100 for w in weights) or any(
            b < a for a, b in zip(weights, weights[1:])):
        raise InvalidInput("weights must be a non-empty list of integers from 0 to 100, none "
                           "below the one before; got {0}".format(weights))
    if params["confirm_timeout"] < 0:
        raise InvalidInput("confirm_timeout must be 0 or more seconds; got {0}".format(
            params["confirm_timeout"]))
    lock = params["lock"]
    if lock is not None and (not lock["holder"] or lock["lease_duration"] < 3):
        raise InvalidInput("lock needs the holder that acquired it and a lease_duration of 3 "
                           "seconds or more; got {0!r} and {1}".format(
                               lock["holder"], lock["lease_duration"]))


def run(module):
    params = module.params
    # The process tree as it is when the module starts, to notice later that the run is gone.
    watch = ControllerWatch()
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    validate_weights(params)
    if params["wait"] < 0:
        raise InvalidInput("wait must be 0 or more seconds; got {0}".format(params["wait"]))
    client = get_dynamic_client(module)
    canary, _obj = load_canary(params["canary"], params["name"], params["namespace"],
                               lambda: client)
    hide_url_secrets(module, canary["analysis"].get("webhooks"))
    metrics = MetricsPush(module, canary_metrics(params, canary))
    if module.check_mode:
        return dry_run(canary, params)
    prometheus = dict((k, v) for k, v in (params["provider"] or {}).items() if v is not None)
    sender = WebhookSender(api_client=lambda: client.client, access=params["cluster_url_access"])
    router = router_for(client, canary, api_version=params["traefik_api_version"])
    if params["weights"] is not None:
        result = run_step_loop(module, client, canary, router, prometheus, sender, watch, metrics)
        result["line"] = step_line(result, canary["analysis"]["threshold"])
    else:
        result = run_one_tick(module, client, canary, router, prometheus, sender, metrics)
    result.update(metrics.report)
    result["routed_to_primary"] = False
    if params["route_to_primary_on_failure"] and not result.get("abandoned") and (
            result.get("threshold_reached") or result.get("rollback_requested")
            or result.get("deadline_exceeded")):
        # A step loop whose run is gone leaves the weight where it is, as any killed run does.
        if params["weights"] is not None:
            watch.check()
        # The rollback decision and the traffic cut happen in one call: the canary's share drops
        # to 0 as soon as the decisive check is known, not a few task starts later.
        result["decided_at"] = time.time()
        routed = router.finalize()
        result["routed_at"] = time.time()
        result["routed_to_primary"] = True
        result["changed"] = result.get("changed", False) or routed["changed"]
    return result


def dry_run(canary, params):
    """Check mode: what the analysis would do, not a judgement (nothing is measured)."""
    weights = params["weights"] if params["weights"] is not None else [params["weight"]]
    plan = planned_release(canary, weights, params["wait"])
    ref = "{0}.{1}".format(canary["name"], canary["namespace"])
    if canary.get("skip_analysis"):
        msg = "Would skip the analysis of {0} (spec.skipAnalysis)".format(ref)
    else:
        msg = "Would analyse {0} at weights {1}, {2:g}s each (at least {3:g}s); {4} failed checks roll back".format(
            ref, ", ".join(str(w) for w in weights), params["wait"], plan["estimated_seconds"], plan["threshold"])
    return {"changed": bool(plan["steps"]), "plan": plan, "threshold": plan["threshold"],
            "weight": weights[-1], "msg": msg}


class MetricsPush(object):
    """Flagger's weight gauge when the weight moves, and each tick's metric values and analysis
    time, pushed to O(pushgateway) when it is set; problems are warnings in ``report``."""

    def __init__(self, module, metrics):
        self.module = module
        self.metrics = metrics
        self.report = {}

    def weight(self, weight):
        if self.metrics is not None:
            push_safely(self.module, self.report, lambda: self.metrics.record_weight(weight))

    def timed(self, tick, sleep):
        """``tick(sleep)`` with the time it spent analysing (its interval's sleep left out, as
        Flagger times the work of a tick, not the wait for it) pushed after it."""
        if self.metrics is None:
            return tick(sleep)
        slept = [0.0]

        def counted_sleep(seconds):
            before = time.time()
            try:
                return sleep(seconds)
            finally:
                slept[0] += time.time() - before

        started = time.time()
        result = tick(counted_sleep)
        spent = time.time() - started - slept[0]
        push_safely(self.module, self.report,
                    lambda: self.metrics.record_tick(result.get("metrics"), spent))
        return result


def run_step_loop(module, client, canary, router, prometheus, sender, watch, metrics):
    """Every weight of O(weights) in this one process; see steps.run_steps.

    Its waits (each tick's interval, a closed gate's) end early once ``watch`` sees the run that
    started the module gone, and a tick looks again before it writes what it measured.
    """
    params = module.params
    revision = params["revision"]
    signals = Signals.from_params(params)
    first = [True]

    def advance(weight):
        # The tick before the next weight just checked the revision; the first weight checks it
        # here, so a target that changed since the analysis started gets no traffic.
        if first[0]:
            first[0] = False
            if revision and ClusterReader(client).target_revision(canary) != revision:
                return False
        advanced = advance_weight(client, canary, router, weight, sender, signals,
                                  known=last_written(), on_written=remember)
        if advanced:
            metrics.weight(weight)
        return advanced

    ticks = []
    # The Canary as this call last wrote it (a weight's record, a passing tick's), which the next
    # write or tick takes instead of reading it again; a change made since by anyone else costs
    # that write a 409 and a fresh read, never a lost change. Taken once: what comes after it in
    # the loop either writes the Canary (and remembers it anew) or leaves the next one to read.
    written = {}

    def remember(obj):
        written["canary"] = obj

    def last_written():
        return written.pop("canary", None)

    def tick(weight):
        started = time.time()
        result = metrics.timed(lambda sleep: run_tick(
            client, canary, weight, revision=revision, wait=params["wait"], prometheus=prometheus,
            sender=sender, traffic_gate=False, sleep=sleep, before_write=watch.check,
            signals=signals, known=last_written(), on_written=remember), watch.sleep)
        ticks.append(tick_record(result, started, time.time()))
        return result

    def hold(weight, gate_name):
        # One of Flagger's ticks while a gate is closed: the readiness, the rollback hooks (in
        # phase WaitingPromotion at the confirm-promotion gate) and, once the canary has had
        # traffic, the rollout hooks and metrics, counting failures; nothing is written when it
        # passes, the weight being recorded already.
        # Its metric values and duration reach the Pushgateway as an analysis tick's do.
        started = time.time()
        written.clear()  # a closed gate's wait reads the Canary afresh each interval
        result = metrics.timed(lambda sleep: run_tick(
            client, canary, weight or 0, revision=revision, wait=params["wait"],
            prometheus=prometheus, sender=sender, traffic_gate=False, sleep=sleep,
            before_write=watch.check, signals=signals,
            phase=WAITING_PROMOTION if gate_name == "confirm-promotion" else PROGRESSING,
            measure=weight is not None, record_pass=False), watch.sleep)
        ticks.append(tick_record(result, started, time.time()))
        return result

    def asks(hook_type):
        def ask():
            canary_obj = read_canary(client, canary["namespace"], canary["name"])
            asked = run_stage_hooks(client, canary, canary_obj, hook_type, sender,
                                    phase=PROGRESSING, checksum=revision, signals=signals)
            return asked["passed"], (asked["events"] or [asked["msg"]])[-1]
        return ask

    hooks = canary["analysis"].get("webhooks") or []
    gate = None
    if params["confirm_traffic_increase"] and any(
            h.get("type") == "confirm-traffic-increase" for h in hooks):
        gate = asks("confirm-traffic-increase")
    promotion_gate = None
    if params["confirm_promotion"] and any(h.get("type") == "confirm-promotion" for h in hooks):
        promotion_gate = asks("confirm-promotion")

    renew = None
    if params["lock"]:
        lock = params["lock"]
        store = LeaseStore(client, canary["namespace"], lease_name_for(canary["name"]),
                           RetryPolicy(timeout=30))
        renew = Renewal(lambda: acquire(store, lock["holder"], lock["lease_duration"]),
                        every=lock["lease_duration"] / 3.0)

    threshold = canary["analysis"]["threshold"]
    result = run_steps(params["weights"], advance, tick, gate=gate, renew=renew,
                       # a closed gate is asked again every interval, at least every second
                       gate_timeout=params["confirm_timeout"], interval=max(params["wait"], 1.0),
                       max_ticks_per_step=threshold + 1,
                       sleep=watch.sleep, abandoned=watch, hold=hold,
                       promotion_gate=promotion_gate)
    result["ticks"] = ticks
    return result


def tick_record(result, started, ended):
    """What a report needs of one tick: when, at which weight, each check and hook, the verdict."""
    return {
        "weight": result["weight"],
        "started_at": round(started, 3),
        "ended_at": round(ended, 3),
        "passed": bool(result.get("passed")),
        "failed_checks": int(result.get("failed_checks") or 0),
        "metrics": _picked(result.get("metrics"), ("name", "value", "passed", "verdict", "msg")),
        "webhooks": _picked(result.get("webhooks"), ("name", "type", "status", "passed", "msg")),
        "events": list(result.get("events") or []),
        "msg": result.get("msg", ""),
    }


def _picked(items, keys):
    return [dict((key, item.get(key)) for key in keys) for item in items or []]


# A step's outcome in a word or two, by the result key that says it, most decisive first.
DECISIONS = (
    ("abandoned", "stopped: the run that started it is gone"),
    ("revision_changed", "restart from weight 0: the target changed"),
    ("rollback_requested", "roll back: a rollback webhook asked for it"),
    ("deadline_exceeded", "roll back: the canary is not ready within its progress deadline"),
    ("gate_timed_out", "roll back: the gate stayed closed"),
    ("threshold_reached", "roll back: failed checks threshold reached"),
    ("paused", "paused for a decision: the judge was inconclusive"),
    ("passed", "passed"),
)


def decision_of(result):
    if result.get("gate_timed_out") and result.get("gate"):
        return "roll back: the {0} gate stayed closed".format(result["gate"])
    if result.get("halted"):
        return "halt: the canary is not ready"
    return next((said for key, said in DECISIONS if result.get(key)), "halt")


def step_line(result, threshold):
    """One line about a call of the step loop: weight, checks, failed checks and decision."""
    ticks = result.get("ticks") or []
    where = "weight {0}".format(result.get("weight"))
    if len(ticks) > 1:
        where += " (tick {0})".format(len(ticks))
    checks = [metric["msg"] for metric in result.get("metrics") or [] if metric.get("msg")]
    checks += [hook["msg"] for hook in result.get("webhooks") or []
               if hook.get("type") == "rollout" and not hook.get("passed")]
    if (result.get("judge") or {}).get("msg"):
        checks.append(result["judge"]["msg"])
    return "{0}: {1}; failed checks {2}/{3}; {4}".format(
        where, ", ".join(checks) or "no checks", int(result.get("failed_checks") or 0), threshold,
        decision_of(result))


def run_one_tick(module, client, canary, router, prometheus, sender, metrics):
    params = module.params
    signals = Signals.from_params(params)
    advanced = False
    # A target that changed since the analysis started is not given more traffic; the tick below
    # reports revision_changed and the analysis restarts from weight 0.
    if params["set_weight"] and (not params["revision"] or
                                 ClusterReader(client).target_revision(canary) == params["revision"]):
        advanced = advance_weight(client, canary, router, params["weight"], sender, signals)
        if advanced:
            metrics.weight(params["weight"])
    result = metrics.timed(lambda sleep: run_tick(
        client, canary, params["weight"], revision=params["revision"], wait=params["wait"],
        prometheus=prometheus, sender=sender, traffic_gate=params["confirm_traffic_increase"],
        signals=signals, sleep=sleep,
    ), time.sleep)
    result["advanced"] = advanced
    result["changed"] = result.get("changed", False) or advanced
    return result


def main():
    run_module(
        run, argument_spec(),
        mutually_exclusive=[("canary", "name"), ("weight", "weights")],
        required_one_of=[("canary", "name"), ("weight", "weights")],
        required_by={"name": "namespace"},
    )


if __name__ == "__main__":
    main()
