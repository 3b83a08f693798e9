"""The release's state machine: one decision per run, one table of steps."""

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.release import (
    PAUSED_PHASE,
    TRANSITIONS,
    decide,
    is_paused,
    paused_condition,
    transition,
)
from ansible_collections.progressive.delivery.plugins.module_utils.events import (
    EVENT_TEMPLATES,
    event_message,
)
from ansible_collections.progressive.delivery.plugins.module_utils.status import (
    PHASES,
    new_status,
)
from ansible_collections.progressive.delivery.plugins.modules import canary_status

CANARY = {"name": "podinfo", "namespace": "test", "target": {"name": "podinfo"}}
PROMOTED = {"phase": "Succeeded", "lastPromotedSpec": "rev1", "lastAppliedSpec": "rev1"}


def action(status, revision="rev2", initialized=True, holder=None, on_interrupted="resume",
           **canary):
    return decide(dict(CANARY, **canary), status, revision, initialized, holder,
                  on_interrupted)["action"]


def test_a_new_revision_is_released():
    assert action(PROMOTED) == "release"


def test_the_promoted_revision_needs_nothing():
    assert action(PROMOTED, revision="rev1") == "nothing"


def test_a_revision_that_failed_waits_for_the_next_change():
    failed = {"phase": "Failed", "lastPromotedSpec": "rev1", "lastAppliedSpec": "rev2"}
    assert action(failed) == "nothing"
    assert "failed already" in decide(CANARY, failed, "rev2", True)["reason"]


def test_a_missing_primary_is_initialised_first():
    assert action({}, initialized=False) == "initialise"


def test_suspend_wins_over_everything_else():
    interrupted = {"phase": "Progressing", "lastPromotedSpec": "rev1", "lastAppliedSpec": "rev2"}
    assert action(interrupted, suspend=True) == "suspended"
    assert action({}, initialized=False, suspend=True) == "suspended"


@pytest.mark.parametrize("phase", ["Progressing", "Waiting", "WaitingPromotion", "Promoting",
                                   "Finalising"])
def test_an_interrupted_release_is_resumed_or_rolled_back_as_asked(phase):
    status = {"phase": phase, "lastPromotedSpec": "rev1", "lastAppliedSpec": "rev2",
              "canaryWeight": 30}
    assert action(status) == "resume"
    assert action(status, on_interrupted="rollback") == "rollback"
    assert "weight 30 in phase {0}".format(phase) in decide(CANARY, status, "rev2", True)["reason"]


def paused(**extra):
    status = {"phase": "Waiting", "lastPromotedSpec": "rev1", "lastAppliedSpec": "rev2",
              "canaryWeight": 50, "conditions": [
                  {"type": "Promoted", "status": "Unknown", "reason": "Inconclusive",
                   "message": "Canary analysis inconclusive (judge score 50)"}]}
    status.update(extra)
    return status


def test_a_paused_release_stays_paused_for_the_same_revision_whatever_on_interrupted_says():
    assert action(paused()) == "paused"
    assert action(paused(), on_interrupted="rollback") == "paused"
    assert action(paused(), holder="job-7") == "paused"
    assert "inconclusive at weight 50" in decide(CANARY, paused(), "rev2", True)["reason"]


def test_a_paused_release_whose_target_changed_releases_the_new_revision_from_weight_0():
    assert action(paused(), revision="rev3") == "release"
    # Reverted to the promoted revision: analysed again too, as Flagger restarts on any change.
    assert action(paused(), revision="rev1") == "release"
    assert "starts again from weight 0" in decide(CANARY, paused(), "rev3", True)["reason"]


def test_a_waiting_gate_is_not_a_pause_and_a_suspended_pause_is_suspended():
    gate = paused(conditions=[{"type": "Promoted", "status": "Unknown", "reason": "Waiting"}])
    assert action(gate) == "resume"
    assert action(paused(), suspend=True) == "suspended"


def test_a_pause_is_written_as_phase_waiting_with_a_condition_naming_what_was_inconclusive():
    status = new_status({"phase": "Progressing", "canaryWeight": 50},
                        {"phase": PAUSED_PHASE}, condition=paused_condition("judge score 50"),
                        now=0)

    assert is_paused(status)
    [condition] = status["conditions"]
    assert (condition["status"], condition["reason"]) == ("Unknown", "Inconclusive")
    assert condition["message"] == ("Canary analysis inconclusive (judge score 50); waiting for "
                                    "a person to promote or abort.")
    promoted = new_status(status, {"phase": "Succeeded"}, now=1)
    assert not is_paused(promoted)


def test_a_lock_left_behind_is_work_when_nothing_else_is():
    assert action(PROMOTED, revision="rev1", holder="job-7") == "unlock"
    assert action(PROMOTED, holder="job-7") == "release"


def test_an_unknown_on_interrupted_is_refused_naming_the_field():
    with pytest.raises(InvalidInput, match="on_interrupted must be one of resume, rollback"):
        decide(CANARY, PROMOTED, "rev2", True, on_interrupted="ignore")


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_every_transition_names_a_known_phase_and_event(name):
    phase, fields, template = transition(name, CANARY)
    assert phase is None or phase in PHASES
    assert template is None or template in EVENT_TEMPLATES
    assert set(fields) <= {"canaryWeight", "failedChecks", "iterations"}


def test_a_transition_does_not_hand_out_the_shared_table():
    _phase, fields, _template = transition("analysis_started", CANARY)
    fields["canaryWeight"] = 50
    assert transition("analysis_started", CANARY)[1]["canaryWeight"] == 0


def test_a_skipped_analysis_is_promoted_with_flaggers_other_words():
    assert transition("succeeded", CANARY)[2] == "promoted"
    template = transition("succeeded", dict(CANARY, skip_analysis=True))[2]
    assert event_message(template, CANARY)[1] == \
        "Promotion completed! Canary analysis was skipped for podinfo.test"


def test_the_failed_transition_derives_flaggers_condition_from_the_phase():
    phase, fields, _template = transition("failed", CANARY)
    status = new_status({"phase": "Progressing", "canaryWeight": 40}, dict(fields, phase=phase),
                        now=0)
    assert status["canaryWeight"] == 0
    assert status["conditions"][0]["status"] == "False"
    assert status["conditions"][0]["reason"] == "Failed"


def test_an_unknown_transition_is_refused_with_the_list():
    with pytest.raises(InvalidInput, match="transition must be one of .*promoting"):
        transition("promote", CANARY)


def _params(**given):
    params = dict((key, None) for key in ("transition", "phase", "event"))
    params.update(given)
    return params


def test_canary_status_refuses_a_transition_with_a_phase_before_reading():
    with pytest.raises(InvalidInput, match="either transition or phase: transition promoting "
                                           "sets the phase to Promoting"):
        canary_status._check_transition(_params(transition="promoting", phase="Succeeded"))


def test_canary_status_refuses_an_event_where_the_transition_records_one():
    with pytest.raises(InvalidInput, match="records its own event \\(template copying\\)"):
        canary_status._check_transition(_params(transition="promoting",
                                                event={"message": "x"}))
    canary_status._check_transition(_params(transition="waiting_promotion",
                                            event={"message": "x"}))
