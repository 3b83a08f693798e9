# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release's state machine: what a run has to do, and what each step of it writes.

Two tables, both pure data, like Flagger's scheduler keeps them in one place:

- ``decide`` turns what canary_info read (the Canary, its status, the target's revision, the
  primary, a lock left behind) into one decision for the run.
- ``TRANSITIONS`` says, for each step of a release, the phase it moves the Canary to, the status
  fields it resets and the Event it writes. The Promoted condition follows from the phase
  (``status.promoted_condition``), as in Flagger.

The role sequences the steps; it decides nothing itself beyond reading these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)

# Phases in which an analysis of lastAppliedSpec is under way.
ACTIVE_PHASES = ("Progressing", "Waiting", "WaitingPromotion", "Promoting", "Finalising")
# Phases of an interrupted release that had passed its analysis: a resumed run promotes.
PROMOTION_PHASES = ("WaitingPromotion", "Promoting", "Finalising")

ON_INTERRUPTED = ("resume", "rollback")

# What a run does, in the order they are decided.
SUSPENDED = "suspended"
INITIALISE = "initialise"
RESUME = "resume"
ROLLBACK = "rollback"
RELEASE = "release"
UNLOCK = "unlock"
PAUSED = "paused"
NOTHING = "nothing"
DECISIONS = (SUSPENDED, INITIALISE, RESUME, ROLLBACK, RELEASE, UNLOCK, PAUSED, NOTHING)
# The decisions that analyse and promote (or roll back) a revision.
RELEASING = (RELEASE, RESUME, ROLLBACK)


# A release paused for a person (spec.analysis.judge.inconclusive: pause): phase Waiting, as
# Flagger's closed gates leave it, told apart from them by the Promoted condition's reason.
PAUSED_PHASE = "Waiting"
PAUSED_REASON = "Inconclusive"


def is_paused(status):
    """Whether the status is that of a release paused for a person to promote or abort."""
    status = status or {}
    if status.get("phase") != PAUSED_PHASE:
        return False
    return any(c.get("type") == "Promoted" and c.get("reason") == PAUSED_REASON
               for c in status.get("conditions") or [])


def paused_condition(detail):
    """The Promoted condition of a paused release; ``detail`` says what was inconclusive."""
    return {"type": "Promoted", "status": "Unknown", "reason": PAUSED_REASON,
            "message": "Canary analysis inconclusive ({0}); waiting for a person to promote or "
                       "abort.".format(detail)}


def release_decision(revision, status):
    """``(new_revision, in_progress, failed_revision)`` for the target's ``revision``.

    A revision needs an analysis when it is not the promoted one, unless that same revision is
    already being analysed, or already failed (Flagger waits for the next change then).
    """
    if not revision or not status.get("lastPromotedSpec"):
        return False, False, False
    same_as_applied = status.get("lastAppliedSpec") == revision
    phase = status.get("phase")
    in_progress = same_as_applied and phase in ACTIVE_PHASES
    failed = same_as_applied and phase == "Failed"
    new = revision != status["lastPromotedSpec"] and not in_progress and not failed
    return new, in_progress, failed


