#!/usr/bin/env python3
"""Run the benchmark figures against a running sandbox, print one table and write
docs/performance.md. scripts/bench.sh starts and stops the sandbox around it.

    .venv/bin/python scripts/bench/run.py --env SANDBOX_DIR/env [--only 1,6] [--no-doc]
"""
import argparse
import datetime
import json
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

# The figures are modules beside this script (its directory is first on sys.path when run).
import common
import judge
import module_cost
import release
import rollback
import scale
import weights

TARGETS = {
    1: "≤ 1.10",
    2: "≤ 1.0×",
    3: "≤ 1 s",
    4: "≤ 4 API requests/step; exactly 1 query/metric/step",
    5: "K=10 ≤ 1.3× K=1 (2 cores)",
    6: "within ±1 point",
    7: "≤ 5 s",
    8: "rolled back in ≥ 19 of 20",
    9: "promoted in 20 of 20",
    10: "exactly 1 range query/Service/comparison/step",
    11: "≤ 1 s",
}

EXPLANATIONS = {
    1: "Wall time of one healthy `ansible-playbook playbooks/canary.yml` run (10 steps: stepWeight 5 up "
       "to maxWeight 50, interval 10 s, two built-in metrics, steady load of 20 rps through Traefik) "
       "divided by the analysis time it has to wait for, 10 × 10 s. Per-step overhead: the wall time of "
       "the step loop (from the first step's `canary_analysis` task to the end of the last one's) minus "
       "the intervals its ticks waited, divided by the steps.",
    2: "Median task time of `progressive.delivery.canary_weight` divided by the median task time of "
       "`kubernetes.core.k8s` (`state: patched`, `merge_type: merge`, the same weighted service list) "
       "for the same weight change. Both in the same playbook shape (one play, three weight-changing "
       "tasks), runs alternated; the ratio of the median playbook wall times is given too.",
    3: "A revision answering half of its requests with HTTP 500 is released (stepWeight 20, threshold 2). "
       "A probe (three `requests.Session` threads through Traefik) records the version (`X-Version`) "
       "and time of every answer. Reaction = time of the last answer from the canary minus the moment the "
       "decisive `canary_analysis` call knew the threshold was reached (its `decided_at`; that call "
       "routes the traffic to the primary itself). Resolution = mean gap between canary answers before.",
    4: "Requests of the collection in the request log of the sandbox's API proxy (the proxy in front of "
       "kube-apiserver that users' clients go through; the benchmark's own kubectl calls left out by user "
       "agent) during the step loop of the healthy release, divided by the steps; Prometheus queries (its "
       "`prometheus_http_requests_total` counter for `/api/v1/query` and `/api/v1/query_range`, sampled "
       "every 0.1 s) during the step loop, divided by steps × metrics.",
    5: "K releases of different apps (namespaces `bench-scale-1..K`, 3 steps each: stepWeight 10 to 30, "
       "interval 2 s, 10 rps load each) in one `ansible-playbook` run: K inventory hosts with "
       "`ansible_connection: local`, `ANSIBLE_FORKS=K`, the role once per host. Ratio = wall time at K / "
       "wall time at K = 1. Peak memory = largest sum of RSS over the ansible-playbook process and all "
       "its descendants (forks, module processes), sampled every 0.2 s from /proc.",
    6: "`canary_weight` sets 5, 10, 20, 50; once Traefik's API serves the weights, 2000 requests through "
       "Traefik (four sessions); observed canary share minus the set weight.",
    7: "Median wall time of 5 runs of `playbooks/canary.yml` right after the promotion, when nothing "
       "changed (the run reports changed=0).",
    8: "Releases through the role of a revision answering after 25 ms while the primary answers after "
       "20 ms (the sample app's latency fault), at 20 rps: both far below the article's 500 ms p99 "
       "threshold, which passes them. The Canary compares the p99 duration with the primary's "
       "(`compare`: higher-is-worse, maxRatio 1.1, resolution 2 s, window 10 s; stepWeight 25 to 50, "
       "interval 10 s, threshold 1). Counted: releases that ended Failed (rolled back). "
       "BENCH_JUDGE_RELEASES sets how many of each kind (default 3; the aim is stated for 20).",
    9: "The same, with a revision identical to the primary (20 ms): releases that ended Succeeded.",
    10: "Range queries Prometheus answered (its `prometheus_http_requests_total` for "
        "`/api/v1/query_range`, sampled every 0.1 s) during the releases' analysis tasks, per analysis "
        "tick; the Canary has one comparison, so 2 means one per Service.",
    11: "In the healthy release of figure 1, for each step: the start of the task whose name is the step's "
       "line (when ansible-playbook and AWX print it; the json callback's task start) minus the moment the "
       "step was decided (the end of its last tick, as `canary_analysis` timed it in `ticks`). The "
       "Canary's Events have a resolution of one second, too coarse for this figure.",
}


