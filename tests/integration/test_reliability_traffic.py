"""Users' traffic keeps flowing: a healthy promotion under steady load through Traefik answers
every request with 2xx, and once a rollback is decided the canary loses its traffic within a second."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.playbooks import run_playbook
from pdtest.procs import tied
from pdtest.sandbox import get_json

from traffic_world import scratch_namespace

RPS = 60


class HeyRun:
    """`hey` at a fixed rate through Traefik until interrupted; its report is read at the end."""

    def __init__(self, sandbox, namespace, log_path, rps=RPS, workers=4):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            tied(["hey", "-z", "600s", "-c", str(workers), "-q", str(rps // workers), "-host", host_for(namespace),
                  sandbox.traefik_url + "/"]),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def finish(self):
        """Interrupt hey (it then prints its report) and return the report's text."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        return self.log_path.read_text()


def status_codes(report):
    """{status: count} from hey's "Status code distribution", plus "error" for transport errors."""
    codes = {}
    section = report.split("Status code distribution:", 1)
    if len(section) == 2:
        for status, count in re.findall(r"\[(\d{3})\]\s+(\d+) responses", section[1]):
            codes[int(status)] = int(count)
    if "Error distribution:" in report:
        errors = report.split("Error distribution:", 1)[1]
        codes["error"] = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors))
    return codes


def requests_per_second(report):
    match = re.search(r"Requests/sec:\s+([\d.]+)", report)
    return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def app(sandbox, tmp_path_factory):
    """podinfo 4.0.5 initialised as a canary target (no release under way between tests)."""
    namespace, delete_namespace = scratch_namespace(sandbox, "traffic")
    try:
        deploy_podinfo(sandbox, namespace)
        canary_file = write_canary(tmp_path_factory.mktemp("traffic"),
                                   fast_canary(namespace, threshold=2, max_weight=20, step_weight=10))
        first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        assert first.returncode == 0, first.stdout[-4000:]
        yield namespace, canary_file
    finally:
        delete_namespace()


def test_a_healthy_promotion_under_steady_load_answers_every_request_with_2xx(sandbox, app, tmp_path):
    namespace, canary_file = app
    set_image(sandbox, namespace, "4.0.6")

    hey = HeyRun(sandbox, namespace, tmp_path / "hey.txt")
    try:
        release = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        # The promoted primary keeps serving after the run: old pods going away must not hurt either.
        after = versions_through_traefik(sandbox, namespace, 100)
    finally:
        report = hey.finish()

    assert release.returncode == 0, release.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    assert after == {"4.0.6": 100}
    codes = status_codes(report)
    total = sum(v for k, v in codes.items() if k != "error")
    assert total > 0, report
    assert requests_per_second(report) >= 50, report
    assert {k: v for k, v in codes.items() if k == "error" or not 200 <= k < 300} == {}, report


class Timeline(threading.Thread):
    """Polls the Canary's status through the API and the weights Traefik serves, with timestamps."""

    def __init__(self, sandbox, namespace, interval=0.05):
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.url = "{0}/apis/flagger.app/v1beta1/namespaces/{1}/canaries/podinfo".format(sandbox.api_url, namespace)
        self.namespace = namespace
        self.interval = interval
        self.failed_checks = []  # (time, failedChecks)
        self.canary_weights = []  # (time, canary weight Traefik serves)
        self.done = threading.Event()

    def run(self):
        canary_key = "{0}-podinfo-canary-80".format(self.namespace)
        while not self.done.is_set():
            now = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    status = json.loads(resp.read()).get("status") or {}
                self.failed_checks.append((now, int(status.get("failedChecks") or 0)))
            except OSError:
                pass
            weights = self.sandbox.traefik_weights(self.namespace, "podinfo")
            if weights is not None:
                self.canary_weights.append((time.monotonic(), weights.get(canary_key) or 0))
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join(10)


def test_after_the_rollback_decision_the_canary_gets_no_traffic_within_one_second(sandbox, app):
    namespace, canary_file = app
    threshold = 2
    set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"})

    load = Load(sandbox, namespace, rps=30)
    timeline = Timeline(sandbox, namespace)
    timeline.start()
    try:
        release = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
        time.sleep(1.5)
    finally:
        timeline.stop()
        load.stop()

    assert release.returncode != 0, "a canary failing half its requests was promoted"
    decided = next((t for t, checks in timeline.failed_checks if checks >= threshold), None)
    assert decided is not None, "failedChecks never reached the threshold: {0}".format(timeline.failed_checks[-5:])
    served_at_decision = [w for t, w in timeline.canary_weights if t <= decided]
    assert served_at_decision and served_at_decision[-1] > 0, "the canary had no traffic when the decision was taken"
    cut = next((t for t, weight in timeline.canary_weights if t > decided and weight == 0), None)
    assert cut is not None, "Traefik still sends traffic to the canary"
    assert cut - decided <= 1.0, "the canary kept its traffic for {0:.2f}s after the rollback decision".format(
        cut - decided)
