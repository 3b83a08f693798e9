#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_weight
short_description: Set the primary/canary traffic split of a weighted Traefik TraefikService
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Sets how much of the traffic that reaches a weighted C(TraefikService) goes to the canary
    Service; the primary Service gets the rest.
  - At weight C(0) the canary entry is removed from the TraefikService instead of being set to 0,
    because Traefik drops a whole weighted service when one of its Services has no ready endpoints,
    which is the normal state of a canary scaled to zero.
  - Only a TraefikService of kind C(weighted) whose entries are exactly the primary and canary
    Services is changed. Anything else is refused before any write, unless O(takeover=true).
  - The write is a replace guarded by the object's C(resourceVersion); when another client changed
    the object in between (HTTP 409), the module reads it again and retries.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.traefik_route
  - progressive.delivery.traefik_api_version
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
options:
  name:
    description:
      - Name of the TraefikService. Flagger names it after the target Deployment.
      - Required unless O(canary) is given.
    type: str
  namespace:
    description:
      - Namespace of the TraefikService and of the two Services.
      - Required with O(name).
    type: str
  canary:
    description:
      - The Canary whose traffic is split, as P(progressive.delivery.canary_info#module) returns it
        in its C(canary) result or as a C(flagger.app/v1beta1) Canary manifest. Its router and names
        are used (the TraefikService and Services named after C(spec.service.name), the port of
        C(spec.service.port)).
      - Mutually exclusive with O(name), O(namespace) and the route options (O(primary_service),
        O(canary_service), O(port)).
    type: dict
    version_added: 0.3.0
  weight:
    description:
      - The canary's share of the traffic in percent, an integer from 0 to 100.
      - The primary Service receives C(100 - weight).
    type: raw
    required: true
  create:
    description:
      - Create the TraefikService when it does not exist. O(port) is then required.
      - When false, a missing TraefikService is an error.
    type: bool
    default: false
  takeover:
    description:
      - Replace the services of a TraefikService that is not a weighted primary/canary pair
        (for example one of kind C(mirroring), or one pointing at other Services).
      - When false, such a TraefikService is left untouched and the task fails.
    type: bool
    default: false
notes:
  - Traefik applies a weight change within a fraction of a second of the API write when its
    Kubernetes CRD provider runs with a short C(throttleDuration).
  - Run Traefik with C(--providers.kubernetesCRD.allowEmptyServices=true), so a canary without
    ready endpoints does not make Traefik answer 404 for the whole route.
seealso:
  - module: progressive.delivery.canary_promote
  - module: progressive.delivery.metric_check
"""

EXAMPLES = r"""
- name: Send 30% of the traffic to podinfo-canary and 70% to podinfo-primary
  progressive.delivery.canary_weight:
    name: podinfo
    namespace: test
    weight: 30

- name: Split the traffic of the Canary canary_info read, through its own router and names
  progressive.delivery.canary_weight:
    canary: "{{ info.canary }}"
    weight: 20

- name: Create the TraefikService on a Traefik v2 cluster
  progressive.delivery.canary_weight:
    name: podinfo
    namespace: test
    port: 80
    weight: 0
    create: true
    traefik_api_version: traefik.containo.us/v1alpha1

- name: Configure the connection once for this collection and kubernetes.core
  module_defaults:
    group/progressive.delivery.k8s:
      kubeconfig: ~/.kube/staging
      context: staging
  block:
    - name: Step the canary weight
      progressive.delivery.canary_weight:
        name: podinfo
        namespace: test
        weight: "{{ item }}"
      loop: [10, 20, 30]
"""

RETURN = r"""
weights:
  description: The weights after the task (predicted in check mode).
  returned: success
  type: dict
  contains:
    primary:
      description: Share of the traffic sent to the primary Service, in percent.
      type: int
      sample: 70
    canary:
      description: Share of the traffic sent to the canary Service, in percent.
      type: int
      sample: 30
previous:
  description:
    - The weights before the task.
    - C(null) when the TraefikService was created or taken over.
  returned: success
  type: dict
  sample: {"primary": 100, "canary": 0}
api_version:
  description: API group and version of the TraefikService that was used.
  returned: success
  type: str
  sample: traefik.io/v1alpha1
created:
  description: Whether the TraefikService was created (or would be, in check mode).
  returned: success
  type: bool
  sample: false
"""

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_REF_ARG_SPEC,
    TRAEFIK_ROUTE_ARG_SPEC,
    route_or_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    canary_from_option,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.factory import (
    router_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.base import (
    split_weights,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik_weighted import (
    Route,
    TraefikWeightedRouter,
)


def argument_spec():
    return module_argument_spec(
        CANARY_REF_ARG_SPEC, TRAEFIK_ROUTE_ARG_SPEC,
        weight=dict(type="raw", required=True),
        create=dict(type="bool", default=False),
        takeover=dict(type="bool", default=False),
    )


def run(module):
    params = module.params
    # Bad input is refused before the cluster is contacted.
    weights = split_weights(params["weight"])
    canary = canary_from_option(params["canary"]) if params["canary"] is not None else None
    client = get_dynamic_client(module)
    if canary is not None:
        router = router_for(client, canary, api_version=params["traefik_api_version"])
    else:
        # The options name the TraefikService and its Services themselves.
        router = TraefikWeightedRouter(client, Route(
            params["namespace"], params["name"], primary_service=params["primary_service"],
            canary_service=params["canary_service"], port=params["port"],
            api_version=params["traefik_api_version"]))
    return router.set_routes(
        weights["primary"],
        weights["canary"],
        create=params["create"],
        takeover=params["takeover"],
        check_mode=module.check_mode,
    )


def main():
    run_module(run, argument_spec(), **route_or_canary())


if __name__ == "__main__":
    main()
