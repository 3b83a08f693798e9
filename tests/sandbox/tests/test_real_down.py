"""`down` leaves no process behind: not the control plane's,
not Traefik or Prometheus, not a pod."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _manifests import podinfo_deployment

from kubesandbox.fixtures import Sandbox, UP_TIMEOUT, owned_sandbox, processes_of, start_sandbox, stop_sandbox
from kubesandbox.runtime.pids import alive

CONTROL_PLANE = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def test_up_then_down_leaves_no_process_of_the_control_plane():
    with owned_sandbox(timeout=UP_TIMEOUT) as sb:
        components = sb.status()["control_plane"]
        assert set(components) == CONTROL_PLANE
        pids = {name: c["pid"] for name, c in components.items()}
        assert all(pid and alive(pid) for pid in pids.values()), components
        sb.apply(podinfo_deployment("podinfo", replicas=2), namespace="default")
        sb.wait_for_rollout("default", "podinfo", timeout=90)
        pod_pids = [p["pid"] for p in sb.pods("default")]
        assert len(pod_pids) == 2 and all(pid and alive(pid) for pid in pod_pids)
        daemon = sb.status()["pid"]
        assert alive(daemon)
        # The daemon's children carry the marker: four control-plane processes, Traefik,
        # Prometheus and two pods.
        before = processes_of(sb.dir)
        assert len(before) >= 8, before
        assert set(pids.values()) | set(pod_pids) <= set(before)
        down = sb.cli("down")
        assert down.returncode == 0, down.stderr
        assert_stopped(sb, before + [daemon], within=5)


def assert_stopped(sb, pids, within):
    """Within ``within`` seconds no process of the sandbox runs, and it left no PID file or ready mark."""
    deadline = time.monotonic() + within
    # The daemon itself exits last, after its children and its PID files: wait for it too.
    while (processes_of(sb.dir) or any(alive(pid) for pid in pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of(sb.dir) == []
    assert not any(alive(pid) for pid in pids)
    assert list((sb.dir / "pids").glob("*.pid")) == []
    assert not os.path.exists(sb.dir / "ready")


def test_a_sandbox_whose_owner_is_killed_stops_itself():
    # A pytest worker killed before its fixtures could run `down` (an interrupted run, a CI
    # timeout) must not leave a control plane running: `up --owner-pid` ties the sandbox to it.
    owner = subprocess.Popen(["sleep", "600"])
    tmpdir = Path(tempfile.mkdtemp(prefix="kubesandbox-"))
    try:
        sb = Sandbox(start_sandbox(tmpdir, "--owner-pid", str(owner.pid), timeout=UP_TIMEOUT), owned=True)
        daemon = sb.status()["pid"]
        # The daemon's children carry the sandbox's marker (the daemon sets it after it started).
        before = processes_of(sb.dir)
        assert alive(daemon) and len(before) >= 6, before
        owner.kill()
        owner.wait()
        # The daemon looks every second; it then stops its children as `down` does.
        assert_stopped(sb, before + [daemon], within=30)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        stop_sandbox(tmpdir)
        shutil.rmtree(tmpdir, ignore_errors=True)


def test_an_owner_that_is_not_running_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "kubesandbox.cli", "--dir", str(tmp_path), "up", "--quiet",
                           "--owner-pid", str(gone_pid())], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "owner process" in done.stderr and "is not running" in done.stderr, done.stderr
    assert processes_of(tmp_path) == []


def gone_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
