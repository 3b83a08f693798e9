# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One release at a time per app: a ``coordination.k8s.io/v1`` Lease (private to this collection).

The Lease follows the conventions of Kubernetes leader election, so ``kubectl get lease`` and
existing tooling read it: ``holderIdentity`` names the run, ``renewTime`` plus
``leaseDurationSeconds`` says until when the claim stands, ``acquireTime`` since when the holder
has it, ``leaseTransitions`` counts changes of holder. A run that dies (SIGKILL, lost controller)
cannot release its Lease; the next run takes it over once it has expired.

Every write is guarded by the Lease's resourceVersion, so when two runs race for a free or
expired Lease, exactly one write wins and the other run re-reads and sees the winner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import os
import socket
import time
import uuid
from datetime import datetime, timezone

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    call_with_retry,
    server_said,
    status_of,
    update_guarded,
)

LEASE_API_VERSION = "coordination.k8s.io/v1"
LEASE_SUFFIX = "-canary-lock"
MANAGED_BY = "progressive.delivery"
# The Lease's MicroTime fields, as client-go writes them.
MICROTIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_NAME = 253


class LeaseHeld(DeliveryError):
    """Another run holds the Lease and it has not expired."""


def lease_name_for(app):
    return "{0}{1}".format(app, LEASE_SUFFIX)


def new_holder_identity():
    """A run id that tells a human where the run comes from: AWX job, host and process."""
    job = os.environ.get("AWX_JOB_ID") or os.environ.get("JOB_ID")
    origin = "awx-job-{0}".format(job) if job else socket.gethostname().split(".")[0]
    return "{0}-{1}-{2}".format(origin, os.getpid(), uuid.uuid4().hex[:8])


def format_time(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime(MICROTIME_FORMAT)


def parse_time(text):
    """Seconds since the epoch of a MicroTime/Time string; None when absent or unreadable."""
    if not text:
        return None
    text = str(text)
    for fmt in (MICROTIME_FORMAT, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6
    return None


def validate(name, namespace, holder, lease_duration):
    if not name:
        raise InvalidInput("name is required: the name of the app (Canary) to lock")
    if not namespace:
        raise InvalidInput("namespace is required: the namespace of the Canary")
    if len(lease_name_for(name)) > MAX_NAME:
        raise InvalidInput("name must be at most {0} characters; got {1}".format(
            MAX_NAME - len(LEASE_SUFFIX), len(name)))
    if holder is not None and not str(holder).strip():
        raise InvalidInput("holder must be a non-empty string when given")
    if isinstance(lease_duration, bool) or not isinstance(lease_duration, int) or lease_duration < 1:
        raise InvalidInput(
            "lease_duration must be a whole number of seconds of at least 1; got {0!r}".format(lease_duration))


def describe(lease):
    """The Lease as the module returns it (None when there is none)."""
    if not lease:
        return None
    spec = lease.get("spec") or {}
    renew = parse_time(spec.get("renewTime"))
    duration = spec.get("leaseDurationSeconds")
    expires = renew + duration if renew is not None and duration else None
    return {
        "name": lease["metadata"]["name"],
        "namespace": lease["metadata"].get("namespace"),
        "holder": spec.get("holderIdentity") or None,
        "acquire_time": spec.get("acquireTime"),
        "renew_time": spec.get("renewTime"),
        "lease_duration_seconds": duration,
        "expires_at": format_time(expires) if expires is not None else None,
        "transitions": spec.get("leaseTransitions", 0),
        "resource_version": lease["metadata"].get("resourceVersion"),
    }


def is_free(lease, now):
    """A Lease is free when it has no holder or its holder stopped renewing it in time."""
    spec = (lease or {}).get("spec") or {}
    if not spec.get("holderIdentity"):
        return True
    renew = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renew is None or not duration:
        # A claim without a time or duration cannot expire; treat it as broken and free.
        return True
    return renew + duration < now


def claim(current, namespace, lease_name, holder, lease_duration, now):
    """The Lease object this run writes to take or renew it; raises LeaseHeld when another run holds it.

    Returns ``(desired, how)``, ``how`` one of ``created``, ``renewed``, ``acquired`` (free Lease) and
    ``taken_over`` (expired Lease of another run).
    """
    stamp = format_time(now)
    if current is None:
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": {"name": lease_name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": lease_duration,
                     "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0},
        }, "created"
    spec = dict(current.get("spec") or {})
    previous = spec.get("holderIdentity")
    if previous == holder:
        how = "renewed"
    elif is_free(current, now):
        how = "taken_over" if previous else "acquired"
        spec["acquireTime"] = stamp
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if previous else 0)
    else:
        raise held_error(current, now)
    spec.update(holderIdentity=holder, leaseDurationSeconds=lease_duration, renewTime=stamp)
    desired = dict(current)
    desired["spec"] = spec
    return desired, how


