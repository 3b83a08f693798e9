"""Figure 3: rollback reaction. A revision answering half of its requests with 500 is released;
a probe sends requests through Traefik from three threads and records which version answered
when. Reaction = last answer from the canary minus the end of the decisive failed analysis."""
import json

from common import (Probe, canary_run, deploy_podinfo, kubectl, parse_time, set_image, wait_rollout,
                    write_canary)

NAMESPACE = "bench-rollback"
BAD_VERSION = "4.0.7"


def rolling_back_event_time(sb, namespace):
    out = kubectl(sb, "-n", namespace, "get", "events", "-o", "json").stdout
    times = []
    for event in json.loads(out)["items"]:
        if event.get("involvedObject", {}).get("kind") == "Canary" and event.get("message", "").startswith("Rolling back"):
            stamp = event.get("eventTime") or event.get("lastTimestamp") or event.get("firstTimestamp") \
                or event["metadata"].get("creationTimestamp")
            times.append(parse_time(stamp.replace("+00:00", "")))
    return max(times) if times else None


class RunInterrupted(RuntimeError):
    """The playbook was stopped by a signal from outside, not by the rollback it is measured for."""


def measure(sb, workdir, log):
    try:
        return measure_in(sb, workdir, log, NAMESPACE)
    except RunInterrupted as exc:
        # a fresh namespace, so nothing of the interrupted release is left in the way
        log("  {0}; once more in a fresh namespace".format(exc))
        return measure_in(sb, workdir, log, NAMESPACE + "-2")


def measure_in(sb, workdir, log, namespace):
    deploy_podinfo(sb, namespace)
    wait_rollout(sb, namespace)
    canary_file = write_canary(workdir, namespace, interval="2s", step_weight=20, max_weight=60, threshold=2)
    first = canary_run(sb, canary_file)
    if first.rc != 0:
        raise RuntimeError("initialising run failed (rc {0}): {1}".format(first.rc, first.failure()))
    probe = Probe(sb, namespace, threads=3).start()
    try:
        set_image(sb, namespace, BAD_VERSION, env={"SANDBOX_FAIL_RATE": "0.5"})
        run = canary_run(sb, canary_file)
        # keep probing a little after the run, so a late canary answer would be seen
        probe._stop.wait(3.0)
    finally:
        probe.stop()
    tasks = run.tasks()
    analyses = [t for t in tasks if t[1].endswith("canary_analysis")]
    if run.rc < 0:
        raise RunInterrupted("the release was stopped by signal {0}".format(-run.rc))
    if run.rc == 0 or not analyses:
        raise RuntimeError("the failing release did not roll back (rc {0}): {1}".format(run.rc, run.failure()))
    # The analysis call that reached the threshold routes traffic to the primary itself and says
    # when it decided; older runs without that field are measured from the task's end.
    decided = [r for r in analyses[-1][4].values() if r.get("decided_at")]
    decisive = decided[0]["decided_at"] if decided else analyses[-1][3]
    rollback_weight = [t for t in tasks if t[1].endswith("canary_weight") and t[2] >= decisive]
    canary_answers = [s for s in probe.samples if s[1] == BAD_VERSION]
    if not canary_answers:
        raise RuntimeError("the probe never reached the canary")
    last_canary = max(s[0] for s in canary_answers)
    window = [s for s in probe.samples if decisive - 10 <= s[0] <= last_canary + 2]
    rate = probe.rate(decisive - 10, last_canary + 2)
    share_before = (sum(1 for s in window if s[1] == BAD_VERSION and s[0] < decisive)
                    / max(1, sum(1 for s in window if s[0] < decisive)))
    out = {
        "reaction": last_canary - decisive,
        "probe_rps": rate,
        "canary_share_before": share_before,
        # expected gap between two canary answers: the resolution of the measurement
        "resolution": 1.0 / max(rate * share_before, 1e-9),
        "after_canary_answers": sum(1 for s in probe.samples if s[0] > decisive and s[1] == BAD_VERSION),
        "errors_after": sum(1 for s in probe.samples if s[0] > last_canary and s[2] != 200),
    }
    event = rolling_back_event_time(sb, namespace)
    if event:
        out["event_to_zero"] = last_canary - event
    if decided:
        out["route_write"] = decided[0]["routed_at"] - decisive  # the TraefikService write in the same call
        out["traefik"] = last_canary - decided[0]["routed_at"]    # from the write to Traefik's switch
    elif rollback_weight:
        first_write = rollback_weight[0]
        out["dispatch"] = first_write[2] - decisive           # rescue: from the failure to the weight task
        out["weight_task"] = first_write[3] - first_write[2]  # the canary_weight module run
        out["traefik"] = last_canary - first_write[3]          # from the task's end to Traefik's switch
    log("  rollback reaction {0:.2f}s at {1:.0f} rps".format(out["reaction"], rate))
    return out
