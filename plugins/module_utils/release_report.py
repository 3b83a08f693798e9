# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of one release: an HTML page with a timeline plot and JUnit XML (private to this
collection).

Its input is what the role collected: the ticks of canary_analysis (weight, each metric and hook,
the verdict), the Canary's metrics with their threshold ranges, the Events, the other webhooks and
the decision. Building the documents is pure; only ``timeline_png`` needs matplotlib, imported by
the caller so that a missing library is reported as such.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import io
import time
import xml.etree.ElementTree as ET
from html import escape

from ansible_collections.progressive.delivery.plugins.module_utils.thresholds import (
    display_for,
)


def metric_ranges(canary):
    """``[(name, min, max)]`` of the Canary's metrics, in its order."""
    ranges = []
    for metric in (canary.get("analysis") or {}).get("metrics") or []:
        threshold = metric.get("threshold_range") or {}
        ranges.append((metric["name"], threshold.get("min"), threshold.get("max")))
    return ranges


def check_cases(ticks):
    """One JUnit test case per step (tick) and check: ``[(step, weight, check, passed, message, seconds)]``.

    The checks of a tick are its metrics and its rollout hooks; a tick that stopped before measuring
    (the target changed, a rollback hook asked) has one case saying so.
    """
    cases = []
    for number, tick in enumerate(ticks, 1):
        seconds = max(0.0, float(tick.get("ended_at") or 0) - float(tick.get("started_at") or 0))
        checks = [(m["name"], bool(m.get("passed")), m.get("msg") or m.get("verdict") or "")
                  for m in tick.get("metrics") or []]
        checks += [("webhook " + h["name"], bool(h.get("passed")), h.get("msg") or "")
                   for h in tick.get("webhooks") or [] if h.get("type") == "rollout"]
        if not checks:
            checks = [("analysis", bool(tick.get("passed")), tick.get("msg") or "")]
        for name, passed, message in checks:
            cases.append((number, tick.get("weight"), name, passed, message, seconds))
    return cases


def junit_xml(ref, ticks):
    """JUnit XML: one testsuite for the release, one test case per step and check."""
    cases = check_cases(ticks)
    failures = sum(1 for case in cases if not case[3])
    suites = ET.Element("testsuites", name="canary analysis", tests=str(len(cases)),
                        failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name=ref, tests=str(len(cases)),
                          failures=str(failures), errors="0", skipped="0")
    for step, weight, check, passed, message, seconds in cases:
        case = ET.SubElement(suite, "testcase", classname="{0}.step-{1:02d}".format(ref, step),
                             name="step {0} weight {1}: {2}".format(step, weight, check),
                             time="{0:.3f}".format(seconds))
        if passed:
            ET.SubElement(case, "system-out").text = message
        else:
            ET.SubElement(case, "failure", message=message, type="check failed").text = message
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites).decode("utf-8") + "\n"


def _series(ticks, name):
    """``[(value, passed)]`` of one metric per tick; ``(None, False)`` where it was not measured."""
    series = []
    for tick in ticks:
        found = [m for m in tick.get("metrics") or [] if m["name"] == name]
        series.append((found[0].get("value"), bool(found[0].get("passed"))) if found else (None, False))
    return series


def timeline_png(pyplot, ticks, ranges, title):
    """The timeline as PNG bytes: the canary weight, then each metric against its range, per tick."""
    start = min(float(t["started_at"]) for t in ticks)
    ends = [float(t["ended_at"]) - start for t in ticks]
    passed = [bool(t.get("passed")) for t in ticks]
    rows = 1 + len(ranges)
    figure, axes = pyplot.subplots(rows, 1, sharex=True, figsize=(9, 2.2 * rows + 0.6), squeeze=False)
    axes = [row[0] for row in axes]
    figure.suptitle(title)
    weights = axes[0]
    weights.step([0.0] + ends, [0] + [t["weight"] for t in ticks], where="post", color="#1f77b4")
    weights.scatter(ends, [t["weight"] for t in ticks],
                    c=["#2ca02c" if ok else "#d62728" for ok in passed], zorder=3)
    weights.set_ylabel("canary weight %")
    weights.set_ylim(0, max([t["weight"] for t in ticks] + [10]) * 1.15)
    weights.grid(alpha=0.3)
    for axis, (name, low, high) in zip(axes[1:], ranges):
        # Each point is coloured by its own check, not by the tick's verdict.
        shown = [(x, v, ok) for x, (v, ok) in zip(ends, _series(ticks, name)) if v is not None]
        if shown:
            axis.plot([x for x, _v, _ok in shown], [v for _x, v, _ok in shown], color="#555555")
            axis.scatter([x for x, _v, _ok in shown], [v for _x, v, _ok in shown],
                         c=["#2ca02c" if ok else "#d62728" for _x, _v, ok in shown], zorder=3)
        for bound, label in ((low, "min"), (high, "max")):
            if bound is not None:
                axis.axhline(float(bound), color="#d62728", linestyle="--", linewidth=1,
                             label="{0} {1:g}".format(label, float(bound)))
        display = display_for(name)
        axis.set_ylabel(display.label + (" ({0})".format(display.unit) if display.unit else ""))
        axis.grid(alpha=0.3)
        if low is not None or high is not None:
            axis.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("seconds since the first step started")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=90)
    pyplot.close(figure)
    return out.getvalue()