def machine():
    mem_kib = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = platform.processor() or "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "memory": "{0:.1f} GiB".format(mem_kib / 2 ** 20),
        "cpu": model,
        "load": " ".join("{0:.2f}".format(v) for v in os.getloadavg()),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt(value, spec="{0:.2f}", missing="n/a"):
    return missing if value is None else spec.format(value)


def table_rows(results):
    rows = []

    def row(num, name, measured_fn):
        res = results.get(num)
        if res is None:
            return
        if "error" in res:
            rows.append((num, name, "not measured: " + res["error"][:100] + " … (see Errors below)", TARGETS[num]))
        else:
            try:
                rows.append((num, name, measured_fn(res), TARGETS[num]))
            except (KeyError, TypeError, ValueError) as exc:
                rows.append((num, name, "not measured: {0!r} missing".format(exc), TARGETS[num]))

    row(1, "Release overhead ratio (10 steps × 10 s)", lambda r: "{0:.2f} ({1:.1f} s for 100 s of intervals; "
        "{2:.2f} s overhead per step)".format(r["ratio"], r["release_wall"], r["step_overhead_mean"]))
    row(2, "canary_weight vs kubernetes.core.k8s", lambda r: "{0:.2f}× ({1:.2f} s vs {2:.2f} s per task; "
        "playbook wall {3:.2f}×, CPU {4:.2f}×)".format(r["ratio_task"], r["cw_task"], r["k8s_task"], r["ratio_wall"],
                                                r.get("ratio_cpu") or float("nan")))
    row(3, "Rollback reaction", lambda r: "{0:.2f} s (probe {1:.0f} rps, resolution {2:.2f} s)".format(
        r["reaction"], r["probe_rps"], r["resolution"]))
    row(4, "API economy", lambda r: "{0:.1f} API requests/step; {1} Prometheus queries/metric/step".format(
        r["api_per_step"], fmt(r.get("prom_per_metric_step"))))
    row(5, "Scale: K concurrent releases", lambda r: "; ".join(
        "K={0}: {1:.2f}× ({2:.0f} s, peak {3:.0f} MiB{4})".format(
            k, v["ratio"], v["wall"], (v["peak_rss"] or 0) / 2 ** 20,
            ", {0} failed".format(len(v["failed_hosts"])) if v["failed_hosts"] else "")
        for k, v in sorted(r["rounds"].items())))
    row(6, "Weight accuracy (2000 requests)", lambda r: "max {0:.2f} points off (".format(r["max_error"]) + ", ".join(
        "{0}→{1:.2f}".format(x["set"], x["observed"]) for x in r["rows"]) + ")")
    row(7, "No-op run", lambda r: "{0:.2f} s median of {1} (changed={2})".format(
        r["noop_median"], len(r["noop_walls"]), ",".join(str(c) for c in r["noop_changed"])))
    row(8, "Judge: slower canary rolled back", lambda r: "{0} of {1}".format(r["detected"], r["releases"]))
    row(9, "Judge: identical canary promoted", lambda r: "{0} of {1}".format(r["promoted"], r["releases"]))
    row(10, "Judge: Prometheus range queries per comparison step", lambda r: "{0} per step with 1 comparison "
        "({1} ticks)".format(fmt(r["range_queries_per_step"]), r["comparison_ticks"]))
    row(11, "Per-step output delay", lambda r: "{0:.2f} s max, {1:.2f} s median over {2} steps".format(
        r["line_delay_max"], r["line_delay_median"], len(r["line_delays"])))
    return rows


def render_table(rows):
    lines = ["| # | figure | measured | target |", "|---|---|---|---|"]
    for num, name, measured, target in rows:
        lines.append("| {0} | {1} | {2} | {3} |".format(num, name, measured.replace("|", "/"), target))
    return "\n".join(lines)


