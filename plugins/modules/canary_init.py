#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_init
short_description: Create the primary Deployment, Services, TraefikService and HPA a Flagger Canary needs
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Does what Flagger does when it first sees a C(Canary), for the target Deployment C(X)
    (Services are named after C(spec.service.name), which defaults to C(X)).
  - Creates the primary Deployment C(X-primary), a copy of C(X) whose selector label C(app)
    (or C(name), or C(app.kubernetes.io/name)) has the value C(<value>-primary), and whose
    ConfigMap and Secret references point at C(-primary) copies, which are created too.
  - Creates the ClusterIP Services C(X) (apex) and C(X-primary), which select the primary's
    pods, and C(X-canary), which selects the target's pods; port C(spec.service.port) forwards
    to C(spec.service.targetPort), port name C(spec.service.portName) (default C(http)).
  - Creates the weighted TraefikService C(X) sending all traffic to C(X-primary) (the canary
    entry is absent at weight 0); point your IngressRoute at it.
  - With C(spec.autoscalerRef), creates the HPA C(<hpa>-primary) scaling the primary.
  - A C(DaemonSet) target (C(spec.targetRef.kind)) gets a primary DaemonSet C(X-primary) the same
    way, and is scaled to zero with the node selector C(flagger.app/scale-to-zero=true), which no
    node carries, as Flagger does; see P(progressive.delivery.canary_scale#module).
  - A Canary given as a file or a dict is registered in the cluster (the Canary CRD must be
    installed, see C(playbooks/install_crds.yml)), so that its status and events can be seen
    with C(kubectl get canaries) and C(kubectl describe canary).
  - Waits until the primary is ready (at most C(spec.progressDeadlineSeconds)), scales the target
    to zero, records status C(Initialized) with the current revision as C(lastPromotedSpec)
    (the first version counts as promoted, as in Flagger) and the event
    C(Initialization done! <name>.<namespace>).
  - Objects that exist are left alone (Services and the primary HPA are corrected when their
    selector, ports or spec drifted), so a second run reports C(changed=false), and running it
    during a release does not disturb it.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_source
  - progressive.delivery.target_labels
  - progressive.delivery.canary_data
  - progressive.delivery.canary_ref
  - progressive.delivery.traefik_api_version
  - progressive.delivery.signals
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
attributes:
  check_mode:
    details: Reads everything and reports the objects it would create; nothing is written and it does not wait.
options:
  manifest:
    description:
      - The Canary manifest to register in the cluster when O(canary) is the normalized form
        (pass C(info.manifest) from M(progressive.delivery.canary_info)).
    type: dict
  timeout:
    description:
      - Seconds to wait for the primary to become ready; defaults to C(spec.progressDeadlineSeconds).
    type: int
notes:
  - If the primary does not become ready in time the task fails and the target keeps running,
    so no traffic is lost; the objects already created stay and a rerun continues.
seealso:
  - module: progressive.delivery.canary_info
  - module: progressive.delivery.canary_promote
"""

EXAMPLES = r"""
- name: Initialise the article's podinfo Canary from its file
  progressive.delivery.canary_init:
    canary_file: podinfo-canary.yaml

- name: Initialise from what canary_info returned
  progressive.delivery.canary_init:
    canary: "{{ info.canary }}"
    manifest: "{{ info.manifest }}"
    traefik_api_version: "{{ info.traefik_api_version }}"
  when: not info.initialized
"""

RETURN = r"""
initialized_now:
  description: Whether this run completed the initialisation (scaled the target down and recorded status Initialized).
  returned: success
  type: bool
objects:
  description: The objects created or changed (or that would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"kind": "Deployment", "name": "podinfo-primary", "action": "created"}]
revision:
  description: Checksum of the target's pod template and tracked configs.
  returned: success
  type: str
  sample: 3f0e9c1d2b7a4c55
tracked_configs:
  description: Checksums of the ConfigMaps and Secrets the target uses.
  returned: success
  type: dict
primary_replicas:
  description: Replicas of the primary Deployment; null for a DaemonSet target, which has none.
  returned: success
  type: int
  sample: 2
traefik_api_version:
  description: API group and version of the TraefikService.
  returned: success
  type: str
  sample: traefik.io/v1alpha1
"""

from ansible_collections.progressive.delivery.plugins.module_utils.announce import (
    Signals,
)
from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_SOURCE_ARG_SPEC,
    SIGNALS_ARG_SPEC,
    TARGET_LABELS_ARG_SPEC,
    TRAEFIK_API_VERSION_ARG_SPEC,
    target_labels,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    resolve_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.detection import (
    cluster_reader,
)
from ansible_collections.progressive.delivery.plugins.module_utils.initialise import (
    initialise,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)


def argument_spec():
    return module_argument_spec(
        CANARY_SOURCE_ARG_SPEC, TRAEFIK_API_VERSION_ARG_SPEC,
        TARGET_LABELS_ARG_SPEC, SIGNALS_ARG_SPEC,
        manifest=dict(type="dict"),
        timeout=dict(type="int"),
    )


def run(module):
    params = module.params
    client = get_dynamic_client(module)
    canary, manifest, _source, _obj = resolve_canary(params, cluster_reader(client))
    if params.get("manifest"):
        manifest = params["manifest"]
    if _source == "cluster":
        manifest = None
    return initialise(client, canary, manifest=manifest,
                      traefik_api_version=params["traefik_api_version"],
                      check_mode=module.check_mode, timeout=params["timeout"],
                      target_labels=target_labels(params),
                      signals=Signals.from_params(params))


def main():
    run_module(run, argument_spec(), mutually_exclusive=[("canary_file", "canary")])


if __name__ == "__main__":
    main()
