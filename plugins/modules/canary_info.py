#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_info
short_description: Read a Flagger Canary, validate it and tell whether its target has a new revision
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Reads a C(flagger.app/v1beta1) C(Canary) from a file, from a dict or from the cluster,
    validates it with messages that name the offending field, and returns it in normalized form
    with Flagger's defaults filled in.
  - Computes the revision of the target Deployment (its pod template and the ConfigMaps and
    Secrets it uses) and compares it with the Canary's status, so a playbook knows whether a
    release is due.
  - Resolves the C(MetricTemplate)s the analysis references, from O(metric_template_files) first
    and then from the cluster.
  - Never changes anything.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_source
  - progressive.delivery.canary_data
  - progressive.delivery.canary_ref
  - progressive.delivery.traefik_api_version
  - progressive.delivery.attributes
  - progressive.delivery.attributes.reads
options:
  metric_template_files:
    description:
      - YAML files holding C(MetricTemplate)s; they take precedence over objects in the cluster.
      - Read on the controller and searched for as O(canary_file) is.
    type: list
    elements: path
    default: []
  metric_templates:
    description:
      - C(MetricTemplate) manifests given as data; they take precedence over O(metric_template_files)
        and over objects in the cluster.
    type: list
    elements: dict
    default: []
  on_interrupted:
    description:
      - What RV(decision) says about a release an earlier run left unfinished (the same revision in
        phase Progressing, Waiting, WaitingPromotion, Promoting or Finalising).
      - C(resume) goes on where it stopped; C(rollback) rolls it back.
    type: str
    choices: [resume, rollback]
    default: resume
    version_added: 0.3.0
seealso:
  - module: progressive.delivery.canary_init
  - module: progressive.delivery.canary_status
"""

EXAMPLES = r"""
- name: Read the Canary from its file and see whether a release is due
  progressive.delivery.canary_info:
    canary_file: podinfo-canary.yaml
  register: info

- name: Release only when the target changed
  ansible.builtin.debug:
    msg: "New revision {{ info.revision }} of {{ info.canary.target.name }}"
  when: info.new_revision

- name: Read a Canary that lives in the cluster
  progressive.delivery.canary_info:
    name: podinfo
    namespace: test
"""

RETURN = r"""
canary:
  description:
    - The Canary in normalized form, Flagger's defaults filled in (intervals in seconds, weight steps spelled out).
    - C(names) holds every object name a release works with, each derived from the field Flagger derives it
      from - C(target) and C(primary) (the Deployments) from C(spec.targetRef.name); C(apex_service),
      C(primary_service), C(canary_service) and C(traefik_service) from C(spec.service.name).
  returned: success
  type: dict
  sample: {"name": "podinfo", "namespace": "test", "steps": [5, 10, 15], "service": {"name": "podinfo", "port": 80},
           "names": {"target": "podinfo", "primary": "podinfo-primary", "apex_service": "podinfo",
                     "primary_service": "podinfo-primary", "canary_service": "podinfo-canary",
                     "traefik_service": "podinfo"}}
manifest:
  description: The Canary manifest as given (or as read from the cluster).
  returned: success
  type: dict
source:
  description: Where the Canary came from.
  returned: success
  type: str
  sample: file
status:
  description: The Canary's status in the cluster; empty when it has none yet.
  returned: success
  type: dict
  sample: {"phase": "Succeeded", "canaryWeight": 0, "lastPromotedSpec": "3f0e9c1d2b7a4c55"}
revision:
  description: Checksum of the target's pod template and tracked configs; null when the target does not exist.
  returned: success
  type: str
  sample: 3f0e9c1d2b7a4c55
tracked_configs:
  description: Checksums of the ConfigMaps and Secrets the target uses, keyed C(configmap/NAME) or C(secret/NAME).
  returned: success
  type: dict
  sample: {"configmap/podinfo-config": "a1b2c3d4e5f60718"}
