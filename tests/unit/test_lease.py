"""Specification of the per-app Lease: who may take it, when it expires, what a blocked run reads."""

import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.errors import InvalidInput
from ansible_collections.progressive.delivery.plugins.module_utils.lease import (
    LeaseHeld,
    acquire,
    claim,
    format_time,
    is_free,
    lease_name_for,
    new_holder_identity,
    parse_time,
    release,
    validate,
)
from ansible_collections.progressive.delivery.plugins.module_utils.retry import RetryPolicy

NOW = 1795000000.0  # 2026-11-18T11:06:40Z


def lease(holder, renewed_ago=0, duration=60, acquired_ago=None, transitions=0, rv="7"):
    acquired_ago = renewed_ago if acquired_ago is None else acquired_ago
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "podinfo-canary-lock", "namespace": "test", "resourceVersion": rv},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": format_time(NOW - acquired_ago), "renewTime": format_time(NOW - renewed_ago),
                     "leaseTransitions": transitions}}


def test_times_round_trip_in_client_go_microtime_format():
    assert format_time(NOW + 0.25) == "2026-11-18T11:06:40.250000Z"
    assert parse_time("2026-11-18T11:06:40.250000Z") == NOW + 0.25
    assert parse_time("2026-11-18T11:06:40Z") == NOW
    assert parse_time(None) is None and parse_time("yesterday") is None


def test_lease_name_is_per_app():
    assert lease_name_for("podinfo") == "podinfo-canary-lock"


def test_generated_holders_differ_between_runs():
    assert new_holder_identity() != new_holder_identity()


def test_generated_holder_names_the_awx_job(monkeypatch):
    monkeypatch.setenv("AWX_JOB_ID", "4711")
    assert new_holder_identity().startswith("awx-job-4711-")


@pytest.mark.parametrize("current, free", [
    (None, True),
    (lease("run-a", renewed_ago=10, duration=60), False),
    (lease("run-a", renewed_ago=60, duration=60), False),  # exactly at the end: still held
    (lease("run-a", renewed_ago=61, duration=60), True),
    (lease("", renewed_ago=0), True),
    (lease(None, renewed_ago=0), True),
])
def test_a_lease_is_free_without_holder_or_after_renew_time_plus_duration(current, free):
    assert is_free(current, NOW) is free