def decide(canary, status, revision, initialized, lock_holder=None, on_interrupted="resume"):
    """The one thing this run has to do, as ``{"action": ..., "reason": ...}``.

    ``action`` is one of DECISIONS:

    - ``suspended``: spec.suspend is set; nothing is initialised, analysed, promoted or rolled
      back, whatever the phase (Flagger's scheduler skips the Canary).
    - ``initialise``: the primary does not exist yet.
    - ``resume`` / ``rollback``: an earlier run left the release of this revision unfinished;
      ``on_interrupted`` chooses.
    - ``release``: the target runs a revision that was neither promoted nor already failed.
    - ``unlock``: nothing to release, but a killed run left its lock; the run takes it over once
      it expires and gives it back.
    - ``paused``: an inconclusive judge paused the release of this revision; it stays at its
      weight until the promote or abort entry point decides. A target changed since is a new
      revision: ``release``, and its analysis starts again from weight 0.
    - ``nothing``: the run ends after this read and reports no change.
    """
    if on_interrupted not in ON_INTERRUPTED:
        raise InvalidInput("on_interrupted must be one of {0}; got {1!r}".format(
            ", ".join(ON_INTERRUPTED), on_interrupted))
    status = status or {}
    phase = status.get("phase") or ""
    if canary.get("suspend"):
        return _decision(SUSPENDED, "spec.suspend is true{0}".format(
            " (phase {0})".format(phase) if phase else ""))
    if not initialized:
        return _decision(INITIALISE, "the primary of {0} does not exist yet".format(
            canary["target"]["name"]))
    if is_paused(status):
        if revision == status.get("lastAppliedSpec"):
            return _decision(PAUSED, "the analysis of revision {0} was inconclusive at weight "
                             "{1}; it waits for the promote or abort playbook".format(
                                 revision, status.get("canaryWeight") or 0))
        return _decision(RELEASE, "new revision {0} while the analysis of {1} was paused at "
                         "weight {2}; the analysis starts again from weight 0".format(
                             revision, status.get("lastAppliedSpec"),
                             status.get("canaryWeight") or 0))
    new, in_progress, _failed = release_decision(revision, status)
    if in_progress:
        reason = "an earlier run was interrupted at weight {0} in phase {1}".format(
            status.get("canaryWeight") or 0, phase)
        return _decision(ROLLBACK if on_interrupted == "rollback" else RESUME, reason)
    if new:
        return _decision(RELEASE, "new revision {0}; the primary runs {1}".format(
            revision, status.get("lastPromotedSpec")))
    if lock_holder:
        return _decision(UNLOCK, "run {0} left the release lock behind".format(lock_holder))
    return _decision(NOTHING, "revision {0} is the promoted one{1}".format(
        revision, " and failed already" if _failed else ""))


def _decision(action, reason):
    return {"action": action, "reason": reason}


# --- the steps of a release ---------------------------------------------------------------
#
# name: (phase or None, status fields set, Event template or None). A transition may also
# carry an Event the role words itself (a rollback's reason); status fields given next to a
# transition are written with it (lastAppliedSpec, lastPromotedSpec, trackedConfigs).
_ANALYSIS_START = {"canaryWeight": 0, "failedChecks": 0, "iterations": 0}
TRANSITIONS = {
    "suspended": (None, {}, "suspended"),
    "analysis_started": ("Progressing", _ANALYSIS_START, None),
    "analysis_restarted": ("Progressing", _ANALYSIS_START, "restart_analysis"),
    "scaling_up": (None, {}, "new_revision"),
    "checks_started": (None, {}, "starting_analysis"),
    "waiting_promotion": ("WaitingPromotion", {}, None),
    "promoting": ("Promoting", {}, "copying"),
    "finalising": ("Finalising", {"canaryWeight": 0}, "routing_to_primary"),
    "succeeded": ("Succeeded", {"canaryWeight": 0}, "promoted"),
    # The reason of a rollback, which the role words (an Event given with it); it alerts.
    "rolling_back": (None, {}, None),
    "failed": ("Failed", {"canaryWeight": 0}, "failed"),
    "aborted": ("Failed", {"canaryWeight": 0}, "aborted"),
    "promoted_by_operator": ("Succeeded", {"canaryWeight": 0}, "promoted_by_operator"),
}


def transition(name, canary):
    """``(phase, fields, event_template)`` of the step ``name`` for the normalized ``canary``."""
    if name not in TRANSITIONS:
        raise InvalidInput("transition must be one of {0}; got {1!r}".format(
            ", ".join(sorted(TRANSITIONS)), name))
    phase, fields, template = TRANSITIONS[name]
    if name == "succeeded" and canary.get("skip_analysis"):
        # Flagger's wording when spec.skipAnalysis promoted the canary without an analysis.
        template = "promoted_skipped"
    return phase, dict(fields), template
