"""`down` leaves no process of the sandbox behind, even when its daemon died first; two sandboxes
with different directories run side by side."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _manifests import join, loadtester, podinfo_deployment

from kubesandbox.fixtures import Sandbox, http, processes_of
from kubesandbox.runtime.pids import alive

# tests/sandbox/tests/this file -> the repository (and collection) root.
REPO_ROOT = Path(__file__).resolve().parents[3]


def cli(directory, *args):
    env = dict(os.environ)
    env.pop("SANDBOX_DIR", None)
    return subprocess.run([sys.executable, "-m", "kubesandbox.cli", "--dir", str(directory), *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def second_sandbox(tmp_path):
    directory = tmp_path / "sandbox"
    up = cli(directory, "up")
    try:
        assert up.returncode == 0, up.stderr
        yield Sandbox(up.stdout.strip().splitlines()[-1])
    finally:
        cli(directory, "down")


def start_workloads(sb):
    sb.apply(join(podinfo_deployment("podinfo", replicas=2), loadtester()), namespace="default")
    sb.wait_for_rollout("default", "podinfo")
    sb.wait_for_rollout("default", "flagger-loadtester")
    url = f"{sb.api_url}/api/v1/namespaces/default/services/flagger-loadtester:80/proxy/"
    # A background command the loadtester spawns must go down with it. A finished rollout means
    # ready pods; the Service's endpoints follow once kube-controller-manager gets to them, and
    # until then the API server's proxy answers 503 without calling the load tester.
    deadline = time.monotonic() + 60
    while True:
        status = http("POST", url, {"metadata": {"type": "cmd", "cmd": "sleep 600"}})[0]
        if status != 503 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    assert status == 202


def test_two_sandboxes_side_by_side_then_down_leaves_no_process(sandbox, second_sandbox):
    sb = second_sandbox
    assert sb.dir != sandbox.dir
    assert sb.api_url != sandbox.api_url and sb.traefik_url != sandbox.traefik_url
    assert sb.status()["address_block"] != sandbox.status()["address_block"]
    start_workloads(sb)
    # daemon, traefik, prometheus, 3 pods, the loadtester's background command (which a busy
    # machine may take a moment to start)
    deadline = time.monotonic() + 20
    before = processes_of(sb.dir)
    while len(before) < 7 and time.monotonic() < deadline:
        time.sleep(0.2)
        before = processes_of(sb.dir)
    assert len(before) >= 7, before
    down = cli(sb.dir, "down")
    assert down.returncode == 0, down.stderr
    assert processes_of(sb.dir) == []
    assert list((sb.dir / "pids").glob("*.pid")) == []
    # The session's sandbox is untouched.
    assert sandbox.status()["ready"] is True


def test_down_stops_everything_after_the_daemon_was_killed(second_sandbox):
    sb = second_sandbox
    start_workloads(sb)
    daemon_pid = sb.status()["pid"]
    os.kill(daemon_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(daemon_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = processes_of(sb.dir)
    assert orphans, "pods, Traefik and Prometheus outlive a killed daemon until `down`"
    down = cli(sb.dir, "down")
    assert down.returncode == 0, down.stderr
    assert processes_of(sb.dir) == []


def test_status_reports_components_and_pods(sandbox):
    out = json.loads(sandbox.cli("status", "--json").stdout)
    assert out["ready"] is True
    assert out["components"]["traefik"]["running"] and out["components"]["prometheus"]["running"]
    assert out["components"]["pushgateway"]["running"]
    env_file = Path(out["env"]["KUBECONFIG"]).parent / "env"
    text = env_file.read_text()
    for key in ("KUBECONFIG", "TRAEFIK_URL", "TRAEFIK_API_URL", "PROMETHEUS_URL", "PUSHGATEWAY_URL", "SANDBOX_CONTROL_URL",
                "PATH",
                "ANSIBLE_COLLECTIONS_PATH"):
        assert f"export {key}=" in text
    collection = Path(out["env"]["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0]) / "ansible_collections" / "progressive" / "delivery"
    assert collection.resolve() == REPO_ROOT
