#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: canary_report
short_description: Write the report of a canary release as an HTML page with a timeline plot and as JUnit XML
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Writes two files into O(dest) for one release that was analysed, named after the Canary and
    the time of its first step.
  - An HTML page with the decision, a timeline plot (drawn with matplotlib) of the canary weight
    and of each metric per step against its threshold range, a table of the steps with each
    check's value, the webhooks called with their answers, and the Canary's Events.
  - JUnit XML with one test case per step and check (each metric and each rollout webhook), a
    failure where the check failed, for CI systems that show test results.
  - The steps are the RV(progressive.delivery.canary_analysis#module:ticks) of the analysis; the
    role P(progressive.delivery.canary#role) collects them and calls this module when
    C(canary_report_dir) is set.
  - Of O(canary) the report takes the name, the namespace and the metrics with their threshold
    ranges.
  - The Canary's Events are read from the cluster (unless O(events) gives them); a report is
    still written when they cannot be read, saying why.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.kubernetes_client
  - progressive.delivery.canary_data
  - progressive.delivery.attributes
attributes:
  check_mode:
    details: Nothing is read or written; RV(html) and RV(junit) are the paths that would be written.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: A file that already holds the same report is left alone; Events recorded since the last
      call change the page.
options:
  canary:
    required: true
  dest:
    description: The directory the report is written into; created when missing.
    type: path
    required: true
  ticks:
    description:
      - The steps of the analysis, oldest first, as
        RV(progressive.delivery.canary_analysis#module:ticks) returns them; at least one.
    type: list
    elements: dict
    required: true
  outcome:
    description: The decision, for example C(Succeeded) or C(Failed).
    type: str
    required: true
  reason:
    description: Why, for example the rollback's reason.
    type: str
    default: ""
  revision:
    description: The revision that was analysed.
    type: str
    default: ""
  events:
    description:
      - The Canary's Kubernetes Events, as C(resources) of P(kubernetes.core.k8s_info#module)
        returns them, instead of reading them from the cluster.
    type: list
    elements: dict
  webhooks:
    description: Results of webhooks called outside the steps (C(results) of
      P(progressive.delivery.canary_webhook#module), for example the pre-rollout hooks); the
      rollout hooks of the steps are taken from O(ticks).
    type: list
    elements: dict
    default: []
requirements:
  - matplotlib >= 3.5
seealso:
  - module: progressive.delivery.canary_analysis
"""

EXAMPLES = r"""
- name: Write the report of the release into reports/
  progressive.delivery.canary_report:
    dest: reports
    canary: "{{ plan.canary }}"
    ticks: "{{ steps | map(attribute='ticks') | flatten }}"
    outcome: Succeeded
    revision: "{{ plan.revision }}"
  register: report

- name: Say where it is
  ansible.builtin.debug:
    msg: "Report: {{ report.html }}, JUnit: {{ report.junit }}"
"""

RETURN = r"""
html:
  description: Path of the HTML report.
  returned: always
  type: str
  sample: reports/test-podinfo-20261202T021500Z.html
junit:
  description: Path of the JUnit XML.
  returned: always
  type: str
  sample: reports/test-podinfo-20261202T021500Z.xml
events_error:
  description: Why the Events could not be read; the report says so in their place.
  returned: when reading them failed
  type: str
test_cases:
  description: How many JUnit test cases (steps times checks) were written, and how many failed.
  returned: always
  type: dict
  sample: {tests: 6, failures: 2}
"""

import os
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    CANARY_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    canary_from_option,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    get_dynamic_client,
    get_resource,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.release_report import (
    check_cases,
    junit_xml,
    metric_ranges,
    report_html,
    timeline_png,
)


def argument_spec():
    return module_argument_spec(
        CANARY_ARG_SPEC,
        dest=dict(type="path", required=True),
        ticks=dict(type="list", elements="dict", required=True),
        outcome=dict(type="str", required=True),
        reason=dict(type="str", default=""),
        revision=dict(type="str", default=""),
        events=dict(type="list", elements="dict"),
        webhooks=dict(type="list", elements="dict", default=[]),
    )


def load_pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return pyplot


def validate_ticks(ticks):
    if not ticks:
        raise InvalidInput("ticks must hold at least one tick of the analysis; got none")
    for index, tick in enumerate(ticks):
        missing = [key for key in ("weight", "started_at", "ended_at") if tick.get(key) is None]
        if missing:
            raise InvalidInput("ticks[{0}] needs {1} (as canary_analysis returns its ticks)".format(
                index, ", ".join(missing)))


def event_rows(events):
    """Kubernetes Events as (time, type, message), oldest first."""
    rows = []
    for event in events:
        meta = event.get("metadata") or {}
        stamp = (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
                 or meta.get("creationTimestamp") or "")
        rows.append({"time": stamp, "type": event.get("type") or "", "message": event.get("message") or ""})
    rows.sort(key=lambda row: row["time"])
    return rows


def read_events(module, canary):
    """The Canary's Events from the cluster: ``(events, None)`` or ``([], why not)``."""
    try:
        client = get_dynamic_client(module)
        listed = get_resource(client, "v1", "Event").get(
            namespace=canary["namespace"],
            field_selector="involvedObject.kind=Canary,involvedObject.name={0}".format(canary["name"]))
        return [item.to_dict() for item in listed.items], None
    except DeliveryError as exc:
        return [], str(exc)
    except Exception as exc:  # pylint: disable=broad-except  # any API fault: the report goes on
        return [], "the Events could not be read: {0}".format(exc)


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path, "r") as handle:
            if handle.read() == text:
                return False
    with open(path, "w") as handle:
        handle.write(text)
    return True


def run(module):
    params = module.params
    validate_ticks(params["ticks"])
    canary = canary_from_option(params["canary"], None)
    ref = "{0}.{1}".format(canary["name"], canary["namespace"])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(float(params["ticks"][0]["started_at"])))
    base = os.path.join(params["dest"], "{0}-{1}-{2}".format(canary["namespace"], canary["name"], stamp))
    cases = check_cases(params["ticks"])
    result = {"changed": True, "html": base + ".html", "junit": base + ".xml",
              "test_cases": {"tests": len(cases), "failures": sum(1 for case in cases if not case[3])}}
    pyplot = load_pyplot()
    if pyplot is None:
        module.fail_json(msg=missing_required_lib("matplotlib"))
    if module.check_mode:
        return result
    events, events_error = (params["events"], None) if params["events"] is not None else read_events(module, canary)
    if events_error:
        result["events_error"] = events_error
        events = [{"type": "Warning", "message": "Events not shown: " + events_error}]
    ranges = metric_ranges(canary)
    webhooks = list(params["webhooks"])
    for tick in params["ticks"]:
        webhooks += tick.get("webhooks") or []
    plot = timeline_png(pyplot, params["ticks"], ranges, "{0}: {1}".format(ref, params["outcome"]))
    html = report_html(ref, params["outcome"], params["reason"], params["revision"], params["ticks"],
                       ranges, event_rows(events), webhooks, plot)
    if not os.path.isdir(params["dest"]):
        os.makedirs(params["dest"])
    changed = write_if_changed(result["html"], html)
    changed = write_if_changed(result["junit"], junit_xml(ref, params["ticks"])) or changed
    result["changed"] = changed
    return result


def main():
    run_module(run, argument_spec())


if __name__ == "__main__":
    main()
