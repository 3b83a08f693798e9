"""The sandbox daemon: it starts the control plane (kubesandbox.cluster), Traefik, Prometheus and
the Pushgateway, serves the control API and supervises them, all in one asyncio loop.

Started detached by `kubesandbox.cli up`; it writes `ready` (or `failed`) in the sandbox dir.
"""
import argparse
import asyncio
import fcntl
import json
import logging
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from .runtime import layout as layout_mod
from .runtime.components import Prometheus, Pushgateway
from .runtime.control import make_control_app
from .runtime.pids import PidDir, alive, start_time

log = logging.getLogger("kubesandbox")

READY_TIMEOUT = 30.0
# How often a sandbox with an owner (`up --owner-pid`) looks whether the owner still runs.
OWNER_POLL_SECONDS = 1.0


def _ephemeral_ports():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def free_ports(n):
    """n listening ports that are free now, taken below the kernel's ephemeral range.

    A port the kernel hands out for `bind(0)` comes from the same range as the local ports of
    outgoing connections; with a control plane, pods and Prometheus connecting all the time, one of
    them can take the port before its server binds it ("address already in use").
    """
    low, _high = _ephemeral_ports()
    candidates = list(range(10000, max(10001, low)))
    random.shuffle(candidates)
    ports, socks = [], []
    try:
        for port in candidates:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(port)
            if len(ports) == n:
                return ports
        raise RuntimeError(f"no {n} free ports between 10000 and {low}")
    finally:
        for s in socks:
            s.close()


def claim_block():
    """A 127.B.0.0/16 block no other sandbox on this machine uses; the lock lives as long as we do."""
    candidates = list(range(20, 250))
    random.shuffle(candidates)
    for block in candidates:
        path = Path(tempfile.gettempdir()) / f"kubesandbox-net-127.{block}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return block, fd
    raise RuntimeError("no free 127.x address block")