def _hooks_cell(tick):
    hooks = [h for h in tick.get("webhooks") or [] if h.get("type") == "rollout"]
    failed = [h.get("msg") or h.get("name") for h in hooks if not h.get("passed")]
    return "; ".join(failed) if failed else ("{0} passed".format(len(hooks)) if hooks else "")


def _when(stamp):
    return time.strftime("%H:%M:%S", time.gmtime(float(stamp))) if stamp else ""


def _table(table_id, headers, rows):
    head = "".join("<th>{0}</th>".format(escape(h)) for h in headers)
    body = "".join("<tr class=\"{0}\">{1}</tr>".format(
        row_class, "".join("<td>{0}</td>".format(escape(str(cell))) for cell in cells))
        for row_class, cells in rows)
    return "<table id=\"{0}\"><thead><tr>{1}</tr></thead><tbody>{2}</tbody></table>".format(
        table_id, head, body)


STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.decision { font-size: 1.2em; font-weight: bold; padding: .4em .8em; display: inline-block; }
.Succeeded { background: #dff0d8; } .Failed { background: #f2dede; }
table { border-collapse: collapse; font-size: .9em; }
td, th { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; }
tr.failed td { background: #f8e0e0; } tr.passed td { background: #eef8ea; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def report_html(ref, outcome, reason, revision, ticks, ranges, events, webhooks, plot_png):
    """The HTML page: decision, timeline plot, step table, webhooks and Events."""
    metric_names = [name for name, _low, _high in ranges]
    step_rows = []
    for number, tick in enumerate(ticks, 1):
        by_name = dict((m["name"], m.get("msg") or m.get("verdict") or "") for m in tick.get("metrics") or [])
        step_rows.append(("passed" if tick.get("passed") else "failed", [
            number, _when(tick.get("ended_at")), tick.get("weight")]
            + [by_name.get(name, "") for name in metric_names]
            + [_hooks_cell(tick), tick.get("failed_checks", 0), "passed" if tick.get("passed") else "failed"]))
    hook_rows = [("passed" if h.get("passed") else "failed",
                  [h.get("type") or "", h.get("name") or "", h.get("status") if h.get("status") is not None else "",
                   h.get("msg") or ""]) for h in webhooks]
    event_rows = [("failed" if e.get("type") == "Warning" else "passed",
                   [e.get("time") or "", e.get("type") or "", e.get("message") or ""]) for e in events]
    image = base64.b64encode(plot_png).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset=\"utf-8\"><title>Canary release {0}</title>".format(escape(ref)),
        "<style>{0}</style></head><body>".format(STYLE),
        "<h1>Canary release {0}</h1>".format(escape(ref)),
        "<p class=\"decision {0}\" id=\"decision\">{1}</p>".format(
            escape(outcome), escape(outcome + (": " + reason if reason else ""))),
        "<p>Revision {0}; {1} steps analysed.</p>".format(escape(revision or "-"), len(ticks)),
        "<h2>Timeline</h2>",
        "<img id=\"timeline\" alt=\"canary weight and metrics per step\" src=\"data:image/png;base64,{0}\">".format(image),
        "<h2>Steps</h2>",
        _table("steps", ["step", "time (UTC)", "weight"] + metric_names + ["rollout webhooks", "failed checks", "verdict"],
               step_rows),
        "<h2>Webhooks</h2>",
        _table("webhooks", ["type", "name", "HTTP status", "answer"], hook_rows) if hook_rows
        else "<p>No webhooks were called.</p>",
        "<h2>Events</h2>",
        _table("events", ["time", "type", "message"], event_rows) if event_rows
        else "<p>No Events were read.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
