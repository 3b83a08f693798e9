"""When the metric backend fails, the check fails with the reason; a release is never judged on
missing data.

Every Prometheus here is real: the sandbox's own (stopped through the control API), and one this
file starts itself with ``--query.max-samples=1`` (every range query then fails inside Prometheus,
as an overloaded production Prometheus does) which is also frozen with SIGSTOP to make it slow.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from pdtest.load import Load
from pdtest.playbooks import run_tasks
from pdtest.procs import tied
from pdtest.sandbox import wait_for_series, wait_until

from canary_world import build_world, canary_manifest, canary_service_series, canary_status, run_task
from traffic_world import scratch_namespace

PROMETHEUS = "/usr/bin/prometheus"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


def query_error(url):
    """The error body of a Prometheus query ('' when it succeeded)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return ""
    except urllib.error.HTTPError as exc:
        return exc.read().decode("utf-8", "replace")
    except OSError:
        return ""


class OwnPrometheus:
    """A Prometheus scraping the sandbox's Traefik, refusing every query that loads > 1 sample."""

    def __init__(self, sandbox, workdir):
        port = free_port()
        self.url = "http://127.0.0.1:{0}".format(port)
        traefik = urllib.parse.urlparse(sandbox.env["TRAEFIK_METRICS_URL"])
        config = workdir / "prometheus.yml"
        config.write_text(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
            "scrape_configs:\n"
            "  - job_name: traefik\n"
            "    metrics_path: {0}\n"
            "    static_configs: [{{targets: ['{1}']}}]\n".format(traefik.path or "/metrics", traefik.netloc))
        self.log = open(workdir / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            tied([PROMETHEUS, "--config.file=" + str(config), "--storage.tsdb.path=" + str(workdir / "data"),
                  "--web.listen-address=127.0.0.1:{0}".format(port), "--query.max-samples=1"]),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, namespace):
        wait_until(lambda: answers(self.url + "/-/ready"), timeout=60, what="own Prometheus ready")
        # Enough scrapes of the canary's series that a 1m rate() over them loads more than one sample.
        query = urllib.parse.quote("sum(rate({0}[1m]))".format(canary_service_series(namespace)))
        wait_until(lambda: "too many samples" in query_error(self.url + "/api/v1/query?query=" + query),
                   timeout=60, what="own Prometheus refusing range queries over the canary's series")

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.thaw()
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def world(sandbox, tmp_path_factory):
    """A canary at 50% under steady load, its series in the sandbox's Prometheus and in ours."""
    name, delete_namespace = scratch_namespace(sandbox, "promfault")
    load = own = None
    try:
        build_world(sandbox, name, canary_manifest(name, threshold=5), loadtester=False)
        load = Load(sandbox, name, rps=30, seconds=600)
        own = OwnPrometheus(sandbox, tmp_path_factory.mktemp("prometheus"))
        wait_for_series(sandbox, canary_service_series(name), samples=5)
        own.wait_ready(name)
        yield name, own
    finally:
        if own is not None:
            own.stop()
        if load is not None:
            load.stop()
        delete_namespace()


def check(namespace, address, **extra):
    args = {"metric": "request-success-rate", "namespace": namespace, "target": "podinfo", "port": 80,
            "interval": "1m", "threshold_range": {"min": 99}, "provider": {"address": address, "timeout": 3}}
    args.update(extra)
    return args


def tick(namespace, address, **extra):
    args = {"name": "podinfo", "namespace": namespace, "weight": 50,
            "prometheus": {"address": address, "timeout": 3}}
    args.update(extra)
    return args


def assert_failed_check(result, *reasons):
    """A failed check (never a pass) whose message gives one of ``reasons``."""
    assert result.get("passed") is False, result
    text = " ".join(str(m.get("msg", "")) for m in result.get("metrics") or []) + " " + str(result.get("msg", ""))
    assert any(reason.lower() in text.lower() for reason in reasons), (reasons, text)


def both(sandbox, tmp_path, check_args, tick_args):
    """metric_check and canary_analysis in one playbook run (starting ansible-playbook is the slow part)."""
    _rc, results, _stats = run_tasks(sandbox, tmp_path, [
        {"name": "check", "progressive.delivery.metric_check": check_args, "ignore_errors": True},
        {"name": "tick", "progressive.delivery.canary_analysis": tick_args, "ignore_errors": True},
    ])
    return results


def failed_checks(sandbox, namespace):
    return canary_status(sandbox, namespace).get("failedChecks", 0)


def test_a_stopped_prometheus_fails_the_check_and_counts_a_failed_analysis(sandbox, world, tmp_path):
    namespace, _own = world
    before = failed_checks(sandbox, namespace)
    sandbox.component("prometheus", "stop")
    try:
        metric, analysis = both(sandbox, tmp_path, check(namespace, sandbox.prometheus_url),
                                tick(namespace, sandbox.prometheus_url))
    finally:
        sandbox.component("prometheus", "start")

    assert_failed_check(metric, "cannot reach prometheus", "refused")
    assert metric["verdict"] == "error"
    assert_failed_check(analysis, "cannot reach prometheus", "refused")
    assert failed_checks(sandbox, namespace) == before + 1


def test_an_erroring_prometheus_fails_the_check_with_its_error(sandbox, world, tmp_path):
    namespace, own = world
    before = failed_checks(sandbox, namespace)

    metric, analysis = both(sandbox, tmp_path, check(namespace, own.url), tick(namespace, own.url))

    assert_failed_check(metric, "too many samples")
    assert metric["verdict"] == "error"
    assert_failed_check(analysis, "too many samples")
    assert failed_checks(sandbox, namespace) == before + 1


def test_a_slow_prometheus_fails_the_check_after_the_provider_timeout(sandbox, world, tmp_path):
    namespace, own = world
    own.freeze()
    try:
        started = time.monotonic()
        _rc, metric = run_task(sandbox, tmp_path, "progressive.delivery.metric_check", check(namespace, own.url))
        elapsed = time.monotonic() - started
    finally:
        own.thaw()

    assert_failed_check(metric, "timed out", "timeout", "did not answer within 3")
    assert metric["verdict"] == "error"
    assert elapsed < 60


def test_no_data_fails_the_check_and_never_passes_the_analysis(sandbox, world, tmp_path):
    namespace, _own = world
    # A service that never received a request: Prometheus answers with an empty result.
    _rc, metric = run_task(sandbox, tmp_path, "progressive.delivery.metric_check",
                           check(namespace, sandbox.prometheus_url, target="ghost", service="ghost"))

    assert_failed_check(metric, "no data", "no values", "no traffic")
    assert metric["verdict"] == "no_data"
    assert metric["value"] is None