def test_first_claim_creates_the_lease():
    desired, how = claim(None, "test", "podinfo-canary-lock", "run-b", 30, NOW)
    assert how == "created"
    assert desired["spec"] == {"holderIdentity": "run-b", "leaseDurationSeconds": 30,
                               "acquireTime": format_time(NOW), "renewTime": format_time(NOW),
                               "leaseTransitions": 0}
    assert desired["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "progressive.delivery"


def test_the_holder_renews_without_changing_acquire_time():
    current = lease("run-a", renewed_ago=20, acquired_ago=100, transitions=2)
    desired, how = claim(current, "test", "podinfo-canary-lock", "run-a", 60, NOW)
    assert how == "renewed"
    assert desired["spec"]["renewTime"] == format_time(NOW)
    assert desired["spec"]["acquireTime"] == format_time(NOW - 100)
    assert desired["spec"]["leaseTransitions"] == 2
    assert desired["metadata"]["resourceVersion"] == "7"


def test_an_expired_lease_of_another_run_is_taken_over():
    current = lease("run-a", renewed_ago=90, duration=60, transitions=1)
    desired, how = claim(current, "test", "podinfo-canary-lock", "run-b", 60, NOW)
    assert how == "taken_over"
    assert desired["spec"]["holderIdentity"] == "run-b"
    assert desired["spec"]["acquireTime"] == format_time(NOW)
    assert desired["spec"]["leaseTransitions"] == 2


def test_a_released_lease_without_holder_is_acquired_without_counting_a_transition():
    desired, how = claim(lease("", transitions=3), "test", "podinfo-canary-lock", "run-b", 60, NOW)
    assert how == "acquired" and desired["spec"]["leaseTransitions"] == 3


def test_a_live_lease_of_another_run_is_refused_naming_holder_and_since_when():
    current = lease("awx-job-17-1-abc", renewed_ago=5, acquired_ago=42, duration=60)
    with pytest.raises(LeaseHeld) as info:
        claim(current, "test", "podinfo-canary-lock", "run-b", 60, NOW)
    msg = str(info.value)
    assert "Lease test/podinfo-canary-lock is held by run 'awx-job-17-1-abc'" in msg
    assert "since " + format_time(NOW - 42) in msg
    assert "last renewed 5s ago" in msg and "expires in 55s" in msg
    assert info.value.details["holder"] == "awx-job-17-1-abc"
    assert info.value.details["holder_since"] == format_time(NOW - 42)


@pytest.mark.parametrize("args, fragment", [
    (("", "test", None, 60), "name is required"),
    (("podinfo", "", None, 60), "namespace is required"),
    (("x" * 250, "test", None, 60), "name must be at most 241 characters"),
    (("podinfo", "test", "  ", 60), "holder must be a non-empty string"),
    (("podinfo", "test", None, 0), "lease_duration must be a whole number of seconds of at least 1; got 0"),
    (("podinfo", "test", None, True), "lease_duration must be a whole number"),
])
def test_bad_input_is_refused_naming_the_field(args, fragment):
    with pytest.raises(InvalidInput) as info:
        validate(*args)
    assert fragment in str(info.value)


# --- acquire/release against an in-memory Lease store ------------------------------------------

class ApiFault(Exception):
    def __init__(self, status):
        super(ApiFault, self).__init__(status)
        self.status = status
        self.body = None
        self.headers = {}


class MemoryStore(object):
    """The LeaseStore interface over one object, with the API's resourceVersion rules."""

    namespace = "test"
    name = "podinfo-canary-lock"
    ref = "Lease test/podinfo-canary-lock"

    def __init__(self, obj=None):
        self.obj = obj
        self.rv = 10
        self.policy = RetryPolicy(timeout=0)
        self.writes = []

    def read_once(self):
        return None if self.obj is None else dict(self.obj, spec=dict(self.obj["spec"]))

    read = read_once

    def write(self, desired):
        rv = desired["metadata"].get("resourceVersion")
        if (self.obj is None) != (rv is None) or (self.obj and rv != self.obj["metadata"]["resourceVersion"]):
            raise ApiFault(409)
        self.rv += 1
        self.obj = dict(desired, metadata=dict(desired["metadata"], resourceVersion=str(self.rv)))
        self.writes.append(self.obj)
        return self.read_once()

    def delete(self, resource_version):
        if self.obj is None:
            raise ApiFault(404)
        if resource_version != self.obj["metadata"]["resourceVersion"]:
            raise ApiFault(409)
        self.obj = None


def test_check_mode_predicts_a_takeover_without_writing():
    store = MemoryStore(lease("run-a", renewed_ago=500))
    result = acquire(store, "run-b", 60, check_mode=True, clock=lambda: NOW)
    assert result["how"] == "taken_over" and result["previous_holder"] == "run-a"
    assert store.writes == []
    assert store.obj["spec"]["holderIdentity"] == "run-a"


def test_check_mode_fails_like_the_real_run_when_the_lease_is_held():
    store = MemoryStore(lease("run-a", renewed_ago=1))
    with pytest.raises(LeaseHeld):
        acquire(store, "run-b", 60, check_mode=True, clock=lambda: NOW)


def test_waiting_acquires_once_the_holder_releases():
    store = MemoryStore(lease("run-a", renewed_ago=1))
    t = {"now": NOW}

    def sleep(seconds):
        t["now"] += seconds
        if t["now"] >= NOW + 3:
            store.obj = None  # run-a released the Lease

    result = acquire(store, "run-b", 60, wait_timeout=10, poll=1, clock=lambda: t["now"], sleep=sleep)
    assert result["how"] == "created" and store.obj["spec"]["holderIdentity"] == "run-b"


def test_waiting_gives_up_after_wait_timeout():
    store = MemoryStore(lease("run-a", renewed_ago=1, duration=600))
    t = {"now": NOW}

    def sleep(seconds):
        t["now"] += seconds

    with pytest.raises(LeaseHeld):
        acquire(store, "run-b", 60, wait_timeout=5, poll=1, clock=lambda: t["now"], sleep=sleep)
    assert NOW + 4 <= t["now"] <= NOW + 5


def test_losing_a_race_for_a_free_lease_reports_the_winner():
    store = MemoryStore(None)
    real_read = store.read_once
    reads = []

    def read_then_other_run_creates():
        seen = real_read()
        reads.append(1)
        if len(reads) == 1:
            store.write(claim(None, "test", store.name, "run-a", 60, NOW)[0])
        return seen

    store.read_once = read_then_other_run_creates
    with pytest.raises(LeaseHeld) as info:
        acquire(store, "run-b", 60, clock=lambda: NOW)
    assert "held by run 'run-a'" in str(info.value)


def test_release_deletes_only_our_own_lease():
    store = MemoryStore(lease("run-a"))
    result = release(store, "run-b")
    assert result["changed"] is False and result["released"] is False
    assert "held by 'run-a'" in result["msg"]
    assert store.obj is not None

    result = release(store, "run-a")
    assert result["changed"] is True and result["released"] is True
    assert store.obj is None


def test_release_of_a_missing_lease_changes_nothing():
    result = release(MemoryStore(None), "run-a")
    assert result["changed"] is False and result["lease"] is None


def test_release_whose_answer_was_lost_counts_as_released():
    store = MemoryStore(lease("run-a"))

    def delete_then_lose_answer(_resource_version):
        store.obj = None
        raise ApiFault(404)

    store.delete = delete_then_lose_answer
    assert release(store, "run-a")["released"] is True
