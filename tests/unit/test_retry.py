"""Specification of the retry helper: which faults are retried, how long, and what the user reads."""

import pytest
from urllib3.exceptions import MaxRetryError, ProtocolError

from ansible_collections.progressive.delivery.plugins.module_utils.retry import (
    RetriesExhausted,
    RetryPolicy,
    call_with_retry,
    is_transient,
    retry_after_seconds,
    update_guarded,
)
from pdtest.fake_time import FakeTime


class ApiFault(Exception):
    """Shaped like kubernetes' ApiException: status, reason, body, headers."""

    def __init__(self, status, message="boom", headers=None):
        super(ApiFault, self).__init__(message)
        self.status = status
        self.reason = "Reason{0}".format(status)
        self.body = '{"kind": "Status", "message": "%s"}' % message
        self.headers = headers or {}


def policy(timeout=10.0, rand=lambda: 1.0, **kw):
    t = FakeTime()
    return RetryPolicy(timeout=timeout, sleep=t.sleep, clock=t.clock, rand=rand, **kw), t


def failing(*faults, result="ok"):
    """A callable raising each fault in turn, then returning ``result``; counts its calls."""
    queue = list(faults)
    calls = []

    def fn():
        calls.append(1)
        if queue:
            raise queue.pop(0)
        return result

    fn.calls = calls
    return fn


@pytest.mark.parametrize("fault", [
    ApiFault(500), ApiFault(502), ApiFault(503), ApiFault(504), ApiFault(429),
    ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
    MaxRetryError(None, "/apis", "Connection refused"),
    ConnectionResetError(104, "reset"),
], ids=["500", "502", "503", "504", "429", "reset", "refused", "os-reset"])
def test_transient_faults_are_retried_until_the_call_succeeds(fault):
    p, t = policy()
    fn = failing(fault, fault)

    assert call_with_retry(fn, "read Lease test/podinfo", p) == "ok"
    assert len(fn.calls) == 3
    assert len(t.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_answers_that_repeat_identically_are_raised_at_once(status):
    p, t = policy()
    fn = failing(ApiFault(status))

    with pytest.raises(ApiFault) as info:
        call_with_retry(fn, "read Lease test/podinfo", p)
    assert info.value.status == status
    assert len(fn.calls) == 1 and t.sleeps == []


def test_programming_errors_are_not_retried():
    p, _t = policy()
    fn = failing(KeyError("metadata"))
    with pytest.raises(KeyError):
        call_with_retry(fn, "x", p)
    assert len(fn.calls) == 1


def test_backoff_doubles_up_to_the_cap():
    p, t = policy(timeout=100, initial_delay=0.5, max_delay=3)
    fn = failing(*[ApiFault(503)] * 6)

    call_with_retry(fn, "x", p)

    assert t.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_keeps_each_delay_between_half_and_all_of_the_backoff():
    p, t = policy(timeout=100, initial_delay=1, max_delay=8, rand=lambda: 0.0)
    call_with_retry(failing(*[ApiFault(500)] * 3), "x", p)
    assert t.sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    p, t = policy(timeout=30, initial_delay=0.2)
    fn = failing(ApiFault(429, "too many requests", headers={"Retry-After": "4"}))

    assert call_with_retry(fn, "x", p) == "ok"
    assert t.sleeps == [4.0]


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it():
    p, t = policy(timeout=30, initial_delay=2)
    call_with_retry(failing(ApiFault(503, headers={"Retry-After": "0"})), "x", p)
    assert t.sleeps == [2.0]


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "3"}, 3.0), ({"Retry-After": "1.5"}, 1.5), ({"Retry-After": "soon"}, None),
    ({}, None), (None, None), ({"Retry-After": "-2"}, 0.0),
])
def test_retry_after_header_parsing(headers, expected):
    assert retry_after_seconds(ApiFault(429, headers=headers)) == expected


def test_gives_up_within_the_time_bound_naming_the_action_and_the_answer():
    p, t = policy(timeout=5, initial_delay=1, max_delay=2)
    fn = failing(*[ApiFault(503, "injected fault: ServiceUnavailable")] * 100)

    with pytest.raises(RetriesExhausted) as info:
        call_with_retry(fn, "renew Lease test/podinfo-canary-lock", p)

    assert t.now <= 5
    msg = str(info.value)
    assert msg.startswith("renew Lease test/podinfo-canary-lock: injected fault: ServiceUnavailable (HTTP 503)")
    assert "gave up after {0} attempts".format(len(fn.calls)) in msg
    assert info.value.details["status"] == 503


def test_gives_up_at_once_when_retry_after_exceeds_the_time_left():
    p, t = policy(timeout=5)
    fn = failing(*[ApiFault(429, "slow down", headers={"Retry-After": "60"})] * 3)

    with pytest.raises(RetriesExhausted) as info:
        call_with_retry(fn, "read Lease test/x", p)

    assert t.sleeps == []
    assert "the server asked to wait 60s" in str(info.value)


def test_connection_errors_are_described_as_such():
    p, _t = policy(timeout=0)
    err = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(RetriesExhausted) as info:
        call_with_retry(failing(err), "create Lease test/x", p)
    assert "create Lease test/x: connection error: " in str(info.value)
    assert "Connection reset by peer" in str(info.value)


