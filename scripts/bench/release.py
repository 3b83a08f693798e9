"""Figures 1, 4, 7 and 11: one healthy release (10 steps at a 10 s interval), the API and Prometheus
requests of its step loop, the delay of each step's line, then no-op runs that find nothing new."""
import os
import re
from collections import Counter
from pathlib import Path

from common import (Load, PromSampler, canary_run, collection_requests, deploy_podinfo, median, normalise_path,
                    set_image, wait_rollout, write_canary)

NAMESPACE = "bench-release"
INTERVAL = 10.0
STEP_WEIGHT, MAX_WEIGHT = 5, 50
STEPS = MAX_WEIGHT // STEP_WEIGHT
METRICS = 2
NOOP_RUNS = 5


def short_name(name):
    """A task name without the app and weight, so the same task of every step groups together."""
    name = re.sub(r"\b[\w-]+\.bench-[\w-]+", "<app>", name)
    name = re.sub(r"\d+", "N", name)
    return name.split(":")[0][:70]


def analysis_tasks(run):
    """The tasks that ran the step loop (canary_analysis with weights, one per step) with their results."""
    found = []
    for task in run.tasks():
        if task[1].endswith("canary_analysis"):
            for result in task[4].values():
                if not result.get("skipped") and "steps" in result:
                    found.append((task, result))
    return found


def line_delays(run, analyses):
    """Seconds from each step's decision (its last tick's end, as the module timed it) to the start of
    the task whose name is the step's line: when ansible-playbook and AWX print it."""
    tasks = run.tasks()
    delays = []
    for task, result in analyses:
        ticks = result.get("ticks") or []
        later = [t for t in tasks if t[2] >= task[3] and t[0].startswith("Step ")]
        if ticks and later:
            delays.append(later[0][2] - float(ticks[-1]["ended_at"]))
    return delays


CONTROLLER_ACTIONS = {"set_fact", "debug", "assert", "fail", "include_tasks", "import_tasks", "validate_argument_spec",
                      "set_stats", "meta", "pause"}


def module_runs(tasks):
    """How many module processes the tasks started (skipped tasks and controller-side actions start none)."""
    runs = 0
    for _name, action, _s, _e, hosts, _path in tasks:
        if action.rsplit(".", 1)[-1] in CONTROLLER_ACTIONS:
            continue
        for result in hosts.values():
            if not result.get("skipped"):
                runs += int(result.get("attempts") or 1)
    return runs


def measure(sb, workdir, log):
    out = {}
    deploy_podinfo(sb, NAMESPACE)
    wait_rollout(sb, NAMESPACE)
    canary_file = write_canary(workdir, NAMESPACE, interval="{0:g}s".format(INTERVAL), step_weight=STEP_WEIGHT,
                               max_weight=MAX_WEIGHT, threshold=5)
    first = canary_run(sb, canary_file)
    out["init_wall"] = first.wall
    if first.rc != 0:
        raise RuntimeError("initialising run failed (rc {0}): {1}".format(first.rc, first.failure()))
    log("  initialising run: {0:.1f}s".format(first.wall))

    load = Load(sb, NAMESPACE, rps=20)
    prom = PromSampler(sb).start()
    try:
        set_image(sb, NAMESPACE, "4.0.6")
        since = sb.last_request_index()
        run = canary_run(sb, canary_file)
    finally:
        prom.stop()
        load.stop()
    if run.rc != 0:
        raise RuntimeError("healthy release failed (rc {0}): {1}".format(run.rc, run.failure()))
    if os.environ.get("BENCH_SAVE_DIR"):
        Path(os.environ["BENCH_SAVE_DIR"], "release.json").write_text(run.stdout)
    out["release_wall"] = run.wall
    out["release_cpu"] = run.cpu
    out["module_runs"] = module_runs(run.tasks())
    out["ratio"] = run.wall / (STEPS * INTERVAL)
    analyses = analysis_tasks(run)
    if not analyses:
        raise RuntimeError("the release ran no step loop (no canary_analysis task with steps)")
    steps = [step for _task, result in analyses for step in result["steps"]]
    n = max(len(steps), 1)
    ticks_total = sum(int(step["ticks"]) for step in steps)
    loop_start, loop_end = analyses[0][0][2], analyses[-1][0][3]
    loop_wall = loop_end - loop_start
    delays = line_delays(run, analyses)
    out["line_delays"] = delays
    out["line_delay_max"] = max(delays) if delays else None
    out["line_delay_median"] = median(delays) if delays else None
    out["steps_seen"] = len(steps)
    log("  healthy release: {0:.1f}s for {1} steps seen".format(run.wall, len(steps)))

    # --- per-step overhead: the one task of the step loop minus the intervals its ticks waited ---
    out["step_wall_median"] = loop_wall / n
    out["step_overhead_mean"] = (loop_wall - ticks_total * INTERVAL) / n
    out["step_breakdown"] = [("Analyse step by step: one canary_analysis run per step, its line and "
                              "its stop check (minus the interval waits)", (loop_wall - ticks_total * INTERVAL) / n)]
    out["ticks"] = ticks_total
    out["module_runs_per_step"] = len(analyses) / n
    if steps:
        out["outside_steps"] = run.wall - loop_wall
        outside = Counter()
        for name, _action, s, e, _hosts, _path in run.tasks():
            if e <= loop_start or s >= loop_end:
                outside[short_name(name)] += e - s
        out["outside_breakdown"] = outside.most_common(8)

        # --- figure 4: API requests and Prometheus queries of the step loop ---
        entries = collection_requests(sb, since, loop_start, loop_end)
        by_path = Counter("{0} {1}".format(e["verb"].upper(), normalise_path(e["path"])) for e in entries)
        out["api_per_step"] = len(entries) / n
        out["api_by_path"] = [(k, v / n) for k, v in by_path.most_common()]
        queries = prom.count_between(loop_start, loop_end)
        out["prom_queries"] = queries
        out["prom_per_metric_tick"] = queries / (ticks_total * METRICS) if queries is not None else None
        out["prom_per_metric_step"] = queries / (n * METRICS) if queries is not None else None
        all_release = collection_requests(sb, since, run.started, run.ended)
        out["api_release_total"] = len(all_release)
        out["api_user_agents"] = Counter(e.get("user_agent") or "none" for e in all_release).most_common()

    # --- figure 7: runs that find nothing new ---
    walls, changed = [], []
    for _ in range(NOOP_RUNS):
        noop = canary_run(sb, canary_file)
        if noop.rc != 0:
            raise RuntimeError("no-op run failed (rc {0}): {1}".format(noop.rc, noop.failure()))
        walls.append(noop.wall)
        out.setdefault("noop_cpu", []).append(noop.cpu)
        stats = (noop.report or {}).get("stats", {}).get("localhost", {})
        changed.append(stats.get("changed"))
        last = noop
    out["noop_walls"] = walls
    out["noop_median"] = median(walls)
    out["noop_changed"] = changed
    noop_tasks = Counter()
    for name, _action, s, e, _hosts, _path in last.tasks():
        noop_tasks[short_name(name)] += e - s
    out["noop_breakdown"] = noop_tasks.most_common(6)
    log("  no-op runs: " + ", ".join("{0:.1f}s".format(w) for w in walls))
    return out
