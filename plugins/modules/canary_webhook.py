#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_webhook
short_description: Run a Canary's webhooks of one type with Flagger's payload and semantics
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Calls, in order, every webhook of the given O(type) declared in the Canary's
    C(spec.analysis.webhooks), with the JSON payload Flagger sends
    (C(name), C(namespace), C(phase), C(checksum), C(metadata)).
  - A hook passes when it answers with an HTTP status of 202 or lower. Gates and checks stop
    at the first hook that fails; rollback hooks stop at the first one that passes, which
    asks for a rollback; event hooks are all called.
  - The task does not fail because a hook failed; use RV(passed) (or RV(rollback_requested))
    in C(until) or C(failed_when), so gates can be polled.
  - URLs naming a cluster Service (C(http://svc.ns/), C(http://svc.ns.svc:8080/),
    C(http://svc.ns.svc.cluster.local/)) that do not resolve where the module runs are sent
    through the Kubernetes API server's service proxy with the module's Kubernetes credentials.
    This is how a controller outside the cluster reaches Flagger's loadtester.
  - When the Canary exists in the cluster, Kubernetes Events in Flagger's words are recorded
    (for example C(Pre-rollout check acceptance-test passed)), and a failing C(pre-rollout) or
    C(rollout) hook counts one failed check in the Canary's status, as in Flagger.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.canary_data
  - progressive.delivery.canary_ref
  - progressive.delivery.kubernetes_client
  - progressive.delivery.signals
  - progressive.delivery.attributes
  - progressive.delivery.attributes.acts
attributes:
  check_mode:
    details: No hook is called in check mode; RV(results) lists what would be called.
  idempotent:
    details: Calling a webhook is an action with effects outside the cluster.
options:
  type:
    description:
      - Which of the Canary's webhooks to run. A hook without a type is a C(rollout) hook.
    type: str
    required: true
    choices: [confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion,
              post-rollout, rollback, event]
  phase:
    description:
      - The C(phase) sent in the payload.
      - Defaults as in Flagger, C(Progressing) for pre-rollout, rollout and confirm-traffic-increase
        and confirm-promotion hooks, the Canary's current phase otherwise (C(Succeeded) for
        post-rollout hooks when the phase is neither Succeeded nor Failed).
    type: str
    choices: [Initializing, Initialized, Waiting, Progressing, WaitingPromotion, Promoting,
              Finalising, Succeeded, Failed, Terminating]
  checksum:
    description:
      - The C(checksum) sent in the payload, which lets a receiver tell revisions apart.
      - Defaults to the Canary's C(status.lastAppliedSpec).
    type: str
  event_message:
    description:
      - The event text sent as C(metadata.eventMessage) to C(event) hooks. Required for O(type=event).
    type: str
  event_type:
    description:
      - The event type sent as C(metadata.eventType) to C(event) hooks.
    type: str
    choices: [Normal, Warning]
    default: Normal
  cluster_url_access:
    description:
      - How to reach URLs that name a cluster Service.
      - C(auto) sends them through the API server's service proxy when the host name does not
        resolve where the module runs, and directly otherwise (for example inside the cluster).
      - C(api_proxy) always uses the service proxy for such URLs; C(direct) never does.
    type: str
    choices: [auto, api_proxy, direct]
    default: auto
  record_events:
    description:
      - Record Kubernetes Events about the Canary for the hooks' outcomes, when the Canary exists
        in the cluster.
    type: bool
    default: true
  count_failed_checks:
    description:
      - Count a failing C(pre-rollout) or C(rollout) hook as one failed check in the Canary's
        status, as Flagger does. The write is guarded by the Canary's resourceVersion.
    type: bool
    default: true
notes:
  - Each hook's C(timeout) (default C(10s), as in Flagger), C(retries) and C(disableTLS) are honoured.
  - With C(metadata.logCmdOutput) set to C("true") the hook's answer is returned in RV(results[].output).
  - Webhook URLs are shown with their query string and user information replaced by C(***),
    since keys often travel there.
seealso:
  - module: progressive.delivery.canary_analysis
  - module: progressive.delivery.canary_notify
  - name: Flagger webhooks
    description: The webhook types and payload this module implements.
    link: https://docs.flagger.app/usage/webhooks
requirements:
  - requests
"""

EXAMPLES = r"""
- name: Run the acceptance tests before any traffic reaches the canary
  progressive.delivery.canary_webhook:
    canary: "{{ plan.canary }}"
    type: pre-rollout
  register: pre_rollout

- name: Wait up to 10 minutes for a person to approve the promotion
  progressive.delivery.canary_webhook:
    name: podinfo
    namespace: test
    type: confirm-promotion
  register: gate
  until: gate.passed
  retries: 60
  delay: 10

- name: Ask the rollback hooks whether to abort now
  progressive.delivery.canary_webhook:
    canary: "{{ plan.canary }}"
    type: rollback
  register: abort

- name: Tell the post-rollout hooks the release failed
  progressive.delivery.canary_webhook:
    canary: "{{ plan.canary }}"
    type: post-rollout
    phase: Failed
"""

RETURN = r"""
passed:
  description:
    - Whether every called hook passed (true when the Canary has no hook of this type).
    - Always true for rollback hooks; see RV(rollback_requested).
    - True in check mode, where nothing is called.
  returned: always
  type: bool
  sample: true
rollback_requested:
  description: For O(type=rollback), whether a hook answered with a passing status.
  returned: always
  type: bool
  sample: false
phase:
  description: The phase sent in the payload.
  returned: always
  type: str
  sample: Progressing
results:
  description: One entry per hook that was called (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The hook's name.
      type: str
      sample: acceptance-test
    url:
      description: The hook's URL without query string or credentials.
      type: str
      sample: http://flagger-loadtester.test/
    route:
      description: C(direct), or C(api_proxy) when sent through the API server's service proxy.
      type: str
      sample: api_proxy
    status:
      description: The HTTP status of the answer; null when there was none.
      type: int
      sample: 200
    passed:
      description: Whether the status was 202 or lower; null in check mode.
      type: bool
      sample: true
    msg:
      description: What happened, including the answer's body when the hook failed.
      type: str
      sample: acceptance-test webhook answered HTTP 200
    output:
      description: The answer's body when the hook's C(metadata.logCmdOutput) is C("true").
      type: str
      sample: '{"token": "..."}'
    duration:
      description: Seconds the call took.
      type: float
      sample: 0.12
not_called:
  description: Hooks of this type left out because an earlier hook decided the outcome.
  returned: always
  type: list
  elements: str
  sample: []
events:
  description: The Kubernetes Event messages recorded about the Canary.
  returned: always
  type: list
  elements: str
  sample: ["Pre-rollout check acceptance-test passed"]
failed_checks:
  description: The Canary's failed checks after this task.
  returned: always
  type: int
  sample: 0
threshold_reached:
  description: Whether the failed checks reached the Canary's C(threshold).
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_REF_ARG_SPEC,
    SIGNALS_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.analysis import (
    load_canary,
    run_stage_hooks,
)
from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    HAS_KUBERNETES,
    LazyClient,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    PHASES,
    read_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    CLUSTER_URL_ACCESS,
    HOOK_TYPES,
    WebhookSender,
    hide_url_secrets,
)


def argument_spec():
    return module_argument_spec(
        CANARY_REF_ARG_SPEC, SIGNALS_ARG_SPEC,
        type=dict(type="str", required=True, choices=list(HOOK_TYPES)),
        phase=dict(type="str", choices=list(PHASES)),
        checksum=dict(type="str"),
        event_message=dict(type="str"),
        event_type=dict(type="str", choices=["Normal", "Warning"], default="Normal"),
        cluster_url_access=dict(type="str", choices=list(CLUSTER_URL_ACCESS), default="auto"),
        record_events=dict(type="bool", default=True),
        count_failed_checks=dict(type="bool", default=True),
    )


def run(module):
    params = module.params
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    if params["type"] == "event" and not params["event_message"]:
        module.fail_json(msg="event_message is required when type is event")
    connect = LazyClient(module)
    canary, canary_obj = load_canary(params["canary"], params["name"], params["namespace"],
                                     connect)
    hide_url_secrets(module, canary["analysis"].get("webhooks"))
    client = None
    if canary_obj is not None:
        client = connect()
    elif HAS_KUBERNETES and (params["record_events"] or params["count_failed_checks"]):
        # A Canary given as data may still be registered in the cluster; use it when it is.
        try:
            client = connect()
            canary_obj = read_canary(client, canary["namespace"], canary["name"])
        except Exception as exc:  # no cluster at hand is fine for plain hooks
            module.warn("Canary status not available, so no events or failed checks are "
                        "recorded: {0}".format(exc))
            client = None
    sender = WebhookSender(api_client=lambda: connect().client,
                           access=params["cluster_url_access"])
    return run_stage_hooks(
        client, canary, canary_obj, params["type"], sender,
        phase=params["phase"], checksum=params["checksum"], check_mode=module.check_mode,
        record_events=params["record_events"], count_failures=params["count_failed_checks"],
        event_message=params["event_message"], event_type=params["event_type"],
        signals=Signals.from_params(params),
    )


def main():
    run_module(
        run, argument_spec(),
        mutually_exclusive=[("canary", "name")],
        required_one_of=[("canary", "name")],
        required_by={"name": "namespace"},
        check_k8s=False,
    )


if __name__ == "__main__":
    main()
