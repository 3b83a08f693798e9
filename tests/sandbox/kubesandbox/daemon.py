"""The sandbox daemon: API emulator, controllers, Service proxies, control server and the
supervised processes (pods, Traefik, Prometheus), all in one asyncio loop.

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

from .apiserver import make_api_app
from .controllers import Controllers
from .errors import ApiError
from .faults import Faults, RequestLog
from .manifests import bootstrap_objects, traefik_crds
from .runtime import layout as layout_mod
from .runtime.components import Prometheus, Traefik
from .runtime.control import make_control_app
from .runtime.netproxy import ENDPOINTS, SERVICES, NetProxy
from .runtime.pids import PidDir
from .runtime.podrunner import PodRunner
from .store import Store

log = logging.getLogger("kubesandbox")

READY_TIMEOUT = 30.0
ENDPOINTSLICES = ("discovery.k8s.io", "v1", "endpointslices")


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
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


def _group_version_resource(obj, store):
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    for info in store.resources():
        if info.group == group and info.version == version and info.kind == obj["kind"]:
            return info.gvr
    raise LookupError(f"no resource for {api_version} {obj['kind']}")


class Daemon:
    def __init__(self, root):
        self.layout = layout_mod.Layout(root)
        self.layout.create()
        self.pid_dir = PidDir(self.layout.pids)
        self.block, self._block_fd = claim_block()
        (self.api_port, self.control_port, self.web_port, self.traefik_api_port,
         self.metrics_port, self.prometheus_port) = free_ports(6)
        self.store = Store()
        self.faults = Faults()
        self.request_log = RequestLog()
        self.netproxy = NetProxy(self.store, self.block, self.layout.hosts)
        self.runner = PodRunner(self.layout.root, self.netproxy.hosts_file, self.pid_dir)
        self.controllers = Controllers(self.store, self.runner, self.block)
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.traefik = Traefik(self.layout.root, self.pid_dir, self.api_url, self.web_port, self.traefik_api_port, self.metrics_port)
        self.prometheus = Prometheus(self.layout.root, self.pid_dir, self.prometheus_port, self.metrics_port)
        self.components = {"traefik": self.traefik, "prometheus": self.prometheus}
        self._runners = []
        self._stopping = asyncio.Event()
        self.started_at = time.time()
        self.ready = False
        self.env_values_cached = {}

    # --- cluster content --------------------------------------------------------------------------
    def install(self):
        self.store.add_listener(self.netproxy.on_event)
        self.store.add_admission(SERVICES, self.netproxy.admit_service)
        self.controllers.install()
        for obj in traefik_crds() + bootstrap_objects():
            gvr = _group_version_resource(obj, self.store)
            try:
                self.store.create(gvr, obj)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        self._traefik_endpoints()

    def _traefik_endpoints(self):
        """The `traefik` Service has no selector: its endpoint is Traefik's web entrypoint on 127.0.0.1."""
        meta = {"name": "traefik", "namespace": "traefik", "labels": {"app.kubernetes.io/name": "traefik"}}
        self.store.create(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "web", "port": self.web_port, "protocol": "TCP"}]}]})
        svc = self.store.get(SERVICES, "traefik", "traefik")
        self.store.create(ENDPOINTSLICES, {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "traefik-web", "namespace": "traefik",
                         "labels": {"kubernetes.io/service-name": "traefik", "endpointslice.kubernetes.io/managed-by": "sandbox"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "traefik", "uid": svc["metadata"]["uid"]}]},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True, "serving": True, "terminating": False}}],
            "ports": [{"name": "web", "port": self.web_port, "protocol": "TCP"}],
        })

    def env_values(self):
        return {
            "SANDBOX_DIR": str(self.layout.root),
            "KUBECONFIG": str(self.layout.kubeconfig),
            "SANDBOX_API_URL": self.api_url,
            "TRAEFIK_URL": self.traefik.web_url,
            "TRAEFIK_API_URL": self.traefik.dashboard_url,
            "TRAEFIK_METRICS_URL": self.traefik.metrics_url,
            "PROMETHEUS_URL": self.prometheus.url,
            "SANDBOX_CONTROL_URL": f"http://127.0.0.1:{self.control_port}",
            "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(layout_mod.collections_paths(self.layout)),
        }

    def status(self):
        pods = []
        for (ns, name), st in sorted(self.controllers.pods.items()):
            proc = st.process
            pods.append({"namespace": ns, "name": name, "ip": st.ip, "ready": st.ready,
                         "pid": self.runner.pid_of(ns, name), "restarts": proc.restart_count if proc else 0,
                         "log": str(self.runner.log_path(ns, name))})
        return {
            "ready": self.ready,
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started_at, 3),
            "address_block": f"127.{self.block}.0.0/16",
            "resource_version": self.store.resource_version,
            "components": {name: c.status() for name, c in self.components.items()},
            "pods": pods,
            "env": self.env_values_cached,
        }

    # --- lifecycle --------------------------------------------------------------------------------
    async def _serve(self, app, port):
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
        self._runners.append(runner)

    async def run(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        self.pid_dir.record("daemon", os.getpid())
        # A new sandbox starts with empty metrics; only a component restart keeps them.
        shutil.rmtree(self.prometheus.data_dir, ignore_errors=True)
        try:
            self.install()
            self.controllers.start()
            await self._serve(make_api_app(self.store, self.faults, self.request_log, self.netproxy.resolve), self.api_port)
            await self._serve(make_control_app(self), self.control_port)
            layout_mod.write_kubeconfig(self.layout, self.api_url)
            self.env_values_cached = self.env_values()
            layout_mod.write_env(self.layout, self.env_values_cached)
            await asyncio.gather(self.traefik.start(), self.prometheus.start())
            await asyncio.gather(self.traefik.wait_ready(READY_TIMEOUT), self.prometheus.wait_ready(READY_TIMEOUT))
        except Exception as exc:
            log.exception("sandbox start failed")
            self.layout.failed.write_text(f"{type(exc).__name__}: {exc}\n")
            await self.shutdown()
            return 1
        self.ready = True
        self.layout.ready.write_text(json.dumps({"pid": os.getpid(), "seconds": round(time.time() - self.started_at, 3)}) + "\n")
        log.info("sandbox ready in %.2fs", time.time() - self.started_at)
        await self._stopping.wait()
        await self.shutdown()
        return 0

    async def shutdown(self):
        self.ready = False
        self.layout.ready.unlink(missing_ok=True)
        await self.controllers.stop()
        await asyncio.gather(*(c.stop() for c in self.components.values()), return_exceptions=True)
        await self.netproxy.close()
        for runner in self._runners:
            await runner.cleanup()
        self.pid_dir.forget("daemon")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubesandbox.daemon")
    parser.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    os.environ["KUBESANDBOX_DIR"] = str(Path(args.dir).absolute())

    async def _main():
        return await Daemon(args.dir).run()

    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
