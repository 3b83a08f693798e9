# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retrying Kubernetes API calls through transient faults (private to this collection).

An Ansible run has no controller loop that tries again on the next tick, so one 503 from an
overloaded API server, one 429 from API priority and fairness, or one reset connection would
otherwise fail the whole release half-way. Two helpers cover the two kinds of call:

- ``call_with_retry`` for reads and for writes that are safe to send twice (PUT of a complete
  object guarded by resourceVersion, DELETE with a precondition, a read).
- ``update_guarded`` for read-modify-write: every attempt re-reads the object, re-applies the
  caller's change to what it finds and writes with that resourceVersion. A 409 Conflict (someone
  else wrote in between, or our own earlier attempt was applied before its answer was lost) and
  transient faults both lead to a fresh read, so a change is neither lost nor applied twice.

Both give up after a bounded total time with "what was being done: what the server said".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import random
import socket
import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)

try:
    from urllib3.exceptions import HTTPError as _Urllib3Error
except ImportError:  # urllib3 comes with kubernetes; without it no call could be made anyway

    class _Urllib3Error(Exception):  # type: ignore[no-redef]
        pass


# 500/502/503/504: the API server or something in front of it failed; the request can be repeated.
# 429: API priority and fairness (or a proxy) asks the client to slow down.
TRANSIENT_STATUS = frozenset((429, 500, 502, 503, 504))
CONFLICT = 409

DEFAULT_TIMEOUT = 30.0
DEFAULT_INITIAL_DELAY = 0.2
DEFAULT_MAX_DELAY = 5.0