def test_zero_timeout_still_makes_one_attempt():
    p, _t = policy(timeout=0)
    assert call_with_retry(failing(), "x", p) == "ok"


def test_negative_timeout_is_refused():
    with pytest.raises(ValueError):
        RetryPolicy(timeout=-1)


def test_is_transient_classification():
    assert is_transient(ApiFault(503))
    assert not is_transient(ApiFault(409))
    assert not is_transient(ValueError("x"))


# --- guarded read-modify-write ---------------------------------------------------------------

class Store(object):
    """One object with a resourceVersion; writes with a stale version answer 409, like the API."""

    def __init__(self, obj):
        self.obj = obj
        self.writes = 0
        self.faults = []  # raised by write() before (or, with "after", after) applying

    def read(self):
        return None if self.obj is None else {"metadata": dict(self.obj["metadata"]),
                                              "spec": dict(self.obj["spec"])}

    def write(self, desired):
        fault = self.faults.pop(0) if self.faults else None
        if fault and fault[0] == "before":
            raise fault[1]
        if self.obj is not None and desired["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise ApiFault(409, "the object has been modified")
        rv = int(self.obj["metadata"]["resourceVersion"]) + 1 if self.obj else 1
        self.obj = {"metadata": dict(desired["metadata"], resourceVersion=str(rv)), "spec": dict(desired["spec"])}
        self.writes += 1
        if fault and fault[0] == "after":
            raise fault[1]  # applied, but the answer was lost
        return self.read()


def add_ten(current):
    if current["spec"].get("done"):
        return None
    current["spec"]["value"] += 10
    current["spec"]["done"] = True
    return current


def test_a_conflict_rereads_and_applies_the_change_to_the_newer_object():
    store = Store({"metadata": {"resourceVersion": "1"}, "spec": {"value": 1}})
    p, _t = policy()
    real_read = store.read
    reads = []

    def read_then_someone_writes():
        seen = real_read()
        reads.append(seen)
        if len(reads) == 1:  # another client writes between our read and our write
            store.obj = {"metadata": {"resourceVersion": "2"}, "spec": {"value": 5}}
        return seen

    _before, after = update_guarded(read_then_someone_writes, add_ten, store.write, "update x", p)

    assert after["spec"] == {"value": 15, "done": True}  # the other client's write is kept
    assert store.writes == 1
    assert len(reads) == 2


def test_a_write_applied_before_its_answer_was_lost_is_not_applied_twice():
    store = Store({"metadata": {"resourceVersion": "1"}, "spec": {"value": 1}})
    store.faults = [("after", ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))]
    p, _t = policy()

    before, after = update_guarded(store.read, add_ten, store.write, "update x", p)

    assert store.obj["spec"] == {"value": 11, "done": True}
    assert store.writes == 1
    assert after == before  # the re-read found the change already made


def test_a_transient_fault_on_the_write_is_retried_from_a_fresh_read():
    store = Store({"metadata": {"resourceVersion": "1"}, "spec": {"value": 1}})
    store.faults = [("before", ApiFault(500)), ("before", ApiFault(429, headers={"Retry-After": "1"}))]
    p, t = policy()

    _before, after = update_guarded(store.read, add_ten, store.write, "update x", p)

    assert after["spec"]["value"] == 11
    assert store.writes == 1
    assert t.sleeps[1] >= 1.0


def test_nothing_to_change_writes_nothing():
    store = Store({"metadata": {"resourceVersion": "1"}, "spec": {"value": 1, "done": True}})
    before, after = update_guarded(store.read, add_ten, store.write, "update x", policy()[0])
    assert store.writes == 0 and before == after


def test_endless_conflicts_end_with_a_clear_message():
    p, _t = policy(timeout=1000)

    def write(_desired):
        raise ApiFault(409, "the object has been modified")

    with pytest.raises(RetriesExhausted) as info:
        update_guarded(lambda: {"metadata": {"resourceVersion": "1"}, "spec": {}},
                       lambda c: c, write, "update TraefikService test/podinfo", p, max_conflicts=4)
    assert str(info.value).startswith("update TraefikService test/podinfo: the object kept changing underneath us (4 conflicts")


def test_a_missing_object_is_passed_to_mutate_as_none_and_created():
    store = Store(None)

    def create(current):
        assert current is None
        return {"metadata": {"name": "x"}, "spec": {"value": 0}}

    _before, after = update_guarded(store.read, create, store.write, "create x", policy()[0])
    assert after["metadata"]["resourceVersion"] == "1"


def test_errors_rewrapped_by_helpers_are_retried_when_their_cause_was_transient():
    p, _t = policy()
    calls = []

    def connect():
        calls.append(1)
        if len(calls) == 1:
            try:
                raise ApiFault(503)
            except ApiFault:
                raise RuntimeError("Could not connect to the Kubernetes API")
        return "client"

    from ansible_collections.progressive.delivery.plugins.module_utils.retry import is_transient_or_caused_by_one
    assert call_with_retry(connect, "connect", p, retry_on=is_transient_or_caused_by_one) == "client"
    assert len(calls) == 2
