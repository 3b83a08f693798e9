"""`down` leaves no process behind: not the control plane's,
not Traefik or Prometheus, not a pod."""
import os
import time

from _manifests import podinfo_deployment

from kubesandbox.fixtures import owned_sandbox, processes_of, UP_TIMEOUT
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
        deadline = time.monotonic() + 5
        while processes_of(sb.dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_of(sb.dir) == []
        assert not any(alive(pid) for pid in before + [daemon])
        assert list((sb.dir / "pids").glob("*.pid")) == []
        assert not os.path.exists(sb.dir / "ready")
