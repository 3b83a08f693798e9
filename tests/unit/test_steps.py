"""The whole step loop in one call: order of gate, shift and ticks, and where it stops."""

from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import RunGone
from ansible_collections.progressive.delivery.plugins.module_utils.steps import Renewal, run_steps

from pdtest.fake_time import FakeTime


class Script(object):
    """Plays the cluster: each tick answers from a per-weight list of outcomes, and every call is logged."""

    def __init__(self, outcomes=None, gate_answers=None, threshold=3):
        self.outcomes = {w: list(o) for w, o in (outcomes or {}).items()}
        self.gate_answers = list(gate_answers or [])
        self.threshold = threshold
        self.failed = 0
        self.calls = []

    def advance(self, weight):
        self.calls.append(("advance", weight))
        return True

    def tick(self, weight):
        self.calls.append(("tick", weight))
        outcome = self.outcomes.get(weight, ["pass"]).pop(0) if self.outcomes.get(weight) else "pass"
        result = {"weight": weight, "passed": outcome == "pass", "threshold_reached": False,
                  "revision_changed": outcome == "revision", "rollback_requested": outcome == "rollback",
                  "paused": outcome == "pause",
                  "changed": True, "failed_checks": self.failed, "msg": "weight {0}: {1}".format(weight, outcome)}
        if outcome == "fail":
            self.failed += 1
            result.update(failed_checks=self.failed, threshold_reached=self.failed >= self.threshold)
        return result

    def gate(self):
        self.calls.append(("gate",))
        opened = self.gate_answers.pop(0) if self.gate_answers else True
        return opened, "Halt advancement waiting for traffic increase approval"


def test_each_weight_is_shifted_then_ticked_once_when_every_check_passes():
    script = Script()

    result = run_steps([10, 20, 30], script.advance, script.tick)

    assert script.calls == [("advance", 10), ("tick", 10), ("advance", 20), ("tick", 20),
                            ("advance", 30), ("tick", 30)]
    assert result["passed"] is True
    assert [(s["weight"], s["ticks"], s["passed"]) for s in result["steps"]] == [(10, 1, True), (20, 1, True), (30, 1, True)]
    assert result["weight"] == 30 and result["advanced"] is True


def test_a_failed_tick_holds_the_weight_and_a_later_pass_moves_on():
    script = Script({20: ["fail", "pass"]})

    result = run_steps([10, 20, 30], script.advance, script.tick)

    assert script.calls.count(("tick", 20)) == 2
    assert script.calls.count(("advance", 20)) == 1  # the weight is shifted once, not per tick
    assert result["passed"] is True
    assert [s["ticks"] for s in result["steps"]] == [1, 2, 1]
    assert result["steps"][1]["failed_checks"] == 1


def test_the_loop_stops_where_the_threshold_is_reached_and_never_raises_the_weight():
    script = Script({20: ["fail", "fail"]}, threshold=2)

    result = run_steps([10, 20, 30], script.advance, script.tick, max_ticks_per_step=3)

    assert ("advance", 30) not in script.calls
    assert result["passed"] is False and result["threshold_reached"] is True
    assert result["failed_checks"] == 2 and result["weight"] == 20
    assert [s["weight"] for s in result["steps"]] == [10, 20]


def test_a_changed_target_a_rollback_hook_or_a_pause_stops_at_once():
    for outcome, key in (("revision", "revision_changed"), ("rollback", "rollback_requested"),
                         ("pause", "paused")):
        script = Script({10: [outcome]})

        result = run_steps([10, 20], script.advance, script.tick)

        assert script.calls == [("advance", 10), ("tick", 10)]
        assert result[key] is True and result["passed"] is False


def test_ticks_that_neither_pass_nor_stop_end_after_the_cap():
    script = Script({10: ["fail"] * 10}, threshold=100)

    result = run_steps([10, 20], script.advance, script.tick, max_ticks_per_step=4)

    assert script.calls.count(("tick", 10)) == 4
    assert result["passed"] is False and result["steps"][0]["ticks"] == 4


def test_a_closed_gate_is_asked_again_each_interval_before_the_weight_rises():
    fake = FakeTime()
    script = Script(gate_answers=[True, False, False, True])

    result = run_steps([10, 20], script.advance, script.tick, gate=script.gate, gate_timeout=60,
                       interval=5, sleep=fake.sleep, clock=fake.clock)

    assert script.calls == [("gate",), ("advance", 10), ("tick", 10),
                            ("gate",), ("gate",), ("gate",), ("advance", 20), ("tick", 20)]
    assert fake.sleeps == [5, 5]
    assert result["passed"] is True and result["gate_timed_out"] is False


