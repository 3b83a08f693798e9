#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_finalize
short_description: Delete a Flagger Canary and, with revertOnDeletion, give the app back to its target
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Does what Flagger's finalizer does when a C(Canary) is deleted. No controller runs between
    releases, so this module does the work and then deletes the Canary itself.
  - With C(spec.revertOnDeletion=true) (or O(revert=true)), in Flagger's order, records phase
    C(Terminating) and the event C(Terminating canary <name>.<namespace>) (sent to the event
    webhooks too, as Flagger sends every Event), scales the target
    Deployment back to the primary's replicas (from zero when the primary is gone, as Flagger's
    C(ScaleFromZero)), waits until the target is ready, and points the apex Service at the
    target's pods when the Service is not the Canary's own (the selector of kubectl's
    last-applied configuration when it has one).
  - Then deletes the Canary in the foreground and waits until it is gone. The objects it owns go
    with it, removed by the garbage collector as in Flagger, the primary, the C(-primary) and
    C(-canary) Services, the apex Service when it was created for the Canary, the HPA clone and
    the TraefikService. An IngressRoute that names the TraefikService then has no backend;
    point it at a Service of yours first.
  - Without C(revertOnDeletion) the Canary is only deleted, as in Flagger, leaving the target at
    the replicas it has (zero after initialisation).
  - A Canary named by O(name) that is not in the cluster any more is reported unchanged. Given as
    O(canary) with O(revert=true) the target and apex Service are reverted even then, for an app
    whose Canary was deleted with C(kubectl).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_data
  - progressive.delivery.canary_ref
  - progressive.delivery.target_labels
  - progressive.delivery.signals
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
attributes:
  check_mode:
    details: Reads everything and reports what it would change and delete; nothing is written and it does not wait.
options:
  revert:
    description:
      - Whether to give the app back to its target before deleting the Canary.
      - Default is the Canary's C(spec.revertOnDeletion).
    type: bool
  delete:
    description:
      - Whether to delete the Canary. V(false) only reverts (with O(revert)), leaving the Canary in
        phase C(Terminating).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the target to become ready and for the Canary to be gone.
      - Default is the Canary's C(spec.progressDeadlineSeconds).
    type: int
notes:
  - Flagger reverts only when C(revertOnDeletion) is set, and so does this module by default.
seealso:
  - module: progressive.delivery.canary_init
  - module: progressive.delivery.canary_info
"""

EXAMPLES = r"""
- name: Delete Canary podinfo and give the app back to its Deployment, as Flagger's finalizer does
  progressive.delivery.canary_finalize:
    name: podinfo
    namespace: test
    revert: true

- name: Delete a Canary by name, as spec.revertOnDeletion says
  progressive.delivery.canary_finalize:
    name: podinfo
    namespace: test
"""

RETURN = r"""
reverted:
  description: Whether the app was given back to its target (or would be, in check mode).
  returned: success
  type: bool
  sample: true
deleted:
  description: Whether the Canary was deleted (or would be, in check mode).
  returned: success
  type: bool
  sample: true
objects:
  description: What was changed, in order.
  returned: success
  type: list
  elements: dict
  sample: [{"kind": "Canary", "name": "podinfo", "action": "status"},
           {"kind": "Deployment", "name": "podinfo", "action": "scaled back"},
           {"kind": "Canary", "name": "podinfo", "action": "deleted"}]
"""

from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
    announce,
)
from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_REF_ARG_SPEC,
    SIGNALS_ARG_SPEC,
    TARGET_LABELS_ARG_SPEC,
    target_labels,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    resolve_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.detection import (
    cluster_reader,
)
from ansible_collections.progressive.delivery.plugins.module_utils.finalize import (
    finalize,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.webhooks import (
    WebhookSender,
    hide_url_secrets,
)


def argument_spec():
    return module_argument_spec(
        CANARY_REF_ARG_SPEC, TARGET_LABELS_ARG_SPEC,
        SIGNALS_ARG_SPEC,
        revert=dict(type="bool"),
        delete=dict(type="bool", default=True),
        timeout=dict(type="int"),
    )


def run(module):
    params = module.params
    client = get_dynamic_client(module)
    read = cluster_reader(client)
    if not params["canary"] and params["name"] and params["namespace"] and read(
            params["namespace"], params["name"]) is None:
        module.warn("Canary {0}/{1} is not in the cluster: nothing to delete or revert".format(
            params["namespace"], params["name"]))
        return {"changed": False, "reverted": False, "deleted": False, "objects": []}
    canary, _manifest, _source, _obj = resolve_canary(params, read)

    def record_event(canary_obj, event_type, message):
        hide_url_secrets(module, canary["analysis"].get("webhooks"))
        announce(client, canary, canary_obj, event_type, message,
                 WebhookSender(api_client=lambda: client.client), Signals.from_params(params),
                 template="terminating", phase="Terminating")

    return finalize(client, canary, revert=params["revert"], delete=params["delete"],
                    timeout=params["timeout"], check_mode=module.check_mode,
                    target_labels=target_labels(params), record_event=record_event)


def main():
    run_module(run, argument_spec(), mutually_exclusive=[("canary", "name")],
               required_together=[("name", "namespace")])


if __name__ == "__main__":
    main()
