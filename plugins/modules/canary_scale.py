#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_scale
short_description: Scale a Canary's target up or to zero, whatever its kind
version_added: 0.3.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Scales the target of a Canary (C(spec.targetRef)) up or to zero the way Flagger does for its
    kind, and can wait until the scaled-up target is ready.
  - A Deployment is scaled by its replicas.
  - A DaemonSet has no replicas; it is scaled to zero with the node selector
    C(flagger.app/scale-to-zero=true), which no node carries, so its controller removes its pods;
    scaling it up removes that node selector again.
  - Readiness is judged with the Canary's C(spec.analysis.canaryReadyThreshold) (every pod by
    default) on the updated pods of the target, as Flagger judges a canary.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_data
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
attributes:
  diff_mode:
    details: The diff shows whether the target was scaled to zero and the pods it ran.
options:
  canary:
    required: true
  state:
    description:
      - V(up) runs the target's pods; V(zero) stops them.
    type: str
    choices: [up, zero]
    required: true
  replicas:
    description:
      - The replicas a Deployment target runs when scaled up (at least 1). A DaemonSet runs one
        pod per node its own node selector matches and ignores this option.
    type: int
    default: 1
  wait:
    description:
      - With O(state=up), wait until the target is ready before returning.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the target with O(wait=true), typically the Canary's
        C(spec.progressDeadlineSeconds). The task fails with C(timed_out=true) after that.
    type: int
    default: 600
seealso:
  - module: progressive.delivery.canary_promote
    description: Copies the canary's template to the primary; the canary is then scaled to zero.
  - module: progressive.delivery.canary_init
    description: Creates the primary, after which the target is scaled to zero until a release.
"""

EXAMPLES = r"""
- name: Scale up the canary and wait for it within its progress deadline
  progressive.delivery.canary_scale:
    canary: "{{ info.canary }}"
    state: up
    replicas: 2
    wait: true
    timeout: "{{ info.canary.progress_deadline_seconds }}"

- name: Scale the canary to zero
  progressive.delivery.canary_scale:
    canary: "{{ info.canary }}"
    state: zero
"""

RETURN = r"""
kind:
  description: The kind of the target.
  returned: success
  type: str
  sample: DaemonSet
name:
  description: The name of the target.
  returned: success
  type: str
  sample: podinfo
scaled_to_zero:
  description: Whether the target is scaled to zero now.
  returned: success
  type: bool
  sample: false
message:
  description: How ready the target is, when the module waited for it.
  returned: when O(wait=true) and O(state=up)
  type: str
  sample: "podinfo rolled out: 1 of 1 updated pods are available"
timed_out:
  description: True when the target was not ready within O(timeout).
  returned: failure
  type: bool
  sample: true
"""

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_ARG_SPEC,
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
from ansible_collections.progressive.delivery.plugins.module_utils.targets.factory import (
    target_for,
)
from ansible_collections.progressive.delivery.plugins.module_utils.targets.scaling import (
    SCALE_STATES,
    scale_target,
)


def argument_spec():
    return module_argument_spec(
        CANARY_ARG_SPEC,
        state=dict(type="str", choices=list(SCALE_STATES), required=True),
        replicas=dict(type="int", default=1),
        wait=dict(type="bool", default=False),
        timeout=dict(type="int", default=600),
    )


def run(module):
    params = module.params
    # Bad input is refused before the cluster is contacted.
    canary = canary_from_option(params["canary"])
    watch = ControllerWatch()
    workload = target_for(get_dynamic_client(module), canary)
    threshold = (canary.get("analysis") or {}).get("canary_ready_threshold", 100)
    return scale_target(workload, params["state"], replicas=params["replicas"],
                        wait=params["wait"], timeout=params["timeout"],
                        ready_threshold=threshold, check_mode=module.check_mode,
                        sleep=watch.sleep)


def main():
    run_module(run, argument_spec())


if __name__ == "__main__":
    main()
