"""The role shows each step as it happens, and a run that analysed writes a report a person can open.

One release for the file: podinfo initialised under steady load, then a new revision whose rollout
webhook (a server of the test's on 127.0.0.1) answers 200 twice and HTTP 500 from then on, so the
first steps pass and a later one fails until the release is rolled back. The tests read the lines
it printed, open its HTML report in headless Chromium and read its JUnit XML with a JUnit parser.
"""
import base64
import io
import json
import re
import subprocess
import threading
import uuid
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml
from PIL import Image

from pdtest.apps import deploy_podinfo, set_image
from pdtest.checkout import ROOT
from pdtest.load import Load
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import ansible_env, kill_release, playbook_command, run_playbook
from pdtest.procs import tied
from pdtest.sandbox import canary_events, wait_until
from pdtest.timeouts import guard

WEIGHTS = [10, 20, 30]
THRESHOLD = 3
PASSING_CALLS = 2
HOOK = "gate-keeper"
# Each tick measures both built-in metrics and calls the rollout hook, in this order.
CHECKS = ["request-success-rate", "request-duration", "webhook " + HOOK]


class Hook(BaseHTTPRequestHandler):
    """A rollout webhook that passes its first PASSING_CALLS calls and fails every later one."""
    calls = 0

    def do_POST(self):  # pylint: disable=invalid-name  # http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).calls += 1
        passed = type(self).calls <= PASSING_CALLS
        body = b"ok" if passed else b"refused after two calls"
        self.send_response(200 if passed else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def halts_of(sandbox, namespace):
    # A check without data halts in Flagger's words for it, which do not name the Canary.
    return [m for m in canary_events(sandbox, namespace)
            if m.startswith((f"Halt podinfo.{namespace} advancement", "Halt advancement no values found for"))]


def custom_stats(output):
    """The set_stats data the default callback prints with ANSIBLE_SHOW_CUSTOM_STATS."""
    block = output.split("CUSTOM STATS:", 1)[1]
    return json.JSONDecoder().raw_decode(block[block.index("{"):])[0]


@pytest.fixture(scope="module")
def release(sandbox, tmp_path_factory):
    """The release of the file, run once: what it printed, whether it still ran when the first
    step's line was out, its report directory and custom stats, and the Halt Events it recorded."""
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp("step-report")
    sandbox.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    load = proc = None
    try:
        deploy_podinfo(sandbox, namespace)
        canary_file = write_canary(directory, fast_canary(
            namespace, max_weight=WEIGHTS[-1], step_weight=WEIGHTS[0], threshold=THRESHOLD,
            webhooks=[{"name": HOOK, "type": "rollout", "url": f"http://127.0.0.1:{hooks.server_port}/"}]))
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        load = Load(sandbox, namespace, rps=30)
        set_image(sandbox, namespace, "4.0.6")
        reports, log = directory / "reports", directory / "release.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                playbook_command(extra_vars={"canary_file": str(canary_file), "canary_report_dir": str(reports)}),
                env=ansible_env(sandbox, ANSIBLE_SHOW_CUSTOM_STATS="true"), stdout=out,
                stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        wait_until(lambda: step_lines(log.read_text()) or proc.poll() is not None, timeout=240,
                   what="the first step's line")
        running_at_first_line = proc.poll() is None
        returncode = proc.wait(timeout=guard(300))
        output = log.read_text()
        yield {"namespace": namespace, "output": output, "returncode": returncode, "reports": reports,
               "running_at_first_line": running_at_first_line, "stats": custom_stats(output)["canary"],
               "halts": halts_of(sandbox, namespace), "hook_calls": Hook.calls, "dir": directory}
    finally:
        if proc is not None and proc.poll() is None:
            kill_release(proc)
        if load is not None:
            load.stop()
        hooks.shutdown()
        hooks.server_close()
        sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


STEP_LINE = re.compile(r"^TASK \[progressive\.delivery\.canary : Step (\d+)/(\d+) weight (\d+)(?: \(tick \d+\))?: (.*); "
                       r"failed checks (\d+)/(\d+); (.*?)\]", re.MULTILINE)


def step_lines(output):
    return [(int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5]), int(m[6]), m[7]) for m in STEP_LINE.finditer(output)]


class ReportPage(HTMLParser):
    """The parts of the report a reader looks at: the timeline image and the rows of the step table."""

    def __init__(self):
        super().__init__()
        self.images = {}
        self.step_rows = 0
        self._table = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images[attrs.get("id")] = attrs.get("src", "")
        elif tag == "table":
            self._table = attrs.get("id")
        elif tag == "tr" and self._table == "steps" and attrs.get("class"):
            self.step_rows += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None


