#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_notify
short_description: Send a release alert to Slack, Microsoft Teams, Discord, Rocket.Chat or Google Chat
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Posts an alert about a canary to chat incoming webhooks, in the message shapes Flagger's alert
    providers use, so channels migrated from Flagger look the same.
  - Slack and Rocket.Chat receive one attachment, Discord receives the same through its
    Slack-compatible endpoint (C(/slack) is appended to the URL), Microsoft Teams a MessageCard and
    Google Chat a card with one section per field.
  - Where to send is, in this order, O(provider) and O(url); the list O(providers); or, when neither
    is given, the Canary's own C(spec.analysis.alerts), whose C(providerRef)s name Flagger
    C(AlertProvider) objects read from the cluster (with the address and token from their
    C(secretRef)).
  - Each target has a severity filter like a Flagger Canary's C(analysis.alerts[].severity); an
    alert below it is not sent to that target.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.attributes
  - progressive.delivery.attributes.acts
attributes:
  check_mode:
    details: Nothing is sent; RV(results) shows what would be.
  idempotent:
    details: Every run sends new messages.
options:
  canary:
    description:
      - The Canary the alert is about, as returned by P(progressive.delivery.canary_info#module) in
        its C(canary) result or as a C(flagger.app/v1beta1) Canary manifest.
      - Gives the alert's subject (C(name.namespace)) and, without O(provider) and O(providers),
        its C(spec.analysis.alerts).
      - Mutually exclusive with O(name).
    type: dict
  name:
    description:
      - Name of the Canary the alert is about. With O(namespace), the alert's subject is
        C(name.namespace). Without O(provider) and O(providers), the Canary is read from the
        cluster for its alerts.
    type: str
  namespace:
    description:
      - Namespace of the Canary.
    type: str
  provider:
    description:
      - The chat service of a single target. Requires O(url).
    type: str
    choices: [slack, msteams, discord, rocket, gchat]
  url:
    description:
      - The incoming webhook URL of the single target. It is a secret, never logged or returned.
    type: str
  username:
    description:
      - Sender name of the single target, shown by Slack, Discord and Rocket.Chat and used as the
        title of Google Chat cards.
    type: str
    default: flagger
  channel:
    description:
      - Channel of the single target, for Slack, Discord and Rocket.Chat webhooks that take one.
    type: str
  token:
    description:
      - Token of the single target, sent in the C(Authorization) header as C(Bearer <token>).
    type: str
  proxy:
    description:
      - HTTP(S) proxy URL for the single target, for example C(http://proxy.corp:3128).
      - Treated as a secret, since proxy URLs can carry credentials.
    type: str
  alert_severity:
    description:
      - Severity filter of the single target. C(info) sends everything, C(warn) warnings and errors,
        C(error) only errors, as in Flagger.
    type: str
    choices: [info, warn, error]
    default: info
  providers:
    description:
      - Several targets at once. Each entry takes the options of the single target.
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for this target, shown in RV(results).
        type: str
      provider:
        description: The chat service.
        type: str
        required: true
        choices: [slack, msteams, discord, rocket, gchat]
      url:
        description: The incoming webhook URL; a secret.
        type: str
        required: true
      username:
        description: Sender name.
        type: str
        default: flagger
      channel:
        description: Channel.
        type: str
      token:
        description: Bearer token; a secret.
        type: str
      proxy:
        description: HTTP(S) proxy URL; a secret.
        type: str
      alert_severity:
        description: Severity filter of this target.
        type: str
        choices: [info, warn, error]
        default: info
  text:
    description:
      - The alert text, for example C(Canary analysis failed, rollback finished.).
      - Called C(message) in Flagger; that name is reserved by Ansible.
    type: str
    required: true
  fields:
    description:
      - Extra facts shown with the message, as a mapping of name to value or as a list of
        C(name)/C(value) dicts (the list keeps its order).
    type: raw
  severity:
    description:
      - Severity of this alert. Slack and Discord show C(info) green, C(warn) yellow and
        C(error) red; the other providers use similar colours.
    type: str
    choices: [info, warn, error]
    default: info
  cluster:
    description:
      - Name of the cluster, added as the first field C(Cluster) as Flagger does.
    type: str
  timeout:
    description:
      - Seconds to wait for each chat service's answer.
    type: float
    default: 5
  validate_webhook_certs:
    description:
      - Whether to verify the chat services' TLS certificates.
      - O(validate_certs) is about the Kubernetes API server only.
    type: bool
    default: true
notes:
  - Every target is tried; the task fails afterwards when any of them could not be reached or
    rejected the alert, naming which.
seealso:
  - module: progressive.delivery.canary_webhook
  - name: Flagger alerting
    description: The alert providers whose message shapes this module follows.
    link: https://docs.flagger.app/usage/alerting
requirements:
  - python >= 3.9
  - requests
  - kubernetes >= 24.2.0 (only to read AlertProviders from the cluster)
"""

EXAMPLES = r"""
- name: Tell the team the release was rolled back
  progressive.delivery.canary_notify:
    provider: slack
    url: "{{ slack_webhook_url }}"
    channel: deploys
    name: podinfo
    namespace: test
    severity: error
    text: "Canary analysis failed, rollback finished."
    fields:
      Target: Deployment/podinfo.test
      Failed checks threshold: "{{ plan.canary.analysis.threshold }}"

- name: Alert the providers the Canary itself lists in spec.analysis.alerts
  progressive.delivery.canary_notify:
    canary: "{{ plan.canary }}"
    severity: info
    text: "Canary analysis completed successfully, promotion finished."

- name: Post to Teams and Google Chat, Teams only for errors, through the corporate proxy
  progressive.delivery.canary_notify:
    name: podinfo
    namespace: test
    severity: warn
    text: "Canary is waiting for approval."
    providers:
      - provider: msteams
        url: "{{ teams_webhook_url }}"
        proxy: http://proxy.corp:3128
        alert_severity: error
      - provider: gchat
        url: "{{ gchat_webhook_url }}"
"""

RETURN = r"""
sent:
  description: How many targets received the alert (0 in check mode).
  returned: always
  type: int
  sample: 1
results:
  description: One entry per target, in order. URLs are never included.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target's name (the AlertProvider's for Canary alerts).
      type: str
      sample: on-call
    provider:
      description: The chat service.
      type: str
      sample: slack
    sent:
      description: Whether the alert was delivered.
      type: bool
      sample: true
    status:
      description: The HTTP status the chat service answered; null when not sent.
      type: int
      sample: 200
    msg:
      description: What happened to this target.
      type: str
      sample: slack alert sent
    payload:
      description: The JSON document sent (or that would be).
      type: dict
"""

import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.analysis import (
    load_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    ALERT_TARGET_OPTIONS,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    LazyClient,
    get_object,
    get_resource,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.notifiers import (
    DEFAULT_USERNAME,
    PROVIDERS,
    SEVERITIES,
    NotifierError,
    build_alert,
    normalize_fields,
    post_alert,
    resolve_alert_target,
    severity_matches,
    validate_url,
)
from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
)

TARGET_KEYS = ("provider", "url", "username", "channel", "token", "proxy", "alert_severity")


def argument_spec():
    return module_argument_spec(
        canary=dict(type="dict"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        provider=dict(type="str", choices=list(PROVIDERS)),
        url=dict(type="str", no_log=True),
        username=dict(type="str", default=DEFAULT_USERNAME),
        channel=dict(type="str"),
        token=dict(type="str", no_log=True),
        proxy=dict(type="str", no_log=True),
        alert_severity=dict(type="str", choices=list(SEVERITIES), default="info"),
        providers=dict(type="list", elements="dict", options=copy.deepcopy(ALERT_TARGET_OPTIONS)),
        text=dict(type="str", required=True),
        fields=dict(type="raw"),
        severity=dict(type="str", choices=list(SEVERITIES), default="info"),
        cluster=dict(type="str"),
        timeout=dict(type="float", default=5),
        validate_webhook_certs=dict(type="bool", default=True),
    )


class Cluster(object):
    """Connects to Kubernetes only when AlertProviders must be read."""

    def __init__(self, module):
        self.client = LazyClient(module)

    def get(self, api_version, kind, namespace, name):
        obj = get_object(get_resource(self.client(), api_version, kind), namespace, name)
        if obj is None:
            raise InvalidInput("{0} {1}/{2} not found".format(kind, namespace, name))
        return obj


def subject(params, cluster):
    """``(name, namespace, canary_or_None)`` of what the alert is about."""
    if params["canary"] is not None:
        canary, _obj = load_canary(params["canary"], namespace=params["namespace"])
        return canary["name"], canary["namespace"], canary
    if not (params["name"] and params["namespace"]):
        raise InvalidInput("either canary, or name and namespace, is required")
    if params["provider"] or params["providers"]:
        return params["name"], params["namespace"], None
    canary, _obj = load_canary(None, params["name"], params["namespace"], cluster.client)
    return canary["name"], canary["namespace"], canary


def targets(params, canary, cluster):
    if params["provider"]:
        if not params["url"]:
            raise InvalidInput("url is required with provider")
        single = dict((key, params[key]) for key in TARGET_KEYS)
        single["name"] = params["provider"]
        return [single]
    if params["providers"]:
        return [dict(entry, name=entry["name"] or entry["provider"])
                for entry in params["providers"]]
    alerts = (canary or {}).get("analysis", {}).get("alerts") or []
    if not alerts:
        raise InvalidInput("no alert target: set provider and url, or providers, or give a "
                           "Canary whose spec.analysis.alerts names AlertProviders")
    found = []
    for alert in alerts:
        try:
            found.append(resolve_alert_target(alert, cluster.get))
        except ValueError as exc:
            raise InvalidInput(str(exc))
    return found


def run(module):
    params = module.params
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    cluster = Cluster(module)
    name, namespace, canary = subject(params, cluster)
    try:
        fields = normalize_fields(params["fields"])
    except ValueError as exc:
        raise InvalidInput(str(exc))
    if params["cluster"]:
        fields.insert(0, {"name": "Cluster", "value": params["cluster"]})
    results = []
    failures = []
    for target in targets(params, canary, cluster):
        try:
            validate_url(target["url"], "url of {0}".format(target["name"]))
            if target.get("proxy"):
                validate_url(target["proxy"], "proxy of {0}".format(target["name"]))
        except ValueError as exc:
            raise InvalidInput(str(exc))
        payload = build_alert(target["provider"], name, namespace, params["text"], fields,
                              params["severity"], username=target.get("username"),
                              channel=target.get("channel"))
        entry = {"name": target["name"], "provider": target["provider"], "sent": False,
                 "status": None, "payload": payload}
        results.append(entry)
        if not severity_matches(target.get("alert_severity") or "info", params["severity"]):
            entry["msg"] = "not sent: severity {0} is below this target's {1}".format(
                params["severity"], target["alert_severity"])
            continue
        if module.check_mode:
            entry["msg"] = "check mode: not sent"
            continue
        try:
            entry["status"] = post_alert(
                target["provider"], target["url"], payload, token=target.get("token"),
                proxy=target.get("proxy"), timeout=params["timeout"],
                validate_certs=params["validate_webhook_certs"])
        except NotifierError as exc:
            entry["msg"] = str(exc)
            failures.append("{0}: {1}".format(target["name"], exc))
            continue
        entry.update(sent=True, msg="{0} alert sent".format(target["provider"]))
    sent = sum(1 for entry in results if entry["sent"])
    if failures:
        raise DeliveryError("{0} of {1} alert targets failed: {2}".format(
            len(failures), len(results), "; ".join(failures)), results=results, sent=sent)
    would = [entry for entry in results if entry["msg"].startswith("check mode")]
    return {"changed": bool(sent or would), "sent": sent, "results": results,
            "msg": "{0} of {1} alert targets notified".format(sent, len(results))}


def main():
    run_module(
        run, argument_spec(),
        mutually_exclusive=[("canary", "name"), ("provider", "providers")],
        required_by={"name": "namespace", "provider": "url"},
        check_k8s=False,
    )


if __name__ == "__main__":
    main()