class RetryPolicy(object):
    """How long and how often to try.

    ``timeout`` bounds the total time spent, sleeps included; the first attempt is always made.
    Delays grow exponentially from ``initial_delay`` up to ``max_delay`` with jitter, so that
    several clients hit by the same fault do not come back in lockstep.
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT, initial_delay=DEFAULT_INITIAL_DELAY,
                 max_delay=DEFAULT_MAX_DELAY, sleep=time.sleep, clock=time.monotonic,
                 rand=random.random):
        if timeout < 0:
            raise ValueError("timeout must not be negative, got {0}".format(timeout))
        self.timeout = float(timeout)
        self.initial_delay = float(initial_delay)
        self.max_delay = float(max_delay)
        self.sleep = sleep
        self.clock = clock
        self.rand = rand

    def backoff(self, attempt):
        """Delay before retry number ``attempt`` (1-based): between half and all of the exponential value."""
        full = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        return full / 2 + self.rand() * full / 2


def status_of(exc):
    """The HTTP status of an API exception, or None for anything without one."""
    status = getattr(exc, "status", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def is_connection_error(exc):
    """True for failures where no HTTP answer arrived (refused, reset, timed out)."""
    if status_of(exc):
        return False
    return isinstance(exc, (_Urllib3Error, ConnectionError, socket.timeout, TimeoutError))


def is_transient(exc):
    return status_of(exc) in TRANSIENT_STATUS or is_connection_error(exc)


def is_transient_or_caused_by_one(exc):
    """Also look behind errors that helpers re-raised with a friendlier message."""
    seen = 0
    while exc is not None and seen < 5:
        if is_transient(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def retry_after_seconds(exc):
    """Seconds the server asked us to wait (the Retry-After header in seconds), or None."""
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    value = None
    try:
        value = headers.get("Retry-After")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        # The HTTP-date form is not used by the API server; fall back to our own backoff.
        return None


def server_said(exc):
    """What the server answered, in its own words, for messages to the user."""
    status = status_of(exc)
    body = getattr(exc, "body", None)
    said = None
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            said = json.loads(body).get("message")
        except (ValueError, AttributeError):
            said = str(body).strip()
    if not said:
        if status:
            said = getattr(exc, "reason", None) or exc.__class__.__name__
        else:
            # urllib3's messages carry the useful part (refused, reset) after the pool details
            said = str(exc) or exc.__class__.__name__
    if status:
        return "{0} (HTTP {1})".format(said, status)
    return "connection error: {0}".format(said)


class RetriesExhausted(DeliveryError):
    """A transient fault outlasted the retry budget."""


def _give_up(action, exc, attempts, started, policy, note=""):
    raise RetriesExhausted(
        "{0}: {1}; gave up after {2} attempt{3} in {4:.1f}s{5}".format(
            action, server_said(exc), attempts, "" if attempts == 1 else "s",
            policy.clock() - started, note),
        attempts=attempts, status=status_of(exc))


def _wait_before_retry(action, exc, attempts, started, policy):
    """Sleep before the next attempt, or give up when that would pass the time bound."""
    delay = policy.backoff(attempts)
    asked = retry_after_seconds(exc)
    if asked is not None:
        # The server knows its own load better than our backoff does.
        delay = max(delay, asked)
    remaining = policy.timeout - (policy.clock() - started)
    if delay > remaining:
        note = ""
        if asked is not None and asked > remaining:
            note = " (the server asked to wait {0:g}s, more than the {1:g}s left)".format(asked, max(remaining, 0))
        _give_up(action, exc, attempts, started, policy, note)
    policy.sleep(delay)


def call_with_retry(fn, action, policy=None, retry_on=is_transient):
    """Return ``fn()``, retrying transient faults until ``policy.timeout`` has passed.

    Only for calls that may safely be repeated: a read, or a write whose repetition has the same
    effect (a complete object guarded by resourceVersion, a delete with preconditions).
    ``action`` names what was being done, e.g. "read Lease test/podinfo", for the message.
    Errors that are not transient (404, 403, 409, 422, ...) are raised at once, unchanged.
    """
    policy = policy or RetryPolicy()
    started = policy.clock()
    attempts = 0
    while True:
        attempts += 1
        try:
            return fn()
        except Exception as exc:  # filtered below; anything else is re-raised unchanged
            if not retry_on(exc):
                raise
            _wait_before_retry(action, exc, attempts, started, policy)


def update_guarded(read, mutate, write, action, policy=None, max_conflicts=10):
    """Read-modify-write one object, guarded by its resourceVersion.

    ``read()`` returns the current object as a dict (or None when it does not exist),
    ``mutate(current)`` returns the desired object or None for "nothing to change" and must only
    depend on ``current``; ``write(desired)`` sends it (a PUT with the resourceVersion that
    ``update_guarded`` copies from ``current``).

    On 409 Conflict the object is read again and ``mutate`` re-applied, so the change lands on the
    latest state exactly once: when an earlier attempt was in fact applied but its answer was lost,
    the re-read shows the change done and ``mutate`` returns None. That needs ``mutate`` to
    recognise its own change: "set the weight to 30" does by itself, "failedChecks + 1" does not
    and must also record which check it counted (and return None when that is already recorded).
    Returns ``(before, after)``.
    """
    policy = policy or RetryPolicy()
    started = policy.clock()
    attempts = 0
    conflicts = 0
    while True:
        attempts += 1
        try:
            before = read()
            desired = mutate(copy.deepcopy(before))
            if desired is None:
                return before, before
            if before is not None:
                desired.setdefault("metadata", {})["resourceVersion"] = before["metadata"]["resourceVersion"]
            return before, write(desired)
        except Exception as exc:  # filtered below; anything else is re-raised unchanged
            if status_of(exc) == CONFLICT:
                conflicts += 1
                if conflicts >= max_conflicts:
                    raise RetriesExhausted(
                        "{0}: the object kept changing underneath us ({1} conflicts in a row); "
                        "last answer: {2}".format(action, conflicts, server_said(exc)),
                        attempts=attempts, status=CONFLICT)
                # Someone else's write won, which is progress, not a fault: decide again on the new
                # state after a short pause (cut to the time left), bounded by max_conflicts.
                remaining = policy.timeout - (policy.clock() - started)
                pause = min(policy.backoff(conflicts), remaining)
                if pause > 0:
                    policy.sleep(pause)
                continue
            if not is_transient(exc):
                raise
            _wait_before_retry(action, exc, attempts, started, policy)