class BaseDaemon:
    """The address block, the ports, Prometheus, the control server, the env file and the
    start/stop sequence. The subclass (kubesandbox.cluster.backend.ClusterDaemon) brings up the
    control plane and Traefik in `start_cluster`, stops them in `stop_cluster` and lists pods in
    `pods`."""

    api_scheme = "http"
    extra_ports = 0

    def __init__(self, root):
        self.layout = layout_mod.Layout(root)
        self.layout.create()
        self.pid_dir = PidDir(self.layout.pids)
        self.block, self._block_fd = claim_block()
        # One call for all ports, so no two of them can be the same.
        (self.api_port, self.control_port, self.web_port, self.traefik_api_port,
         self.metrics_port, self.prometheus_port, self.pushgateway_port,
         *self.more_ports) = free_ports(7 + self.extra_ports)
        self.api_url = f"{self.api_scheme}://127.0.0.1:{self.api_port}"
        self.faults = None
        self.request_log = None
        self.traefik = None
        self.pushgateway = Pushgateway(self.layout.root, self.pid_dir, self.pushgateway_port)
        self.prometheus = Prometheus(self.layout.root, self.pid_dir, self.prometheus_port, self.metrics_port,
                                     pushgateway_port=self.pushgateway_port)
        self._runners = []
        self._stopping = asyncio.Event()
        self.started_at = time.time()
        self.ready = False
        self.env_values_cached = {}

    @property
    def components(self):
        return {"traefik": self.traefik, "prometheus": self.prometheus, "pushgateway": self.pushgateway}

    async def settled(self):
        """Waits, alongside Traefik's and Prometheus's start, for whatever else `ready` promises."""

    def env_values(self):
        return {
            "SANDBOX_DIR": str(self.layout.root),
            "KUBECONFIG": str(self.layout.kubeconfig),
            "SANDBOX_API_URL": self.api_url,
            "TRAEFIK_URL": self.traefik.web_url,
            "TRAEFIK_API_URL": self.traefik.dashboard_url,
            "TRAEFIK_METRICS_URL": self.traefik.metrics_url,
            "PROMETHEUS_URL": self.prometheus.url,
            "PUSHGATEWAY_URL": self.pushgateway.url,
            "SANDBOX_CONTROL_URL": f"http://127.0.0.1:{self.control_port}",
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(layout_mod.collections_paths(self.layout)),
        }

    def status(self):
        return {
            "ready": self.ready,
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started_at, 3),
            "address_block": f"127.{self.block}.0.0/16",
            "components": {name: c.status() for name, c in self.components.items() if c is not None},
            "pods": self.pods(),
            "env": self.env_values_cached,
        }

    # --- lifecycle --------------------------------------------------------------------------------
    async def _serve(self, app, port):
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
        self._runners.append(runner)

    # The process whose end stops the sandbox (`up --owner-pid`), as (pid, start time); None for a
    # sandbox that runs until `down`.
    owner = None

    async def _watch_owner(self):
        """Stop the sandbox once its owner is gone: a test run killed before its fixtures could
        run `down` (an interrupted or timed-out pytest worker) leaves no sandbox behind."""
        pid, started = self.owner
        while not self._stopping.is_set():
            if not alive(pid) or start_time(pid) != started:
                log.warning("owner process %d is gone: stopping the sandbox", pid)
                self._stopping.set()
                return
            await asyncio.sleep(OWNER_POLL_SECONDS)

    async def run(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        watcher = loop.create_task(self._watch_owner()) if self.owner else None
        self.pid_dir.record("daemon", os.getpid())
        # A new sandbox starts with empty metrics; only a component restart keeps them.
        shutil.rmtree(self.prometheus.data_dir, ignore_errors=True)
        try:
            # Prometheus's first target refresh takes seconds: let it run while the API comes up.
            await self.pushgateway.start()
            await self.prometheus.start()
            await self.start_cluster()
            await self._serve(make_control_app(self), self.control_port)
            self.env_values_cached = self.env_values()
            layout_mod.write_env(self.layout, self.env_values_cached)
            await self.traefik.start()
            await asyncio.gather(self.traefik.wait_ready(READY_TIMEOUT), self.prometheus.wait_ready(READY_TIMEOUT),
                                 self.pushgateway.wait_ready(READY_TIMEOUT), self.settled())
        except Exception as exc:
            log.exception("sandbox start failed")
            self.layout.failed.write_text(f"{type(exc).__name__}: {exc}\n")
            await self.shutdown()
            return 1
        self.ready = True
        self.layout.ready.write_text(json.dumps({"pid": os.getpid(), "seconds": round(time.time() - self.started_at, 3)}) + "\n")
        log.info("sandbox ready in %.2fs", time.time() - self.started_at)
        await self._stopping.wait()
        if watcher is not None:
            watcher.cancel()
        await self.shutdown()
        return 0

    async def shutdown(self):
        self.ready = False
        self.layout.ready.unlink(missing_ok=True)
        await asyncio.gather(*(c.stop() for c in self.components.values() if c is not None), return_exceptions=True)
        try:
            await self.stop_cluster()
        finally:
            for runner in self._runners:
                await runner.cleanup()
            self.pid_dir.forget("daemon")


def traefik_endpoint_slice(service, web_port, web_host="127.0.0.1"):
    """The `traefik` Service's hand-written EndpointSlice: Traefik's web entrypoint."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "traefik-web", "namespace": "traefik",
                     "labels": {"kubernetes.io/service-name": "traefik", "endpointslice.kubernetes.io/managed-by": "sandbox"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "traefik",
                                          "uid": service["metadata"]["uid"]}]},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [web_host], "conditions": {"ready": True, "serving": True, "terminating": False}}],
        "ports": [{"name": "web", "port": web_port, "protocol": "TCP"}],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubesandbox.daemon")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--bin-dir", help="where etcd and the Kubernetes binaries are")
    parser.add_argument("--flagger-bin-dir", help="where Flagger's loadtester is")
    parser.add_argument("--owner-pid", type=int, help="stop the sandbox when this process ends")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    os.environ["KUBESANDBOX_DIR"] = str(Path(args.dir).absolute())

    async def _main():
        from .cluster.backend import ClusterDaemon  # it builds on BaseDaemon, defined here
        daemon = ClusterDaemon(args.dir, args.bin_dir, args.flagger_bin_dir)
        if args.owner_pid:
            started = start_time(args.owner_pid)
            if started is None:
                log.error("owner process %d is not running", args.owner_pid)
                return 1
            daemon.owner = (args.owner_pid, started)
        return await daemon.run()

    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
