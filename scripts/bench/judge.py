"""Figures 8-10: the statistical judge. Releases of a canary 25% slower than its primary (and of
an identical one) through the role, judged only by a comparison of the p99 duration with the
primary's; how many were rolled back and promoted, and Prometheus range queries per comparison per
step."""
import os

from common import (Load, PromSampler, analysis, canary, canary_run, deploy_podinfo, kubectl,
                    prometheus_query_count, set_image, wait_rollout, write_manifest)

NAMESPACE = "bench-judge"
# The primary answers after 20 ms, the slow canary after 25 ms: both far below the 500 ms p99
# threshold of the article, which passes them.
BASE_LATENCY = 0.020
SLOW_LATENCY = 0.025
RELEASES = int(os.environ.get("BENCH_JUDGE_RELEASES", "3"))
COMPARISON = {"direction": "higher-is-worse", "maxRatio": 1.1, "resolution": "2s"}


def judged_canary(namespace, compare=True):
    """Two steps of 10 s (25%, 50%), one failed check rolls back; the article's thresholds, and
    with ``compare`` the p99 duration compared with the primary's over each step's 10 s."""
    metrics = [
        {"name": "request-success-rate", "interval": "10s", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "10s", "thresholdRange": {"max": 500}},
    ]
    if compare:
        metrics[1]["compare"] = dict(COMPARISON)
    return canary(namespace, analysis(interval="10s", threshold=1, max_weight=50, step_weight=25,
                                      metrics=metrics), autoscaler="autoscaling/v2")


def range_query_count(sb):
    """Range queries Prometheus has answered so far."""
    return prometheus_query_count(sb) - prometheus_query_count(sb, with_range=False)


def ticks_of(result):
    """Analysis ticks in one canary_analysis result: a step loop's, or the one tick."""
    if result.get("steps"):
        return sum(step["ticks"] for step in result["steps"])
    return 1 if result.get("comparisons") else 0


def measure(sb, workdir, log):
    deploy_podinfo(sb, NAMESPACE)
    wait_rollout(sb, NAMESPACE)
    plain = write_manifest(workdir, judged_canary(NAMESPACE, compare=False), name="canary-judge-plain.yaml")
    judged = write_manifest(workdir, judged_canary(NAMESPACE), name="canary-judge.yaml")
    first = canary_run(sb, plain)
    if first.rc != 0:
        raise RuntimeError("initialising run failed (rc {0}): {1}".format(first.rc, first.failure()))
    load = Load(sb, NAMESPACE, rps=20)
    prom = PromSampler(sb, counter=range_query_count).start()
    out = {"releases": RELEASES, "slow": [], "identical": [], "range_queries": [], "comparison_ticks": 0}
    try:
        # The baseline: a primary answering after 20 ms, promoted on thresholds alone.
        set_image(sb, NAMESPACE, "4.1.0", env={"SANDBOX_LATENCY": BASE_LATENCY})
        base = canary_run(sb, plain)
        if base.rc != 0:
            raise RuntimeError("baseline release failed (rc {0}): {1}".format(base.rc, base.failure()))
        version = 1
        for _round in range(RELEASES):
            for kind, latency in (("slow", SLOW_LATENCY), ("identical", BASE_LATENCY)):
                version += 1
                # A new revision each time (the tag), with the latency of its kind.
                set_image(sb, NAMESPACE, "4.1.{0}".format(version), env={"SANDBOX_LATENCY": latency})
                run = canary_run(sb, judged)
                analyses = [t for t in run.tasks() if t[1].endswith("canary_analysis")]
                results = [r for t in analyses for r in t[4].values()]
                comparisons = [c for r in results for c in (r.get("comparisons") or [])]
                ticks = sum(ticks_of(r) for r in results)
                queries = prom.count_between(min(t[2] for t in analyses),
                                             max(t[3] for t in analyses)) if analyses else None
                phase = kubectl(sb, "-n", NAMESPACE, "get", "canary", "podinfo", "-o",
                                "jsonpath={.status.phase}").stdout.strip()
                out[kind].append({"rolled_back": phase == "Failed", "phase": phase, "rc": run.rc,
                                  "comparisons": [(c["verdict"], c.get("p_value"), c.get("effect_size"))
                                                  for c in comparisons]})
                if queries is not None and ticks:
                    out["range_queries"].append(queries / ticks)
                    out["comparison_ticks"] += ticks
                log("  {0} canary: {1} (rc {2}; {3})".format(
                    kind, phase, run.rc,
                    ", ".join("{0} p={1}".format(v, "n/a" if p is None else "{0:.2g}".format(p))
                              for v, p, _e in out[kind][-1]["comparisons"]) or "no comparisons"))
    finally:
        prom.stop()
        load.stop()
    out["detected"] = sum(1 for r in out["slow"] if r["rolled_back"])
    out["promoted"] = sum(1 for r in out["identical"] if not r["rolled_back"])
    out["range_queries_per_step"] = (sum(out["range_queries"]) / len(out["range_queries"])
                                     if out["range_queries"] else None)
    return out