def test_a_gate_that_stays_closed_gives_up_after_the_timeout_without_shifting():
    fake = FakeTime()
    script = Script(gate_answers=[True] + [False] * 100)

    result = run_steps([10, 20], script.advance, script.tick, gate=script.gate, gate_timeout=12,
                       interval=5, sleep=fake.sleep, clock=fake.clock)

    assert ("advance", 20) not in script.calls
    assert result["gate_timed_out"] is True and result["passed"] is False
    assert "still closed after 12s" in result["msg"]
    assert sum(fake.sleeps) <= 12


def test_the_lock_is_renewed_at_the_start_and_then_once_per_period():
    fake = FakeTime()
    renewals = []
    renew = Renewal(lambda: renewals.append(fake.now), every=10, clock=fake.clock)

    def tick(weight):
        fake.sleep(4)  # one interval per tick
        return {"passed": True, "msg": ""}

    run_steps([10, 20, 30, 40, 50, 60], lambda w: True, tick, renew=renew)

    # Ticks start at 0, 4, 8, ..., 20: renewed at 0, then at the first tick 10 s or more later.
    assert renewals == [0, 12]
    assert renew.count == 2


def test_an_abandoned_loop_stops_before_its_next_write_and_says_why():
    advanced, ticked = [], []
    answers = iter([None, None, None, "the run is gone"])

    result = run_steps([10, 20, 30], advanced.append, lambda w: ticked.append(w) or {"passed": True},
                       abandoned=lambda: next(answers))

    # Asked before the first weight, its tick, the second weight: gone before the second tick.
    assert advanced == [10, 20]
    assert ticked == [10]
    assert result["abandoned"] is True and result["passed"] is False
    assert result["weight"] == 20 and "the run is gone" in result["msg"]


def test_a_tick_that_finds_its_run_gone_when_its_wait_ends_stops_the_loop_as_abandoned():
    advanced, ticked = [], []

    def tick(weight):
        ticked.append(weight)
        if weight == 20:  # the run was killed while this tick waited for its interval to end
            raise RunGone("the ansible-playbook run that started it is gone (process 30 was orphaned)")
        return {"passed": True, "msg": "weight {0}: passed".format(weight)}

    result = run_steps([10, 20, 30], advanced.append, tick, abandoned=lambda: None)

    assert advanced == [10, 20] and ticked == [10, 20]
    assert result["abandoned"] is True and result["passed"] is False
    assert result["weight"] == 20 and "process 30 was orphaned" in result["msg"]
    assert [step["weight"] for step in result["steps"]] == [10]


def test_a_gate_wait_whose_run_is_gone_stops_the_loop_before_the_weight_is_raised():
    advanced = []

    def sleep(seconds):
        raise RunGone("the ansible-playbook run that started it is gone (process 20 exited)")

    result = run_steps([10, 20], advanced.append, lambda w: {"passed": True},
                       gate=lambda: (False, "Halt podinfo.test advancement waiting for traffic increase approval"),
                       gate_timeout=60, interval=1, sleep=sleep, abandoned=lambda: None)

    assert advanced == []
    assert result["abandoned"] is True and "process 20 exited" in result["msg"]


def test_a_loop_whose_run_lives_is_not_abandoned():
    result = run_steps([10, 20], lambda w: True, lambda w: {"passed": True}, abandoned=lambda: None)
    assert result["passed"] is True and result["abandoned"] is False


class HoldingScript(Script):
    """A Script whose closed gates are waited out with holds (one watched tick each), as Flagger's
    ticks run while a gate is closed; ``holds`` answers each hold in turn."""

    def __init__(self, holds=(), promotion_answers=(), sleep=None, **kwargs):
        Script.__init__(self, **kwargs)
        self.sleep = sleep
        self.holds = list(holds)
        self.promotion_answers = list(promotion_answers)

    def hold(self, weight, gate_name):
        self.calls.append(("hold", weight, gate_name))
        if self.sleep is not None:
            self.sleep(5)  # a hold waits one interval
        outcome = self.holds.pop(0) if self.holds else "pass"
        return {"weight": weight, "passed": outcome == "pass", "halted": outcome == "halt",
                "rollback_requested": outcome == "rollback",
                "threshold_reached": outcome == "threshold",
                "deadline_exceeded": outcome == "deadline", "msg": outcome}

    def promotion_gate(self):
        self.calls.append(("promotion gate",))
        opened = self.promotion_answers.pop(0) if self.promotion_answers else True
        return opened, "Halt advancement waiting for promotion approval"


