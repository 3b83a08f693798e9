#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_access
short_description: Check that the Kubernetes identity in use may run a release, before anything changes
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Asks the API server, with one C(SelfSubjectAccessReview) per permission, whether the identity the
    connection options give may do everything a release of the Canary needs - read and update the Canary's
    status, record events, read, update and scale the Deployments, read and update the TraefikService,
    take the release lock, call in-cluster webhooks through the service proxy, and, for an app not
    initialised yet, create the primary, the Services, the TraefikService and the HPA clone.
  - When one is missing the task fails, naming every missing verb and resource, what it is needed for,
    and who the API server took the caller for; nothing in the cluster is changed. The role runs it before
    it takes the release lock, so a run without the rights stops before its first write instead of
    half-way through a promotion.
  - The files in C(rbac/) of the collection grant exactly these permissions to a
    ServiceAccount.
  - Every authenticated identity may create C(SelfSubjectAccessReview)s (the C(system:basic-user) role).
    An API server that serves none cannot be asked; the task then warns and checks nothing.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_data
  - progressive.delivery.attributes
  - progressive.delivery.attributes.reads
attributes:
  check_mode:
    details: The module only asks questions, so it asks them in check mode too.
options:
  canary:
    required: true
  traefik_api_version:
    description:
      - API group and version of the TraefikService.
    type: str
    choices: [traefik.io/v1alpha1, traefik.containo.us/v1alpha1]
    default: traefik.io/v1alpha1
  initialized:
    description:
      - Whether the app is initialised; when false, the permissions to create the primary, the Services,
        the TraefikService and the HPA clone are checked too.
    type: bool
    default: true
  tracked_configs:
    description:
      - The ConfigMaps and Secrets the target uses, which promotion copies - the mapping
        P(progressive.delivery.canary_info#module) returns as RV(progressive.delivery.canary_info#module:tracked_configs)
        (keyed C(configmap/NAME) or C(secret/NAME)), or a list of such keys.
    type: raw
    default: []
  register_canary:
    description:
      - Whether the run creates the Canary object from a manifest.
    type: bool
    default: false
  metric_templates:
    description:
      - Whether the analysis reads MetricTemplates from the cluster.
    type: bool
    default: false
seealso:
  - module: progressive.delivery.canary_info
"""

EXAMPLES = r"""
- name: Read the Canary
  progressive.delivery.canary_info:
    name: podinfo
    namespace: test
  register: info

- name: Make sure this job's ServiceAccount may run the release
  progressive.delivery.canary_access:
    canary: "{{ info.canary }}"
    traefik_api_version: "{{ info.traefik_api_version }}"
    initialized: "{{ info.initialized }}"
"""

RETURN = r"""
checked:
  description: The permissions that were asked about, as C(verb resource.group[/subresource]).
  returned: always
  type: list
  elements: str
  sample: ["get canaries.flagger.app", "update canaries.flagger.app/status", "update traefikservices.traefik.io"]
missing:
  description: The permissions the API server denied (the task then fails).
  returned: always
  type: list
  elements: str
  sample: ["update traefikservices.traefik.io"]
"""

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.routers.traefik import (
    TRAEFIK_API_VERSIONS,
)
from ansible_collections.progressive.delivery.plugins.module_utils.permissions import (
    release_needs,
    require,
)

CONFIG_KINDS = {"configmap": "ConfigMap", "secret": "Secret"}


def argument_spec():
    return module_argument_spec(
        CANARY_ARG_SPEC,
        traefik_api_version=dict(type="str", default=TRAEFIK_API_VERSIONS[0],
                                 choices=list(TRAEFIK_API_VERSIONS)),
        initialized=dict(type="bool", default=True),
        tracked_configs=dict(type="raw", default=[]),
        register_canary=dict(type="bool", default=False),
        metric_templates=dict(type="bool", default=False),
    )


def tracked_kinds(entries):
    """The kinds among canary_info's tracked_configs keys (``configmap/NAME``, ``secret/NAME``)."""
    if isinstance(entries, dict):
        entries = list(entries)
    if not isinstance(entries, list):
        raise InvalidInput("tracked_configs must be canary_info's tracked_configs mapping or a list of its keys")
    kinds = []
    for entry in entries:
        kind = CONFIG_KINDS.get(str(entry).split("/", 1)[0].lower())
        if kind is None or "/" not in str(entry):
            raise InvalidInput("tracked_configs keys must be configmap/NAME or secret/NAME; got {0!r}".format(entry))
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def run(module):
    params = module.params
    canary = params["canary"]
    if not isinstance(canary.get("namespace"), str) or not canary["namespace"]:
        raise InvalidInput("canary must be the Canary as canary_info returns it (with its namespace)")
    needs = release_needs(canary, params["traefik_api_version"].split("/", 1)[0],
                          initialized=params["initialized"],
                          tracked_kinds=tracked_kinds(params["tracked_configs"]),
                          register_canary=params["register_canary"],
                          metric_templates=params["metric_templates"])
    if not require(get_dynamic_client(module), canary["namespace"], needs):
        module.warn("The API server does not serve SelfSubjectAccessReview, so permissions were not checked")
        return {"changed": False, "checked": [], "missing": []}
    return {"changed": False, "checked": [n.describe() for n in needs], "missing": []}


def main():
    run_module(run, argument_spec())


if __name__ == "__main__":
    main()
