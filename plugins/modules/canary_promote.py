#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_promote
short_description: Promote a canary Deployment to primary and route all traffic to it
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Makes the primary Deployment C(<name>-primary) run what the canary (the target Deployment
    O(name)) runs, then sends all traffic to the primary and scales the canary to zero, the way
    Flagger promotes a canary.
  - 'In order: copies every ConfigMap and Secret the canary''s pod template uses to a C(-primary)
    copy (created, or refreshed when its data differs); copies the canary''s pod template to the
    primary, pointing its ConfigMap/Secret references at those copies and keeping the primary''s
    own selector labels (C(app: <name>-primary)); waits until the primary has rolled out
    (observed generation, updated and available replicas); sets the TraefikService to 100% primary
    (removing the canary entry); scales the canary to 0 replicas.'
  - Everything that can be refused is checked before the first write; a missing canary or primary
    Deployment, a missing required ConfigMap or Secret, or a TraefikService that is not the
    expected weighted pair fails the task with nothing changed.
  - If the primary does not finish its rollout within O(timeout), the task fails and routing is
    left as it was, and the canary keeps its replicas, so traffic keeps reaching pods that work.
  - If the ansible-playbook run that started the task dies while it waits for the primary's
    rollout (a killed or cancelled job; ansible-core's workers outlive their controller), it stops
    within a second, leaving routing and the canary as they are for the next run to finish.
  - With O(canary), the target may also be a C(DaemonSet); the primary DaemonSet then takes the pod
    template, C(updateStrategy), C(minReadySeconds) and C(revisionHistoryLimit), and the canary is
    scaled to zero by its node selector, as Flagger does
    (see P(progressive.delivery.canary_scale#module)).
  - When the primary already runs the canary's template and configuration, all traffic goes to
    the primary and the canary is at 0 replicas, the task reports C(changed=false).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.traefik_route
  - progressive.delivery.traefik_api_version
  - progressive.delivery.target_labels
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
attributes:
  diff_mode:
    details: The diff shows the primary's pod template, the weights and the canary's replicas.
options:
  name:
    description:
      - Name of the target Deployment, which is the canary. The primary is C(<name>-primary).
      - Required unless O(canary) is given.
    type: str
  namespace:
    description:
      - Namespace of the Deployments, Services, ConfigMaps, Secrets and TraefikService.
      - Required with O(name).
    type: str
  canary:
    description:
      - The Canary to promote, as P(progressive.delivery.canary_info#module) returns it in its
        C(canary) result or as a C(flagger.app/v1beta1) Canary manifest. Its target (kind, name and
        C(spec.analysis.primaryReadyThreshold)) and its router (the TraefikService and Services named
        after C(spec.service.name), the port of C(spec.service.port)) are used.
      - Mutually exclusive with O(name), O(namespace), O(traefik_service) and the route options
        (O(primary_service), O(canary_service), O(port)).
    type: dict
    version_added: 0.3.0
  timeout:
    description:
      - Seconds to wait for the primary's rollout before failing.
    type: int
    default: 600
  route_traffic:
    description:
      - Route all traffic to the primary once its rollout finished.
      - Set it to false to shift traffic back in steps afterwards (Flagger's C(stepWeightPromotion)),
        then call the module again with the default to finish.
    type: bool
    default: true
  scale_down:
    description:
      - Scale the canary Deployment to zero at the end.
      - Set it to false while traffic still goes to the canary, as with O(route_traffic=false).
    type: bool
    default: true
  traefik_service:
    description:
      - Name of the weighted TraefikService, which is the Canary's C(spec.service.name).
      - Defaults to O(name), as Flagger's C(spec.service.name) defaults to the target's name.
        Set it whenever the Canary names its Service apart from the target; O(primary_service)
        and O(canary_service) then default to C(<traefik_service>-primary) and
        C(<traefik_service>-canary).
    type: str
seealso:
  - module: progressive.delivery.canary_weight
"""

EXAMPLES = r"""
- name: Promote podinfo
  progressive.delivery.canary_promote:
    name: podinfo
    namespace: test
    timeout: 300
  register: promotion

- name: Promote the Canary canary_info read, with its own target, router and ready threshold
  progressive.delivery.canary_promote:
    canary: "{{ info.canary }}"
    timeout: "{{ info.canary.progress_deadline_seconds }}"

- name: Show how long each step took
  ansible.builtin.debug:
    var: promotion.timings
"""

RETURN = r"""
primary:
  description: The primary Deployment and the images it runs (predicted in check mode).
  returned: success
  type: dict
  sample: {"name": "podinfo-primary", "images": {"podinfod": "stefanprodan/podinfo:4.0.6"}}
configs:
  description: The C(-primary) ConfigMap and Secret copies the primary uses.
  returned: success
  type: list
  elements: str
  sample: ["ConfigMap/podinfo-config-primary", "Secret/podinfo-token-primary"]
weights:
  description: The weights after promotion.
  returned: success
  type: dict
  sample: {"primary": 100, "canary": 0}
previous_weights:
  description: The weights before promotion.
  returned: success
  type: dict
  sample: {"primary": 50, "canary": 50}
actions:
  description: What was done, in Flagger's words; empty when nothing changed or in check mode.
  returned: success
  type: list
  elements: str
  sample:
    - Copying podinfo.test template spec to podinfo-primary.test
    - Waiting for podinfo-primary.test rollout to finish
    - "podinfo-primary rolled out: 2 of 2 updated replicas are available"
    - Routing all traffic to primary
    - Scaling down podinfo.test
timings:
  description:
    - Seconds spent in each step that ran (C(configs), C(primary_update), C(primary_rollout),
      C(routing), C(canary_scale_down)) and C(total).
  returned: success
  type: dict
  sample: {"primary_update": 0.021, "primary_rollout": 3.2, "routing": 0.015, "canary_scale_down": 0.012, "total": 3.3}
"""

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_REF_ARG_SPEC,
    TARGET_LABELS_ARG_SPEC,
    TRAEFIK_ROUTE_ARG_SPEC,
    route_or_canary,
    target_labels,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    canary_from_option,
)
from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    ControllerWatch,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.promotion import (
    promote,
    promote_canary,
)


def argument_spec():
    return module_argument_spec(
        CANARY_REF_ARG_SPEC, TRAEFIK_ROUTE_ARG_SPEC,
        TARGET_LABELS_ARG_SPEC,
        timeout=dict(type="int", default=600),
        traefik_service=dict(type="str"),
        route_traffic=dict(type="bool", default=True),
        scale_down=dict(type="bool", default=True),
    )


def run(module):
    params = module.params
    # The process tree as it is when the module starts, to notice later that the run is gone.
    watch = ControllerWatch()
    if params["canary"] is not None:
        canary = canary_from_option(params["canary"])
        return promote_canary(
            get_dynamic_client(module), canary, params["timeout"],
            api_version=params["traefik_api_version"], check_mode=module.check_mode,
            route_traffic=params["route_traffic"], scale_down=params["scale_down"], watch=watch,
            target_labels=target_labels(params))
    return promote(
        get_dynamic_client(module),
        params["namespace"],
        params["name"],
        params["timeout"],
        traefik_service=params["traefik_service"],
        primary_service=params["primary_service"],
        canary_service=params["canary_service"],
        port=params["port"],
        api_version=params["traefik_api_version"],
        check_mode=module.check_mode,
        route_traffic=params["route_traffic"],
        scale_down=params["scale_down"],
        watch=watch,
        target_labels=target_labels(params),
    )


def main():
    run_module(run, argument_spec(), **route_or_canary("traefik_service"))


if __name__ == "__main__":
    main()