def held_error(lease, now):
    info = describe(lease)
    renew = parse_time(info["renew_time"])
    since = info["acquire_time"] or info["renew_time"]
    ago = " (last renewed {0:.0f}s ago".format(max(0, now - renew)) if renew is not None else " ("
    expires_in = renew + info["lease_duration_seconds"] - now if renew is not None else 0
    return LeaseHeld(
        "Lease {ns}/{name} is held by run '{holder}' since {since}{ago}, expires in {exp:.0f}s unless "
        "renewed): another release of this app is in progress. Wait for it to finish; a Lease left by a "
        "run that died is taken over once it expires.".format(
            ns=info["namespace"], name=info["name"], holder=info["holder"], since=since,
            ago=ago, exp=max(0, expires_in)),
        holder=info["holder"], holder_since=since, lease=info)


class LeaseStore(object):
    """Lease reads and writes through the dynamic client, each retried through transient faults."""

    def __init__(self, client, namespace, lease_name, policy):
        self.resource = client.resources.get(api_version=LEASE_API_VERSION, kind="Lease")
        self.namespace = namespace
        self.name = lease_name
        self.policy = policy

    @property
    def ref(self):
        return "Lease {0}/{1}".format(self.namespace, self.name)

    def read_once(self):
        try:
            return self.resource.get(name=self.name, namespace=self.namespace).to_dict()
        except Exception as exc:
            if status_of(exc) == 404:
                return None
            raise

    def read(self):
        return call_with_retry(self.read_once, "read " + self.ref, self.policy)

    def write(self, desired):
        if desired["metadata"].get("resourceVersion"):
            return self.resource.replace(body=desired, namespace=self.namespace).to_dict()
        return self.resource.create(body=desired, namespace=self.namespace).to_dict()

    def delete(self, resource_version):
        body = {"preconditions": {"resourceVersion": resource_version}}
        return self.resource.delete(name=self.name, namespace=self.namespace, body=body)


def _action_error(action, exc):
    return DeliveryError("{0}: {1}".format(action, server_said(exc)), status=status_of(exc))


def acquire(store, holder, lease_duration, check_mode=False, wait_timeout=0, poll=1.0,
            clock=time.time, sleep=time.sleep):
    """Take or renew the Lease for ``holder``. Returns the module result."""
    deadline = clock() + wait_timeout
    while True:
        try:
            return _acquire_once(store, holder, lease_duration, check_mode, clock)
        except LeaseHeld:
            if clock() + poll > deadline:
                raise
            sleep(poll)


def _acquire_once(store, holder, lease_duration, check_mode, clock):
    outcome = {}

    def mutate(current):
        desired, how = claim(current, store.namespace, store.name, holder, lease_duration, clock())
        outcome.update(how=how, previous=describe(current))
        return desired

    action = "acquire " + store.ref + " for run '" + holder + "'"
    if check_mode:
        current = store.read()
        desired = mutate(current)
        after = dict(desired, metadata=dict(desired["metadata"], resourceVersion=None))
    else:
        try:
            _before, after = update_guarded(store.read_once, mutate, store.write, action, store.policy)
        except DeliveryError:
            raise
        except Exception as exc:
            raise _action_error(action, exc)
    previous = outcome["previous"]
    return {
        "changed": True,
        "holder": holder,
        "acquired": True,
        "how": outcome["how"],
        "taken_over": outcome["how"] == "taken_over",
        "previous_holder": previous["holder"] if previous else None,
        "lease": describe(after),
        "diff": {"before": _diff_view(previous), "after": _diff_view(describe(after))},
    }


def release(store, holder, check_mode=False):
    """Delete the Lease if ``holder`` holds it; leave another run's Lease alone."""
    action = "release " + store.ref + " of run '" + holder + "'"
    for _attempt in range(10):
        try:
            current = store.read()
        except DeliveryError:
            raise
        except Exception as exc:
            raise _action_error(action, exc)
        info = describe(current)
        if current is None or info["holder"] != holder:
            return {"changed": False, "holder": holder, "released": False, "lease": info,
                    "msg": "{0} is not held by run '{1}'{2}; nothing to release".format(
                        store.ref, holder,
                        " (held by '{0}')".format(info["holder"]) if info and info["holder"] else ""),
                    "diff": {"before": _diff_view(info), "after": _diff_view(info)}}
        if check_mode:
            break
        try:
            call_with_retry(lambda: store.delete(current["metadata"]["resourceVersion"]), action, store.policy)
            break
        except Exception as exc:
            # 404: an earlier attempt deleted it and its answer was lost.
            if status_of(exc) == 404:
                break
            # 409: the Lease changed (taken over after expiry): decide again on what is there now.
            if status_of(exc) == 409:
                continue
            if isinstance(exc, DeliveryError):
                raise
            raise _action_error(action, exc)
    else:
        raise DeliveryError("{0}: the Lease kept changing while it was being deleted".format(action))
    return {"changed": True, "holder": holder, "released": True, "lease": None,
            "diff": {"before": _diff_view(info), "after": None}}


def _diff_view(info):
    if not info:
        return None
    return dict((k, info[k]) for k in ("holder", "acquire_time", "renew_time", "lease_duration_seconds",
                                       "transitions"))