def screenshot(html_path, png_path, profile_dir):
    """Headless Chromium's screenshot of the page; the browser is stopped by its PID in any case."""
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile_dir}", f"--screenshot={png_path}", "--window-size=1000,1400",
           html_path.as_uri()]
    browser = subprocess.Popen(tied(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        out = browser.communicate(timeout=guard(120))[0]
    finally:
        if browser.poll() is None:
            browser.kill()
            browser.wait()
    return browser.returncode, out


def test_each_step_is_printed_as_it_happens_with_its_checks_and_decision(release):
    lines = step_lines(release["output"])

    assert release["returncode"] != 0, "the failing webhook must roll the release back"
    assert release["running_at_first_line"], "the first step's line must be out while the run goes on"
    # One line per step, in order, from the first weight to the one the release stopped at.
    assert [line[:3] for line in lines] == [(n, 3, w) for n, w in enumerate(WEIGHTS[:len(lines)], 1)]
    assert len(lines) >= 2, lines
    for _n, _total, _weight, checks, _failed, threshold, _decision in lines:
        assert "success rate" in checks, checks
        assert "request duration" in checks, checks
        assert threshold == THRESHOLD
    assert [line[6] for line in lines[:-1]] == ["passed"] * (len(lines) - 1)
    assert lines[-1][6] == "roll back: failed checks threshold reached"
    assert lines[-1][4] == THRESHOLD
    assert f"{HOOK} webhook failed with HTTP 500: refused after two calls" in lines[-1][3]


def test_the_html_report_opens_in_a_browser_with_its_plot_and_step_table(release, tmp_path):
    html = sorted(release["reports"].glob(f"{release['namespace']}-podinfo-*.html"))
    assert [str(p) for p in html] == [release["stats"]["report"]]
    text = html[0].read_text()

    page = ReportPage()
    page.feed(text)
    assert page.images["timeline"].startswith("data:image/png;base64,")
    plot = Image.open(io.BytesIO(base64.b64decode(page.images["timeline"].split(",", 1)[1])))
    assert plot.width > 400 and plot.height > 400
    # One row per tick: every call of the hook was one tick.
    assert page.step_rows == release["hook_calls"]
    assert 'id="decision">Failed: Rolling back podinfo.' in text

    shot = release["dir"] / "report.png"
    returncode, out = screenshot(html[0], shot, tmp_path / "chromium-profile")
    assert returncode == 0 and shot.exists(), out
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "a blank or flat screenshot"
    white = sum(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.97 * image.width * image.height
    print("report screenshot:", shot)


def test_the_junit_file_has_a_case_per_step_and_check_and_fails_where_a_check_failed(release):
    assert release["stats"]["phase"] == "Failed"
    junit_path = Path(release["stats"]["junit"])
    assert junit_path.parent == release["reports"]

    cases = [case for suite in JUnitXml.fromfile(str(junit_path)) for case in suite]
    steps = sorted({case.classname for case in cases})
    assert len(steps) == release["hook_calls"]
    for step in steps:
        assert [case.name.split(": ", 1)[1] for case in cases if case.classname == step] == CHECKS
    failures = {}
    for case in cases:
        for result in case.result:
            if isinstance(result, Failure):
                failures.setdefault(case.classname, []).append((case.name.split(": ", 1)[1], result.message))
    # Every step with a failure is a failed check the Canary counted, and Flagger's Halt Event of
    # that step names its first failing check; the hook failed on every call after the second.
    halts = release["halts"]
    assert len(failures) == THRESHOLD == len(halts), (failures, halts)
    for (check, message), halt in zip((failures[step][0] for step in sorted(failures)), halts):
        if check.startswith("webhook "):
            # Flagger's words for a 500 its retrying client gave up on (the hook has no retries).
            assert f"external check {HOOK} failed POST " in halt, (message, halt)
            assert halt.endswith(" giving up after 1 attempt(s)"), (message, halt)
        elif "no values found" in message:
            assert halt.startswith(f"Halt advancement no values found for traefik metric {check} "), (message, halt)
        else:
            assert halt.endswith(message), (message, halt)
    hook_failures = [step for step in steps if (f"webhook {HOOK}" in [c for c, _m in failures.get(step, [])])]
    assert hook_failures == steps[PASSING_CALLS:]