def test_a_closed_traffic_gate_is_waited_out_with_ticks_at_the_weight_reached():
    script = HoldingScript(gate_answers=[True, False, True])

    result = run_steps([10, 20], script.advance, script.tick, gate=script.gate, gate_timeout=60,
                       interval=5, hold=script.hold)

    assert script.calls == [("gate",), ("advance", 10), ("tick", 10),
                            ("gate",), ("hold", 10, "confirm-traffic-increase"), ("gate",),
                            ("advance", 20), ("tick", 20)]
    assert result["passed"] is True


def test_a_rollback_asked_while_a_gate_is_closed_stops_the_loop_at_the_weight_reached():
    script = HoldingScript(gate_answers=[False], holds=["rollback"])

    result = run_steps([10, 20], script.advance, script.tick, gate=script.gate, gate_timeout=60,
                       interval=5, hold=script.hold)

    # Before the first weight there is nothing to measure: the hold is told no weight was reached.
    assert script.calls == [("gate",), ("hold", None, "confirm-traffic-increase")]
    assert result["rollback_requested"] is True and result["passed"] is False
    assert result["gate"] == "confirm-traffic-increase" and result["weight"] == 10


def test_a_failed_or_halted_hold_holds_again_without_asking_the_gate():
    script = HoldingScript(gate_answers=[True, False], holds=["fail", "halt", "pass"])

    result = run_steps([10, 20], script.advance, script.tick, gate=script.gate, gate_timeout=60,
                       interval=5, hold=script.hold)

    assert script.calls[3:] == [("gate",), ("hold", 10, "confirm-traffic-increase"),
                                ("hold", 10, "confirm-traffic-increase"),
                                ("hold", 10, "confirm-traffic-increase"), ("gate",),
                                ("advance", 20), ("tick", 20)]
    assert result["passed"] is True


def test_the_promotion_gate_is_asked_after_the_last_weight_and_waited_out_with_watched_ticks():
    script = HoldingScript(promotion_answers=[False, False, True])

    result = run_steps([10, 20], script.advance, script.tick, gate_timeout=60, interval=5,
                       hold=script.hold, promotion_gate=script.promotion_gate)

    assert script.calls == [("advance", 10), ("tick", 10), ("advance", 20), ("tick", 20),
                            ("promotion gate",), ("hold", 20, "confirm-promotion"),
                            ("promotion gate",), ("hold", 20, "confirm-promotion"),
                            ("promotion gate",)]
    assert result["passed"] is True


def test_failing_checks_while_waiting_for_promotion_stop_the_loop_at_the_threshold():
    script = HoldingScript(promotion_answers=[False] * 10, holds=["fail", "threshold"])

    result = run_steps([10], script.advance, script.tick, gate_timeout=60, interval=5,
                       hold=script.hold, promotion_gate=script.promotion_gate)

    assert script.calls.count(("promotion gate",)) == 1  # a failed hold does not ask the gate
    assert result["threshold_reached"] is True and result["passed"] is False
    assert result["gate"] == "confirm-promotion" and result["gate_timed_out"] is False


def test_a_promotion_gate_that_stays_closed_times_out_and_says_which_gate():
    fake = FakeTime()
    script = HoldingScript(promotion_answers=[False] * 100, sleep=fake.sleep)

    result = run_steps([10], script.advance, script.tick, gate_timeout=12, interval=5,
                       sleep=fake.sleep, clock=fake.clock, hold=script.hold,
                       promotion_gate=script.promotion_gate)

    assert result["gate_timed_out"] is True and result["gate"] == "confirm-promotion"
    assert result["passed"] is False and result["weight"] == 10
    assert script.calls.count(("promotion gate",)) == 3 and sum(fake.sleeps) <= 12


def test_a_halted_tick_does_not_count_towards_the_cap_and_a_stuck_canary_stops_the_loop():
    script = Script({10: ["halt"] * 5 + ["deadline"]}, threshold=100)
    tick = script.tick

    def halting_tick(weight):
        result = tick(weight)
        outcome = result["msg"].split(": ")[1]
        result.update(halted=outcome == "halt", deadline_exceeded=outcome == "deadline")
        return result

    result = run_steps([10, 20], script.advance, halting_tick, max_ticks_per_step=2)

    assert script.calls.count(("tick", 10)) == 6 and ("advance", 20) not in script.calls
    assert result["deadline_exceeded"] is True and result["passed"] is False
