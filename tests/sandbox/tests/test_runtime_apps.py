"""The sample app on its own, as the pod runner starts it, and what runs for which image."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest

from kubesandbox.fixtures import http
from kubesandbox.runtime.podrunner import image_version, program_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_app():
    procs = []

    def start(module, *args, env=None, wait=True):
        port = free_port()
        full_env = dict(os.environ, **(env or {}))
        proc = subprocess.Popen([sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port), *args],
                                env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        if wait:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert proc.poll() is None, proc.stdout.read()
                    time.sleep(0.02)
        return proc, url

    try:
        yield start
    finally:
        # The whole group, as the pod runner stops a pod.
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.mark.parametrize("image,version", [
    ("stefanprodan/podinfo:4.0.6", "4.0.6"),
    ("ghcr.io/stefanprodan/podinfo:6.5.0", "6.5.0"),
    ("registry.local:5000/team/app", "latest"),
    ("podinfo@sha256:abc", "latest"),
])
def test_version_is_the_image_tag(image, version):
    assert image_version(image) == version


def test_loadtester_image_runs_flaggers_loadtester_as_its_command_says():
    image = "ghcr.io/fluxcd/flagger-loadtester:0.34.0"
    binary = "/opt/flagger/bin/loadtester"
    # The image's entrypoint with Flagger's defaults, unless the container gives a command.
    assert program_for(image, "198.18.0.2", 8080, binary) == [binary]
    assert program_for(image, "198.18.0.2", 8080, binary, ["./loadtester", "-port=8080"], ["-timeout=1h"]) == [
        binary, "-port=8080", "-timeout=1h"]
    assert program_for(image, "198.18.0.2", 8080, binary, args=["-port=8080"]) == [binary, "-port=8080"]
    with pytest.raises(RuntimeError):
        program_for(image, "198.18.0.2", 8080)
    assert "kubesandbox.apps.podinfo" in program_for("nginx:1.27", "127.0.0.1", 80, binary)


def test_podinfo_endpoints(start_app):
    _, url = start_app("kubesandbox.apps.podinfo", "--version", "4.0.6")
    assert json.loads(http("GET", url + "/")[1])["version"] == "4.0.6"
    assert json.loads(http("GET", url + "/version")[1])["version"] == "4.0.6"
    assert http("GET", url + "/status/418")[0] == 418
    assert http("GET", url + "/healthz")[0] == 200
    assert http("GET", url + "/readyz")[0] == 200
    assert http("GET", url + "/nothing-here")[0] == 404
    status, body = http("POST", url + "/token", b"test")
    assert status == 200 and json.loads(body)["token"]
    started = time.monotonic()
    assert http("GET", url + "/delay/0.3")[0] == 200
    assert time.monotonic() - started >= 0.3


def test_fail_rate_answers_that_share_with_500(start_app):
    _, url = start_app("kubesandbox.apps.podinfo", env={"SANDBOX_FAIL_RATE": "0.3"})
    codes = Counter(http("GET", url + "/")[0] for _ in range(400))
    assert set(codes) == {200, 500}
    assert 80 <= codes[500] <= 160, codes
    # Probes stay healthy: a failing revision is still a ready one, as with a real buggy release.
    assert all(http("GET", url + "/readyz")[0] == 200 for _ in range(20))


def test_latency_is_added_to_user_requests(start_app):
    _, url = start_app("kubesandbox.apps.podinfo", env={"SANDBOX_LATENCY": "0.2"})
    started = time.monotonic()
    assert http("GET", url + "/")[0] == 200
    assert time.monotonic() - started >= 0.2


def test_never_ready_answers_503_on_readyz_only(start_app):
    _, url = start_app("kubesandbox.apps.podinfo", env={"SANDBOX_NEVER_READY": "true"})
    assert http("GET", url + "/readyz")[0] == 503
    assert http("GET", url + "/healthz")[0] == 200
    assert http("GET", url + "/")[0] == 200


def test_crash_exits_at_start(start_app):
    proc, _ = start_app("kubesandbox.apps.podinfo", env={"SANDBOX_CRASH": "true"}, wait=False)
    assert proc.wait(timeout=10) == 1
