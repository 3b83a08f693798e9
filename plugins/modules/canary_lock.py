#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_lock
short_description: Make sure only one release of an app runs at a time, with a Kubernetes Lease
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Takes, renews or releases a C(coordination.k8s.io/v1) C(Lease) named C(<name>-canary-lock) in the
    Canary's namespace, the way Kubernetes leader election does.
  - With O(state=acquired) the Lease is created, renewed (when this run already holds it) or taken over
    (when the run holding it stopped renewing it and it expired). When another run holds a Lease that has
    not expired, the task fails at once (or after O(wait_timeout)) with a message naming that run and since
    when it holds the Lease.
  - With O(state=released) the Lease is deleted, but only when this run holds it; another run's Lease is
    left alone.
  - A Lease expires when C(renewTime + leaseDurationSeconds) is in the past, judged by the clock of the
    machine running the module; keep O(lease_duration) well above the clock skew between machines that
    run releases and above the longest time between two renewals.
  - Every write is guarded by the Lease's C(resourceVersion), so of two runs racing for a free Lease
    exactly one wins. Reads and writes are retried through transient API faults (HTTP 5xx, 429 honouring
    C(Retry-After), dropped connections) for up to O(retry_timeout) seconds.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.attributes
  - progressive.delivery.attributes.changes
attributes:
  check_mode:
    details: Predicts whether the Lease would be taken, renewed, taken over or released, and fails as the
      real run would when another run holds it.
  idempotent:
    support: partial
    details: Renewing moves C(renewTime) forward, so O(state=acquired) always reports a change.
      O(state=released) is idempotent.
options:
  name:
    description:
      - Name of the app to lock, normally the Canary's name. The Lease is called C(<name>-canary-lock).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the Canary; the Lease lives there.
    type: str
    required: true
  state:
    description:
      - C(acquired) takes the Lease or renews it; C(released) gives it up.
    type: str
    choices: [acquired, released]
    default: acquired
  holder:
    description:
      - Identity of this run, written as the Lease's C(holderIdentity).
      - When omitted, a new identity is generated (AWX job id or host name, process id and a random
        suffix) and returned as RV(holder). Pass that value to later renewals and to the release.
    type: str
  lease_duration:
    description:
      - Seconds the Lease stays valid after each renewal. A run killed without releasing the Lease blocks
        other runs for at most this long.
    type: int
    default: 120
  wait_timeout:
    description:
      - Seconds to wait for another run's Lease to be released or to expire before failing.
      - C(0) fails at once.
    type: int
    default: 0
  retry_timeout:
    description:
      - Upper bound in seconds on the time spent retrying transient API faults for one read or write.
    type: float
    default: 30
seealso:
  - name: Kubernetes Leases
    description: How Kubernetes itself uses Leases for leader election.
    link: https://kubernetes.io/docs/concepts/architecture/leases/
  - module: progressive.delivery.canary_status
"""

EXAMPLES = r"""
- name: Take the lock of podinfo.test for this run
  progressive.delivery.canary_lock:
    name: podinfo
    namespace: test
    lease_duration: 300
  register: podinfo_lock

- name: Renew it between long steps
  progressive.delivery.canary_lock:
    name: podinfo
    namespace: test
    holder: "{{ podinfo_lock.holder }}"
    lease_duration: 300

- name: Give it back at the end of the release
  progressive.delivery.canary_lock:
    name: podinfo
    namespace: test
    holder: "{{ podinfo_lock.holder }}"
    state: released

- name: Queue behind a running release for up to ten minutes instead of failing
  progressive.delivery.canary_lock:
    name: podinfo
    namespace: test
    holder: "awx-job-{{ awx_job_id }}"
    wait_timeout: 600
"""

RETURN = r"""
holder:
  description: Identity of this run (generated when O(holder) was not given).
  returned: always
  type: str
  sample: awx-job-4711-812-3f9c2a1b
how:
  description:
    - How the Lease was obtained with O(state=acquired) (predicted in check mode).
    - C(created) (there was none), C(acquired) (there was one without a holder), C(renewed) (this run
      held it), C(taken_over) (another run held it but it had expired).
  returned: state=acquired
  type: str
  sample: taken_over
taken_over:
  description: Whether an expired Lease of another run was taken over.
  returned: state=acquired
  type: bool
  sample: false
previous_holder:
  description: The holder before this task, C(null) when there was no Lease or no holder.
  returned: state=acquired
  type: str
  sample: awx-job-4710-77-0c1d2e3f
released:
  description: Whether the Lease was deleted (or would be, in check mode).
  returned: state=released
  type: bool
  sample: true
lease:
  description: The Lease after the task; C(null) once released.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the Lease.
      type: str
      sample: podinfo-canary-lock
    holder:
      description: C(holderIdentity) of the Lease.
      type: str
    acquire_time:
      description: When the current holder took the Lease.
      type: str
      sample: "2026-11-26T19:20:01.123456Z"
    renew_time:
      description: When the holder last renewed the Lease.
      type: str
    expires_at:
      description: When the Lease expires unless renewed.
      type: str
    lease_duration_seconds:
      description: Seconds the Lease stays valid after a renewal.
      type: int
    transitions:
      description: How often the Lease changed holder.
      type: int
holder_since:
  description: When the run that holds the Lease took it (only when the task failed because of it).
  returned: failure
  type: str
"""

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    NAME_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
)
from ansible_collections.progressive.delivery.plugins.module_utils.lease import (
    LeaseStore,
    acquire,
    lease_name_for,
    new_holder_identity,
    release,
    validate,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    RetryPolicy,
    call_with_retry,
    is_transient_or_caused_by_one,
    server_said,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)


def argument_spec():
    return module_argument_spec(
        NAME_ARG_SPEC,
        state=dict(type="str", choices=["acquired", "released"], default="acquired"),
        holder=dict(type="str"),
        lease_duration=dict(type="int", default=120),
        wait_timeout=dict(type="int", default=0),
        retry_timeout=dict(type="float", default=30),
    )


def run(module):
    params = module.params
    validate(params["name"], params["namespace"], params["holder"], params["lease_duration"])
    if params["wait_timeout"] < 0 or params["retry_timeout"] < 0:
        raise InvalidInput("wait_timeout and retry_timeout must not be negative; got {0} and {1}".format(
            params["wait_timeout"], params["retry_timeout"]))
    if params["state"] == "released" and not params["holder"]:
        raise InvalidInput("holder is required with state=released: the identity the Lease was acquired with")
    holder = params["holder"] or new_holder_identity()
    policy = RetryPolicy(timeout=params["retry_timeout"])
    # Client creation and discovery wrap API errors in friendlier ones; retry when the cause was transient.
    client = call_with_retry(lambda: get_dynamic_client(module), "connect to the Kubernetes API", policy,
                             retry_on=is_transient_or_caused_by_one)
    try:
        store = call_with_retry(
            lambda: LeaseStore(client, params["namespace"], lease_name_for(params["name"]), policy),
            "discover Leases in coordination.k8s.io/v1", policy, retry_on=is_transient_or_caused_by_one)
    except DeliveryError:
        raise
    except Exception as exc:  # e.g. an API server without coordination.k8s.io/v1
        raise DeliveryError("discover Leases in coordination.k8s.io/v1: {0}".format(server_said(exc)))
    if params["state"] == "released":
        return release(store, holder, check_mode=module.check_mode)
    return acquire(store, holder, params["lease_duration"], check_mode=module.check_mode,
                   wait_timeout=params["wait_timeout"])


def main():
    run_module(run, argument_spec())


if __name__ == "__main__":
    main()