def details(results):
    out = []
    errors = sorted({(min(k for k, v in results.items() if v is r), r["error"]) for r in results.values() if "error" in r})
    if errors:
        out.append("### Errors\n")
        for num, error in errors:
            out.append("- figure {0}: {1}".format(num, error.replace("\n", " ")))
        out.append("")
    r = results.get(1)
    if r and "error" not in r:
        out.append("### 1. Where a step's time goes (mean seconds per step, {0} steps, {1} analysis ticks)\n".format(
            r["steps_seen"], r["ticks"]))
        out.append("Mean step wall time {0:.2f} s, of which {1:.0f} s is the interval. The whole release used "
                   "{2:.1f} CPU seconds (user + system, all processes of the run) in {3:.1f} s of wall time.\n".format(
                       r["step_wall_median"], release.INTERVAL, r.get("release_cpu") or 0, r["release_wall"]))
        if r.get("module_runs"):
            out.append("Module processes started: {0} in the release ({1:.1f} per step), so about {2:.2f} CPU "
                       "seconds per module run.\n".format(r["module_runs"], r.get("module_runs_per_step", 0),
                                                         (r.get("release_cpu") or 0) / r["module_runs"]))
        out.append("| task | s/step |\n|---|---|")
        for name, sec in r["step_breakdown"]:
            out.append("| {0} | {1:.2f} |".format(name.replace("|", "/"), sec))
        if "outside_steps" in r:
            out.append("\nOutside the step loop: {0:.1f} s in total (initialising run before it: {1:.1f} s). "
                       "Largest tasks:\n".format(r["outside_steps"], r["init_wall"]))
            out.append("| task | s |\n|---|---|")
            for name, sec in r["outside_breakdown"]:
                out.append("| {0} | {1:.2f} |".format(name.replace("|", "/"), sec))
    if r and "error" not in r and "api_by_path" in r:
        out.append("\n### 4. API requests per step by verb and path\n")
        out.append("| request | per step |\n|---|---|")
        for name, per in r["api_by_path"]:
            out.append("| `{0}` | {1:.1f} |".format(name, per))
        out.append("\nWhole release: {0} API requests. Prometheus: {1} queries in the step loop for {2} "
                   "analysis ticks × 2 metrics ({3} per metric per tick).".format(
                       r["api_release_total"], fmt(r["prom_queries"], "{0:.0f}"), r["ticks"],
                       fmt(r["prom_per_metric_tick"])))
        if r.get("api_user_agents"):
            out.append("\nUser agents of the release's requests: {0}.".format(", ".join(
                "`{0}` {1}".format(agent, count) for agent, count in r["api_user_agents"])))
    r = results.get(3)
    if r and "error" not in r:
        out.append("\n### 3. Rollback reaction, split\n")
        parts = [("decision → TraefikService written (same canary_analysis call)", r.get("route_write")),
                 ("failed analysis → rollback weight task starts (rescue)", r.get("dispatch")),
                 ("canary_weight task (module run)", r.get("weight_task")),
                 ("TraefikService written → last canary answer through Traefik", r.get("traefik")),
                 ("`Rolling back` event → last canary answer", r.get("event_to_zero"))]
        out.append("| part | s |\n|---|---|")
        for name, sec in parts:
            out.append("| {0} | {1} |".format(name, fmt(sec)))
        out.append("\nCanary share of the probe before the decision: {0:.0%}.".format(r["canary_share_before"]))
    r = results.get(5)
    if r and "error" not in r:
        out.append("\n### 5. Scale\n")
        out.append("Initialising {0} apps in one run took {1:.0f} s.\n".format(max(r["rounds"]), r["init_wall"]))
        out.append("| K | wall s | ratio | peak RSS MiB | MiB per release | rc |\n|---|---|---|---|---|---|")
        for k, v in sorted(r["rounds"].items()):
            rss = (v["peak_rss"] or 0) / 2 ** 20
            out.append("| {0} | {1:.1f} | {2:.2f} | {3:.0f} | {4:.0f} | {5} |".format(
                k, v["wall"], v["ratio"], rss, rss / k, v["rc"]))
    r = results.get(2)
    if r and "error" not in r:
        out.append("\n### 2. Module cost, median seconds per task\n")
        out.append("| task | s |\n|---|---|")
        out.append("| `ansible.builtin.ping` (any module start) | {0} |".format(fmt(r["floors"].get("ping"))))
        out.append("| `kubernetes.core.k8s_info`, one GET (module start + Kubernetes client) | {0} |".format(
            fmt(r["floors"].get("k8s_info"))))
        out.append("| `kubernetes.core.k8s` merge patch of the weights | {0:.2f} |".format(r["k8s_task"]))
        out.append("| `progressive.delivery.canary_weight` | {0:.2f} |".format(r["cw_task"]))
        out.append("\nMedian CPU seconds per playbook run: canary_weight {0}, k8s {1}; {2} runs each.".format(
            fmt(r.get("cw_cpu")), fmt(r.get("k8s_cpu")), r["runs"]))
        if r["failures"]:
            out.append("\nFigure 2 runs that failed: " + "; ".join(r["failures"][:3]))
    r = results.get(7)
    if r and "error" not in r:
        out.append("\n### 7. No-op run, largest tasks of the last run\n")
        out.append("| task | s |\n|---|---|")
        for name, sec in r["noop_breakdown"]:
            out.append("| {0} | {1:.2f} |".format(name.replace("|", "/"), sec))
    return "\n".join(out)