decision:
  description:
    - What a run has to do for this Canary, decided in one place, the release's state machine.
  returned: success
  type: dict
  version_added: 0.3.0
  contains:
    action:
      description:
        - C(suspended) (C(spec.suspend) is set; nothing is done), C(initialise) (no primary yet),
          C(resume) or C(rollback) (an earlier run left this revision's release unfinished; see
          O(on_interrupted)), C(release) (a new revision), C(unlock) (nothing to release, but a killed
          run left the release lock), C(paused) (an inconclusive judge paused this revision's release
          for a person; the promote or abort playbook decides), or C(nothing).
      type: str
      sample: release
    reason:
      description: Why, in words.
      type: str
      sample: new revision 5d8c7f1e9a2b3c4d; the primary runs 0a1b2c3d4e5f6a7b
new_revision:
  description:
    - Whether the target runs a revision that still needs an analysis; false before initialisation.
    - True when the revision differs from C(status.lastPromotedSpec), unless that same revision
      is already being analysed (phase Progressing, Waiting, WaitingPromotion, Promoting, Finalising)
      or already failed.
  returned: success
  type: bool
in_progress:
  description: Whether an analysis of this same revision was under way (for resuming).
  returned: success
  type: bool
failed_revision:
  description: Whether this revision was already rolled back (Flagger waits for a new one).
  returned: success
  type: bool
initialized:
  description: Whether the primary Deployment exists.
  returned: success
  type: bool
target_exists:
  description: Whether the target Deployment exists.
  returned: success
  type: bool
registered:
  description: Whether the Canary exists as an object in the cluster (where its status and events live).
  returned: success
  type: bool
lock:
  description:
    - The release lock (the C(<name>-canary-lock) Lease) as P(progressive.delivery.canary_lock#module)
      returns it, or null when there is none.
    - A holder here while no run works on the app is a run that was killed while holding it; the
      Lease is taken over once it expires.
  returned: success
  type: dict
  sample: {"holder": "awx-1234-5f2c9a1b", "renew_time": "2026-11-26T10:00:00.000000Z", "expires_at": "2026-11-26T10:02:00.000000Z"}
traefik_api_version:
  description: API group and version of Traefik's CRDs; null when the cluster serves none.
  returned: success
  type: str
  sample: traefik.io/v1alpha1
metric_templates:
  description: The MetricTemplate manifests the analysis references, keyed C(namespace/name).
  returned: success
  type: dict
warnings_fields:
  description: Flagger fields that were accepted but are ignored with Traefik.
  returned: success
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_SOURCE_ARG_SPEC,
    TRAEFIK_API_VERSION_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.detection import (
    describe_canary,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    ON_INTERRUPTED,
)

try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False


def argument_spec():
    return module_argument_spec(
        CANARY_SOURCE_ARG_SPEC, TRAEFIK_API_VERSION_ARG_SPEC,
        metric_template_files=dict(type="list", elements="path", default=[]),
        metric_templates=dict(type="list", elements="dict", default=[]),
        on_interrupted=dict(type="str", choices=list(ON_INTERRUPTED), default="resume"),
    )


def metric_templates_file(templates):
    """O(metric_templates) as a file read after metric_template_files, so they take precedence.

    The action plugin hands over the templates of metric_template_files as data, read on the
    controller; the template resolution reads files, where a later file wins.
    """
    handle = tempfile.NamedTemporaryFile("w", prefix="metric_templates-", suffix=".yaml", delete=False)
    with handle:
        yaml.safe_dump_all(templates, handle)
    return handle.name


def run(module):
    params = dict(module.params)
    templates = params.pop("metric_templates") or []
    written = None
    if templates:
        if not HAS_YAML:
            module.fail_json(msg=missing_required_lib("PyYAML"))
        written = metric_templates_file(templates)
        params["metric_template_files"] = list(params["metric_template_files"] or []) + [written]
    try:
        client = get_dynamic_client(module)
        result = describe_canary(client, params)
    finally:
        if written:
            os.remove(written)
    for warning in result["canary"].get("warnings") or []:
        module.warn(warning)
    result["changed"] = False
    return result


def main():
    run_module(run, argument_spec(), mutually_exclusive=[("canary_file", "canary")])


if __name__ == "__main__":
    main()
