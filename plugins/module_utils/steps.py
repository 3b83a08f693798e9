# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole step loop of an analysis in one process, as Flagger's scheduler runs it.

The loop itself is pure: it calls the functions it is given to open the traffic gate, shift the
weight, run one tick and renew the release lock, so it is tested without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    RunGone,
)

# Keys of a tick result that end the loop, whatever the weight.
_STOPPING = ("threshold_reached", "revision_changed", "rollback_requested", "paused",
             "deadline_exceeded")


class Renewal(object):
    """Calls ``renew`` at most once per ``every`` seconds (and at the first call)."""

    def __init__(self, renew, every, clock=time.monotonic):
        self.renew = renew
        self.every = every
        self.clock = clock
        self.last = None
        self.count = 0

    def __call__(self):
        now = self.clock()
        if self.last is None or now - self.last >= self.every:
            self.renew()
            self.last = now
            self.count += 1


def run_steps(weights, advance, tick, gate=None, renew=None, gate_timeout=0, interval=0,
              max_ticks_per_step=None, sleep=time.sleep, clock=time.monotonic, abandoned=None,
              hold=None, promotion_gate=None):
    """Analyse at each of ``weights`` in turn and return the result of the last tick with ``steps``.

    - ``gate()`` (optional) returns ``(opened, message)``; it is asked before each weight is
      raised, every ``interval`` seconds until it opens or ``gate_timeout`` seconds passed.
    - ``hold(weight, gate_name)`` (optional) is one tick of a closed gate's wait at the weight
      reached so far (None before the first): it waits one interval and watches the canary as Flagger's ticks do
      while a gate is closed (readiness, rollback hooks and, once traffic reached the canary,
      the metrics). A hold that stops the analysis ends the loop; one that failed or halted
      holds again without asking the gate, as Flagger's tick returns before it. Without it a
      closed gate's wait just sleeps.
    - ``promotion_gate()`` (optional), like ``gate``, is asked once every weight passed: the
      confirm-promotion gate, held at the last weight.
    - ``advance(weight)`` shifts the traffic and returns whether it changed anything.
    - ``tick(weight)`` waits one interval, measures and returns a canary_analysis tick result.
    - ``renew()`` (optional) is called before every gate question and tick.
    - ``abandoned()`` (optional) returns why the loop must stop (its run was killed) or None;
      it is asked before every weight change, gate question and tick. ``tick``, ``advance``,
      ``gate`` and ``sleep`` may also raise RunGone (a tick that finds the run gone when its wait
      ends, before it writes what it measured).

    A weight is left when its tick passed; the loop stops at the first tick that reached the
    threshold, saw the target change, was asked to roll back, found the canary past its progress
    deadline or paused for a person, and after ``max_ticks_per_step`` ticks at one weight that
    neither passed nor stopped (check mode: nothing is counted); a tick halted by a canary that
    is not ready yet does not count towards it. An
    abandoned loop stops before its next write and reports ``abandoned``: the weight stays where
    it is, as for any interrupted run, and the next run resumes or rolls back from there.
    """
    steps = []
    state = {"last": None, "advanced_any": False, "changed": False, "weight": None}

    def before_each():
        reason = abandoned() if abandoned is not None else None
        if reason:
            raise RunGone(reason)
        if renew is not None:
            renew()

    def held(weight, gate_name):
        if hold is None:
            return None
        return lambda: hold(weight, gate_name)

    def wait_for(ask, weight, reached, gate_name):
        """None once ``ask`` opened; otherwise the finished result that ends the loop."""
        waited, stopped = _open_gate(ask, before_each, gate_timeout, interval, sleep, clock,
                                     held(reached, gate_name))
        if stopped is not None:
            state["last"] = stopped
            state["changed"] = state["changed"] or bool(stopped.get("changed"))
            return _finish(dict(stopped, passed=False, gate=gate_name,
                                weight=weight if reached is None else reached), steps,
                           state["advanced_any"], state["changed"])
        if waited is not None:
            result = dict(state["last"] or {}, passed=False, waiting=True, gate=gate_name,
                          gate_timed_out=True, weight=weight, msg=waited)
            return _finish(result, steps, state["advanced_any"], state["changed"])
        return None

    # The weight the canary was given so far; None before the first.
    reached = None
    try:
        for weight in weights:
            state["weight"] = weight
            if gate is not None:
                stop = wait_for(gate, weight, reached, "confirm-traffic-increase")
                if stop is not None:
                    return stop
            before_each()
            advanced = bool(advance(weight))
            state["advanced_any"] = state["advanced_any"] or advanced
            reached = weight
            ticks = 0
            while True:
                before_each()
                last = state["last"] = tick(weight)
                if not last.get("halted"):
                    ticks += 1
                state["changed"] = state["changed"] or bool(last.get("changed"))
                if last.get("passed") or any(last.get(key) for key in _STOPPING):
                    break
                if max_ticks_per_step is not None and ticks >= max_ticks_per_step:
                    break
            steps.append({"weight": weight, "ticks": ticks, "passed": bool(last.get("passed")),
                          "failed_checks": last.get("failed_checks", 0),
                          "msg": last.get("msg", "")})
            if not last.get("passed"):
                break
        passed = len(steps) == len(weights) and all(step["passed"] for step in steps)
        if passed and promotion_gate is not None:
            stop = wait_for(promotion_gate, reached, reached, "confirm-promotion")
            if stop is not None:
                return stop
    except RunGone as exc:
        result = dict(state["last"] or {}, passed=False, abandoned=True,
                      weight=state["weight"], msg="stopped at weight {0}: {1}".format(
                          state["weight"], exc))
        return _finish(result, steps, state["advanced_any"], state["changed"])
    result = dict(state["last"] or {"passed": True, "msg": "no weights to analyse"})
    result["passed"] = len(steps) == len(weights) and all(step["passed"] for step in steps)
    return _finish(result, steps, state["advanced_any"], state["changed"])


def _open_gate(gate, before_each, timeout, interval, sleep, clock, hold=None):
    """``(None, None)`` once the gate opened; ``(message, None)`` with the gate's last message
    after ``timeout`` seconds; ``(None, result)`` when a hold stopped the analysis."""
    deadline = clock() + timeout
    ask = True
    message = ""
    while True:
        if ask:
            before_each()
            opened, message = gate()
            if opened:
                return None, None
        if clock() + interval > deadline:
            return "{0} (still closed after {1:g}s)".format(message, timeout), None
        if hold is None:
            sleep(interval)
            continue
        before_each()
        held = hold()
        if any(held.get(key) for key in _STOPPING):
            return None, held
        ask = bool(held.get("passed"))


def _finish(result, steps, advanced_any, changed):
    result["steps"] = steps
    result["advanced"] = advanced_any or bool(result.get("advanced"))
    result["changed"] = changed or advanced_any or bool(result.get("changed"))
    result.setdefault("gate_timed_out", False)
    result.setdefault("gate", None)
    result.setdefault("abandoned", False)
    return result