HISTORY_HEADING = "## Optimisations: before and after"


def kept_history(path):
    """The hand-written record of optimisations at the end of the doc, kept across regenerations."""
    try:
        text = Path(path).read_text()
    except OSError:
        return ""
    at = text.find(HISTORY_HEADING)
    return text[at:].rstrip() + "\n" if at >= 0 else ""


def write_doc(path, info, command, table, results, elapsed):
    history = kept_history(path)
    text = ["# Performance", "",
            "Figures of issue 6, measured by `make bench` on the local sandbox: a real Kubernetes control "
            "plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with the sandbox's own "
            "kubelet, real Traefik and real Prometheus. Releases run as the least-privilege ServiceAccount "
            "of `rbac/`; API request counts come from the request log of the sandbox's API proxy, which "
            "users' clients go through. Regenerate with the command below; the file is overwritten up "
            "to the section \"{0}\", which is kept.".format(HISTORY_HEADING[3:]), "",
            "- Command: `{0}`".format(command),
            "- Date: {0}".format(info["date"]),
            "- Machine: {0} CPUs (`nproc`), {1} memory, {2}; load average at start {3}; Python {4}".format(
                info["nproc"], info["memory"], info["cpu"], info["load"], info["python"]),
            "- Duration of the benchmark: {0:.0f} s".format(elapsed), "",
            "## Table", "", table, "",
            "## What each figure is", ""]
    for num in sorted(EXPLANATIONS):
        text.append("{0}. {1} Target: {2}.".format(num, EXPLANATIONS[num], TARGETS[num]))
    text += ["", "The targets are aims measured by this benchmark, never asserted in tests. Wall times depend on the "
             "machine and on what else runs on it (see the load average above).", "",
             "## Details", "", details(results), ""]
    if history:
        text += [history]
    Path(path).write_text("\n".join(text))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="the sandbox's env file")
    parser.add_argument("--only", default="", help="comma-separated figure numbers (default: all)")
    parser.add_argument("--doc", default=str(common.ROOT / "docs" / "performance.md"))
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--command", default=os.environ.get("BENCH_COMMAND", "make bench"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = {int(x) for x in args.only.split(",") if x.strip()}
    info = machine()
    sb = common.sandbox_from_env_file(args.env)
    results = {}
    started = time.monotonic()

    def log(msg):
        print(msg, flush=True)

    plan = [((6,), weights), ((2,), module_cost), ((1, 4, 7, 11), release), ((3,), rollback),
            ((5,), scale), ((8, 9, 10), judge)]
    try:
        with tempfile.TemporaryDirectory(prefix="pd-bench-") as workdir:
            for figures, module in plan:
                if only and not only.intersection(figures):
                    continue
                log("figure {0}: {1}".format(",".join(map(str, figures)), module.__doc__.splitlines()[0]))
                t0 = time.monotonic()
                try:
                    res = module.measure(sb, Path(workdir), log)
                except Exception as exc:  # one broken figure must not hide the others
                    traceback.print_exc()
                    res = {"error": "{0}: {1}".format(type(exc).__name__, exc)}
                for num in figures:
                    results[num] = res
                log("  ({0:.0f}s)".format(time.monotonic() - t0))
    finally:
        common.PROCS.stop_all()
    elapsed = time.monotonic() - started
    table = render_table(table_rows(results))
    print()
    print(table)
    print()
    print(details(results))
    if not args.no_doc:
        write_doc(args.doc, info, args.command, table, results, elapsed)
        print("\nwrote " + os.path.relpath(args.doc, common.ROOT))
    raw = os.environ.get("BENCH_RESULTS_JSON")
    if raw:
        Path(raw).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1, default=str))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
